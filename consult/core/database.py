"""Engine settings (SQLite gets WAL, foreign keys and a busy timeout; a server database's
pooled connections are checked after a pause and answers are waited for in the process
first), the write lock, and lookups remembered within one unit of work."""

import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import contextmanager

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from consult.core.payload import parse_id
from consult.errors import Busy, NotFound
from consult.extensions import db


def configure(app) -> None:
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    # SQLAlchemy's own defaults where the options leave them out (config.py sets 10 and 5).
    connections = options.get("pool_size", 5) + options.get("max_overflow", 10)
    turns = max(1, connections - RESERVED_CONNECTIONS)
    app.extensions[_TURNS] = _semaphore(turns)
    engine: Engine = db.engine
    if engine.dialect.name != "sqlite":
        _check_after_a_pause(engine)
        hold = app.config.get("DATABASE_WAIT_IN_PROCESS_MS")
        if hold is None:
            hold = WAIT_IN_PROCESS_MS_HERE if is_here(engine.url) else 0
        _wait_in_process_first(hold / 1000)
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


#: A pooled connection back in the pool for longer than this is checked with a round trip
#: before it is used again (the database may have restarted meanwhile); one returned more
#: recently is used at once. Checking every time (``pool_pre_ping``) cost a round trip per
#: event: one in seven of a message's. A connection that died within this time fails its
#: unit of work with ``server_error`` (the client sends again), and SQLAlchemy then replaces
#: every connection the pool made before the failure.
CHECK_AFTER_SECONDS = 2.0
_RETURNED = "returned_at"


def _check_after_a_pause(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _new(_dbapi_connection, record):
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record):
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get(_RETURNED, 0.0) < CHECK_AFTER_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # As the pool's own pre-ping does: every connection made before now is dropped
            # (the database has likely restarted) and a new one is tried.
            raise exc.InvalidatePoolError(str(error)) from error


#: How long a process waits for PostgreSQL's answer itself, unless set, where the database
#: is on this machine. Elsewhere each round trip would stop the whole process: with 1 ms
#: added to each, rooms filled 5.5–6.5× slower (docs/performance.md), so there it is 0.
WAIT_IN_PROCESS_MS_HERE = 5
_LOOPBACK_NAMES = {"localhost", "::1"}


def is_here(url) -> bool:
    """Whether the database ``url`` (a SQLAlchemy URL) names is reached on this machine: a
    Unix socket (no host, or a path; ``PGHOST`` where the URL names none) or a loopback
    address, every one where it names several."""
    hosts = url.query.get("host") or url.host or os.environ.get("PGHOST", "")
    if isinstance(hosts, tuple):  # ?host=…&host=…
        hosts = ",".join(hosts)
    return all(
        not host or host.startswith("/") or host in _LOOPBACK_NAMES or host.startswith("127.")
        for host in hosts.split(",")
    )


#: psycopg's waits once :func:`_wait_in_process_first` has installed :func:`_wait`: in the
#: process (C), green, and how long the first may last.
_waits: dict = {"seconds": 0.0}


def _wait_in_process_first(seconds: float) -> None:
    """Under eventlet and gevent psycopg waits for each answer green (``app.py``), and the
    other green threads run meanwhile: in a full room those are the previous messages'
    writes to every client, so each statement of a message waited behind them (a message
    took 167 ms at the median in a room of 1,000 on PostgreSQL, 14 ms on SQLite; see
    docs/performance.md). So the process waits for a Socket.IO event's answer itself for up
    to ``seconds`` (its statements take a millisecond or two), as it does for SQLite's (see
    :func:`_wait` for the others), and only a longer wait is green: a heavy read, or a
    statement waiting for a lock whose holder may be another green thread of this process,
    which must run to let it go. With real threads, or psycopg without its C part, nothing
    changes."""
    from psycopg import waiting

    if waiting.wait is not _wait:
        if not hasattr(waiting, "wait_c") or waiting.wait is waiting.wait_c:
            return
        _waits.update(in_process=waiting.wait_c, green=waiting.wait)
        waiting.wait = _wait
    _waits["seconds"] = seconds


def _wait(gen, fileno, interval=0.0, timeout=None):
    """psycopg's wait for the operation ``gen`` on the connection ``fileno``: first in the
    process for a Socket.IO event (a green thread holding its :func:`database_turn`), green
    for anything else. A page's or the API's statements wait green: while they waited in the
    process no other green thread ran, those reading and answering the other pages included
    (eight readers of the notice board with no cache on PostgreSQL: at least one list page in
    fifty took 201–284 ms, all of it outside the app's own handling, against at most 53 ms
    with every wait green; see docs/performance.md)."""
    seconds = _waits["seconds"]
    if seconds > 0 and getattr(_turn_held, "held", False):
        steps = _held(gen, time.monotonic() + seconds)
        done, value = _waits["in_process"](steps, fileno, seconds, timeout)
        if done:
            return value
        gen = _going_on(gen, value)
    return _waits["green"](gen, fileno, interval, timeout)


def _held(gen, until: float):
    """psycopg's generator ``gen`` of one operation, for the wait in the process until
    ``until``: it ends with ``(True, result)`` when the operation is done, or with
    ``(False, what it waits for)`` when told nothing is ready (as the wait does every
    ``interval``) and the time is up."""
    try:
        state = next(gen)
        while True:
            ready = yield state
            if not ready and time.monotonic() >= until:
                return False, state
            state = gen.send(ready)
    except StopIteration as done:
        return True, done.value


def _going_on(gen, state):
    """The rest of psycopg's generator ``gen``, for the green wait, which first asks what
    ``gen`` waits for now: ``state``."""
    try:
        while True:
            ready = yield state
            state = gen.send(ready)
    except StopIteration as done:
        return done.value


def all_models():
    """Import every feature's models so that metadata is complete (migrations, tests)."""
    from importlib import import_module

    from consult import FEATURES

    for name in FEATURES:
        try:
            import_module(f"consult.{name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"consult.{name}.models":
                raise
    return db.metadata


#: On SQLite, one writer at a time per database in this process. Writers wait here, in turn,
#: rather than in SQLite's busy handler, which sleeps and polls: with a thread per
#: connection (threading mode) a burst of writers then spent most of its time asleep while
#: the lock was free, and under eventlet or gevent (where these locks are green ones) the
#: handler's sleep would stop the whole process. Other processes' writers still wait in the
#: busy handler.
_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()
_HOLDS = "holds_sqlite_writer"


def sqlite_writer(engine) -> threading.Lock:
    """The write lock of ``engine``'s database in this process."""
    with _writers_lock:
        lock = _writers.get(engine)
        if lock is None:
            lock = _writers[engine] = threading.Lock()
        return lock


#: As long as SQLite's busy timeout: after that, BEGIN IMMEDIATE decides (and fails clearly).
WRITER_WAIT_SECONDS = 10


def lock_for_write(session=None) -> None:
    """Take the database's write lock now, so that checks made next hold until commit.

    On SQLite this starts the transaction with ``BEGIN IMMEDIATE`` (writers queue behind the
    busy timeout instead of failing when their snapshot is stale), after this process's
    other writers are done. On PostgreSQL lock the rows you check with ``SELECT … FOR
    UPDATE`` instead (``.with_for_update()``); where the unit of work reads in autocommit
    (:func:`autocommit`), its transaction starts here.
    """
    session = session or db.session
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        _begin_where_autocommit(connection)
        return
    raw = connection.connection.driver_connection
    if not raw.in_transaction:
        writer = sqlite_writer(connection.engine)
        if _HOLDS not in session.info and writer.acquire(timeout=WRITER_WAIT_SECONDS):
            session.info[_HOLDS] = writer
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def autocommit(session=None) -> None:
    """On PostgreSQL, have each statement of this unit of work commit on its own (the
    driver's autocommit) until :func:`lock_for_write` starts a transaction.

    For a unit of work whose reads need no common snapshot and whose write is a single
    statement (a message in the room: what its author may do is read first, then one
    statement checks and writes). In a transaction psycopg sends ``BEGIN`` alone before the
    first statement and ``COMMIT`` after the last: two of such a unit's four round trips,
    and on a busy server each is a wait for the event loop. Call it before the unit's first
    statement; afterwards it changes nothing. The connection goes back to the pool with the
    pool's own setting."""
    _start_autocommit(session or db.session())


#: Each engine's copy whose connections commit each statement on their own (its pool is the
#: engine's).
_autocommitting: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def autocommit_connection(engine: Engine | None = None):
    """A connection of ``engine`` (the app's), outside the ORM session, each of whose
    statements commits on its own (PostgreSQL; the driver's autocommit). Use it with
    ``with``: it then goes back to the pool as it came.

    For a unit of work that is one statement whose answer is all it reads: a message in the
    room (room/service.py). Taking the session's connection in autocommit and committing
    the session cost such a message 0.2 ms in a live room of 100 on PostgreSQL, two-fifths
    of what running its statement took, the wait for the answer included
    (docs/performance.md)."""
    engine = engine or db.engine
    copy = _autocommitting.get(engine)
    if copy is None:
        copy = _autocommitting[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return copy.connect()


def _start_autocommit(session) -> bool:
    """Autocommit from the session's first statement on, on PostgreSQL: whether it does."""
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return False
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


@contextmanager
def read_alone(session=None):
    """On PostgreSQL, the block's statements commit on their own (the driver's autocommit),
    and the unit of work's next statement starts a transaction of its own as usual.

    For a read made before every page (the reader, with what their header shows): in a
    transaction psycopg sends ``BEGIN`` before it and the page's end a ``ROLLBACK``, two
    round trips around one, and a page served from the cache runs no other statement. What
    the block loads stays loaded (as :func:`commit_keeping_loaded`). Elsewhere, or inside a
    transaction already begun, the block runs as it is."""
    session = session or db.session()
    if not _start_autocommit(session):
        yield
        return
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    commit_keeping_loaded(session)  # nothing to commit: the connection goes back to the pool


def _begin_where_autocommit(connection) -> None:
    """Start the transaction of a unit of work that has read in autocommit: ``BEGIN`` now;
    the session's commit or rollback then ends it as usual (psycopg sends ``COMMIT`` or
    ``ROLLBACK`` while a transaction is open, even in autocommit)."""
    raw = connection.connection.driver_connection
    if not getattr(raw, "autocommit", False):
        return
    from psycopg.pq import TransactionStatus

    if raw.info.transaction_status == TransactionStatus.IDLE:
        connection.exec_driver_sql("BEGIN")


@event.listens_for(Session, "after_transaction_end")
def _release_writer(session, transaction) -> None:
    """The session's transaction ended (commit, rollback or close): the next writer's turn."""
    if transaction.parent is None:
        writer = session.info.pop(_HOLDS, None)
        if writer is not None:
            writer.release()


_TURNS = "yiting.database_turns"
#: Connections of the pool kept for pages, the API and background work (not Socket.IO).
RESERVED_CONNECTIONS = 5
#: How long a Socket.IO event waits for its turn before it is answered ``server_busy``.
TURN_WAIT_SECONDS = 60


def _semaphore(count: int):
    """A bounded semaphore of ``count`` whose release lets no other thread run first. Under
    gevent, Python's own (a condition over gevent's locks) yields to every other green thread
    ready when it is released: an event then kept its connection and its answer back while
    the room's broadcast was written (8 ms at the median in a room of 100). gevent's own
    semaphore does not yield, nor does Python's under eventlet or with real threads."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        from gevent.lock import BoundedSemaphore

        return BoundedSemaphore(count)
    return threading.BoundedSemaphore(count)


#: Whether this thread (green under eventlet and gevent) holds a turn at the database.
_turn_held = threading.local()


@contextmanager
def database_turn():
    """A turn at the database for one Socket.IO event (or connection).

    At most as many events run at once as the connection pool holds connections (10 + 5
    unless DATABASE_POOL_SIZE / DATABASE_MAX_OVERFLOW say otherwise), less five kept for
    pages, the API and background work; the others wait here, in turn. Without it a burst
    (a thousand voters casting within a second) had every event take a connection from the
    pool at once, and those the pool could not serve within 30 s failed. Under eventlet and
    gevent this is a green semaphore.

    A turn asked for inside another on the same thread is part of it: a disconnect handled
    inside an event (its emit found a connection gone quiet; see room/events.py) would
    otherwise wait for a second turn, and with every turn held by events waiting so, none
    would go on until the wait ran out. Its connection comes from the five kept."""
    turns = current_app.extensions.get(_TURNS)
    if turns is None or getattr(_turn_held, "held", False):
        yield
        return
    if not turns.acquire(timeout=TURN_WAIT_SECONDS):
        raise Busy("server_busy", _("The server is busy. Please try again in a moment."))
    _turn_held.held = True
    try:
        yield
    finally:
        _turn_held.held = False
        turns.release()


def commit_keeping_loaded(session=None) -> None:
    """Commit without expiring what the session has loaded.

    For a unit of work that goes on to read the rows it read a moment ago (a join's answer:
    the consultation, its community, the person, the room's state): after a plain commit
    each would be read again, a query apiece. They are as fresh as they were before the
    commit, which is what the caller wants."""
    session = session or db.session()
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring


def dialect_insert(model):
    """``INSERT`` for the session's database, with its ``ON CONFLICT`` clauses (PostgreSQL's
    and SQLite's alike)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def get_or_404(model, value, code: str, message: str):
    """The row of ``model`` whose id is ``value`` (an id from a URL or a payload, see
    :func:`~consult.core.payload.parse_id`), or :class:`NotFound` with ``code``/``message``."""
    key = parse_id(value)
    row = db.session.get(model, key) if key else None
    if row is None:
        raise NotFound(code, message)
    return row


_MEMO = "remembered"


def remembered(key: tuple, load: Callable):
    """``load()``, asked once per session until the session writes anything.

    For lookups one event repeats (someone's membership of a community, their place in a
    consultation: a message asks each several times, a join more). Anything added to the
    session, any flush, commit or rollback, and any bulk write forgets every answer."""
    memo = db.session.info.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = load()
    return memo[key]


def remember(key: tuple, value) -> None:
    """Keep ``value`` as the answer to ``remembered(key, …)``: for a lookup read beside
    another (a consultation with the reader's place in it)."""
    db.session.info.setdefault(_MEMO, {})[key] = value


def _forget(session, *args) -> None:
    session.info.pop(_MEMO, None)


for _name in ("after_attach", "after_flush", "after_commit", "after_rollback"):
    event.listen(Session, _name, _forget)
event.listen(Session, "after_soft_rollback", _forget)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_write(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _forget(state.session)
