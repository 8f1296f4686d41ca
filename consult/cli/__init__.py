"""Command-line tools: ``flask --app app demo``, ``create-admin``, ``create-community``."""

import click
from flask import Flask


def init_app(app: Flask) -> None:
    from . import backup, demo

    app.cli.add_command(demo.demo_command)
    app.cli.add_command(backup.backup_command)
    app.cli.add_command(backup.restore_command)
    app.cli.add_command(create_admin)
    app.cli.add_command(create_community)


@click.command("create-admin")
@click.argument("username")
@click.option("--display-name", default=None)
@click.password_option()
def create_admin(username, display_name, password):
    """Create a site admin (operator) account."""
    from consult.accounts.service import create_user
    from consult.errors import DomainError
    from consult.extensions import db

    try:
        create_user(username, display_name or username, password, site_admin=True)
        db.session.commit()
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(f"site admin {username} created")


@click.command("create-community")
@click.argument("slug")
@click.argument("name")
@click.option("--timezone", default="Asia/Shanghai")
@click.option("--admin", "admin_username", required=True, help="An existing user to manage it.")
def create_community(slug, name, timezone, admin_username):
    """Create a community with a first community admin."""
    from consult.accounts.models import User
    from consult.accounts.service import find_user
    from consult.communities import service
    from consult.errors import DomainError

    operator = User(id=None, username="cli", display_name="cli", is_site_admin=True)
    try:
        admin = find_user(admin_username)
        if admin is None:
            raise click.ClickException(f"no user {admin_username}")
        community = service.create_community(operator, slug, name, timezone)
        service.add_member(operator, community, admin_username, role="admin")
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(f"community {slug} created")
