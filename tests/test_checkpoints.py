"""On SQLite the server copies the log into the database file on a clock, in a thread of the
operating system's (consult/core/checkpoints.py): no commit waits for a checkpoint, and
the server's green threads need not let the clock's thread run."""

import os
import time

import pytest
import sqlalchemy as sa

from consult import config
from consult.core import checkpoints
from tests.conftest import fresh_python


class _Stop(Exception):
    pass


def _engine(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    sa.event.listen(
        engine, "connect", lambda connection, _record: connection.execute("PRAGMA journal_mode=WAL")
    )
    return engine


def _write(engine, commits: int = 30) -> None:
    """About 1,500 pages, in ``commits`` commits: past SQLite's own rule (1,000 pages)."""
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    for _ in range(commits):
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t SELECT randomblob(4000) FROM t0")


def _prepare(engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t0 (n)")
        connection.exec_driver_sql(
            "INSERT INTO t0 WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c "
            "WHERE n < 50) SELECT n FROM c"
        )


def _automatic(engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()


def test_no_commit_checkpoints_and_the_clock_does(tmp_path):
    path = tmp_path / "clock.db"
    engine = _engine(path)
    _prepare(engine)
    started = []
    assert checkpoints.checkpoint_on_a_clock(
        engine, 0.5, lambda *thread: started.append(thread), time.sleep
    )
    assert len(started) == 1
    function, (database, seconds, _sleep) = started[0]
    assert (database, seconds) == (str(path), 0.5)
    assert _automatic(engine) == 0

    size = path.stat().st_size
    _write(engine)
    assert path.stat().st_size == size  # every page is still in the log
    assert os.path.getsize(f"{path}-wal") > 1_000 * 4096

    waits, before = [], checkpoints.done["checkpoints"]

    def sleep(s):
        waits.append(s)
        if len(waits) == 2:
            raise _Stop

    with pytest.raises(_Stop):
        function(database, seconds, sleep)
    assert waits == [0.5, 0.5]
    assert checkpoints.done["checkpoints"] == before + 1
    assert path.stat().st_size > size + 1_000 * 4096  # copied into the database file
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 30 * 50


def test_sqlites_own_rule_checkpoints_in_a_commit(tmp_path):
    """The same writes without the clock: a commit copied the log into the file."""
    path = tmp_path / "own.db"
    engine = _engine(path)
    _prepare(engine)
    size = path.stat().st_size
    assert _automatic(engine) == 1000
    _write(engine)
    assert path.stat().st_size > size


def test_zero_or_another_database_changes_nothing(tmp_path):
    started = []
    engine = _engine(tmp_path / "zero.db")
    assert not checkpoints.checkpoint_on_a_clock(engine, 0, started.append, time.sleep)
    assert _automatic(engine) == 1000
    postgres = sa.create_engine("postgresql+psycopg://yiting@127.0.0.1:1/none")
    assert not checkpoints.checkpoint_on_a_clock(postgres, 2, started.append, time.sleep)
    memory = sa.create_engine("sqlite://")
    assert not checkpoints.checkpoint_on_a_clock(memory, 2, started.append, time.sleep)
    assert started == []


SERVER_AS_STARTED = """
import os, app
from consult.core import checkpoints
from consult.extensions import db
app.prepare()
with app.app.app_context():
    engine = db.engine
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (x BLOB)")
    for _ in range(30):
        with engine.begin() as c:
            c.exec_driver_sql(
                "INSERT INTO t WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 50) SELECT randomblob(4000) FROM n"
            )
    automatic = engine.connect().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
path = engine.url.database
before = os.path.getsize(path)
app.os_sleep(1.2)  # the operating system's sleep: no green thread runs meanwhile
print(automatic, before, os.path.getsize(path), checkpoints.done["checkpoints"])
"""


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_the_server_checkpoints_in_a_thread_of_its_own_in_each_mode(tmp_path, mode):
    seen = fresh_python(
        SERVER_AS_STARTED,
        tmp_path,
        SOCKETIO_ASYNC_MODE=mode,
        SQLITE_CHECKPOINT_SECONDS="0.25",
        DATABASE_URL=None,
    )
    automatic, before, after, done = (int(n) for n in seen.split())
    assert automatic == 0
    assert after > before + 1_000 * 4096  # copied while the process's own thread slept
    assert done >= 2


def test_the_clock_runs_every_two_seconds_unless_told(monkeypatch):
    monkeypatch.delenv("SQLITE_CHECKPOINT_SECONDS", raising=False)
    assert config.from_environment()["SQLITE_CHECKPOINT_SECONDS"] == 2
