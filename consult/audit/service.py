from consult.extensions import db

from .models import AuditEntry


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
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )
    db.session.add(entry)
    return entry
