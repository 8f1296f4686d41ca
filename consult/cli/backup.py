"""``flask --app app backup`` and ``restore`` for SQLite, with SQLite's online backup API
(safe while the server runs). PostgreSQL uses pg_dump / pg_restore: see docs/deploy.md."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app

from consult.extensions import db


def _sqlite_path() -> Path:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException(
            "backup and restore here are for SQLite; for PostgreSQL use pg_dump and "
            "pg_restore as docs/deploy.md describes"
        )
    return Path(url.database)


def backup_to(target: Path) -> Path:
    source = sqlite3.connect(_sqlite_path())
    target.parent.mkdir(parents=True, exist_ok=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()
    return target


def restore_from(backup: Path) -> None:
    check = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise click.ClickException(f"{backup} fails SQLite's integrity check")
        tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in tables or "audit_entry" not in tables:
            raise click.ClickException(f"{backup} is not a Yiting database")
        db.engine.dispose()
        live = sqlite3.connect(_sqlite_path())
        try:
            check.backup(live)
        finally:
            live.close()
    finally:
        check.close()


@click.command("backup")
@click.option("--to", "target", type=click.Path(dir_okay=False, path_type=Path), default=None)
def backup_command(target):
    """Copy the SQLite database, consistently, while the server may be running."""
    if target is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = Path(current_app.config["DATA_DIR"]) / "backups" / f"yiting-{stamp}.db"
    click.echo(f"backup written: {backup_to(target)}")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm: the current data is replaced.")
def restore_command(backup, yes):
    """Replace the SQLite database with a backup (stop the server first)."""
    if not yes:
        raise click.ClickException("restoring replaces all current data: add --yes to confirm")
    restore_from(backup)
    click.echo(f"restored from {backup}")
