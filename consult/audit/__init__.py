"""The append-only audit log (审计日志): who did what, to what, when (UTC)."""

from .models import AuditEntry
from .service import record

__all__ = ["AuditEntry", "record"]


def init_app(app):
    from . import models  # noqa: F401  (the append-only guard is registered on import)
