"""Yiting's entry point: ``python app.py`` serves the app; ``flask --app app …`` runs commands.

The Socket.IO async mode is a setting (``SOCKETIO_ASYNC_MODE``: eventlet, gevent or
threading) of the server; commands run in threading mode. Where a mode needs
monkey-patching it happens here, before any other import; no other module touches eventlet
or gevent.
"""

import gc
import os
import sys

ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet")
if "flask" in sys.modules:
    # Imported by the `flask` command (`flask --app app db upgrade`, …), which has loaded
    # Flask already: too late to monkey-patch (eventlet printed a traceback for every
    # command), and a command serves no connection. It runs in threading mode; what it
    # announces still reaches every server process through SOCKETIO_MESSAGE_QUEUE.
    ASYNC_MODE = "threading"
if ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
    # psycopg waits for PostgreSQL in C unless it sees gevent's patching: under eventlet that
    # stops every green thread for each query, and a vote burst on PostgreSQL stalled the
    # process behind ballots waiting for the vote's row lock. Its select() wait is green;
    # for a database on this machine the process still waits a moment in C first
    # (core/database.py).
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    from eventlet.patcher import original

    # The operating system's threads and sleep, for work that must not wait for the hub.
    os_thread, os_sleep = original("_thread").start_new_thread, original("time").sleep
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()
    os_thread = monkey.get_original("_thread", "start_new_thread")
    os_sleep = monkey.get_original("time", "sleep")
else:
    import _thread
    import time

    os_thread, os_sleep = _thread.start_new_thread, time.sleep

from sqlalchemy.orm import configure_mappers

from consult import create_app
from consult.core import checkpoints, collector, futex, queue, serving
from consult.extensions import db, socketio

app = create_app({"SOCKETIO_ASYNC_MODE": ASYNC_MODE})


def prepare() -> None:
    """What the server process does before it serves."""
    # What the app built at start lives as long as the process: frozen, Python's full
    # collections no longer walk it. Each full collection stops every green thread; filling a
    # room of 1,000 (gevent) they took 77–185 ms each, every 3–5 s, and 25–112 ms frozen.
    # The models' mappers are set up first (else the first request does it, after the freeze):
    # in a room of 100 a full collection then took 8–9 ms instead of 17.
    configure_mappers()
    gc.collect()
    gc.freeze()
    # In threading mode a thread per connection waits on a lock: on the process's own futex
    # hash (Linux 6.17 and later) a server of 500 connections was at times slow for its whole
    # life; on the system's, never (consult/core/futex.py). Before the clock's thread starts.
    futex.use_global_hash()
    # The full collections come on a clock (FULL_COLLECTION_SECONDS), not whenever
    # enough objects have survived: in a room of 1,000 that was every 2–5 s while messages
    # went out, 45–113 ms each (consult/core/collector.py).
    collector.collect_on_a_clock(
        app.config["FULL_COLLECTION_SECONDS"], socketio.start_background_task, socketio.sleep
    )
    # On SQLite, copying the log into the database file and syncing the disk (a checkpoint)
    # happens on a clock in a thread of its own, not in whichever commit fills the log: in a
    # room one message in about 150 waited 3–5 ms for it (consult/core/checkpoints.py).
    with app.app_context():
        checkpoints.checkpoint_on_a_clock(
            db.engine, app.config["SQLITE_CHECKPOINT_SECONDS"], os_thread, os_sleep
        )
    # With a Redis queue, the process hears the others before its first client comes in.
    queue.listen_before_serving(socketio.server)


def main() -> None:
    host, port = app.config["HOST"], app.config["PORT"]
    prepare()
    print(f"Yiting serving on http://{host}:{port} (async mode: {ASYNC_MODE})", flush=True)
    serving.serve(app, socketio, ASYNC_MODE, host, port, app.config["LISTEN_BACKLOG"])


if __name__ == "__main__":
    main()
