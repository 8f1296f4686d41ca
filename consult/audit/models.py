import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from consult.core.time import utcnow
from consult.extensions import db


class AuditEntry(db.Model):
    """One state change. Rows are only ever inserted; each carries the hash of the one
    before it, so that an edited or deleted row breaks the chain (``flask audit verify``)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    target_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    target_id: Mapped[int | None] = mapped_column(sa.Integer)
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict, nullable=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)

    __table_args__ = (sa.Index("ix_audit_target", "target_type", "target_id"),)


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise AppendOnlyError("the audit log is append-only")
