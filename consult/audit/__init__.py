"""The append-only audit log (审计日志): who did what, to what, when (UTC), hash-chained."""

import click

from .models import AuditEntry
from .service import record, verify

__all__ = ["AuditEntry", "record", "verify"]


def init_app(app):
    from . import models  # noqa: F401  (the append-only guard is registered on import)

    app.cli.add_command(audit_group)


@click.group("audit")
def audit_group():
    """The audit log."""


@audit_group.command("verify")
def verify_command():
    """Check the hash chain; name the first broken entry."""
    count, broken = verify()
    if broken is not None:
        raise click.ClickException(
            f"audit log broken at entry {broken.id} ({broken.action} on "
            f"{broken.target_type} {broken.target_id}, {broken.at:%Y-%m-%d %H:%M:%S} UTC) "
            f"after {count} good entries"
        )
    click.echo(f"audit log intact: {count} entries")
