"""On PostgreSQL under eventlet or gevent, the server process waits for a Socket.IO event's
answer itself for a moment (DATABASE_WAIT_IN_PROCESS_MS) before its other green threads run:
a message's statements then do not wait behind the room's broadcasts; a page's wait is green
(consult/core/database.py)."""

import json

import pytest

from tests.conftest import fresh_python

#: In a server process, with a green thread that counts milliseconds: how many it counted
#: during a statement of 20 ms and one of 300 ms, as a Socket.IO event makes them (holding
#: its turn at the database); and, while another green thread of the process holds a row's
#: lock and sleeps, a read of the row and a locked read of it. Then the 20 ms statement
#: again outside an event's turn, as a page makes it.
WAITS = """
import json, time
import app
from sqlalchemy import text
from consult.core.database import database_turn
from consult.extensions import db, socketio

ticks, seen = [], {}

def count():
    while True:
        ticks.append(1)
        socketio.sleep(0.001)

def counted(connection, statement):
    before = len(ticks)
    value = connection.execute(text(statement)).scalar()
    return value, len(ticks) - before

def holder():
    with app.app.app_context(), db.engine.begin() as c:
        c.execute(text("SELECT n FROM counter WHERE id = 1 FOR UPDATE"))
        seen["locked"] = True
        socketio.sleep(0.5)
        c.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
    seen["committed_at"] = time.monotonic()

with app.app.app_context():
    with db.engine.begin() as c:
        c.execute(text("CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)"))
        c.execute(text("INSERT INTO counter VALUES (1, 0)"))
    socketio.start_background_task(count)
    socketio.sleep(0.05)
    with database_turn(), db.engine.connect() as c:
        _, seen["ticks_short"] = counted(c, "SELECT pg_sleep(0.02)")
        _, seen["ticks_long"] = counted(c, "SELECT pg_sleep(0.3)")
    socketio.start_background_task(holder)
    for _ in range(500):
        if "locked" in seen:
            break
        socketio.sleep(0.01)
    with database_turn(), db.engine.connect() as c:
        seen["read"] = c.execute(text("SELECT n FROM counter WHERE id = 1")).scalar()
        seen["read_at"] = time.monotonic()
    with database_turn(), db.engine.begin() as c:
        seen["locked_read"], seen["ticks_lock"] = counted(
            c, "SELECT n FROM counter WHERE id = 1 FOR UPDATE"
        )
    with db.engine.connect() as c:
        _, seen["ticks_page"] = counted(c, "SELECT pg_sleep(0.02)")
print(json.dumps(seen))
"""


def waits(postgres, tmp_path, name: str, mode: str, milliseconds: str) -> dict:
    url = postgres.create_database(name)
    return json.loads(
        fresh_python(
            WAITS,
            tmp_path,
            SOCKETIO_ASYNC_MODE=mode,
            DATABASE_URL=url,
            DATABASE_WAIT_IN_PROCESS_MS=milliseconds,
        )
    )


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_the_process_waits_for_a_short_answer_and_green_for_a_long_one(postgres, tmp_path, mode):
    """With 100 ms in the process: nothing else ran during an event's statement of 20 ms; the
    rest of one of 300 ms was green. A read does not wait for a row's lock; a locked read
    waits for it, green after its 100 ms, so that the holder (a green thread of the same
    process) can commit; a wait in the process only would never end. A page's statement of
    20 ms waited green."""
    seen = waits(postgres, tmp_path, f"waits_{mode}", mode, "100")
    assert seen["ticks_short"] == 0
    assert seen["ticks_page"] > 0
    assert seen["ticks_long"] > 50
    assert seen["read"] == 0 and seen["read_at"] < seen["committed_at"]
    # It read the holder's update, so it waited for the holder's commit.
    assert seen["locked_read"] == 1
    assert seen["ticks_lock"] > 10


def test_every_wait_is_green_where_the_setting_is_zero(postgres, tmp_path):
    """The counter ran during the 20 ms statement too (19 ticks on an idle machine; how many
    depends on the machine's load, so only that it ran is asserted)."""
    seen = waits(postgres, tmp_path, "waits_green", "eventlet", "0")
    assert seen["ticks_short"] > 0 and seen["ticks_page"] > 0
    assert seen["ticks_long"] > 50
    assert seen["locked_read"] == 1


#: In a fresh server process (eventlet), how long it waits for PostgreSQL in the process.
HOLD = """
import json
import app
from consult.core import database
print(json.dumps(database._waits["seconds"]))
"""


@pytest.mark.parametrize(
    ("url", "setting", "seconds"),
    [
        ("postgresql://yiting@127.0.0.1:5432/yiting", None, 0.005),
        ("postgresql://yiting@db.example.org:5432/yiting", None, 0.0),
        ("postgresql://yiting@db.example.org:5432/yiting", "2", 0.002),
    ],
)
def test_by_default_the_process_waits_itself_only_for_a_database_on_this_machine(
    tmp_path, url, setting, seconds
):
    """With 1 ms added to each round trip, rooms filled 5.5–6.5× slower with the 5 ms wait
    than with every wait green (docs/performance.md); a setting is kept wherever the
    database is. Making the app connects to nothing."""
    held = fresh_python(
        HOLD,
        tmp_path,
        SOCKETIO_ASYNC_MODE="eventlet",
        DATABASE_URL=url,
        DATABASE_WAIT_IN_PROCESS_MS=setting,
        PGHOST=None,
    )
    assert json.loads(held) == seconds


@pytest.mark.parametrize(
    ("url", "pghost", "here"),
    [
        ("postgresql+psycopg://yiting@/yiting", None, True),
        ("postgresql+psycopg://yiting@/yiting?host=/var/run/postgresql", None, True),
        ("postgresql+psycopg://yiting@localhost/yiting", None, True),
        ("postgresql+psycopg://yiting@127.0.0.1:5432/yiting", None, True),
        ("postgresql+psycopg://yiting@[::1]:5432/yiting", None, True),
        ("postgresql+psycopg://yiting@10.0.0.5/yiting", None, False),
        ("postgresql+psycopg://yiting@db.example.org/yiting", None, False),
        ("postgresql+psycopg://yiting@/yiting?host=/tmp&host=10.0.0.5", None, False),
        ("postgresql+psycopg://yiting@/yiting", "db.example.org", False),
        ("postgresql+psycopg://yiting@/yiting", "/var/run/postgresql", True),
    ],
)
def test_a_database_is_here_through_a_socket_or_a_loopback_address(monkeypatch, url, pghost, here):
    from sqlalchemy.engine import make_url

    from consult.core.database import is_here

    if pghost is None:
        monkeypatch.delenv("PGHOST", raising=False)
    else:
        monkeypatch.setenv("PGHOST", pghost)
    assert is_here(make_url(url)) is here
