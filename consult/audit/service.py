"""Appending to the audit log, and checking its hash chain."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from consult.core.database import lock_for_write
from consult.core.time import utcnow
from consult.extensions import db

from .models import AuditEntry

GENESIS = "0" * 64
_ADVISORY_LOCK = 0x59_49_54_49  # "YITI": serialises appends on PostgreSQL


def entry_hash(prev_hash: str, at, actor_id, action, target_type, target_id, detail) -> str:
    canonical = json.dumps(
        {
            "at": at.isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _last_hash() -> str:
    session = db.session
    lock_for_write(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK)))
    pending = session.info.get("audit_last")
    if pending is not None and pending in session.new:
        return pending.hash
    last = session.scalar(sa.select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    return last or GENESIS


def record(actor, action: str, target, **detail) -> AuditEntry:
    """Append an entry in the caller's transaction; the caller commits.

    ``target`` is a model instance (flushed, so it has an id) or a ``(type, id)`` pair.
    """
    if isinstance(target, tuple):
        target_type, target_id = target
    else:
        if target.id is None:
            db.session.flush()
        target_type, target_id = target.__tablename__, target.id
    detail = json.loads(json.dumps(detail, default=str))
    prev = _last_hash()
    at = utcnow()
    actor_id = getattr(actor, "id", None)
    entry = AuditEntry(
        at=at,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        prev_hash=prev,
        hash=entry_hash(prev, at, actor_id, action, target_type, target_id, detail),
    )
    db.session.add(entry)
    db.session.info["audit_last"] = entry
    return entry


def verify() -> tuple[int, AuditEntry | None]:
    """Check the whole chain: ``(entries checked, first broken entry or None)``."""
    prev = GENESIS
    count = 0
    query = sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    for entry in db.session.scalars(query):
        expected = entry_hash(
            prev, entry.at, entry.actor_id, entry.action, entry.target_type, entry.target_id,
            entry.detail,
        )  # fmt: skip
        if entry.prev_hash != prev or entry.hash != expected:
            return count, entry
        prev = entry.hash
        count += 1
    return count, None
