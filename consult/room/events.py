"""The room's Socket.IO events. Each handler parses its payload, calls one service
function and answers through the acknowledgement (``{"ok": true, ...}`` or
``{"ok": false, "error": {code, message}}``); what happened reaches the room through
:mod:`consult.core.notify`. See ``docs/api.md`` (the live room).
"""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_login import current_user
from flask_socketio import join_room, leave_room

from consult.consultations.service import get_consultation
from consult.core import notify
from consult.core.database import database_turn
from consult.core.payload import parse
from consult.core.sockets import fresh_request_state, socket_event
from consult.extensions import db, socketio

from . import service
from .forms import (
    CLIENT_ID,
    MAX_ID,
    FloorModePayload,
    GiveFloorPayload,
    HidePayload,
    JoinPayload,
    MinorityPayload,
    RoomPayload,
    SendPayload,
    UserPayload,
)

log = logging.getLogger(__name__)


def _user():
    return current_user._get_current_object()


def _room(form):
    return get_consultation(form.consultation_id.data, _user())


@socket_event("room:join")
def room_join(data):
    """``{consultation_id, last_seen_id?}`` → the room, its history (or exactly the messages
    after ``last_seen_id``), participants, presence and the floor."""
    form = parse(JoinPayload, data)
    consultation = _room(form)
    service.require_join(_user(), consultation)
    # Join the Socket.IO room before reading the history: a message committed in between
    # then arrives twice (the client keeps one by its id) rather than never.
    name = notify.room_name(consultation.id)
    join_room(name)
    try:
        return service.join_room(
            _user(), consultation, sid=request.sid, last_seen_id=form.last_seen_id.data
        )
    except Exception:
        leave_room(name)
        raise


@socket_event("room:leave")
def room_leave(data):
    form = parse(RoomPayload, data)
    consultation = _room(form)
    service.leave_room(_user(), consultation, request.sid)
    leave_room(notify.room_name(consultation.id))
    return {}


#: ``SendPayload``'s fields.
_SEND_FIELDS = frozenset({"consultation_id", "body", "client_id", "announcement"})


def _plain_send(data) -> tuple[int, str, str] | None:
    """The room, text and ``client_id`` of a ``message:send`` payload in the shape the room's
    page sends, with no announcement, where its form would surely take them as they are;
    else None, for the form to read. Building and validating the form was an eighth of a
    message's time in a profile of the room (docs/performance.md)."""
    if type(data) is not dict or not data.keys() <= _SEND_FIELDS:
        return None
    room, body, client_id = data.get("consultation_id"), data.get("body"), data.get("client_id")
    announcement = data.get("announcement")
    if (
        type(room) is int
        and 0 < room <= MAX_ID
        and type(body) is str
        and type(client_id) is str
        and CLIENT_ID.regex.match(client_id)
        and (announcement is None or announcement is False)
    ):
        return room, body, client_id
    return None


def _send_at_once(session_id, data):
    """``message:send`` from ids alone, where the service can (see
    :func:`service.post_message_at_once`): most messages in a live room. A payload of
    another shape goes the usual way, whose form reads it (once) and tells what is wrong."""
    fields = _plain_send(data)
    if fields is None:
        return None
    message = service.post_message_at_once(session_id, *fields)
    return None if message is None else {"message": message, "duplicate": False}


@socket_event("message:send", autocommit=True, at_once=_send_at_once)
def message_send(data):
    """``{consultation_id, body, client_id, announcement?}`` → ``{message, duplicate}``."""
    form = parse(SendPayload, data)
    consultation = _room(form)
    message = service.post_message(
        _user(),
        consultation,
        form.body.data or "",
        form.client_id.data,
        announcement=bool(form.announcement.data),
    )
    return {
        "message": service.message_for(message, _user(), consultation),
        "duplicate": bool(getattr(message, "duplicate", False)),
    }


@socket_event("message:hide")
def message_hide(data):
    """``{consultation_id, message_id, reason}`` (the chair)."""
    form = parse(HidePayload, data)
    consultation = _room(form)
    message = service.hide_message(_user(), consultation, form.message_id.data, form.reason.data)
    return {"message": service.message_dict(message, True)}


@socket_event("participant:mute")
def participant_mute(data):
    form = parse(UserPayload, data)
    return {"participant": service.mute(_user(), _room(form), form.username.data)}


@socket_event("participant:unmute")
def participant_unmute(data):
    form = parse(UserPayload, data)
    return {"participant": service.unmute(_user(), _room(form), form.username.data)}


@socket_event("floor:mode")
def floor_mode(data):
    form = parse(FloorModePayload, data)
    return {"floor": service.set_floor_mode(_user(), _room(form), form.mode.data)}


@socket_event("hand:raise")
def hand_raise(data):
    form = parse(RoomPayload, data)
    return {"presence": service.raise_hand(_user(), _room(form))}


@socket_event("hand:lower")
def hand_lower(data):
    form = parse(RoomPayload, data)
    return {"presence": service.lower_hand(_user(), _room(form))}


@socket_event("floor:give")
def floor_give(data):
    """``{consultation_id, username?, seconds?}``: without a username, the first hand."""
    form = parse(GiveFloorPayload, data)
    floor = service.give_floor(_user(), _room(form), form.username.data or None, form.seconds.data)
    return {"floor": floor}


@socket_event("floor:take")
def floor_take(data):
    form = parse(RoomPayload, data)
    return {"floor": service.take_floor_back(_user(), _room(form))}


@socket_event("minority:record")
def minority_record(data):
    """``{consultation_id, message_id?, text?, motion_id?, username?}`` (chair, secretary)."""
    form = parse(MinorityPayload, data)
    opinion = service.record_floor_opinion(
        _user(),
        _room(form),
        text=form.text.data or None,
        message_id=form.message_id.data,
        motion_id=form.motion_id.data,
        username=form.username.data or None,
    )
    return {"opinion": service.opinion_dict(opinion)}


@socketio.on("disconnect")
def room_disconnect(reason=None):
    """The connection ended: its visits end, and the rooms hear who is still there.

    A disconnect may be handled inside whatever found the connection gone: an emit to a
    client whose pings stopped closes it there and then, in the emitting request's
    application context, which Flask-SocketIO's request context for this handler shares.
    In a context of its own, this handler's database session is its own too; with the
    request's, removing it at the end detached what the request had loaded (opening a vote
    answered 500 when one of its voters' connections had gone quiet)."""
    with current_app.app_context():
        fresh_request_state()
        try:
            with database_turn():
                service.leave_all(request.sid)
        except Exception:  # noqa: BLE001 — nobody is left to answer
            log.exception("room: could not close the visits of %s", request.sid)
            db.session.rollback()
        finally:
            db.session.remove()
