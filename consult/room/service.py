"""The live room (协商室): joining, the discussion, moderation, the speaker queue (发言排队)
and minority opinions recorded from the floor (少数意见).

Every state change is one function taking the actor and plain arguments; it checks the
actor's right, writes in one transaction under the write lock, and announces what happened
after the commit. Readers for other features (``messages_after``, ``transcript``,
``attendance``, ``floor_opinions``) are at the end.

Messages carry a per-room sequence number (``seq``): it is what clients see as the
message ``id`` and send back as ``last_seen_id``. It is taken from the room's counter row
under the write lock in the transaction that stores the message, so sequence order is
commit order and a message that commits late cannot hide behind a number a client has
already seen.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from datetime import datetime, timedelta
from functools import lru_cache, wraps
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from consult import audit
from consult.accounts.models import User
from consult.accounts.service import find_user, session_user
from consult.communities.service import is_member, membership
from consult.consultations import service as consultations
from consult.consultations.models import PARTICIPANT_ROLES, STATUSES, Consultation, Participant
from consult.core import notify
from consult.core.database import (
    autocommit_connection,
    commit_keeping_loaded,
    dialect_insert,
    lock_for_write,
)
from consult.core.markdown import render_light
from consult.core.payload import check_text
from consult.core.time import isoformat, utcnow
from consult.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from consult.extensions import db, socketio

from .models import FLOOR_MODES, FloorOpinion, HandRaise, Message, RoomMute, RoomState, RoomVisit

log = logging.getLogger(__name__)

#: This process, as written on the visits it holds (see :func:`_prune_stale_visits`).
SERVER_ID = secrets.token_hex(8)

HISTORY_LIMIT = 200
CATCH_UP_LIMIT = 1000
MAX_REASON_LENGTH = 500
MAX_OPINION_LENGTH = 2000
MIN_SPEAKING_SECONDS = 10
MAX_SPEAKING_SECONDS = 3600
#: Statuses in which the room can be read (it is writable only while ``live``).
ROOM_STATUSES = ("live", "closed", "cancelled", "outcome_published", "implementing", "completed")
SPEAKING_ROLES = ("chair", "secretary", "voter", "speaker")

#: System lines: a key and parameters are stored, the text is made in each reader's
#: language. Parameters named ``status``, ``result`` and ``state`` are translated too.
SYSTEM_TEXTS = {
    "joined": _l("%(name)s joined the room."),
    "joined_many": _l("%(names)s and %(count)s others joined the room."),
    "status_live": _l("The room is open. The discussion has begun."),
    "status_closed": _l("The room is closed. The discussion is over."),
    "status_cancelled": _l("The consultation was cancelled."),
    "status_changed": _l("The consultation is now: %(status)s."),
    "vote_opened": _l("Voting has opened: %(title)s."),
    "vote_closed": _l("Voting has closed: %(title)s. Result: %(result)s."),
    "motion_submitted": _l("Motion submitted: %(title)s."),
    "motion_seconded": _l("Motion seconded: %(title)s."),
    "motion_adopted": _l("Motion adopted: %(title)s."),
    "motion_rejected": _l("Motion rejected: %(title)s."),
    "motion_withdrawn": _l("Motion withdrawn: %(title)s."),
    "motion_tabled": _l("Motion tabled: %(title)s."),
    "floor_open": _l("The floor is open: every participant may post."),
    "floor_moderated": _l(
        "The floor is moderated: only the speaker who holds the floor and the chair may post."
    ),
    "floor_given": _l("%(name)s has the floor."),
    "floor_given_timed": _l("%(name)s has the floor for %(time)s."),
    "floor_taken": _l("The chair took the floor back."),
    "muted": _l("%(name)s was muted by the chair."),
    "unmuted": _l("%(name)s may post again."),
    "minority_recorded": _l("A minority opinion of %(name)s was recorded."),
    "minority_recorded_note": _l("A minority opinion was recorded."),
}

#: Vote results as other features announce them.
RESULT_TEXTS = {
    "adopted": _l("adopted"),
    "rejected": _l("rejected"),
    "no_quorum": _l("no quorum"),
    "tie": _l("tie"),
}

MOTION_STATES = ("submitted", "seconded", "adopted", "rejected", "withdrawn", "tabled")


class _MissingParams(dict):
    def __missing__(self, key):
        return "…"


@lru_cache(maxsize=16)
def _texts_in(locale: str) -> tuple[dict, dict, dict]:
    """The system lines' templates, statuses and results translated into ``locale``, once:
    a room's history is two hundred lines, each asking for its template."""
    with force_locale(locale):
        return tuple(
            {key: str(text) for key, text in texts.items()}
            for texts in (SYSTEM_TEXTS, STATUSES, RESULT_TEXTS)
        )


def system_text(key: str, params: dict | None) -> str:
    """The text of a system line in the current language."""
    templates, statuses, results = _texts_in(str(get_locale() or "zh"))
    template = templates.get(key)
    if template is None:
        return str(key)
    values = _MissingParams()
    for name, value in (params or {}).items():
        if name == "status":
            value = statuses.get(value, value)
        elif name == "result":
            value = results.get(value, value)
        values[name] = str(value)
    try:
        return template % values
    except (TypeError, ValueError):
        return template


def client_texts() -> dict:
    """What the room page's script needs to write system lines in the reader's language."""
    return {
        "system": {key: str(text) for key, text in SYSTEM_TEXTS.items()},
        "results": {key: str(text) for key, text in RESULT_TEXTS.items()},
        "statuses": {key: str(text) for key, text in STATUSES.items()},
        "roles": {key: str(text) for key, text in PARTICIPANT_ROLES.items()},
        # ``server:status`` (consult/core/queue.py): the message queue is away, or back.
        "queue": {
            "interrupted": _(
                "Live updates are interrupted. What you say is still saved; the room will "
                "catch up when the connection is back."
            ),
            "restored": _("Live updates are back. Missed messages are shown."),
        },
    }


# --- who may do what -------------------------------------------------------------------


def _config(name: str) -> int:
    return int(current_app.config[name])


def _role(user, consultation: Consultation) -> str | None:
    return consultations.role_of(user, consultation)


def is_moderator(user, consultation: Consultation) -> bool:
    """The chair (or an admin of the community) runs the room."""
    return consultations.can_manage(user, consultation)


def is_recorder(user, consultation: Consultation) -> bool:
    """The chair and the secretary read hidden messages and record minority opinions."""
    return is_moderator(user, consultation) or _role(user, consultation) == "secretary"


def can_read(user, consultation: Consultation) -> bool:
    """Participants, the chair and, for an open consultation, members of the community."""
    if not getattr(user, "is_authenticated", False) or consultation.status not in ROOM_STATUSES:
        return False
    if is_moderator(user, consultation) or _role(user, consultation) is not None:
        return True
    return consultation.access == "open" and is_member(user, consultation.community)


def require_read(user, consultation: Consultation) -> None:
    if consultation.status == "draft" and not consultations.can_view(user, consultation):
        raise NotFound("consultation_not_found", _("No such consultation."))
    if consultation.status not in ROOM_STATUSES:
        raise Conflict("room_not_open", _("The room of this consultation is not open yet."))
    if not can_read(user, consultation):
        raise Forbidden("not_participant", _("You are not a participant of this consultation."))


def require_join(user, consultation: Consultation) -> Participant | None:
    """Check that ``user`` may enter the room; members joining an open live consultation
    take part as voters. Returns the user's participation (None for a reader only)."""
    require_read(user, consultation)
    if consultation.status == "live":
        if is_moderator(user, consultation) and _role(user, consultation) is None:
            if consultation.access != "open" or not membership(user, consultation.community):
                return None  # an admin steering a consultation they take no part in
        # A member who becomes a voter by coming in is told to the room by the presence
        # news of the join (with the role), not by one announcement per newcomer.
        return consultations.ensure_participant(user, consultation, announce=False)
    return consultations.participant(user, consultation)


#: The consultation's status as stored now (``room``), and whether ``user`` is muted in it:
#: asked alone, and read with the room's row when a message is checked.
_STATUS = sa.select(Consultation.status).where(Consultation.id == sa.bindparam("room"))
_MUTED = sa.exists().where(
    RoomMute.consultation_id == sa.bindparam("room"), RoomMute.user_id == sa.bindparam("user")
)


def _require_live(consultation: Consultation, status: str | None = None) -> None:
    """The consultation is live, as stored now (or as ``status``, read in the caller's
    statement)."""
    if status is None:
        status = db.session.scalar(_STATUS, {"room": consultation.id})
    if status != "live":
        raise Conflict("room_closed", _("The room is not open: it is read-only now."))


def _require_moderator(actor, consultation: Consultation) -> None:
    if not is_moderator(actor, consultation):
        raise Forbidden("not_chair", _("Only the chair of this consultation may do this."))


def _require_speaker(actor, consultation: Consultation, join: bool = False) -> Participant | None:
    """The actor's participation, if it lets them speak (observers only read). With
    ``join``, a member speaking in an open live consultation takes part as a voter, as on
    joining the room."""
    found = consultations.participant(actor, consultation)
    if found is None:
        if is_moderator(actor, consultation):
            return None
        if join and consultation.status == "live":
            found = consultations.ensure_participant(actor, consultation)
        else:
            raise Forbidden("not_participant", _("You are not a participant of this consultation."))
    if found.role not in SPEAKING_ROLES:
        raise Forbidden("cannot_speak", _("Observers follow the discussion but do not post."))
    return found


def _is_muted(consultation_id: int, user_id: int) -> bool:
    return bool(db.session.scalar(sa.select(_MUTED), {"room": consultation_id, "user": user_id}))


def _holds_floor(state: RoomState, user_id: int, now=None) -> bool:
    if state.floor_holder_id != user_id:
        return False
    return state.floor_until is None or (now or utcnow()) < state.floor_until


# --- the room's counter row and the write lock -------------------------------------------


def _writer(function):
    """A refused or failed change leaves nothing behind and releases the write lock."""

    @wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception:
            db.session.rollback()
            raise

    return wrapped


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _ensure_state(consultation_id: int) -> None:
    values = {
        "consultation_id": consultation_id,
        "last_seq": 0,
        "floor_mode": "open",
        "updated_at": utcnow(),
    }
    db.session.execute(dialect_insert(RoomState).values(**values).on_conflict_do_nothing())


#: The room's row, locked until the commit (``FOR UPDATE`` where the database has it).
_ROOM_ROW = (
    sa.select(RoomState)
    .where(RoomState.consultation_id == sa.bindparam("room"))
    .with_for_update(of=RoomState)
    .execution_options(populate_existing=True)
)


def _lock_room(consultation_id: int, reading=None, **params) -> RoomState | sa.Row:
    """Take the write lock and the room's row; hold both until the commit. ``reading`` is a
    statement like ``_ROOM_ROW`` that reads more beside the row, with ``params``: its row is
    returned, ``(state, *values)``."""
    lock_for_write()
    query = _ROOM_ROW if reading is None else reading
    params["room"] = consultation_id
    row = db.session.execute(query, params).first()
    if row is None:  # the room's first write
        _ensure_state(consultation_id)
        row = db.session.execute(query, params).first()
    return row[0] if reading is None else row


def room_state(consultation: Consultation) -> RoomState:
    """The room's state for reading (a default one if the room has none yet)."""
    state = db.session.get(RoomState, consultation.id)
    return state or RoomState(consultation_id=consultation.id, last_seq=0, floor_mode="open")


def _next_seq(state: RoomState) -> int:
    state.last_seq = (state.last_seq or 0) + 1
    return state.last_seq


def _append_system(
    state: RoomState, key: str, params: dict | None = None, event_key: str | None = None
) -> Message:
    """A system line in the current transaction (the room's lock is held)."""
    clean = {str(k)[:40]: str(v)[:300] for k, v in (params or {}).items() if v is not None}
    message = Message(
        consultation_id=state.consultation_id,
        seq=_next_seq(state),
        kind="system",
        body="",
        meta={"key": key, "params": clean},
        event_key=event_key,
    )
    db.session.add(message)
    return message


# --- what clients see ------------------------------------------------------------------


def _roles_by_user(consultation_id: int, user_ids=None) -> dict[int, str]:
    """Participants' roles by user id: everyone's, or only those of ``user_ids`` (one user
    id, or several)."""
    query = sa.select(Participant.user_id, Participant.role).where(
        Participant.consultation_id == consultation_id
    )
    if isinstance(user_ids, int):
        query = query.where(Participant.user_id == user_ids)
    elif user_ids is not None:
        user_ids = set(user_ids)
        if not user_ids:
            return {}
        query = query.where(Participant.user_id.in_(user_ids))
    return dict(db.session.execute(query).all())


def _person(user: User | None, roles: dict[int, str] | None = None) -> dict | None:
    if user is None:
        return None
    data = {"username": user.username, "display_name": user.display_name}
    if roles is not None:
        data["role"] = roles.get(user.id)
    return data


def message_dict(message: Message, privileged: bool = False, roles: dict | None = None) -> dict:
    """A message as clients see it. ``id`` is the room's sequence number; a hidden message
    keeps its place but its text is given only to the chair and the secretary."""
    if roles is None and message.author_id is not None:
        roles = _roles_by_user(message.consultation_id, message.author_id)
    return _message_data(
        message, _person(message.author, roles), _person(message.hidden_by), privileged
    )


def _message_data(message, author: dict | None, hidden_by: dict | None, privileged: bool):
    """``message`` is a :class:`Message` or a row of :func:`_message_rows` (same names)."""
    show_text = not message.hidden or privileged
    data = {
        "id": message.seq,
        "seq": message.seq,
        "uid": message.id,
        "consultation_id": message.consultation_id,
        "kind": message.kind,
        "author": author,
        "body": message.body if show_text else None,
        "html": str(render_light(message.body)) if show_text and message.body else "",
        "client_id": message.client_id,
        "created_at": isoformat(message.created_at),
        "hidden": message.hidden,
    }
    if message.kind == "system":
        meta = message.meta or {}
        data["system"] = {"key": meta.get("key"), "params": meta.get("params") or {}}
        data["text"] = system_text(meta.get("key"), meta.get("params"))
        data["html"] = ""
    if message.hidden:
        data["hidden_reason"] = message.hidden_reason
        data["hidden_by"] = hidden_by
        data["hidden_at"] = isoformat(message.hidden_at)
    return data


def floor_dict(state: RoomState) -> dict:
    now = utcnow()
    holder = state.floor_holder if state.floor_holder_id else None
    seconds_left = None
    if holder is not None and state.floor_until is not None:
        seconds_left = max(0, int((state.floor_until - now).total_seconds() + 0.999))
    return {
        "consultation_id": state.consultation_id,
        "mode": state.floor_mode or "open",
        "holder": _person(holder),
        "given_at": isoformat(state.floor_given_at) if holder else None,
        "until": isoformat(state.floor_until) if holder else None,
        "seconds_left": seconds_left,
    }


def _open_visits(consultation_id: int, user_ids=None):
    """Each person in the room now (or each of ``user_ids`` who is), with the time of their
    earliest open visit."""
    query = sa.select(RoomVisit.user_id, sa.func.min(RoomVisit.joined_at).label("since")).where(
        RoomVisit.consultation_id == consultation_id, RoomVisit.left_at.is_(None)
    )
    if user_ids is not None:
        query = query.where(RoomVisit.user_id.in_(set(user_ids)))
    return query.group_by(RoomVisit.user_id).subquery()


def participants(consultation: Consultation) -> list[dict]:
    """Everyone taking part, with role, muted and online markers. One query of plain rows:
    a room of a thousand is joined a thousand times while it fills."""
    here = _open_visits(consultation.id)
    muted = (
        sa.select(RoomMute.id)
        .where(RoomMute.consultation_id == consultation.id, RoomMute.user_id == User.id)
        .exists()
    )
    rows = db.session.execute(
        sa.select(User.username, User.display_name, Participant.role, muted, here.c.since)
        .join(User, User.id == Participant.user_id)
        .outerjoin(here, here.c.user_id == Participant.user_id)
        .where(Participant.consultation_id == consultation.id)
        .order_by(Participant.created_at, Participant.id)
    ).all()
    return [
        {
            "username": username,
            "display_name": display_name,
            "role": role,
            "muted": bool(is_muted),
            "online": since is not None,
        }
        for username, display_name, role, is_muted, since in rows
    ]


def _online(consultation_id: int, user_ids=None) -> list[dict]:
    """Who is in the room now (or which of ``user_ids`` is), in the order they came."""
    here = _open_visits(consultation_id, user_ids)
    query = (
        sa.select(User.username, User.display_name, Participant.role, here.c.since)
        .join(here, here.c.user_id == User.id)
        .outerjoin(
            Participant,
            sa.and_(Participant.consultation_id == consultation_id, Participant.user_id == User.id),
        )
        .order_by(here.c.since, User.id)
    )
    return [
        {"username": username, "display_name": name, "role": role, "since": isoformat(since)}
        for username, name, role, since in db.session.execute(query)
    ]


def _online_count(consultation_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(RoomVisit.user_id))).where(
            RoomVisit.consultation_id == consultation_id, RoomVisit.left_at.is_(None)
        )
    )


def hands(consultation_id: int) -> list[dict]:
    """Raised hands in the order they were raised."""
    rows = db.session.scalars(
        sa.select(HandRaise)
        .where(HandRaise.consultation_id == consultation_id, HandRaise.lowered_at.is_(None))
        .order_by(HandRaise.raised_at, HandRaise.id)
    ).all()
    roles = _roles_by_user(consultation_id, {hand.user_id for hand in rows})
    return [{**_person(hand.user, roles), "raised_at": isoformat(hand.raised_at)} for hand in rows]


def presence(consultation: Consultation | int) -> dict:
    """Who is in the room now, and the raised hands in order."""
    cid = consultation if isinstance(consultation, int) else consultation.id
    return {"consultation_id": cid, "online": _online(cid), "hands": hands(cid)}


def presence_changes(consultation_id: int, user_ids, newcomer_ids=()) -> dict:
    """The ``presence`` announcement: of the people in ``user_ids``, who is in the room now
    (``arrived``) and who is not (``left``), the number of people in the room and the raised
    hands; and the participants who came for the first time (``newcomers``, with their role:
    a member of an open consultation becomes a voter by coming in, and may have left again
    already). Each reader applies it to the lists it got with ``room:join``; the room's whole
    list is never sent to everyone in it."""
    user_ids = set(user_ids)
    arrived = _online(consultation_id, user_ids) if user_ids else []
    here = {person["username"] for person in arrived}
    names = db.session.scalars(sa.select(User.username).where(User.id.in_(user_ids))).all()
    newcomers = []
    if newcomer_ids:
        rows = db.session.execute(
            sa.select(User.username, User.display_name, Participant.role)
            .join(Participant, Participant.user_id == User.id)
            .where(
                Participant.consultation_id == consultation_id,
                User.id.in_(set(newcomer_ids)),
            )
            .order_by(Participant.created_at, Participant.id)
        ).all()
        newcomers = [
            {"username": username, "display_name": name, "role": role}
            for username, name, role in rows
        ]
    return {
        "consultation_id": consultation_id,
        "online_count": _online_count(consultation_id),
        "arrived": arrived,
        "left": sorted(name for name in names if name not in here),
        "newcomers": newcomers,
        "hands": hands(consultation_id),
    }


def me_dict(user, consultation: Consultation) -> dict:
    """The viewer's own standing in the room."""
    role = actual = _role(user, consultation)
    live = consultation.status == "live"
    if (
        role is None
        and live
        and consultation.access == "open"
        and is_member(user, consultation.community)
    ):
        role = "voter"  # members of an open consultation take part as voters when they join
    moderator = is_moderator(user, consultation)
    muted = _is_muted(consultation.id, user.id)
    state = room_state(consultation)
    floor_ok = state.floor_mode != "moderated" or moderator or _holds_floor(state, user.id)
    speaks = role in SPEAKING_ROLES or (moderator and role is None)
    recorder = moderator or actual == "secretary"  # as is_recorder, without asking again
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": role,
        "can_speak": speaks,
        "can_post": bool(live and speaks and not muted and floor_ok),
        "muted": muted,
        "can_moderate": moderator,
        "can_record": recorder,
        "can_read_hidden": recorder,
    }


def consultation_dict(consultation: Consultation) -> dict:
    return {
        "id": consultation.id,
        "title": consultation.title,
        "status": consultation.status,
        "access": consultation.access,
        "community": consultation.community.slug,
    }


_lists: dict[int, tuple[float, dict]] = {}
_lists_lock = threading.Lock()
#: How many changes to each room's lists this process has announced: lists read while one
#: was announced are not kept (they may be older than the change).
_list_changes: dict[int, int] = {}
#: One reader of a room's lists at a time; whoever comes meanwhile waits and shares them.
_readers: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
#: Announcements after which a room's lists are read again.
LIST_CHANGING_EVENTS = {"presence", "participants:updated", "participant:muted"}


def _cached_lists(consultation_id: int) -> dict | None:
    with _lists_lock:
        hit = _lists.get(consultation_id)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def _read_lists(consultation: Consultation) -> dict:
    people, online = participants(consultation), _online(consultation.id)
    return {
        "participants": people,
        "online": online,
        "here": {person["username"] for person in online},
        "place": {person["username"]: n for n, person in enumerate(people)},
    }


def _room_lists(consultation: Consultation) -> dict:
    """The participants and who is here, as everyone joining now is given them.

    While a room fills, hundreds join within seconds and each would read the same two lists
    as long as the room. They are reused for ``ROOM_LIST_CACHE_SECONDS`` (1 s) and dropped at
    once when this process announces a change to them; a change between reading and
    announcing reaches the joiner with that announcement, as the joiner is already in the
    Socket.IO room, and the lists read meanwhile are not kept for those joining later. (With
    several processes, another process's change can be up to that long older than the list;
    the next presence event about that person corrects it.) When they have been dropped, one
    joiner reads them and those joining meanwhile wait for that reading rather than each
    making their own."""
    ttl = current_app.config.get("ROOM_LIST_CACHE_SECONDS", 0)
    if not ttl:
        return _read_lists(consultation)
    lists = _cached_lists(consultation.id)
    if lists is not None:
        return lists
    with _lists_lock:
        reader = _readers.get(consultation.id)
        if reader is None:
            reader = _readers[consultation.id] = threading.Lock()
    with reader:
        lists = _cached_lists(consultation.id)
        if lists is not None:
            return lists
        until = time.monotonic() + ttl
        with _lists_lock:
            changes = _list_changes.get(consultation.id, 0)
        lists = _read_lists(consultation)
        with _lists_lock:
            now = time.monotonic()
            for stale in [cid for cid, (ends, _) in _lists.items() if ends <= now]:
                del _lists[stale]  # rooms nobody joined lately keep nothing
            if _list_changes.get(consultation.id, 0) == changes:
                _lists[consultation.id] = (until, lists)
    return lists


def _forget_lists(event: str, payload, room) -> None:
    if event in LIST_CHANGING_EVENTS and isinstance(payload, dict):
        cid = payload.get("consultation_id")
        with _lists_lock:
            _lists.pop(cid, None)
            _list_changes[cid] = _list_changes.get(cid, 0) + 1


def snapshot(user, consultation: Consultation, me: dict | None = None) -> dict:
    """The room as ``user`` sees it now (without messages); ``me`` is their
    :func:`me_dict` if the caller has it."""
    lists = _room_lists(consultation)
    people, online = lists["participants"], lists["online"]
    if user.username not in lists["here"]:
        # The viewer's own visit may be newer than the lists: they are here.
        mine = _online(consultation.id, {user.id})
        if mine:
            online = [*online, *mine]
            place = lists["place"].get(user.username)
            if place is not None:
                people = list(people)
                people[place] = {**people[place], "online": True}
    state = room_state(consultation)
    return {
        "consultation": consultation_dict(consultation),
        "me": me if me is not None else me_dict(user, consultation),
        "participants": people,
        "presence": {
            "consultation_id": consultation.id,
            "online": online,
            "hands": hands(consultation.id),
        },
        "floor": floor_dict(state),
        "last_seq": state.last_seq or 0,
    }


# --- joining and leaving -----------------------------------------------------------------


def _connected_here(sid: str) -> bool:
    server = getattr(socketio, "server", None)
    if server is None:
        return False
    try:
        return bool(server.manager.is_connected(sid, "/"))
    except Exception:  # noqa: BLE001 — a manager that cannot tell keeps the visit
        return True


_pruned_at: dict[int, float] = {}


def _prune_stale_visits(consultation_id: int) -> list[int]:
    """Close visits whose connection is gone without a disconnect (a killed server).

    Visits held by this process are checked against its live connections. Without a
    message queue there is one server process, so a visit written by an earlier run of it
    is over too. With a queue, other processes' visits are trusted until they end.
    Returns the users whose visits were closed.
    """
    # Looking costs a row per person in the room: do it at most every ROOM_PRUNE_SECONDS
    # per room and process (the first join after a restart always looks).
    now_monotonic = time.monotonic()
    interval = current_app.config.get("ROOM_PRUNE_SECONDS", 30)
    if now_monotonic - _pruned_at.get(consultation_id, float("-inf")) < interval:
        return []
    _pruned_at[consultation_id] = now_monotonic
    rows = db.session.scalars(
        sa.select(RoomVisit).where(
            RoomVisit.consultation_id == consultation_id, RoomVisit.left_at.is_(None)
        )
    ).all()
    single_process = not current_app.config.get("SOCKETIO_MESSAGE_QUEUE")
    now = utcnow()
    gone = []
    for visit in rows:
        if visit.server == SERVER_ID:
            stale = visit.sid is not None and not _connected_here(visit.sid)
        else:
            stale = single_process
        if stale:
            visit.left_at = now
            gone.append(visit.user_id)
    return gone


#: Whether this connection is in the room already, and whether its user ever came before.
_VISITS = sa.select(
    sa.exists().where(
        RoomVisit.consultation_id == sa.bindparam("room"),
        RoomVisit.sid == sa.bindparam("sid"),
        RoomVisit.left_at.is_(None),
    ),
    sa.exists().where(
        RoomVisit.consultation_id == sa.bindparam("room"),
        RoomVisit.user_id == sa.bindparam("user"),
    ),
)


@_writer
def join_room(actor, consultation: Consultation, sid: str | None = None, last_seen_id=None):
    """Enter the room: record the visit (while live) and return the room with its history
    (or exactly the messages after ``last_seen_id``).

    Recording a visit takes the database's write lock only for the visit's row, not the
    room's: the "joined" line of a first visit and the presence announcement are made by
    :func:`_room_news`, which gathers a burst of joins into one of each."""
    require_join(actor, consultation)
    # The joiner's standing is read now, while the lookups just made are remembered: after
    # the visit is written they would be made again.
    me = me_dict(actor, consultation)
    changed: list[int] = []
    first_visit = False
    if consultation.status == "live" and sid:
        lock_for_write()
        changed = _prune_stale_visits(consultation.id)
        in_room, came_before = db.session.execute(
            _VISITS, {"room": consultation.id, "sid": sid, "user": actor.id}
        ).one()
        if not in_room:
            first_visit = not came_before
            db.session.add(
                RoomVisit(
                    consultation_id=consultation.id, user_id=actor.id, sid=sid, server=SERVER_ID
                )
            )
            changed.append(actor.id)
        commit_keeping_loaded()
    if changed:  # someone came in, or stale visits went out
        _room_news(consultation.id, changed, newcomer=actor if first_visit else None)
    data = snapshot(actor, consultation, me)
    privileged = data["me"]["can_read_hidden"]
    if last_seen_id is None:
        data["messages"] = recent_messages(consultation, actor, HISTORY_LIMIT, privileged)
        first = data["messages"][0]["seq"] if data["messages"] else None
        data["has_more"] = bool(first and first > 1)
    else:
        messages = messages_after(consultation, last_seen_id, actor, CATCH_UP_LIMIT + 1, privileged)
        data["has_more"] = len(messages) > CATCH_UP_LIMIT
        data["messages"] = messages[:CATCH_UP_LIMIT]
    return data


@_writer
def leave_room(actor, consultation: Consultation, sid: str) -> None:
    """End this connection's visit to the room."""
    if not can_read(actor, consultation):
        raise Forbidden("not_participant", _("You are not a participant of this consultation."))
    closed = _close_visits(
        sa.and_(RoomVisit.sid == sid, RoomVisit.consultation_id == consultation.id)
    )
    for consultation_id, user_ids in closed.items():
        _room_news(consultation_id, user_ids)


@_writer
def leave_all(sid: str) -> list[int]:
    """A connection ended: it leaves every room it was in. Returns those rooms."""
    closed = _close_visits(RoomVisit.sid == sid)
    for consultation_id, user_ids in closed.items():
        _room_news(consultation_id, user_ids)
    return sorted(closed)


def _close_visits(condition) -> dict[int, list[int]]:
    """End the open visits that meet ``condition``: the users whose visits ended, by room."""
    rows = db.session.scalars(
        sa.select(RoomVisit.id).where(condition, RoomVisit.left_at.is_(None))
    ).all()
    if not rows:
        return {}
    lock_for_write()
    visits = db.session.scalars(
        sa.select(RoomVisit)
        .where(condition, RoomVisit.left_at.is_(None))
        .execution_options(populate_existing=True)
    ).all()
    now = utcnow()
    closed: dict[int, list[int]] = {}
    for visit in visits:
        visit.left_at = now
        closed.setdefault(visit.consultation_id, []).append(visit.user_id)
    db.session.commit()
    return closed


# --- the discussion ------------------------------------------------------------------------


def _clean_body(body) -> str:
    if not isinstance(body, str):
        raise Invalid("invalid_type", _("The message must be text."))
    body = check_text(body).replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise Invalid("empty_message", _("Write something before sending."))
    limit = _config("ROOM_MESSAGE_MAX_LENGTH")
    if len(body) > limit:
        raise Invalid(
            "message_too_long",
            _(
                "A message may have at most %(max)d characters; this one has %(n)d.",
                max=limit,
                n=len(body),
            ),
        )
    return body


def _clean_client_id(client_id) -> str | None:
    if client_id is None or client_id == "":
        return None
    if not isinstance(client_id, str) or len(client_id) > 64 or not client_id.isprintable():
        raise Invalid("invalid_client_id", _("client_id is up to 64 printable characters."))
    return client_id


#: What a message is checked against under the room's lock, read with the room's row in one
#: statement (built once: building it costs more than running it): the message the author
#: already sent with this ``client_id``, the consultation's status, the author's mute, and
#: how many messages they posted since ``since``.
_MESSAGE_CHECKS = (
    sa.select(
        RoomState,
        sa.select(Message.id)
        .where(
            Message.consultation_id == sa.bindparam("room"),
            Message.author_id == sa.bindparam("user"),
            Message.client_id == sa.bindparam("client_id"),
        )
        .scalar_subquery(),
        _STATUS.scalar_subquery(),
        _MUTED,
        sa.select(sa.func.count())
        .select_from(Message)
        .where(
            Message.author_id == sa.bindparam("user"),
            Message.created_at > sa.bindparam("since"),
        )
        .scalar_subquery(),
    )
    .where(RoomState.consultation_id == sa.bindparam("room"))
    .with_for_update(of=RoomState)
    .execution_options(populate_existing=True)
)


#: A new message and the room's counter, written as plain statements (the unit of work's
#: bookkeeping for one new row cost more than both statements); on PostgreSQL in one round
#: trip, the counter's UPDATE being a part (a CTE) of the INSERT.
_NEW_MESSAGE = (
    sa.insert(Message.__table__)
    .values(
        consultation_id=sa.bindparam("room"),
        seq=sa.bindparam("next_seq"),
        author_id=sa.bindparam("author"),
        kind=sa.bindparam("message_kind"),
        body=sa.bindparam("text"),
        client_id=sa.bindparam("client"),
        hidden=False,
        created_at=sa.bindparam("at"),
    )
    .returning(Message.__table__.c.id)
)
_ADVANCE_ROOM = (
    sa.update(RoomState.__table__)
    .where(RoomState.__table__.c.consultation_id == sa.bindparam("room"))
    .values(last_seq=sa.bindparam("next_seq"), updated_at=sa.bindparam("at"))
)
_NEW_MESSAGE_ADVANCING = _NEW_MESSAGE.add_cte(_ADVANCE_ROOM.cte("advanced"))


def _checked_new_message(speaker: bool = False):
    """PostgreSQL: a message's checks and write in one statement (one round trip), which
    writes nothing that fails them.

    ``checks`` reads what ``_MESSAGE_CHECKS`` reads beside the room's row: the message the
    author already sent with this ``client_id``, the consultation's status, the author's
    mute and how many messages they posted since ``since``. The counter's ``UPDATE`` locks
    the room's row and advances it only if those pass and the floor lets the author speak
    (``moderator``: they run the room); the ``INSERT`` takes that ``seq`` and does nothing
    if a resend raced it. The answer has the checks and the room's floor as read, for the
    caller to tell a refusal; one row, whatever happened.

    With ``speaker`` the author's standing is checked too, as :data:`_SPEAKER_STANDING`
    reads it (their session's ``epoch`` is the user's, they take part in the room with a
    role that speaks), and the answer is only the new message's id, the number taken and
    their ``username``, ``display_name`` and ``role`` (one row, whatever happened): for
    :func:`post_message_at_once`, which passes ``moderator`` false and leaves any refusal
    to the usual way. Its roles are written into the statement as values of their own, not
    as a list SQLAlchemy expands into the SQL on each run: the statement's text is made once.
    The live room runs it a message at a time, each after a pause, where each column and
    each step of SQLAlchemy's costs several times what it costs back to back
    (docs/performance.md)."""
    from sqlalchemy.dialects.postgresql import insert

    room, table = RoomState.__table__, Message.__table__
    stored, status, muted, recent = _MESSAGE_CHECKS.selected_columns[-4:]
    checks = sa.select(
        stored.label("stored_id"), status.label("status"), muted.label("muted"),
        recent.label("recent"),
    ).cte("checks")  # fmt: skip
    at = sa.bindparam("at", type_=table.c.created_at.type)
    floor_lets_speak = sa.or_(
        room.c.floor_mode != "moderated",
        sa.bindparam("moderator", type_=sa.Boolean),
        sa.and_(
            room.c.floor_holder_id == sa.bindparam("user"),
            sa.or_(room.c.floor_until.is_(None), room.c.floor_until > at),
        ),
    )
    passed = [
        sa.exists().where(
            checks.c.stored_id.is_(None),
            checks.c.status == "live",
            sa.not_(checks.c.muted),
            checks.c.recent < sa.bindparam("limit", type_=sa.Integer),
        ),
        floor_lets_speak,
    ]
    standing = None
    if speaker:
        standing = _speaker(sa.select(User.username, User.display_name, Participant.role))
        speaking = [sa.literal(role) for role in SPEAKING_ROLES]
        standing = standing.where(Participant.role.in_(speaking)).cte("standing")
        passed.append(sa.exists(standing.select()))
    advanced = (
        sa.update(room)
        .where(room.c.consultation_id == sa.bindparam("room"), *passed)
        .values(last_seq=room.c.last_seq + 1, updated_at=at)
        .returning(room.c.last_seq)
        .cte("advanced")
    )
    columns = ("consultation_id", "seq", "author_id", "kind", "body", "client_id", "hidden")
    values = sa.select(
        sa.bindparam("room", type_=table.c.consultation_id.type),
        advanced.c.last_seq,
        sa.bindparam("author", type_=table.c.author_id.type),
        sa.bindparam("message_kind", type_=table.c.kind.type),
        sa.bindparam("text", type_=table.c.body.type),
        sa.bindparam("client", type_=table.c.client_id.type),
        sa.false(),
        at,
    )
    inserted = (
        insert(table)
        .from_select([*columns, "created_at"], values)
        .on_conflict_do_nothing(index_elements=["consultation_id", "author_id", "client_id"])
        .returning(table.c.id)
        .cte("inserted")
    )
    written = (
        sa.select(inserted.c.id).scalar_subquery().label("message_id"),
        sa.select(advanced.c.last_seq).scalar_subquery().label("taken"),
    )
    if standing is not None:
        return sa.select(*written, standing).select_from(checks.outerjoin(standing, sa.true()))
    return sa.select(
        *written, room.c.floor_mode, room.c.floor_holder_id, room.c.floor_until, checks
    ).select_from(checks.outerjoin(room, room.c.consultation_id == sa.bindparam("room")))


def _speaker(select):
    """``select`` from the user named by ``user`` whose session epoch is ``epoch``, joined
    with their participation in the room ``room`` (no row where either is missing)."""
    return (
        select.select_from(User)
        .join(
            Participant,
            sa.and_(
                Participant.user_id == User.id, Participant.consultation_id == sa.bindparam("room")
            ),
        )
        .where(User.id == sa.bindparam("user"), User.session_epoch == sa.bindparam("epoch"))
    )


_CHECKED_NEW_MESSAGE = _checked_new_message()
_CHECKED_NEW_SPEECH = _checked_new_message(speaker=True)


def _speaker_standing():
    """SQLite, under the write lock: what :func:`post_message_at_once` decides on, read in
    one statement: the author (their session's epoch checked) and their role in the room,
    the room's counter and floor, and what ``_MESSAGE_CHECKS`` reads beside them."""
    room = RoomState.__table__
    stored, status, muted, recent = _MESSAGE_CHECKS.selected_columns[-4:]
    return _speaker(
        sa.select(
            User.username,
            User.display_name,
            Participant.role,
            room.c.last_seq,
            room.c.floor_mode,
            room.c.floor_holder_id,
            room.c.floor_until,
            stored.label("stored_id"),
            status.label("status"),
            muted.label("muted"),
            recent.label("recent"),
        )
    ).join(room, room.c.consultation_id == sa.bindparam("room"))


_SPEAKER_STANDING = _speaker_standing()


def _store_message(state: RoomState, author: User, kind: str, body: str, client_id) -> Message:
    """Write the room's next message under its lock (taken by the caller) and return it as
    the session holds rows it has read."""
    values = {
        "room": state.consultation_id,
        "next_seq": (state.last_seq or 0) + 1,
        "author": author.id,
        "message_kind": kind,
        "text": body,
        "client": client_id,
        "at": utcnow(),
    }
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        message_id = connection.execute(_NEW_MESSAGE_ADVANCING, values).scalar_one()
    else:
        message_id = connection.execute(_NEW_MESSAGE, values).scalar_one()
        connection.execute(_ADVANCE_ROOM, values)
    set_committed_value(state, "last_seq", values["next_seq"])
    set_committed_value(state, "updated_at", values["at"])
    return _as_loaded(message_id, values)


def _as_loaded(message_id: int, values: dict) -> Message:
    """The message just written with ``values``, in the session as a row it has read."""
    message = Message(
        id=message_id,
        consultation_id=values["room"],
        seq=values["next_seq"],
        author_id=values["author"],
        kind=values["message_kind"],
        body=values["text"],
        meta=None,
        client_id=values["client"],
        event_key=None,
        hidden=False,
        hidden_reason=None,
        hidden_by_id=None,
        hidden_at=None,
        created_at=values["at"],
    )
    make_transient_to_detached(message)
    db.session.add(message)
    return message


def _check_rate(recent: int) -> None:
    count_limit = _config("ROOM_RATE_LIMIT_COUNT")
    seconds = _config("ROOM_RATE_LIMIT_SECONDS")
    if recent >= count_limit:
        raise TooMany(
            "rate_limited",
            _(
                "You are posting too fast: at most %(count)d messages in %(seconds)d seconds. "
                "Wait a moment and send again.",
                count=count_limit,
                seconds=seconds,
            ),
        )


@_writer
def post_message(actor, consultation: Consultation, body, client_id=None, announcement=False):
    """Post to the room. A resend with the same ``client_id`` returns the stored message
    (its ``duplicate`` attribute is then true) and stores nothing."""
    _require_speaker(actor, consultation, join=True)
    client_id = _clean_client_id(client_id)
    if announcement:
        _require_moderator(actor, consultation)
    role = _role(actor, consultation)  # remembered: for the announcement, no query
    kind = "announcement" if announcement else "message"

    # The checks that matter are made on what is read with the room's row under its lock,
    # once (on PostgreSQL by the statement that writes the message, which writes nothing
    # they refuse): a resend is answered with the stored message (even after the room
    # closed), then the room must be open and the message valid.
    since = utcnow() - timedelta(seconds=_config("ROOM_RATE_LIMIT_SECONDS"))
    message, taken = _post_at_once(actor, consultation, kind, body, client_id, since)
    if message is None:
        state, stored_id, status, muted, recent = _lock_room(
            consultation.id, _MESSAGE_CHECKS, user=actor.id, client_id=client_id, since=since
        )
        if stored_id is not None:
            if taken is not None:
                _give_back(consultation.id, taken)
            stored = db.session.get(Message, stored_id, populate_existing=True)
            commit_keeping_loaded()  # no message written: the lock is let go at once
            stored.duplicate = True
            return stored
        body = _check_message(actor, consultation, body, state, status, muted, recent)
        message = _store_message(state, actor, kind, body, client_id)
    # What everyone is told (a new message is not hidden, so everyone sees the same).
    message.announced = _message_data(message, _person(actor, {actor.id: role}), None, False)
    commit_keeping_loaded()
    message.duplicate = False
    notify.announce("message:new", message.announced, room=notify.room_name(consultation.id))
    return message


def _check_message(actor, consultation, body, floor, status, muted, recent) -> str:
    """A new message's checks, in the order a refusal is told, on what was read under the
    room's lock (``floor``: the room's row or what the write returned of it). Returns the
    clean body."""
    _require_live(consultation, status)
    body = _clean_body(body)
    if muted:
        raise Forbidden("muted", _("The chair has muted you in this room."))
    if floor.floor_mode == "moderated" and not is_moderator(actor, consultation):
        if floor.floor_holder_id == actor.id and not _holds_floor(floor, actor.id):
            raise Forbidden("floor_not_held", _("Your speaking time is over."))
        if not _holds_floor(floor, actor.id):
            raise Forbidden(
                "floor_not_held",
                _(
                    "The floor is moderated: raise your hand and wait for the chair "
                    "to give you the floor."
                ),
            )
    _check_rate(recent)
    return body


def _post_at_once(actor, consultation, kind, body, client_id, since):
    """On PostgreSQL, check and write a message in one statement (``_CHECKED_NEW_MESSAGE``)
    and tell a refusal from its answer. Returns ``(message, None)`` for a message written,
    else ``(None, taken)`` with nothing written, where the usual way must answer: on SQLite;
    on PostgreSQL for a body refused anyway, a room with no row yet, a ``client_id`` already
    used, or checks that pass when made again (the floor changed meanwhile). ``taken`` is a
    number the room's counter gave a message that a racing resend kept from being stored
    (in autocommit it stays taken until the usual way gives it back)."""
    if _dialect() != "postgresql":
        return None, None
    try:
        text = _clean_body(body)
    except Invalid:
        return None, None
    values = {
        "room": consultation.id,
        "author": actor.id,
        "user": actor.id,
        "message_kind": kind,
        "text": text,
        "client": client_id,
        "client_id": client_id,
        "at": utcnow(),
        "since": since,
        "limit": _config("ROOM_RATE_LIMIT_COUNT"),
        "moderator": is_moderator(actor, consultation),
    }
    # On the session's connection, not through the session: without the ORM's handling of
    # a plain statement's result a message took a median 2.7–2.8 ms in process, 2.9–4.4 ms
    # with it.
    row = db.session.connection().execute(_CHECKED_NEW_MESSAGE, values).one()
    if row.message_id is not None:
        return _as_loaded(row.message_id, {**values, "next_seq": row.taken}), None
    if row.floor_mode is not None and row.stored_id is None and row.taken is None:
        _check_message(actor, consultation, text, row, row.status, row.muted, row.recent)
    # In a transaction, undo what the statement did; in autocommit nothing is open.
    db.session.rollback()
    return None, row.taken


def _speaks_at_once(standing, user_id: int, now, limit: int) -> bool:
    """Whether what :data:`_SPEAKER_STANDING` read lets the message in with no more asked:
    the same conditions as :func:`_checked_new_message` with ``speaker`` and no
    ``moderator``. :func:`post_message` makes each of these checks too, with others that
    may let more in (a moderator on a moderated floor, a member not yet a participant):
    nothing is let in here that it would refuse."""
    return (
        standing is not None
        and standing.role in SPEAKING_ROLES
        and standing.stored_id is None
        and standing.status == "live"
        and not standing.muted
        and standing.recent < limit
        and (standing.floor_mode != "moderated" or _holds_floor(standing, user_id, now))
    )


@_writer
def post_message_at_once(session_id, consultation_id: int, body, client_id) -> dict | None:
    """An ordinary message to a live room (not an announcement), checked and written from
    ids alone, the user's and the room's: nothing is loaded first. Returns what the room
    is told (as :func:`post_message`'s ``announced``), or None, having written nothing,
    for :func:`post_message` to decide on and tell why.

    It takes only what is surely allowed, read in one statement (on PostgreSQL, the one
    that writes): the session's user, with the epoch their session was given (as
    Flask-Login's loader checks), takes part in the room with a role that speaks; the room
    is live; the message is valid, new, not muted, within the rate, and the floor is open
    or theirs. Anything else — a moderator on a moderated floor, a member not yet a
    participant, a resend, the room's first message, any refusal — goes the usual way.
    The usual way loads the user, the consultation, their place in it and its community
    as objects before it checks: in process a message took 0.86 ms that way and 0.55 ms
    this way, and in a live room of 100 that loading was the largest part of the time
    before the room heard a message (docs/performance.md)."""
    reader = session_user(session_id)
    if reader is None:
        return None
    try:
        text, client_id = _clean_body(body), _clean_client_id(client_id)
    except Invalid:
        return None
    user_id, epoch = reader
    at = utcnow()
    values = {
        "room": consultation_id,
        "user": user_id,
        "author": user_id,
        "epoch": epoch,
        "message_kind": "message",
        "text": text,
        "client": client_id,
        "client_id": client_id,
        "at": at,
        "since": at - timedelta(seconds=_config("ROOM_RATE_LIMIT_SECONDS")),
        "limit": _config("ROOM_RATE_LIMIT_COUNT"),
        "moderator": False,
    }
    engine = db.engine
    if engine.dialect.name == "postgresql":
        # In autocommit, outside the session: the statement wrote all or nothing.
        with autocommit_connection(engine) as connection:
            standing = connection.execute(_CHECKED_NEW_SPEECH, values).one()
            if standing.message_id is None:
                if standing.taken is not None:
                    _give_back(consultation_id, standing.taken, connection)
                return None
        message_id, values["next_seq"] = standing.message_id, standing.taken
    else:
        connection = db.session.connection()
        lock_for_write()
        standing = connection.execute(_SPEAKER_STANDING, values).first()
        if not _speaks_at_once(standing, user_id, at, values["limit"]):
            db.session.rollback()  # the write lock is let go
            return None
        values["next_seq"] = standing.last_seq + 1
        message_id = connection.execute(_NEW_MESSAGE, values).scalar_one()
        connection.execute(_ADVANCE_ROOM, values)
        db.session.commit()
    written = _Written(message_id, values["next_seq"], consultation_id, text, client_id, at)
    author = {"username": standing.username, "display_name": standing.display_name}
    announced = _message_data(written, {**author, "role": standing.role}, None, False)
    notify.announce("message:new", announced, room=notify.room_name(consultation_id))
    return announced


class _Written(NamedTuple):
    """A message just written by :func:`post_message_at_once`, as :func:`_message_data`
    reads one."""

    id: int
    seq: int
    consultation_id: int
    body: str
    client_id: str | None
    created_at: datetime
    kind: str = "message"
    hidden: bool = False
    meta: None = None


#: Where a resend raced its original on PostgreSQL, the number the counter gave it, given
#: back if no message took it and none came after (so a room's numbers stay contiguous).
_GIVE_BACK = (
    sa.update(RoomState.__table__)
    .where(
        RoomState.__table__.c.consultation_id == sa.bindparam("room"),
        RoomState.__table__.c.last_seq == sa.bindparam("taken"),
        ~sa.exists().where(
            Message.consultation_id == sa.bindparam("room"),
            Message.seq == sa.bindparam("taken"),
        ),
    )
    .values(last_seq=RoomState.__table__.c.last_seq - 1)
)


def _give_back(consultation_id: int, taken: int, connection=None) -> None:
    """The counter's number ``taken`` back, if still unused and last (through ``connection``,
    else the session). One conditional ``UPDATE``, which locks the room's row itself: the
    usual way calls it under the room's lock, the way from ids in autocommit with none."""
    (connection or db.session).execute(_GIVE_BACK, {"room": consultation_id, "taken": taken})


def message_for(message: Message, viewer, consultation: Consultation) -> dict:
    """The answer to the poster: the announcement itself for a new message, else the stored
    message as ``viewer`` may see it."""
    announced = getattr(message, "announced", None)
    if announced is not None:
        return announced
    return message_dict(message, is_recorder(viewer, consultation))


@_writer
def post_system_line(consultation_id: int, key: str, dedupe_key: str | None = None, **params):
    """A system line (``SYSTEM_TEXTS[key]`` with ``params``). With ``dedupe_key`` the same
    line is stored at most once per room. Returns the message, or None if it existed."""
    if db.session.get(Consultation, consultation_id) is None:
        return None
    state = _lock_room(consultation_id)
    if dedupe_key is not None:
        exists = db.session.scalar(
            sa.select(Message.id).where(
                Message.consultation_id == consultation_id, Message.event_key == dedupe_key
            )
        )
        if exists is not None:
            db.session.rollback()
            return None
    message = _append_system(state, key, params, event_key=dedupe_key)
    db.session.commit()
    _announce_message(message)
    return message


def _message_by_seq(consultation: Consultation, seq) -> Message:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**62:
        raise NotFound("message_not_found", _("No such message in this room."))
    message = db.session.scalar(
        sa.select(Message)
        .where(Message.consultation_id == consultation.id, Message.seq == seq)
        .execution_options(populate_existing=True)
    )
    if message is None:
        raise NotFound("message_not_found", _("No such message in this room."))
    return message


def _clean_reason(reason) -> str:
    if reason is not None and not isinstance(reason, str):
        raise Invalid("invalid_type", _("The reason must be text."))
    reason = check_text(reason or "").strip()
    if not reason:
        raise Invalid("reason_required", _("Say why the message is hidden."))
    if len(reason) > MAX_REASON_LENGTH:
        raise Invalid(
            "reason_too_long",
            _("The reason may have at most %(max)d characters.", max=MAX_REASON_LENGTH),
        )
    return reason


@_writer
def hide_message(actor, consultation: Consultation, message_id, reason) -> Message:
    """The chair hides a message with a reason; it stays in the record, marked hidden."""
    _require_moderator(actor, consultation)
    reason = _clean_reason(reason)
    _message_by_seq(consultation, message_id)
    _lock_room(consultation.id)
    message = _message_by_seq(consultation, message_id)
    if message.kind == "system":
        raise Conflict("not_hideable", _("System lines cannot be hidden."))
    if message.hidden:
        raise Conflict("already_hidden", _("This message is already hidden."))
    message.hidden = True
    message.hidden_reason = reason
    message.hidden_by_id = actor.id
    message.hidden_at = utcnow()
    audit.record(actor, "message.hidden", message, seq=message.seq, reason=reason)
    db.session.commit()
    notify.announce(
        "message:hidden",
        {"consultation_id": consultation.id, "message": message_dict(message)},
        room=notify.room_name(consultation.id),
    )
    return message


# --- moderation: mute ------------------------------------------------------------------------


def _target(consultation: Consultation, username) -> tuple[User, Participant]:
    user = find_user(username) if isinstance(username, str) and username else None
    if user is None:
        raise NotFound("user_not_found", _("No such user."))
    found = consultations.participant(user, consultation)
    if found is None:
        raise NotFound(
            "participant_not_found", _("%(name)s is not taking part.", name=user.display_name)
        )
    return user, found


@_writer
def _set_mute(actor, consultation: Consultation, username, muted: bool) -> dict:
    _require_moderator(actor, consultation)
    _require_live(consultation)
    user, _found = _target(consultation, username)
    if muted and is_moderator(user, consultation):
        raise Conflict("cannot_mute_chair", _("The chair cannot be muted."))
    state = _lock_room(consultation.id)
    row = db.session.scalar(
        sa.select(RoomMute).where(
            RoomMute.consultation_id == consultation.id, RoomMute.user_id == user.id
        )
    )
    line = None
    if muted and row is None:
        db.session.add(
            RoomMute(consultation_id=consultation.id, user_id=user.id, muted_by_id=actor.id)
        )
        line = _append_system(state, "muted", {"name": user.display_name})
        audit.record(actor, "participant.muted", consultation, username=user.username)
    elif not muted and row is not None:
        db.session.delete(row)
        line = _append_system(state, "unmuted", {"name": user.display_name})
        audit.record(actor, "participant.unmuted", consultation, username=user.username)
    db.session.commit()
    payload = {
        "consultation_id": consultation.id,
        "username": user.username,
        "display_name": user.display_name,
        "muted": muted,
    }
    if line is not None:
        notify.announce("participant:muted", payload, room=notify.room_name(consultation.id))
        _announce_message(line)
    return payload


def mute(actor, consultation: Consultation, username) -> dict:
    return _set_mute(actor, consultation, username, True)


def unmute(actor, consultation: Consultation, username) -> dict:
    return _set_mute(actor, consultation, username, False)


# --- the floor and the speaker queue -------------------------------------------------------


@_writer
def set_floor_mode(actor, consultation: Consultation, mode) -> dict:
    """``open``: every participant may post; ``moderated``: the floor holder and the chair."""
    _require_moderator(actor, consultation)
    if mode not in FLOOR_MODES:
        raise Invalid("invalid_mode", _("The floor is “open” or “moderated”."))
    _require_live(consultation)
    state = _lock_room(consultation.id)
    line = None
    if state.floor_mode != mode:
        state.floor_mode = mode
        line = _append_system(state, f"floor_{mode}")
        audit.record(actor, "floor.mode", consultation, mode=mode)
    db.session.commit()
    floor = floor_dict(state)
    if line is not None:
        notify.announce("floor:updated", floor, room=notify.room_name(consultation.id))
        _announce_message(line)
    return floor


@_writer
def raise_hand(actor, consultation: Consultation) -> dict:
    """Join the speaker queue (发言排队)."""
    _require_speaker(actor, consultation)
    _require_live(consultation)
    _lock_room(consultation.id)
    if _is_muted(consultation.id, actor.id):
        raise Forbidden("muted", _("The chair has muted you in this room."))
    raised = db.session.scalar(
        sa.select(HandRaise.id).where(
            HandRaise.consultation_id == consultation.id,
            HandRaise.user_id == actor.id,
            HandRaise.lowered_at.is_(None),
        )
    )
    if raised is None:
        db.session.add(HandRaise(consultation_id=consultation.id, user_id=actor.id))
    db.session.commit()
    if raised is None:
        _announce_presence(consultation.id)
    return presence(consultation)


@_writer
def lower_hand(actor, consultation: Consultation) -> dict:
    _require_speaker(actor, consultation)
    _require_live(consultation)
    _lock_room(consultation.id)
    hand = _open_hand(consultation.id, actor.id)
    if hand is not None:
        hand.lowered_at = utcnow()
        hand.outcome = "lowered"
    db.session.commit()
    if hand is not None:
        _announce_presence(consultation.id)
    return presence(consultation)


def _open_hand(consultation_id: int, user_id: int | None = None) -> HandRaise | None:
    query = (
        sa.select(HandRaise)
        .where(HandRaise.consultation_id == consultation_id, HandRaise.lowered_at.is_(None))
        .order_by(HandRaise.raised_at, HandRaise.id)
        .limit(1)
    )
    if user_id is not None:
        query = query.where(HandRaise.user_id == user_id)
    return db.session.scalar(query)


def _speaking_time(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


@_writer
def give_floor(actor, consultation: Consultation, username=None, seconds=None) -> dict:
    """The chair gives the floor to ``username`` (or to the first raised hand), optionally
    for ``seconds`` of speaking time. That person's hand goes down."""
    _require_moderator(actor, consultation)
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not MIN_SPEAKING_SECONDS <= seconds <= MAX_SPEAKING_SECONDS
    ):
        raise Invalid(
            "invalid_seconds",
            _(
                "Speaking time is from %(min)d to %(max)d seconds.",
                min=MIN_SPEAKING_SECONDS,
                max=MAX_SPEAKING_SECONDS,
            ),
        )
    _require_live(consultation)
    if username:
        user, found = _target(consultation, username)
        if found.role not in SPEAKING_ROLES:
            raise Conflict("cannot_speak", _("Observers follow the discussion but do not post."))
    state = _lock_room(consultation.id)
    if not username:
        hand = _open_hand(consultation.id)
        if hand is None:
            raise Conflict("no_raised_hands", _("No one has raised a hand."))
        user = hand.user
    if _is_muted(consultation.id, user.id):
        raise Conflict("muted", _("%(name)s is muted: unmute them first.", name=user.display_name))
    hand = _open_hand(consultation.id, user.id)
    now = utcnow()
    if hand is not None:
        hand.lowered_at = now
        hand.outcome = "floor"
    state.floor_holder_id = user.id
    state.floor_given_at = now
    state.floor_until = now + timedelta(seconds=seconds) if seconds else None
    if seconds:
        line = _append_system(
            state, "floor_given_timed", {"name": user.display_name, "time": _speaking_time(seconds)}
        )
    else:
        line = _append_system(state, "floor_given", {"name": user.display_name})
    audit.record(actor, "floor.given", consultation, username=user.username, seconds=seconds)
    db.session.commit()
    db.session.refresh(state)
    floor = floor_dict(state)
    room = notify.room_name(consultation.id)
    notify.announce("floor:updated", floor, room=room)
    _announce_presence(consultation.id)
    _announce_message(line)
    return floor


@_writer
def take_floor_back(actor, consultation: Consultation) -> dict:
    _require_moderator(actor, consultation)
    _require_live(consultation)
    state = _lock_room(consultation.id)
    line = None
    if state.floor_holder_id is not None:
        state.floor_holder_id = None
        state.floor_given_at = None
        state.floor_until = None
        line = _append_system(state, "floor_taken")
        audit.record(actor, "floor.taken", consultation)
    db.session.commit()
    db.session.refresh(state)
    floor = floor_dict(state)
    if line is not None:
        notify.announce("floor:updated", floor, room=notify.room_name(consultation.id))
        _announce_message(line)
    return floor


# --- minority opinions from the floor (少数意见) ---------------------------------------------


def opinion_dict(opinion: FloorOpinion) -> dict:
    return {
        "id": opinion.id,
        "text": opinion.text,
        "author": opinion.author.username if opinion.author else None,
        "author_name": opinion.author.display_name if opinion.author else None,
        "source": "floor",
        "message_id": opinion.message.seq if opinion.message else None,
        "message_uid": opinion.message_id,
        "motion_id": opinion.motion_id,
        "recorded_by": opinion.recorded_by.username,
        "recorded_at": isoformat(opinion.created_at),
    }


@_writer
def record_floor_opinion(
    actor, consultation: Consultation, text=None, message_id=None, motion_id=None, username=None
) -> FloorOpinion:
    """The chair or the secretary records a minority opinion: a message of the room
    (``message_id`` is its sequence number) or a note (``text``, optionally naming whose
    opinion it is with ``username``), optionally for a motion."""
    if not is_recorder(actor, consultation):
        raise Forbidden(
            "not_chair", _("Only the chair or the secretary may record a minority opinion.")
        )
    status = db.session.scalar(
        sa.select(Consultation.status).where(Consultation.id == consultation.id)
    )
    if status not in ("live", "closed"):
        raise Conflict("room_closed", _("Minority opinions are recorded while the room is open."))
    if text is not None and not isinstance(text, str):
        raise Invalid("invalid_type", _("The text must be text."))
    text = check_text(text or "").strip()
    if len(text) > MAX_OPINION_LENGTH:
        raise Invalid("text_too_long", _("At most %(max)d characters.", max=MAX_OPINION_LENGTH))
    if motion_id is not None and (
        isinstance(motion_id, bool) or not isinstance(motion_id, int) or not 0 < motion_id < 2**62
    ):
        raise Invalid("invalid_motion_id", _("motion_id is a motion's number."))
    author = None
    if username:
        author = find_user(username) if isinstance(username, str) else None
        if author is None:
            raise NotFound("user_not_found", _("No such user."))
    message = None
    if message_id is not None:
        message = _message_by_seq(consultation, message_id)
        if message.kind == "system":
            raise Conflict("not_an_opinion", _("A system line is not an opinion."))
        author = author or message.author
        text = text or message.body
    if not text:
        raise Invalid("text_required", _("Choose a message or write the opinion."))
    state = _lock_room(consultation.id)
    if message is not None:
        duplicate = db.session.scalar(
            sa.select(FloorOpinion.id).where(
                FloorOpinion.message_id == message.id,
                FloorOpinion.motion_id.is_(None)
                if motion_id is None
                else FloorOpinion.motion_id == motion_id,
            )
        )
        if duplicate is not None:
            raise Conflict(
                "already_recorded", _("This message is already recorded as a minority opinion.")
            )
    opinion = FloorOpinion(
        consultation_id=consultation.id,
        message_id=message.id if message else None,
        author_id=author.id if author else None,
        text=text,
        recorded_by_id=actor.id,
        motion_id=motion_id,
    )
    db.session.add(opinion)
    line = None
    if status == "live":
        if author is not None:
            line = _append_system(state, "minority_recorded", {"name": author.display_name})
        else:
            line = _append_system(state, "minority_recorded_note")
    db.session.flush()
    audit.record(actor, "minority.recorded", opinion, message=message_id, motion_id=motion_id)
    db.session.commit()
    room = notify.room_name(consultation.id)
    notify.announce(
        "minority:recorded",
        {"consultation_id": consultation.id, "opinion": opinion_dict(opinion)},
        room=room,
    )
    if line is not None:
        _announce_message(line)
    return opinion


# --- readers for pages, the API and other features ----------------------------------------


def _privileged(viewer, consultation: Consultation) -> bool:
    return (
        viewer is not None
        and getattr(viewer, "is_authenticated", False)
        and is_recorder(viewer, consultation)
    )


_author = aliased(User, name="author")
_hider = aliased(User, name="hider")


def _message_rows(consultation: Consultation, condition, order, limit: int | None = None):
    """Messages of the room with their authors' names and roles and who hid them, in one
    query of plain rows (a join reads two hundred; loading them as objects cost more than
    the rest of the join together)."""
    query = (
        sa.select(
            Message.id, Message.seq, Message.consultation_id, Message.kind, Message.body,
            Message.meta, Message.client_id, Message.created_at, Message.hidden,
            Message.hidden_reason, Message.hidden_at, Message.author_id,
            _author.username.label("author_username"),
            _author.display_name.label("author_name"),
            Participant.role.label("author_role"),
            _hider.username.label("hider_username"),
            _hider.display_name.label("hider_name"),
        )
        .outerjoin(_author, _author.id == Message.author_id)
        .outerjoin(
            Participant,
            sa.and_(
                Participant.consultation_id == Message.consultation_id,
                Participant.user_id == Message.author_id,
            ),
        )
        .outerjoin(_hider, _hider.id == Message.hidden_by_id)
        .where(Message.consultation_id == consultation.id, condition)
        .order_by(order)
    )  # fmt: skip
    if limit is not None:
        query = query.limit(max(1, limit))
    return db.session.execute(query).all()


def _dicts(consultation: Consultation, rows, viewer, privileged: bool | None = None) -> list[dict]:
    if privileged is None:
        privileged = _privileged(viewer, consultation)
    return [
        _message_data(
            row,
            {
                "username": row.author_username,
                "display_name": row.author_name,
                "role": row.author_role,
            }
            if row.author_id is not None
            else None,
            {"username": row.hider_username, "display_name": row.hider_name}
            if row.hider_username is not None
            else None,
            privileged,
        )  # fmt: skip
        for row in rows
    ]


def messages_after(
    consultation: Consultation, after_seq, viewer, limit: int = HISTORY_LIMIT, privileged=None
):
    """The messages with ``seq > after_seq``, oldest first, at most ``limit``. ``privileged``
    (whether the viewer reads hidden messages) is looked up when not given."""
    after = after_seq if isinstance(after_seq, int) and not isinstance(after_seq, bool) else 0
    rows = _message_rows(consultation, Message.seq > max(after, 0), Message.seq, limit)
    return _dicts(consultation, rows, viewer, privileged)


def recent_messages(
    consultation: Consultation, viewer, limit: int = HISTORY_LIMIT, privileged=None
):
    """The last ``limit`` messages, oldest first."""
    rows = _message_rows(consultation, sa.true(), Message.seq.desc(), limit)
    return _dicts(consultation, list(reversed(rows)), viewer, privileged)


def transcript(consultation: Consultation, viewer=None) -> list[dict]:
    """The whole discussion, for the minutes: hidden messages are marked, and their text is
    there only when ``viewer`` is the chair or the secretary."""
    return _dicts(consultation, _message_rows(consultation, sa.true(), Message.seq), viewer)


def attendance(consultation: Consultation) -> list[dict]:
    """Who came to the room, when they first joined and when they last left (``None``
    while still there), in order of arrival."""
    rows = db.session.execute(
        sa.select(
            RoomVisit.user_id,
            sa.func.min(RoomVisit.joined_at),
            sa.func.max(RoomVisit.left_at),
            sa.func.count(RoomVisit.id),
            sa.func.sum(sa.case((RoomVisit.left_at.is_(None), 1), else_=0)),
        )
        .where(RoomVisit.consultation_id == consultation.id)
        .group_by(RoomVisit.user_id)
        .order_by(sa.func.min(RoomVisit.joined_at))
    ).all()
    roles = _roles_by_user(consultation.id)
    result = []
    for user_id, joined, left, visits, still in rows:
        user = db.session.get(User, user_id)
        result.append(
            {
                "username": user.username,
                "display_name": user.display_name,
                "role": roles.get(user_id),
                "joined_at": isoformat(joined),
                "left_at": None if still else isoformat(left),
                "present": bool(still),
                "visits": visits,
            }
        )
    return result


def floor_opinions(consultation: Consultation, motion_id=None) -> list[dict]:
    """Minority opinions recorded from the floor, oldest first; with ``motion_id`` only
    those recorded for that motion."""
    query = sa.select(FloorOpinion).where(FloorOpinion.consultation_id == consultation.id)
    if motion_id is not None:
        query = query.where(FloorOpinion.motion_id == motion_id)
    rows = db.session.scalars(query.order_by(FloorOpinion.created_at, FloorOpinion.id)).all()
    return [opinion_dict(o) for o in rows]


# --- announcing ------------------------------------------------------------------------------


def _announce_message(message: Message) -> None:
    roles = _roles_by_user(message.consultation_id, message.author_id) if message.author_id else {}
    notify.announce(
        "message:new",
        message_dict(message, roles=roles),
        room=notify.room_name(message.consultation_id),
    )


#: Names shown in one "joined" line; more are counted ("… and 12 others joined").
JOINED_NAMES_SHOWN = 5

_news: dict[int, dict] = {}
_news_lock = threading.Lock()


def _room_news(consultation_id: int, user_ids=(), newcomer=None) -> None:
    """Tell the room that ``user_ids`` came or went (and that ``newcomer`` is here for the
    first time). Joins and leaves that come in a burst — a meeting starting, a network blip —
    share one ``presence`` announcement and one "joined" line per
    ``ROOM_PRESENCE_COALESCE_SECONDS``: one each per person would send every client in a
    room of N people N announcements while the room fills (N² in all)."""
    with _news_lock:
        pending = _news.get(consultation_id)
        scheduled = pending is not None
        if pending is None:
            pending = _news[consultation_id] = {"users": set(), "newcomers": {}}
        pending["users"].update(user_ids)
        if newcomer is not None:
            pending["newcomers"].setdefault(newcomer.id, newcomer.display_name)
    delay = current_app.config.get("ROOM_PRESENCE_COALESCE_SECONDS", 0.5)
    if not delay:
        _tell_room(consultation_id)
        return
    if scheduled:
        return
    app = current_app._get_current_object()

    def tell_later():
        socketio.sleep(delay)
        with app.app_context():
            try:
                _tell_room(consultation_id)
            except Exception:  # noqa: BLE001 — the next change in the room tells again
                log.exception("room %s: could not announce who came and went", consultation_id)
                db.session.rollback()
            finally:
                db.session.remove()

    socketio.start_background_task(tell_later)


def _tell_room(consultation_id: int) -> None:
    with _news_lock:
        pending = _news.pop(consultation_id, None)
    if pending is None:
        return
    names = list(pending["newcomers"].values())
    consultation = db.session.get(Consultation, consultation_id)
    if names and consultation is not None and consultation.status == "live":
        shown = names[:JOINED_NAMES_SHOWN]
        if len(names) > len(shown):
            params = {"names": ", ".join(shown), "count": len(names) - len(shown)}
            post_system_line(consultation_id, "joined_many", **params)
        else:
            post_system_line(consultation_id, "joined", name=", ".join(shown))
    _announce_presence(consultation_id, pending["users"], pending["newcomers"])


def _announce_presence(consultation_id: int, user_ids=(), newcomer_ids=()) -> None:
    """Announce ``presence`` now: the raised hands, and who of ``user_ids`` is here."""
    notify.announce(
        "presence",
        presence_changes(consultation_id, user_ids, newcomer_ids),
        room=notify.room_name(consultation_id),
    )


# --- system lines for what other features announce ------------------------------------------

_guard = threading.local()


def _pick(payload: dict, *names):
    for name in names:
        if payload.get(name) is not None:
            return payload[name]
    for nested in ("motion", "vote"):
        inner = payload.get(nested)
        if isinstance(inner, dict):
            for name in names:
                if inner.get(name) is not None:
                    return inner[name]
    return None


def _system_line_for(event: str, payload: dict) -> tuple[str, dict, str | None] | None:
    """The system line (key, params, dedupe key) for another feature's announcement."""
    if event == "consultation:status":
        status = payload.get("status")
        if status in ("live", "closed", "cancelled"):
            return f"status_{status}", {}, f"status:{status}"
        if status in ROOM_STATUSES:  # later stages; nothing before the room opens
            return "status_changed", {"status": status}, f"status:{status}"
        return None
    if event == "vote:opened":
        vote_id = _pick(payload, "vote_id", "id")
        key = f"vote:{vote_id}:opened" if vote_id is not None else None
        return "vote_opened", {"title": _pick(payload, "title") or ""}, key
    if event == "vote:closed":
        vote_id = _pick(payload, "vote_id", "id")
        key = f"vote:{vote_id}:closed" if vote_id is not None else None
        params = {"title": _pick(payload, "title") or "", "result": _pick(payload, "result")}
        return "vote_closed", params, key
    if event == "motion:updated":
        state = _pick(payload, "state", "status")
        if state not in MOTION_STATES:
            return None
        motion_id = _pick(payload, "motion_id", "id")
        key = f"motion:{motion_id}:{state}" if motion_id is not None else None
        return f"motion_{state}", {"title": _pick(payload, "title") or ""}, key
    return None


def _on_announcement(event: str, payload, room) -> None:
    """Write a system line for what other features announce (votes, motions, status)."""
    if event not in ("consultation:status", "vote:opened", "vote:closed", "motion:updated"):
        return
    if getattr(_guard, "active", False) or not has_app_context() or not isinstance(payload, dict):
        return
    consultation_id = _pick(payload, "consultation_id")
    if isinstance(consultation_id, bool) or not isinstance(consultation_id, int):
        return
    line = _system_line_for(event, payload)
    if line is None:
        return
    key, params, dedupe_key = line
    _guard.active = True
    try:
        post_system_line(consultation_id, key, dedupe_key=dedupe_key, **params)
    except Exception:  # noqa: BLE001 — the announcing feature has committed; never break it
        log.exception("room: could not write the system line for %s", event)
        db.session.rollback()
    finally:
        _guard.active = False


def _register_listeners() -> None:
    """Once per process, even if this module is imported again."""
    for listener in (_on_announcement, _forget_lists):
        known = any(
            getattr(other, "__module__", None) == __name__
            and getattr(other, "__name__", None) == listener.__name__
            for other in getattr(notify, "_listeners", [])
        )
        if not known:
            notify.add_listener(listener)


_register_listeners()
