"""SQLite's checkpoints on a clock, in an operating-system thread, not in a commit.

In WAL mode SQLite writes each commit to the log and now and then copies the log back into
the database file, syncing both to disk: a checkpoint. Left to itself it makes one in the
commit that leaves more than 1,000 pages in the log, and that commit waits for it. In a
live room that was one message in about 150, which took 3.4–5.1 ms instead of 0.35 ms (in
process, on the development machine's disk); in a room of 100 its hundred deliveries are
the slowest 1%, so that one message set the p99 of the round it fell in.

:func:`checkpoint_on_a_clock` turns the automatic checkpoint off on the server's
connections and makes one every ``seconds`` in a thread of the operating system's with a
connection of its own. sqlite3 lets go of the interpreter while it copies and syncs, so the
server's green threads (eventlet, gevent) or threads go on meanwhile. The checkpoint is
PASSIVE: it waits for no reader or writer, and what it cannot copy yet waits for the next.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: What the clock has done, for whoever asks (the thread writes no log: the logging
#: module's locks may be green ones).
done = {"checkpoints": 0, "failed": 0, "last_error": None}


def checkpoint_on_a_clock(
    engine: Engine,
    seconds: float,
    start_thread: Callable[[Callable, tuple], object],
    sleep: Callable[[float], object],
) -> bool:
    """For a SQLite file database: no more checkpoints in commits, and one every ``seconds``
    in a thread started with ``start_thread(function, args)`` that waits with ``sleep``
    (both the operating system's, not a green library's). With ``seconds`` 0 or less, or
    another database, nothing changes. Returns whether the clock was started."""
    path = engine.url.database
    if seconds <= 0 or engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return False
    event.listen(engine, "connect", _no_automatic_checkpoint)
    engine.dispose()  # connections made before now would go on checkpointing
    start_thread(_checkpoint_forever, (path, seconds, sleep))
    return True


def _no_automatic_checkpoint(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _checkpoint_forever(path: str, seconds: float, sleep: Callable[[float], object]) -> None:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    while True:
        sleep(seconds)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            done["checkpoints"] += 1
        except sqlite3.Error as error:  # the next round tries again
            done["failed"] += 1
            done["last_error"] = str(error)
