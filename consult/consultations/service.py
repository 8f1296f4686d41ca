"""Consultation operations: create, edit, invite, move through the lifecycle."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager

from consult import audit
from consult.accounts.models import User
from consult.accounts.service import find_user, session_user_id
from consult.communities.models import Community, Membership
from consult.communities.service import (
    can_chair,
    is_community_admin,
    membership,
    remember_membership,
)
from consult.core import notify
from consult.core.database import lock_for_write, remember, remembered
from consult.core.payload import clean_text
from consult.core.time import isoformat, utcnow
from consult.errors import Conflict, Forbidden, Invalid, NotFound
from consult.extensions import db

from .models import (
    ACCESS,
    FORMS,
    PARTICIPANT_ROLES,
    TRANSITIONS,
    AgendaItem,
    Consultation,
    Participant,
)

THRESHOLDS = ("simple", "majority_cast", "majority_eligible", "two_thirds")
MAX_AGENDA_ITEMS = 30


# --- reading ---------------------------------------------------------------------------


_PARTICIPANT = sa.select(Participant).where(
    Participant.consultation_id == sa.bindparam("consultation"),
    Participant.user_id == sa.bindparam("user"),
)

#: A consultation with ``user``'s participation in it (None if they take no part).
_WITH_PARTICIPANT = (
    sa.select(Consultation, Participant)
    .outerjoin(
        Participant,
        sa.and_(
            Participant.consultation_id == Consultation.id,
            Participant.user_id == sa.bindparam("user"),
        ),
    )
    .where(Consultation.id == sa.bindparam("consultation"))
)


#: A user, a consultation, the user's participation in it, its community and the user's
#: membership of that: what a live room's event reads first, in one statement (see
#: :func:`preload_reader`).
_READER_WITH_CONSULTATION = (
    sa.select(User, Consultation, Participant, Community, Membership)
    .select_from(User)
    .outerjoin(Consultation, Consultation.id == sa.bindparam("consultation"))
    .outerjoin(
        Participant,
        sa.and_(Participant.consultation_id == Consultation.id, Participant.user_id == User.id),
    )
    .outerjoin(Community, Community.id == Consultation.community_id)
    .outerjoin(
        Membership,
        sa.and_(Membership.community_id == Community.id, Membership.user_id == User.id),
    )
    .where(User.id == sa.bindparam("user"))
)


def _participant_key(consultation_id: int, user_id: int) -> tuple:
    return ("participant", consultation_id, user_id)


def _read_key(consultation_id: int, user_id: int) -> tuple:
    return ("consultation", consultation_id, user_id)


def _consultation_key(consultation_id) -> int | None:
    try:
        key = int(consultation_id)
    except (TypeError, ValueError):
        return None
    return key if 0 < key < 2**63 else None


def remember_reading(key: int, user_id: int, consultation, found) -> None:
    """Keep ``consultation`` and ``user_id``'s place in it (``found``), read elsewhere, as
    :func:`get_consultation` and :func:`participant` would have read them."""
    remember(_read_key(key, user_id), consultation)
    if consultation is not None:
        remember(_participant_key(key, user_id), found)


def preload_reader(session_id, data: dict) -> None:
    """Before a Socket.IO event's user is loaded: read the user named by the session
    together with the event's consultation (``data["consultation_id"]``), their place in it
    and their membership of its community, in one statement. Flask-Login's loader then
    finds the user in the session, and :func:`get_consultation`, :func:`participant` and
    ``membership`` find their answers: a room event's first questions cost one round trip
    to the database instead of four (a join's standing asks whether the joiner is an admin
    of the community). Nothing is decided here; the user is checked by the loader, the
    payload by the event."""
    user_id = session_user_id(session_id)
    key = _consultation_key(data.get("consultation_id"))
    if user_id is None or key is None:
        return
    params = {"consultation": key, "user": user_id}
    row = db.session.execute(_READER_WITH_CONSULTATION, params).first()
    if row is not None:
        user, consultation, found, community, member = row
        # The session holds what it loaded only weakly: keep the user until the loader asks.
        remember(("user", user_id), user)
        remember_reading(key, user_id, consultation, found)
        if community is not None:
            remember_membership(community, user_id, member)


def get_consultation(consultation_id, reader=None) -> Consultation:
    """The consultation, or ``consultation_not_found``. With a signed-in ``reader``, their
    participation is read in the same statement and remembered (``participant``): a live
    room's events each ask for both. What :func:`preload_reader` read is not read again
    until the session writes."""
    key = _consultation_key(consultation_id)
    consultation = None
    if key is not None:
        if getattr(reader, "is_authenticated", False):
            consultation = remembered(_read_key(key, reader.id), lambda: _read(key, reader.id))
        else:
            consultation = db.session.get(Consultation, key)
    if consultation is None:
        raise NotFound("consultation_not_found", _("No such consultation."))
    return consultation


def _read(key: int, user_id: int) -> Consultation | None:
    row = db.session.execute(_WITH_PARTICIPANT, {"consultation": key, "user": user_id}).first()
    if row is None:
        return None
    remember_reading(key, user_id, *row)
    return row[0]


def participant(user, consultation: Consultation) -> Participant | None:
    if not getattr(user, "is_authenticated", False):
        return None
    params = {"consultation": consultation.id, "user": user.id}
    return remembered(
        _participant_key(consultation.id, user.id),
        lambda: db.session.scalar(_PARTICIPANT, params),
    )


def role_of(user, consultation: Consultation) -> str | None:
    found = participant(user, consultation)
    return found.role if found else None


def is_chair(user, consultation: Consultation) -> bool:
    return role_of(user, consultation) == "chair"


def can_manage(user, consultation: Consultation) -> bool:
    """The chair, or an admin of the community, prepares and steers the consultation."""
    return is_chair(user, consultation) or is_community_admin(user, consultation.community)


def can_view(user, consultation: Consultation) -> bool:
    """Those who manage it; in a draft, its secretary; once announced, its participants, and
    anyone if it is open. (A participant's answer needs no look at the community.)"""
    role = role_of(user, consultation)
    if consultation.status == "draft":
        return role == "secretary" or can_manage(user, consultation)
    return consultation.access == "open" or role is not None or can_manage(user, consultation)


def require_view(user, consultation: Consultation) -> None:
    if not can_view(user, consultation):
        if consultation.status == "draft" or not getattr(user, "is_authenticated", False):
            # Do not reveal that an unpublished or invited-only consultation exists.
            raise NotFound("consultation_not_found", _("No such consultation."))
        raise Forbidden("not_invited", _("This consultation is for invited participants."))


def require_manage(user, consultation: Consultation) -> None:
    if not can_manage(user, consultation):
        require_view(user, consultation)  # those who may not see it learn nothing more
        raise Forbidden("not_chair", _("Only the chair of this consultation may do this."))


def participants(consultation: Consultation) -> list[Participant]:
    return list(
        db.session.scalars(
            sa.select(Participant)
            .where(Participant.consultation_id == consultation.id)
            .order_by(Participant.created_at, Participant.id)
        )
    )


def visible_consultations(user, community: Community) -> list[Consultation]:
    query = (
        sa.select(Consultation)
        .where(Consultation.community_id == community.id)
        .order_by(Consultation.created_at.desc(), Consultation.id.desc())
    )
    return [c for c in db.session.scalars(query) if can_view(user, c)]


#: What one may be coming to: a consultation in its room now, or announced for later.
_COMING = ("live", "announced")


def meetings_of(user, limit: int = 20) -> list[Consultation]:
    """The consultations ``user`` may attend that are live or announced, across their
    communities (those they take part in, and the open ones of the communities they belong
    to): those in the room now first, then the soonest (unscheduled last); each with its
    community read in the same statement. What a resident opens Yiting for."""
    if not getattr(user, "is_authenticated", False):
        return []
    takes_part = sa.exists().where(
        Participant.consultation_id == Consultation.id, Participant.user_id == user.id
    )
    open_to_them = sa.and_(
        Consultation.access == "open",
        sa.exists().where(
            Membership.community_id == Consultation.community_id, Membership.user_id == user.id
        ),
    )
    query = (
        sa.select(Consultation)
        .join(Consultation.community)
        .options(contains_eager(Consultation.community))
        .where(Consultation.status.in_(_COMING), sa.or_(takes_part, open_to_them))
        .order_by(
            sa.case((Consultation.status == "live", 0), else_=1),
            Consultation.scheduled_at.is_(None),
            Consultation.scheduled_at,
            Consultation.id,
        )
        .limit(limit)
    )
    return list(db.session.scalars(query))


# --- writing ---------------------------------------------------------------------------


def _set_fields(consultation: Consultation, fields: dict) -> None:
    if "title" in fields:
        consultation.title = clean_text(fields["title"], "title", 200, required=True)
    if "description" in fields:
        consultation.description = clean_text(fields["description"], "description", 50_000)
    if "form" in fields and fields["form"] is not None:
        if fields["form"] not in FORMS:
            raise Invalid("invalid_form", _("Unknown meeting form."))
        consultation.form = fields["form"]
    if "access" in fields and fields["access"] is not None:
        if fields["access"] not in ACCESS:
            raise Invalid("invalid_access", _("Access is “open” or “invited”."))
        consultation.access = fields["access"]
    if "place" in fields:
        consultation.place = clean_text(fields["place"], "place", 200)
    if "scheduled_at" in fields:
        value = fields["scheduled_at"]
        if value is not None and not isinstance(value, datetime):
            raise Invalid("invalid_scheduled_at", _("The time is not a valid date and time."))
        if value != consultation.scheduled_at:
            consultation.reminded_at = None  # a meeting at another time is reminded of anew
        consultation.scheduled_at = value
    if "seconds_required" in fields and fields["seconds_required"] is not None:
        value = fields["seconds_required"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 50:
            raise Invalid("invalid_seconds_required", _("Seconders needed: a number from 0 to 50."))
        consultation.seconds_required = value
    if "default_threshold" in fields and fields["default_threshold"] is not None:
        if fields["default_threshold"] not in THRESHOLDS:
            raise Invalid("invalid_threshold", _("Unknown threshold."))
        consultation.default_threshold = fields["default_threshold"]
    if "agenda" in fields and fields["agenda"] is not None:
        items = fields["agenda"]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise Invalid("invalid_agenda", _("The agenda is a list of items."))
        items = [clean_text(i, "agenda", 200) for i in items]
        items = [i for i in items if i]
        if len(items) > MAX_AGENDA_ITEMS:
            raise Invalid("invalid_agenda", _("At most %(n)d agenda items.", n=MAX_AGENDA_ITEMS))
        consultation.agenda_items = [
            AgendaItem(position=n, title=title) for n, title in enumerate(items, start=1)
        ]


def create_consultation(actor, community: Community, **fields) -> Consultation:
    """A new draft; its creator chairs it."""
    if not can_chair(actor, community):
        raise Forbidden(
            "not_allowed_to_create",
            _("Only a community admin or a chair of this community may create consultations."),
        )
    consultation = Consultation(community=community, created_by_id=actor.id, status="draft")
    _set_fields(consultation, {"title": fields.pop("title", None), **fields})
    db.session.add(consultation)
    db.session.flush()
    db.session.add(Participant(consultation_id=consultation.id, user_id=actor.id, role="chair"))
    audit.record(actor, "consultation.created", consultation, title=consultation.title)
    db.session.commit()
    return consultation


def update_consultation(actor, consultation: Consultation, **fields) -> Consultation:
    require_manage(actor, consultation)
    if consultation.status not in ("draft", "announced"):
        raise Conflict("not_editable", _("Only a draft or announced consultation can be edited."))
    try:
        _set_fields(consultation, fields)
    except Invalid:
        db.session.rollback()
        raise
    audit.record(actor, "consultation.updated", consultation, fields=sorted(fields))
    db.session.commit()
    return consultation


def _count_chairs(consultation: Consultation) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Participant)
        .where(Participant.consultation_id == consultation.id, Participant.role == "chair")
    )


def set_participant(actor, consultation: Consultation, username, role) -> Participant:
    """Invite someone with a role, or change the role of someone already taking part."""
    require_manage(actor, consultation)
    if consultation.status in ("closed", "cancelled"):
        raise Conflict("consultation_closed", _("This consultation is over."))
    if role not in PARTICIPANT_ROLES:
        raise Invalid(
            "invalid_role", _("Role is one of chair, secretary, voter, speaker, observer.")
        )
    user = find_user(username) if isinstance(username, str) else None
    if user is None:
        raise NotFound("user_not_found", _("No such user."))
    if not db.session.scalar(
        sa.select(Membership).where(
            Membership.community_id == consultation.community_id, Membership.user_id == user.id
        )
    ):
        raise Invalid("not_member", _("%(name)s is not a member of this community.", name=username))
    found = participant(user, consultation)
    if found is None:
        found = Participant(consultation_id=consultation.id, user_id=user.id, role=role)
        db.session.add(found)
        action = "participant.invited"
    else:
        if found.role == "chair" and role != "chair" and _count_chairs(consultation) <= 1:
            raise Conflict("last_chair", _("A consultation needs a chair."))
        found.role = role
        action = "participant.role_changed"
    db.session.flush()
    audit.record(actor, action, found, username=user.username, role=role)
    db.session.commit()
    notify.announce(
        "participants:updated",
        {"consultation_id": consultation.id, "participant": found.to_dict()},
        room=notify.room_name(consultation.id),
    )
    return found


def remove_participant(actor, consultation: Consultation, username) -> None:
    require_manage(actor, consultation)
    user = find_user(username) if isinstance(username, str) else None
    found = participant(user, consultation) if user else None
    if found is None:
        raise NotFound("participant_not_found", _("This person is not taking part."))
    if found.role == "chair" and _count_chairs(consultation) <= 1:
        raise Conflict("last_chair", _("A consultation needs a chair."))
    audit.record(actor, "participant.removed", found, username=user.username)
    db.session.delete(found)
    db.session.commit()


def ensure_participant(user, consultation: Consultation, announce: bool = True) -> Participant:
    """The user's place in the consultation; members joining an open one take part as voters.
    (A site admin reads every consultation but takes part only where they are a member.)
    ``announce=False``: the caller tells the room itself (the room's presence news does)."""
    found = participant(user, consultation)
    if found is not None:
        return found
    if consultation.access == "open" and membership(user, consultation.community) is not None:
        lock_for_write()
        found = Participant(
            consultation_id=consultation.id, user_id=user.id, role="voter", invited=False
        )
        db.session.add(found)
        db.session.flush()
        audit.record(user, "participant.joined", found, role="voter")
        db.session.commit()
        if announce:
            notify.announce(
                "participants:updated",
                {"consultation_id": consultation.id, "participant": found.to_dict()},
                room=notify.room_name(consultation.id),
            )
        return found
    raise Forbidden("not_participant", _("You are not a participant of this consultation."))


def transition(actor, consultation: Consultation, to: str, reason: str | None = None):
    """Move the consultation to ``to``; illegal moves are refused with ``illegal_transition``."""
    require_manage(actor, consultation)
    allowed = TRANSITIONS.get(consultation.status, set())
    if to not in allowed:
        raise Conflict(
            "illegal_transition",
            _(
                "A consultation cannot go from “%(from)s” to “%(to)s”.",
                **{"from": consultation.status, "to": str(to)[:32]},
            ),
            allowed=sorted(allowed),
        )
    if to == "cancelled":
        reason = clean_text(reason, "reason", 2000)
        if not reason:
            raise Invalid("reason_required", _("Say why the consultation is cancelled."))
        consultation.cancel_reason = reason
    now = utcnow()
    if to == "announced":
        consultation.announced_at = now
    elif to == "live":
        consultation.opened_at = now
    elif to == "closed":
        consultation.closed_at = now
    previous = consultation.status
    consultation.status = to
    audit.record(actor, "consultation." + to, consultation, previous=previous, reason=reason)
    db.session.commit()
    notify.announce(
        "consultation:status",
        {"consultation_id": consultation.id, "status": to, "previous": previous},
        room=notify.room_name(consultation.id),
    )
    for hook in _transition_hooks:
        hook(actor, consultation, previous, to)
    return consultation


_transition_hooks = []


def on_transition(hook):
    """Let other features react to a lifecycle step (notifications, the room's system lines)."""
    _transition_hooks.append(hook)
    return hook


def to_dict(consultation: Consultation, with_participants: bool = False) -> dict:
    data = {
        "id": consultation.id,
        "community": consultation.community.slug,
        "title": consultation.title,
        "description": consultation.description,
        "form": consultation.form,
        "access": consultation.access,
        "status": consultation.status,
        "scheduled_at": isoformat(consultation.scheduled_at),
        "place": consultation.place,
        "agenda": [item.title for item in consultation.agenda_items],
        "seconds_required": consultation.seconds_required,
        "default_threshold": consultation.default_threshold,
        "cancel_reason": consultation.cancel_reason,
        "created_at": isoformat(consultation.created_at),
    }
    if with_participants:
        data["participants"] = [p.to_dict() for p in participants(consultation)]
    return data
