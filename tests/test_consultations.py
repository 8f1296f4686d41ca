"""Consultations: the lifecycle (every legal step, every illegal one refused), participants,
who may see what, and the append-only audit log of every state change."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from consult.audit import AuditEntry
from consult.audit.models import AppendOnlyError
from consult.communities.service import get_community
from consult.consultations import service
from consult.consultations.models import STATUSES, Consultation, Participant
from consult.errors import Conflict, Forbidden, Invalid, NotFound
from consult.extensions import db

ALL_STATUSES = list(STATUSES)
LEGAL = {
    ("draft", "announced"),
    ("draft", "cancelled"),
    ("announced", "live"),
    ("announced", "cancelled"),
    ("live", "closed"),
    ("live", "cancelled"),
}
ILLEGAL = [
    (before, after)
    for before in ALL_STATUSES
    for after in [*ALL_STATUSES, "bogus", ""]
    if (before, after) not in LEGAL
]


def users(*names):
    from consult.accounts.service import find_user

    return [find_user(name) for name in names]


def audit_entries(action=None, target=None) -> list[AuditEntry]:
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    if target is not None:
        query = query.where(
            AuditEntry.target_type == target.__tablename__, AuditEntry.target_id == target.id
        )
    return list(db.session.scalars(query))


@pytest.fixture
def draft(demo):
    """A new draft in the demo community, chaired by ``chair``."""
    (chair,) = users("chair")
    return service.create_consultation(
        chair, get_community("demo"), title="Bicycle shed", description="**Where?**"
    )


# --- creating and editing ------------------------------------------------------------------


def test_create_stores_the_fields_and_makes_the_creator_chair(demo):
    (chair,) = users("chair")
    consultation = service.create_consultation(
        chair,
        get_community("demo"),
        title="  Lift repair  ",
        description="Background",
        form="hearing",
        access="invited",
        place="Hall",
        scheduled_at=datetime(2030, 5, 1, 2, 0),
        agenda=["Report", " ", "Questions"],
        seconds_required=2,
        default_threshold="two_thirds",
    )
    stored = db.session.get(Consultation, consultation.id)
    assert stored.title == "Lift repair"
    assert stored.status == "draft"
    assert (stored.form, stored.access, stored.place) == ("hearing", "invited", "Hall")
    assert [item.title for item in stored.agenda_items] == ["Report", "Questions"]
    assert (stored.seconds_required, stored.default_threshold) == (2, "two_thirds")
    assert [(p.user.username, p.role) for p in service.participants(stored)] == [("chair", "chair")]
    (entry,) = audit_entries("consultation.created", consultation)
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        chair.id,
        "consultation",
        consultation.id,
    )


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"title": ""}, "title_required"),
        ({"title": None}, "title_required"),
        ({"title": "t" * 201}, "title_too_long"),
        ({"title": "ok", "description": "d" * 50_001}, "description_too_long"),
        ({"title": "ok", "form": "party"}, "invalid_form"),
        ({"title": "ok", "access": "secret"}, "invalid_access"),
        ({"title": "ok", "seconds_required": -1}, "invalid_seconds_required"),
        ({"title": "ok", "seconds_required": True}, "invalid_seconds_required"),
        ({"title": "ok", "default_threshold": "unanimity"}, "invalid_threshold"),
        ({"title": "ok", "agenda": "not a list"}, "invalid_agenda"),
        ({"title": "ok", "agenda": [f"item {n}" for n in range(31)]}, "invalid_agenda"),
        ({"title": "ok", "scheduled_at": "tomorrow"}, "invalid_scheduled_at"),
        ({"title": {"x": 1}}, "invalid_type"),
        ({"title": "nul\x00byte"}, "invalid_text"),
    ],
)
def test_invalid_fields_are_refused_and_nothing_is_stored(demo, fields, code):
    (chair,) = users("chair")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Consultation))
    with pytest.raises(Invalid) as caught:
        service.create_consultation(chair, get_community("demo"), **fields)
    assert caught.value.code == code
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Consultation)) == before


def test_update_changes_only_the_given_fields(draft):
    (chair,) = users("chair")
    service.update_consultation(chair, draft, title="Covered bicycle shed", agenda=["Plan"])
    stored = db.session.get(Consultation, draft.id)
    assert stored.title == "Covered bicycle shed"
    assert stored.description == "**Where?**"
    assert [item.title for item in stored.agenda_items] == ["Plan"]
    (entry,) = audit_entries("consultation.updated")
    assert entry.detail == {"fields": ["agenda", "title"]}


def test_invalid_update_changes_nothing(draft):
    (chair,) = users("chair")
    with pytest.raises(Invalid):
        service.update_consultation(chair, draft, title="New title", access="nobody")
    db.session.expire_all()
    assert db.session.get(Consultation, draft.id).title == "Bicycle shed"
    assert audit_entries("consultation.updated") == []


def test_only_managers_edit_and_only_before_the_room_opens(draft):
    chair, alice = users("chair", "alice")
    with pytest.raises(NotFound):  # alice cannot see a draft at all
        service.update_consultation(alice, draft, title="Mine now")
    service.transition(chair, draft, "announced")
    with pytest.raises(Forbidden) as caught:
        service.update_consultation(alice, draft, title="Mine now")
    assert caught.value.code == "not_chair"
    service.transition(chair, draft, "live")
    with pytest.raises(Conflict) as caught:
        service.update_consultation(chair, draft, title="Too late")
    assert caught.value.code == "not_editable"
    db.session.expire_all()
    assert db.session.get(Consultation, draft.id).title == "Bicycle shed"


# --- lifecycle -----------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), sorted(LEGAL))
def test_every_legal_transition_works_and_is_logged(draft, before, after):
    (chair,) = users("chair")
    draft.status = before
    db.session.commit()
    seen = []
    hook = service.on_transition(lambda actor, c, previous, to: seen.append((previous, to)))
    try:
        service.transition(chair, draft, after, reason="Builders unavailable")
    finally:
        service._transition_hooks.remove(hook)
    db.session.expire_all()
    stored = db.session.get(Consultation, draft.id)
    assert stored.status == after
    assert seen == [(before, after)]
    moment = {
        "announced": stored.announced_at,
        "live": stored.opened_at,
        "closed": stored.closed_at,
        "cancelled": stored.cancel_reason,
    }[after]
    assert moment is not None
    (entry,) = audit_entries(f"consultation.{after}", draft)
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        chair.id,
        "consultation",
        draft.id,
    )
    assert entry.detail["previous"] == before
    assert isinstance(entry.at, datetime)


def test_the_whole_path_draft_to_closed(draft):
    (chair,) = users("chair")
    for step in ("announced", "live", "closed"):
        service.transition(chair, draft, step)
    assert draft.status == "closed"
    actions = [e.action for e in audit_entries() if e.target_type == "consultation"]
    assert actions[-4:] == [
        "consultation.created",
        "consultation.announced",
        "consultation.live",
        "consultation.closed",
    ]


def test_every_illegal_transition_is_refused_and_changes_nothing(draft):
    (chair,) = users("chair")
    assert len(ILLEGAL) == len(ALL_STATUSES) * (len(ALL_STATUSES) + 2) - len(LEGAL)
    entries = len(audit_entries())
    for before, after in ILLEGAL:
        draft.status = before
        db.session.commit()
        with pytest.raises(Conflict) as caught:
            service.transition(chair, draft, after, reason="Because")
        assert caught.value.code == "illegal_transition", (before, after)
        assert caught.value.status == 409
        db.session.rollback()
        db.session.expire_all()
        stored = db.session.get(Consultation, draft.id)
        assert stored.status == before, (before, after)
        assert stored.cancel_reason is None, (before, after)
        assert (stored.announced_at, stored.opened_at, stored.closed_at) == (None, None, None)
        assert len(audit_entries()) == entries, (before, after)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_cancel_needs_a_reason(draft, reason):
    (chair,) = users("chair")
    with pytest.raises(Invalid) as caught:
        service.transition(chair, draft, "cancelled", reason=reason)
    assert caught.value.code == "reason_required"
    db.session.rollback()
    assert db.session.get(Consultation, draft.id).status == "draft"
    assert audit_entries("consultation.cancelled") == []


def test_cancel_keeps_the_reason(draft):
    (chair,) = users("chair")
    service.transition(chair, draft, "cancelled", reason="  The works were postponed.  ")
    stored = db.session.get(Consultation, draft.id)
    assert stored.cancel_reason == "The works were postponed."
    (entry,) = audit_entries("consultation.cancelled")
    assert entry.detail["reason"] == "The works were postponed."


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_residents_cannot_move_a_consultation(demo, who):
    (user,) = users(who)
    with pytest.raises(Forbidden) as caught:
        service.transition(user, demo, "closed")
    assert caught.value.code == "not_chair"
    db.session.rollback()
    assert db.session.get(Consultation, demo.id).status == "live"


# --- participants --------------------------------------------------------------------------


def test_invite_change_role_and_remove(draft):
    (chair,) = users("chair")
    service.set_participant(chair, draft, "alice", "voter")
    service.set_participant(chair, draft, "bob", "observer")
    service.set_participant(chair, draft, "alice", "secretary")
    roles = {p.user.username: p.role for p in service.participants(draft)}
    assert roles == {"chair": "chair", "alice": "secretary", "bob": "observer"}
    service.remove_participant(chair, draft, "bob")
    assert {p.user.username for p in service.participants(draft)} == {"chair", "alice"}
    actions = [e.action for e in audit_entries() if e.action.startswith("participant.")]
    assert actions[-4:] == [
        "participant.invited",
        "participant.invited",
        "participant.role_changed",
        "participant.removed",
    ]


@pytest.mark.parametrize(
    ("username", "role", "error", "code"),
    [
        ("alice", "president", Invalid, "invalid_role"),
        ("nobody", "voter", NotFound, "user_not_found"),
        ("chair", "voter", Conflict, "last_chair"),
    ],
)
def test_participant_refusals(draft, username, role, error, code):
    (chair,) = users("chair")
    with pytest.raises(error) as caught:
        service.set_participant(chair, draft, username, role)
    assert caught.value.code == code
    db.session.rollback()
    roles = {p.user.username: p.role for p in service.participants(draft)}
    assert roles == {"chair": "chair"}


def test_only_members_of_the_community_can_be_invited(draft, make_user):
    make_user("stranger")
    (chair,) = users("chair")
    with pytest.raises(Invalid) as caught:
        service.set_participant(chair, draft, "stranger", "voter")
    assert caught.value.code == "not_member"


def test_the_last_chair_cannot_be_removed(draft):
    (chair,) = users("chair")
    with pytest.raises(Conflict) as caught:
        service.remove_participant(chair, draft, "chair")
    assert caught.value.code == "last_chair"
    with pytest.raises(NotFound) as caught:
        service.remove_participant(chair, draft, "alice")
    assert caught.value.code == "participant_not_found"


def test_residents_cannot_invite(demo):
    (alice,) = users("alice")
    with pytest.raises(Forbidden):
        service.set_participant(alice, demo, "bob", "chair")
    db.session.rollback()
    assert service.role_of(users("bob")[0], demo) == "voter"


def test_no_invitations_once_over(draft):
    (chair,) = users("chair")
    service.transition(chair, draft, "cancelled", reason="Postponed")
    with pytest.raises(Conflict) as caught:
        service.set_participant(chair, draft, "alice", "voter")
    assert caught.value.code == "consultation_closed"


def test_members_join_open_consultations_as_voters_not_invited_ones(draft, make_user):
    chair, alice = users("chair", "alice")
    service.transition(chair, draft, "announced")
    joined = service.ensure_participant(alice, draft)
    assert (joined.role, joined.invited) == ("voter", False)
    assert service.ensure_participant(alice, draft).id == joined.id
    service.update_consultation(chair, draft, access="invited")
    (bob,) = users("bob")
    with pytest.raises(Forbidden) as caught:
        service.ensure_participant(bob, draft)
    assert caught.value.code == "not_participant"
    stranger = make_user("stranger")
    service.update_consultation(chair, draft, access="open")
    with pytest.raises(Forbidden):
        service.ensure_participant(stranger, draft)


# --- who sees what -------------------------------------------------------------------------


def test_visibility_rules(draft, make_user):
    from flask_login import AnonymousUserMixin

    chair, alice, bob = users("chair", "alice", "bob")
    visitor = AnonymousUserMixin()
    service.set_participant(chair, draft, "bob", "secretary")
    # A draft: the chair, community admins and the secretary only.
    assert service.can_view(chair, draft) and service.can_view(bob, draft)
    assert not service.can_view(alice, draft) and not service.can_view(visitor, draft)
    with pytest.raises(NotFound):
        service.require_view(alice, draft)
    service.transition(chair, draft, "announced")
    # Announced and open: everyone may read.
    assert service.can_view(alice, draft) and service.can_view(visitor, draft)
    service.update_consultation(chair, draft, access="invited")
    # Invited only: a non-invited member is told so; a visitor does not learn it exists.
    assert not service.can_view(alice, draft)
    with pytest.raises(Forbidden) as caught:
        service.require_view(alice, draft)
    assert caught.value.code == "not_invited"
    with pytest.raises(NotFound):
        service.require_view(visitor, draft)
    service.set_participant(chair, draft, "alice", "observer")
    assert service.can_view(alice, draft)


def test_unknown_consultation_ids(app):
    for key in (0, -1, 10**30, "abc", None, 999):
        with pytest.raises(NotFound) as caught:
            service.get_consultation(key)
        assert caught.value.code == "consultation_not_found"


def test_to_dict_carries_status_and_participants(demo):
    data = service.to_dict(demo, with_participants=True)
    assert data["status"] == "live" and data["community"] == "demo"
    assert {p["username"]: p["role"] for p in data["participants"]} == {
        "chair": "chair",
        "alice": "voter",
        "bob": "voter",
        "carol": "voter",
        "dave": "voter",
        "erin": "voter",
    }


# --- the audit log -------------------------------------------------------------------------


def test_audit_entries_cannot_be_updated(draft):
    (entry,) = audit_entries("consultation.created", draft)
    entry_id, action = entry.id, entry.action
    entry.action = "consultation.forged"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(AuditEntry, entry_id).action == action


def test_audit_entries_cannot_be_deleted(draft):
    count = len(audit_entries())
    (entry,) = audit_entries("consultation.created", draft)
    db.session.delete(entry)
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    assert len(audit_entries()) == count
    assert audit_entries("consultation.created", draft)[0].id == entry.id


def test_every_state_change_of_the_demo_is_in_the_log(demo):
    entries = audit_entries()
    actions = [e.action for e in entries]
    assert actions.count("community.created") == 1
    assert actions.count("user.created") == 6
    assert actions.count("membership.created") == 6
    assert actions.count("participant.invited") == 5
    assert "consultation.announced" in actions and "consultation.live" in actions
    assert all(e.at is not None for e in entries)
    # Every entry names its actor, except the community the demo loader itself created.
    assert [e.action for e in entries if e.actor_id is None] == ["community.created"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 6
