"""The Socket.IO edge shared by every feature: authentication at ``connect`` and the
acknowledgement wrapper for client-to-server events.

Every event handler is written as ``@socket_event("name")`` and returns a dict; the client's
acknowledgement is ``{"ok": true, **result}`` or ``{"ok": false, "error": {code, message}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

import orjson
from flask import current_app, g, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_user
from flask_socketio import ConnectionRefusedError, join_room
from socketio import packet as socketio_packet

from consult.core import database
from consult.core.database import database_turn
from consult.errors import BadRequest, DomainError, Unauthorized
from consult.extensions import db, socketio

from . import queue
from .notify import user_room

log = logging.getLogger(__name__)

#: Every client-to-server event name, for the docs and the authorisation tests.
EVENTS: set[str] = set()

_PRELOAD = "yiting.socket_preload"


class _Encoded:
    """What a packet's ``encode`` calls ``json.dumps`` on: the text made when it was built."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def dumps(self, data, **options) -> str:
        return self.text


class Packet(socketio_packet.Packet):
    """python-socketio's packet, encoded with orjson.

    Every packet sent is first searched for bytes (binary packets are sent apart), then
    encoded with the standard library's ``json``. For a room's join answer (two lists as long
    as the room) those two walks were a quarter of the server's time while a room of a
    thousand filled. orjson cannot encode bytes, so a packet it encodes has none: one pass,
    in C, answers both. Anything orjson refuses (bytes, a key that is not text, a lone
    surrogate …) takes the library's own way. What is received is still read by the
    standard library's ``json``, as before."""

    def __init__(self, packet_type=socketio_packet.EVENT, data=None, namespace=None, id=None,
                 binary=None, encoded_packet=None):  # fmt: skip
        if binary is None and data is not None and encoded_packet is None:
            try:
                self.json = _Encoded(orjson.dumps(data).decode())
                binary = False
            except TypeError:  # orjson.JSONEncodeError included
                pass
        super().__init__(packet_type, data, namespace, id, binary, encoded_packet)

    @classmethod
    def data_is_binary(cls, data) -> bool:
        """The stock check recurses through every list and dict without stopping early; the
        same answer, iteratively (used only for what orjson refused)."""
        pending = [data]
        while pending:
            item = pending.pop()
            if isinstance(item, (bytes, bytearray)):
                return True
            if isinstance(item, dict):
                values = item.values()
            elif isinstance(item, list):
                values = item
            else:
                continue
            for value in values:
                kind = type(value)
                if kind is str or kind is int or kind is bool or value is None:
                    continue
                pending.append(value)
        return False


def _token_user(auth):
    from consult.accounts.service import user_for_token

    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return user_for_token(auth["token"])
    return None


def fresh_request_state() -> None:
    """Make ready the request context Flask-SocketIO made for an event (connect, disconnect
    and every client event call this first).

    The user and locale cached on ``g`` are forgotten: when an application context outlives
    one event (as in tests), the next event must load its own. And the request's failed URL
    match is dropped: the context is made from the socket's path, which is no page, so Flask
    keeps a ``NotFound`` whose traceback holds the frames that hold the context. That cycle,
    with the event's user, form and answer, outlived the event until a collection found it;
    those made while a room of 100 filled reached the oldest generation, and the full
    collection that freed them stopped the whole process for 22–32 ms."""
    for key in ("_login_user", "_flask_babel"):
        g.pop(key, None)
    request.routing_exception = None


def preload_readers(app, loaders: dict) -> None:
    """Have a loader run before each event's user is loaded: ``loaders`` maps a payload key
    (``"vote_id"``) to ``loader(session_id, data)``, and the first whose key the event's
    payload has is called with the session's Flask-Login id and the payload. It may read the
    user beside what the event is about, in one statement; Flask-Login's loader then finds
    the user in the database session instead of asking the database again."""
    app.extensions[_PRELOAD] = dict(loaders)


def _preload(data) -> None:
    loaders = current_app.extensions.get(_PRELOAD)
    if not loaders or not isinstance(data, dict) or "_user_id" not in session:
        return
    for key, loader in loaders.items():
        if key in data:
            loader(session["_user_id"], data)
            return


def _refuse(code: str, message: str):
    return ConnectionRefusedError(message, {"code": code, "message": message})


@socketio.on("connect")
def connect(auth=None):
    """Accept a signed-in browser (session cookie) or a bearer token in ``auth``."""
    fresh_request_state()
    try:
        with database_turn():
            if isinstance(auth, dict) and "token" in auth:
                user = _token_user(auth)
                if user is None:
                    raise _refuse("invalid_token", _("This token is not valid or was revoked."))
                login_user(user)  # in this connection's own session only
            elif not current_user.is_authenticated:
                raise _refuse("unauthorized", _("Sign in to join the room."))
            session["sid_user"] = current_user.id
            join_room(user_room(current_user.id))
            _tell_queue_status()
    except ConnectionRefusedError:
        raise
    except DomainError as error:  # no turn at the database in time
        raise _refuse(error.code, error.message) from error
    except Exception as exc:  # the database is away: refuse now rather than never answer
        log.exception("socket connect failed")
        raise _refuse("server_error", _("Something went wrong on our side.")) from exc
    finally:
        db.session.remove()


def _tell_queue_status() -> None:
    """While the message queue is away, a client that connects is told at once (the others
    heard it when it happened): ``server:status`` ``{live: false, code}``, see core/queue.py."""
    status = queue.status_at_connect(socketio.server)
    if status is not None:
        socketio.emit("server:status", status, to=request.sid, ignore_queue=True)


def _failure(error: DomainError) -> dict:
    return {"ok": False, "error": {"code": error.code, "message": error.message}}


def socket_event(
    name: str,
    namespace: str | None = None,
    autocommit: bool = False,
    at_once: Callable[[str, dict], dict | None] | None = None,
):
    """Register a handler that always answers through the acknowledgement.

    ``autocommit``: on PostgreSQL the handler's statements commit on their own until it takes
    the write lock (:func:`consult.core.database.autocommit`), for a handler whose reads
    need no common snapshot and which writes in one statement or under the lock.

    ``at_once(session_id, data)``: tried first, before the event's user is loaded, with the
    session's Flask-Login id and the payload (a dict). It returns the answer when it could
    do the whole event from ids alone, checking the user's session itself, or None to leave
    the event to ``handler``, which then checks everything and tells any refusal. It
    chooses its own way to the database (``autocommit`` is the handler's). Its failure is
    answered as the handler's would be."""

    def decorator(handler):
        EVENTS.add(name)

        @wraps(handler)
        def wrapped(data=None, *extra):
            fresh_request_state()
            try:
                with database_turn():
                    if at_once is not None and isinstance(data, dict) and "_user_id" in session:
                        result = at_once(session["_user_id"], data)
                        if result is not None:
                            return {"ok": True, **result}
                    if autocommit:
                        database.autocommit()
                    _preload(data)
                    if not current_user.is_authenticated:
                        raise Unauthorized("unauthorized", _("Sign in to join the room."))
                    if data is None:
                        data = {}
                    if not isinstance(data, dict):
                        raise BadRequest("bad_payload", _("The event data must be an object."))
                    result = handler(data) or {}
                    return {"ok": True, **result}
            except DomainError as error:
                db.session.rollback()
                return _failure(error)
            except Exception:  # noqa: BLE001 — the client always gets an answer
                log.exception("socket event %s failed", name)
                db.session.rollback()
                return _failure(DomainError("server_error", _("Something went wrong on our side.")))
            finally:
                db.session.remove()

        socketio.on_event(name, wrapped, namespace=namespace)
        return wrapped

    return decorator
