"""SQLite writers of one process take turns at their database's write lock: the second waits
for the first's commit (not in SQLite's busy handler), and a transaction that ends any way —
commit, rollback, or the session closed — lets the next one in."""

import threading
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consult.core.database import lock_for_write, sqlite_writer
from consult.extensions import db


def writer():
    return sqlite_writer(db.engine)


def _write(engine, log: list, name: str, hold: float, ready: threading.Event | None = None):
    with Session(engine) as session:
        lock_for_write(session)
        log.append(f"{name} in")
        if ready is not None:
            ready.set()
        time.sleep(hold)
        session.execute(sa.text("INSERT INTO turn (name) VALUES (:n)"), {"n": name})
        log.append(f"{name} out")
        session.commit()


def test_the_second_writer_waits_for_the_first_commit(app):
    engine = db.engine
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE turn (id INTEGER PRIMARY KEY, name TEXT)")
    log: list[str] = []
    first_in = threading.Event()
    first = threading.Thread(target=_write, args=(engine, log, "first", 0.3, first_in))
    first.start()
    assert first_in.wait(5)
    assert writer().locked()  # the second will wait for it here
    second = threading.Thread(target=_write, args=(engine, log, "second", 0))
    second.start()
    first.join(10)
    second.join(10)
    assert log == ["first in", "first out", "second in", "second out"]
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT name FROM turn ORDER BY id").scalars().all()
    assert rows == ["first", "second"]
    assert not writer().locked()


def test_rollback_and_close_let_the_next_writer_in(app):
    for end in ("rollback", "close"):
        session = Session(db.engine)
        lock_for_write(session)
        assert writer().locked()
        lock_for_write(session)  # again in the same transaction: no second turn taken
        getattr(session, end)()
        assert not writer().locked(), end


def test_the_request_session_gives_its_turn_back_when_removed(app):
    lock_for_write()
    assert writer().locked()
    db.session.remove()
    assert not writer().locked()
