"""The deadline task: a vote with a deadline closes by itself, even when nobody is in the
room and nobody asks.

One background task per server process (``socketio.start_background_task``, so it is a
thread or a green thread as the async mode decides) looks for votes past their deadline
every couple of seconds. Closing is idempotent across processes — the closing UPDATE only
applies ``WHERE status = 'open'`` — so several processes may sweep the same database. Reads
of a vote also close it when its deadline has passed (see ``service.close_if_due``).

Other modules give the same task slower rounds of their own (:func:`add_sweep`: the
meetings' reminders).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from consult.extensions import db, socketio

log = logging.getLogger(__name__)

#: How often the task looks for votes past their deadline (seconds).
SWEEP_SECONDS = 2.0
_KEY = "motions.deadline_task"
_lock = threading.Lock()

#: Other work the task does: ``(function, the setting naming how often in seconds)``.
_SWEEPS: list[tuple[Callable[[], object], str]] = []


def add_sweep(function: Callable[[], object], every_setting: str) -> None:
    """Have the task also call ``function()`` (in an application context, idempotent across
    processes as closing is) at most once every ``app.config[every_setting]`` seconds."""
    if all(known is not function for known, _setting in _SWEEPS):
        _SWEEPS.append((function, every_setting))


def start_deadline_sweeper(app) -> bool:
    """Start the task for ``app`` unless it runs already. The server starts it with its first
    request and whenever a vote with a deadline opens; under test it runs only where a test
    asks for it (``MOTIONS_DEADLINE_SWEEPER``)."""
    if app.extensions.get(_KEY):
        return False
    if app.testing and not app.config.get("MOTIONS_DEADLINE_SWEEPER"):
        return False
    with _lock:
        if app.extensions.get(_KEY):
            return False
        generation = object()
        app.extensions[_KEY] = generation
    socketio.start_background_task(_sweep_forever, app, generation)
    return True


def stop_deadline_sweeper(app) -> None:
    """End the task after its current round (tests)."""
    app.extensions[_KEY] = None


def is_running(app) -> bool:
    return bool(app.extensions.get(_KEY))


def _sweep_forever(app, generation) -> None:
    from .service import close_due_votes

    interval = float(app.config.get("MOTIONS_SWEEP_SECONDS", SWEEP_SECONDS))
    last_run: dict = {}
    while app.extensions.get(_KEY) is generation:
        socketio.sleep(interval)
        with app.app_context():
            _run(close_due_votes, "closing votes at their deadline")
            for function, every_setting in list(_SWEEPS):
                now = time.monotonic()
                if now - last_run.get(function, -float("inf")) >= float(app.config[every_setting]):
                    last_run[function] = now
                    _run(function, function.__qualname__)


def _run(function: Callable[[], object], what: str) -> None:
    try:
        function()
    except Exception:  # noqa: BLE001 — keep sweeping; the next round retries
        log.exception("%s failed", what)
        db.session.rollback()
    finally:
        db.session.remove()
