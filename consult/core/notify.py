"""The notifier: services say what happened; listeners turn it into room emits (and, later,
any other channel such as e-mail or SMS). Call :func:`announce` after the commit."""

from __future__ import annotations

from collections.abc import Callable

from consult.extensions import socketio

Listener = Callable[[str, dict, str | None], None]
_listeners: list[Listener] = []


def add_listener(listener: Listener) -> None:
    """Register another channel (e-mail, SMS, a kiosk push) for every announcement."""
    _listeners.append(listener)


def room_name(consultation_id: int) -> str:
    return f"consultation:{consultation_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def announce(event: str, payload: dict, room: str | None = None) -> None:
    """Emit ``event`` to ``room`` on every server process (through the message queue)."""
    socketio.emit(event, payload, to=room)
    for listener in _listeners:
        listener(event, payload, room)
