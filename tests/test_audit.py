"""The audit log: every state change is recorded, rows are append-only, and the hash chain
catches an edited or deleted row."""

import pytest
import sqlalchemy as sa

from consult.audit import AuditEntry, verify
from consult.audit.models import AppendOnlyError
from consult.extensions import db


def test_state_changes_are_chained_and_verify(demo, runner):
    entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
    actions = [e.action for e in entries]
    assert "consultation.created" in actions
    assert "consultation.live" in actions
    assert entries[0].prev_hash == "0" * 64
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash
    assert verify() == (len(entries), None)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert f"intact: {len(entries)} entries" in result.output


def test_orm_refuses_to_edit_or_delete(demo):
    entry = db.session.scalars(sa.select(AuditEntry).limit(1)).one()
    entry.action = "something.else"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEntry, entry.id).action != "something.else"


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_tampering_is_caught_and_named(demo, runner, tamper):
    ids = db.session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.id)).all()
    victim = ids[len(ids) // 2]
    with db.engine.begin() as connection:
        if tamper == "edit":
            connection.execute(
                sa.text("UPDATE audit_entry SET action = 'user.deleted' WHERE id = :id"),
                {"id": victim},
            )
        else:
            connection.execute(sa.text("DELETE FROM audit_entry WHERE id = :id"), {"id": victim})
    db.session.expire_all()
    count, broken = verify()
    expected = victim if tamper == "edit" else ids[ids.index(victim) + 1]
    assert broken is not None and broken.id == expected
    assert count == ids.index(victim)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"broken at entry {expected}" in result.output
