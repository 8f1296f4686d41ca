"""The room's services against a real SQLite file: the per-room sequence, idempotent
client ids, the rate limit counted in the database, and the readers other features use."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consult.accounts.service import find_user
from consult.consultations import service as consultations
from consult.consultations.models import PARTICIPANT_ROLES, STATUSES
from consult.errors import DomainError
from consult.extensions import db
from consult.room import service
from consult.room.models import Message, RoomState
from tests.conftest import in_threads, statements_run


@pytest.fixture
def room(demo):
    return demo


def user(name):
    return find_user(name)


def codes(function, *args, **kwargs) -> str:
    with pytest.raises(DomainError) as caught:
        function(*args, **kwargs)
    return caught.value.code


def test_sequence_is_per_room_and_gapless(app, room):
    other = consultations.create_consultation(user("chair"), room.community, title="Second room")
    consultations.transition(user("chair"), other, "announced")
    consultations.transition(user("chair"), other, "live")
    consultations.ensure_participant(user("bob"), other)
    first = service.post_message(user("alice"), room, "one", "a")
    second = service.post_message(user("bob"), other, "two", "b")
    third = service.post_message(user("bob"), room, "three", "c")
    assert third.seq == first.seq + 1
    assert second.seq == db.session.get(RoomState, other.id).last_seq
    for consultation in (room, other):
        seqs = list(
            db.session.scalars(
                sa.select(Message.seq)
                .where(Message.consultation_id == consultation.id)
                .order_by(Message.seq)
            )
        )
        assert seqs == list(range(1, len(seqs) + 1))
        assert db.session.get(RoomState, consultation.id).last_seq == seqs[-1]


def _posted_message_is_the_stored_row(room) -> None:
    message = service.post_message(user("alice"), room, "hello *all*", "stored-1")
    row = db.session.execute(sa.select(Message.__table__).where(Message.id == message.id)).one()
    assert (row.seq, row.author_id, row.kind, row.body, row.client_id, row.hidden) == (
        message.seq, user("alice").id, "message", "hello *all*", "stored-1", False,
    )  # fmt: skip
    assert row.created_at == message.created_at
    assert (
        db.session.scalar(sa.select(RoomState.last_seq).where(RoomState.consultation_id == room.id))
        == message.seq
    )
    assert db.session.get(RoomState, room.id).last_seq == message.seq  # as the session holds it
    assert message in db.session and message.author.username == "alice"
    assert service.post_message(user("alice"), room, "again", "stored-2").seq == message.seq + 1
    hidden = service.hide_message(user("chair"), room, message.seq, "Off topic")
    assert hidden is message and hidden.hidden and hidden.hidden_reason == "Off topic"


def test_the_posted_message_is_the_stored_row(app, room):
    _posted_message_is_the_stored_row(room)


def test_concurrent_posts_get_distinct_consecutive_numbers(app, room):
    """Writers in separate threads and sessions: every message is stored, with its own
    number, and numbers follow commit order (ids and seqs rise together)."""
    app.config["ROOM_RATE_LIMIT_COUNT"] = 100
    cid = room.id
    names = ["alice", "bob", "carol", "dave", "erin"]

    def writer(name):
        consultation = consultations.get_consultation(cid)
        actor = find_user(name)
        for n in range(8):
            service.post_message(actor, consultation, f"{name} {n}", f"{name}-{n}")

    assert in_threads(app, writer, *names) == []
    rows = db.session.execute(
        sa.select(Message.id, Message.seq, Message.body)
        .where(Message.consultation_id == cid, Message.kind == "message")
        .order_by(Message.seq)
    ).all()
    assert len(rows) == 40
    ids = [row.id for row in rows]
    assert ids == sorted(ids)  # sequence order is commit (insert) order
    all_seqs = list(
        db.session.scalars(sa.select(Message.seq).where(Message.consultation_id == cid))
    )
    assert sorted(all_seqs) == list(range(1, len(all_seqs) + 1))
    for name in names:  # each writer's own messages keep their order
        mine = [row.body for row in rows if row.body.startswith(name)]
        assert mine == [f"{name} {n}" for n in range(8)]


def test_joiners_arriving_while_the_room_lists_are_read_share_that_reading(app, room, monkeypatch):
    """When a room's lists have been dropped, one joiner reads them; the others arriving
    meanwhile wait for that reading instead of each reading the whole room again."""
    app.config["ROOM_LIST_CACHE_SECONDS"] = 60
    cid = room.id
    read = service._read_lists
    readings = []
    started = threading.Event()

    def slow_read(consultation):
        readings.append(consultation.id)
        started.set()
        time.sleep(0.3)  # the others arrive while this reading is under way
        return read(consultation)

    monkeypatch.setattr(service, "_read_lists", slow_read)
    service._lists.pop(cid, None)
    got, errors = [], []

    def joiner():
        with app.app_context():
            try:
                got.append(service._room_lists(consultations.get_consultation(cid)))
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    first = threading.Thread(target=joiner)
    first.start()
    assert started.wait(5)
    others = [threading.Thread(target=joiner) for _ in range(4)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join()
    assert errors == []
    assert readings == [cid]
    assert len(got) == 5 and all(lists is got[0] for lists in got)
    assert {p["username"] for p in got[0]["participants"]} >= {"alice", "bob", "chair"}
    # A change announced in the room drops the lists: the next joiner reads them again.
    service._forget_lists("presence", {"consultation_id": cid}, None)
    joiner()
    assert readings == [cid, cid]


def test_room_lists_read_while_a_change_is_announced_are_not_kept(app, room, monkeypatch):
    """A change announced while a joiner reads the room's lists may be newer than what was
    read: that joiner uses what it read (the announcement reaches it in the room), but the
    next joiner reads the lists again instead of being given the older ones."""
    app.config["ROOM_LIST_CACHE_SECONDS"] = 60
    cid = room.id
    read = service._read_lists
    readings = []

    def read_during_a_change(consultation):
        lists = read(consultation)
        readings.append(consultation.id)
        if len(readings) == 1:  # a mute is announced after this reading, before it is kept
            service._forget_lists("participant:muted", {"consultation_id": cid}, None)
        return lists

    monkeypatch.setattr(service, "_read_lists", read_during_a_change)
    service._lists.pop(cid, None)
    service._room_lists(room)
    assert cid not in service._lists
    service._room_lists(room)
    assert readings == [cid, cid]
    service._room_lists(room)  # the second reading saw no change: it is shared
    assert readings == [cid, cid]


def test_idempotent_client_id(app, room):
    first = service.post_message(user("alice"), room, "hello", "same")
    again = service.post_message(user("alice"), room, "hello (edited?)", "same")
    assert again.id == first.id and again.body == "hello" and again.duplicate is True
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Message).where(Message.client_id == "same")
    )
    assert count == 1
    without_id = service.post_message(user("alice"), room, "hello", None)
    assert without_id.id != first.id


def test_rate_limit_is_counted_in_the_database(app, room):
    app.config.update(ROOM_RATE_LIMIT_COUNT=2, ROOM_RATE_LIMIT_SECONDS=10)
    service.post_message(user("alice"), room, "1", "r1")
    service.post_message(user("alice"), room, "2", "r2")
    assert codes(service.post_message, user("alice"), room, "3", "r3") == "rate_limited"
    # Messages older than the window no longer count.
    from datetime import timedelta

    for message in db.session.scalars(
        sa.select(Message).where(Message.author_id == user("alice").id)
    ):
        message.created_at = message.created_at - timedelta(seconds=11)
    db.session.commit()
    assert service.post_message(user("alice"), room, "3", "r3").seq > 0


def test_refusals_leave_no_trace(app, room):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    assert codes(service.post_message, user("alice"), room, "x" * 2001, "t1") == "message_too_long"
    assert codes(service.post_message, user("alice"), room, "", "t2") == "empty_message"
    service.mute(user("chair"), room, "alice")
    after_mute = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    assert codes(service.post_message, user("alice"), room, "hi", "t3") == "muted"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == after_mute
    assert after_mute == before + 1  # the system line "alice was muted"
    # The lock was released: others still write.
    assert service.post_message(user("bob"), room, "fine", "t4").body == "fine"


def test_transcript_hides_text_per_viewer(app, room):
    consultations.set_participant(user("chair"), room, "carol", "secretary")
    message = service.post_message(user("alice"), room, "something rude", "h")
    service.hide_message(user("chair"), room, message.seq, "Insult")

    def line(viewer):
        return next(m for m in service.transcript(room, viewer) if m["id"] == message.seq)

    for viewer in (user("bob"), None):
        seen = line(viewer)
        assert seen["hidden"] and seen["body"] is None and seen["hidden_reason"] == "Insult"
    for viewer in (user("chair"), user("carol")):
        assert line(viewer)["body"] == "something rude"


def test_attendance_and_presence(app, room):
    service.join_room(user("alice"), room, sid="sid-a")
    assert [row["username"] for row in service.presence(room)["online"]] == ["alice"]
    service.join_room(user("alice"), room, sid="sid-a2")  # a second tab
    service.leave_all("sid-a2")
    rows = {row["username"]: row for row in service.attendance(room)}
    assert rows["alice"]["visits"] == 2 and rows["alice"]["role"] == "voter"
    # "sid-a" has no live connection in this process (a server killed without a
    # disconnect): the next join closes that visit, so presence does not lie.
    service.join_room(user("bob"), room, sid="sid-b")
    assert [row["username"] for row in service.presence(room)["online"]] == ["bob"]
    rows = {row["username"]: row for row in service.attendance(room)}
    assert rows["alice"]["present"] is False and rows["alice"]["left_at"] is not None
    assert rows["bob"]["present"] is True and rows["bob"]["left_at"] is None
    assert list(rows) == ["alice", "bob"]  # in order of arrival
    assert service.leave_all("sid-b") == [room.id]
    assert service.presence(room)["online"] == []


def test_floor_opinions_reader(app, room):
    message = service.post_message(user("bob"), room, "Keep it green.", "f1")
    service.record_floor_opinion(user("chair"), room, message_id=message.seq, motion_id=4)
    service.record_floor_opinion(user("chair"), room, text="A note from the hall.")
    everything = service.floor_opinions(room)
    assert [o["text"] for o in everything] == ["Keep it green.", "A note from the hall."]
    assert everything[0] == {
        **everything[0],
        "author": "bob",
        "source": "floor",
        "message_id": message.seq,
        "motion_id": 4,
    }
    assert everything[1]["author"] is None and everything[1]["motion_id"] is None
    assert [o["text"] for o in service.floor_opinions(room, motion_id=4)] == ["Keep it green."]
    assert service.floor_opinions(room, motion_id=5) == []


def test_system_line_is_written_once_and_in_each_language(app, room):
    first = service.post_system_line(room.id, "vote_opened", dedupe_key="vote:1:opened", title="T")
    assert first is not None
    assert (
        service.post_system_line(room.id, "vote_opened", dedupe_key="vote:1:opened", title="T")
        is None
    )
    from flask_babel import force_locale

    with force_locale("en"):
        english = service.message_dict(first)["text"]
    with force_locale("zh"):
        chinese = service.message_dict(first)["text"]
    assert english == "Voting has opened: T."
    assert "T" in chinese


def test_the_posted_message_is_the_stored_row_on_postgresql(pg_app):
    from consult.consultations.models import Consultation

    _posted_message_is_the_stored_row(db.session.scalar(sa.select(Consultation)))


def test_concurrent_posts_on_postgresql(pg_app):
    pg_app.config["ROOM_RATE_LIMIT_COUNT"] = 100
    from consult.consultations.models import Consultation

    consultation = db.session.scalar(sa.select(Consultation))
    cid = consultation.id

    def writer(name):
        room = consultations.get_consultation(cid)
        actor = find_user(name)
        for n in range(6):
            service.post_message(actor, room, f"{name} {n}", f"{name}-{n}")
            service.post_message(actor, room, f"{name} {n}", f"{name}-{n}")  # resend

    assert in_threads(pg_app, writer, "alice", "bob", "carol") == []
    rows = db.session.execute(
        sa.select(Message.id, Message.seq)
        .where(Message.consultation_id == cid)
        .order_by(Message.seq)
    ).all()
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert [row.id for row in rows] == sorted(row.id for row in rows)
    messages = db.session.scalar(
        sa.select(sa.func.count()).select_from(Message).where(Message.kind == "message")
    )
    assert messages == 18
    assert db.session.get(RoomState, cid).last_seq == len(rows)


def test_a_pooled_connection_is_checked_after_a_pause_and_replaced_if_dead(pg_app, monkeypatch):
    """On a server database a connection back in the pool for a moment is used at once; one
    that waited longer is checked first, and a dead one is replaced before it is used."""
    from consult.core import database

    pings, dead = [], []

    def ping(dbapi_connection):
        pings.append(dbapi_connection)
        if dead:
            raise RuntimeError(dead.pop())  # the database went away meanwhile
        return True

    def used_connection():
        db.session.execute(sa.text("SELECT 1"))
        connection = db.session.connection().connection.dbapi_connection
        db.session.remove()
        return connection

    monkeypatch.setattr(db.engine.dialect, "do_ping", ping)
    db.session.remove()
    first = used_connection()
    assert used_connection() is first and pings == []  # just returned: not checked
    monkeypatch.setattr(database, "CHECK_AFTER_SECONDS", 0.0)
    assert used_connection() is first and pings == [first]
    dead.append("server closed the connection unexpectedly")
    replaced = used_connection()
    assert replaced is not first and first.closed and pings.count(first) == 2


@pytest.mark.parametrize("database", ["app", "pg_app"])
def test_the_pool_hands_out_the_connection_returned_last(database, request):
    """One connection does the work while the load is light, and keeps what it prepared: the
    pool hands out the connection returned last, not the one that waited longest."""
    request.getfixturevalue(database)
    db.session.remove()
    first, second = db.engine.connect(), db.engine.connect()
    returned_first = first.connection.dbapi_connection
    returned_last = second.connection.dbapi_connection
    assert returned_first is not returned_last
    first.close()
    second.close()
    with db.engine.connect() as again:
        assert again.connection.dbapi_connection is returned_last


@pytest.fixture(params=["sqlite", "postgresql"])
def any_room(request):
    """The demo room on SQLite and on PostgreSQL (where a message is locked, checked and
    written by one statement, and a refusal rolls it back)."""
    if request.param == "sqlite":
        return request.getfixturevalue("app"), request.getfixturevalue("demo")
    from consult.consultations.models import Consultation

    pg = request.getfixturevalue("pg_app")
    return pg, db.session.scalar(sa.select(Consultation))


def _room_counts(room) -> tuple[int, int]:
    messages = db.session.scalar(
        sa.select(sa.func.count()).select_from(Message).where(Message.consultation_id == room.id)
    )
    last_seq = db.session.scalar(
        sa.select(RoomState.last_seq).where(RoomState.consultation_id == room.id)
    )
    return messages, last_seq


def test_each_refusal_writes_nothing_and_keeps_the_counter(any_room):
    """Every refusal is told with its code, in the same order on both databases, and leaves
    the room's messages and counter as they were; the next message takes the next number."""
    pg_or_sqlite, room = any_room
    pg_or_sqlite.config.update(ROOM_RATE_LIMIT_COUNT=2, ROOM_RATE_LIMIT_SECONDS=60)
    first = service.post_message(user("alice"), room, "first", "k1")
    assert first.duplicate is False
    before = _room_counts(room)
    assert before == (before[0], first.seq)

    again = service.post_message(user("alice"), room, "first, edited?", "k1")
    assert (again.id, again.body, again.duplicate) == (first.id, "first", True)
    assert _room_counts(room) == before

    assert codes(service.post_message, user("alice"), room, "", "k2") == "empty_message"
    assert codes(service.post_message, user("alice"), room, "x" * 2001, "k2") == "message_too_long"
    assert _room_counts(room) == before

    service.set_floor_mode(user("chair"), room, "moderated")
    moderated = _room_counts(room)  # the chair's change is a system line
    assert codes(service.post_message, user("bob"), room, "may I?", "k3") == "floor_not_held"
    assert _room_counts(room) == moderated
    service.set_floor_mode(user("chair"), room, "open")

    service.mute(user("chair"), room, "bob")
    muted = _room_counts(room)
    assert codes(service.post_message, user("bob"), room, "hello?", "k3") == "muted"
    assert _room_counts(room) == muted

    service.post_message(user("alice"), room, "second", "k4")
    limited = _room_counts(room)
    assert codes(service.post_message, user("alice"), room, "third", "k5") == "rate_limited"
    assert _room_counts(room) == limited

    consultations.transition(user("chair"), room, "closed")
    closed = _room_counts(room)
    assert codes(service.post_message, user("carol"), room, "too late", "k6") == "room_closed"
    assert _room_counts(room) == closed
    # A resend is still answered with what was stored, after the room closed.
    assert service.post_message(user("alice"), room, "second", "k4").duplicate is True
    assert _room_counts(room) == closed


def test_a_room_first_message_starts_its_counter(any_room):
    """A live room whose first write is a message: its counter row is made, the message is
    number 1."""
    _, demo = any_room
    from consult.communities.service import get_community

    chair = user("chair")
    room = consultations.create_consultation(chair, get_community("demo"), title="A new room")
    consultations.set_participant(chair, room, "alice", "voter")
    consultations.transition(chair, room, "announced")
    consultations.transition(chair, room, "live")
    db.session.execute(sa.delete(RoomState).where(RoomState.consultation_id == room.id))
    db.session.execute(sa.delete(Message).where(Message.consultation_id == room.id))
    db.session.commit()
    message = service.post_message(user("alice"), room, "the first word", "n1")
    assert message.seq == 1
    assert _room_counts(room) == (1, 1)


def test_a_message_on_postgresql_is_one_statement(pg_app):
    """Once the room, the author's place in it and their standing in its community are read
    (as a room event's first statement reads them), a message costs PostgreSQL one
    statement and the commit."""
    from consult.consultations.models import Consultation

    room = db.session.scalar(sa.select(Consultation))
    alice = user("alice")
    assert consultations.participant(alice, room).role == "voter"
    assert service.is_moderator(alice, room) is False  # the community and membership
    with statements_run() as statements:
        message = service.post_message(alice, room, "one statement", "one-1")
    assert len(statements) == 1, statements
    assert " ".join(statements[0].split()).startswith("WITH checks AS (SELECT")
    assert _room_counts(room)[1] == message.seq


#: A value for every parameter the message statements name.
_ANY_VALUES = dict.fromkeys(
    ("room", "user", "author", "epoch", "message_kind", "text", "client", "client_id", "at",
     "since", "limit", "moderator"),
    0,
)  # fmt: skip


def test_the_message_statements_text_is_made_once():
    """The PostgreSQL statements a message runs have no list SQLAlchemy expands into their
    SQL on each run (an ``IN`` over bound values is rendered per run; the roles that speak
    are values of their own), and the one from ids answers only what its caller reads."""
    from sqlalchemy.dialects import postgresql

    speech, message = (
        statement.compile(dialect=postgresql.dialect())
        for statement in (service._CHECKED_NEW_SPEECH, service._CHECKED_NEW_MESSAGE)
    )
    for compiled in (speech, message):
        assert "POSTCOMPILE" not in str(compiled), str(compiled)
    spoken = set(speech.construct_params(_ANY_VALUES).values())
    assert set(service.SPEAKING_ROLES) <= spoken
    assert list(service._CHECKED_NEW_SPEECH.selected_columns.keys()) == [
        "message_id", "taken", "username", "display_name", "role",
    ]  # fmt: skip


def _send_twice_at_once(app, post) -> list:
    """``post(n)`` from two threads at once, for n up to 30 (the n-th message: body
    ``hello n``, client_id ``twin-n``), as a client resending while the first is still in
    flight, from two connections. Returns ``(n, the answer's message id)`` of every answer."""
    answers = []
    start = threading.Barrier(2)

    def sender(_):
        try:
            for n in range(30):
                start.wait()
                answers.append((n, post(n)))
                db.session.remove()
        except Exception:
            start.abort()  # the other sender stops waiting too
            raise

    assert in_threads(app, sender, 1, 2) == []
    return answers


def _assert_one_message_each(cid: int, answers: list) -> None:
    """One message stored for each twin, both answers that message, and the room's numbers
    contiguous (none lost to a resend) up to its counter."""
    from consult.consultations.models import Consultation

    stored = db.session.execute(
        sa.select(Message.client_id, Message.id).where(Message.client_id.like("twin-%"))
    ).all()
    assert len(stored) == 30
    ids = dict(stored)
    assert sorted(answers) == sorted((n, ids[f"twin-{n}"]) for n in range(30) for _ in range(2))
    seqs = list(
        db.session.scalars(
            sa.select(Message.seq).where(Message.consultation_id == cid).order_by(Message.seq)
        )
    )
    assert seqs == list(range(1, len(seqs) + 1))  # no number lost to a resend
    assert _room_counts(db.session.get(Consultation, cid))[1] == seqs[-1]


def test_a_resend_racing_its_original_from_ids_stores_one_message(any_room):
    """As ``message:send`` posts (from ids first, the usual way where that declines), the
    same message sent twice at once: one is stored, both answers are that message, and the
    room's numbers stay contiguous (a number the losing resend's statement took on
    PostgreSQL is given back)."""
    from consult.core import database as databases

    app, room = any_room
    app.config["ROOM_RATE_LIMIT_COUNT"] = 100
    cid = room.id
    erin = user("erin")
    session_id = f"{erin.id}:{erin.session_epoch}"
    ways = []

    def post(n):
        databases.autocommit()
        body, client_id = f"hello {n}", f"twin-{n}"
        told = service.post_message_at_once(session_id, cid, body, client_id)
        if told is not None:
            ways.append("ids")
            return told["uid"]
        ways.append("usual")
        message = service.post_message(
            user("erin"), consultations.get_consultation(cid), body, client_id
        )
        return message.id

    answers = _send_twice_at_once(app, post)
    _assert_one_message_each(cid, answers)
    assert ways.count("ids") >= 29  # the room's first message, at most, goes the usual way
    assert ways.count("usual") >= 30  # every resend does


@pytest.mark.parametrize("autocommit", [False, True], ids=["transaction", "autocommit"])
def test_a_resend_racing_its_original_stores_one_message_on_postgresql(pg_app, autocommit):
    """The same message sent twice at once (a client resending while the first is still in
    flight, from two connections): one is stored, both answers are that message, and the
    room's numbers stay contiguous (in autocommit, as ``message:send`` runs, the number the
    losing resend took is given back)."""
    from consult.consultations.models import Consultation
    from consult.core import database

    pg_app.config["ROOM_RATE_LIMIT_COUNT"] = 100
    cid = db.session.scalar(sa.select(Consultation.id))

    def post(n):
        if autocommit:
            database.autocommit()
        room = consultations.get_consultation(cid)
        return service.post_message(user("erin"), room, f"hello {n}", f"twin-{n}").id

    _assert_one_message_each(cid, _send_twice_at_once(pg_app, post))


def _one_thing_off(**changed):
    """An example where everything lets a voter speak but what ``changed`` says: each
    condition of the way from ids is met alone at least once, however the rest is drawn."""
    base = dict(
        role="voter", status="live", muted=False, floor="open", at_limit=False, resend=False,
        stale=False,
    )  # fmt: skip
    return example(**{**base, **changed})


FLOORS = {
    "open": ("open", None, 60),
    "held": ("moderated", "erin", 60),
    "someone else's": ("moderated", "bob", 60),
    "run out": ("moderated", "erin", -1),
}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    role=st.sampled_from([None, *PARTICIPANT_ROLES]),
    status=st.sampled_from(list(STATUSES)),
    muted=st.booleans(),
    floor=st.sampled_from(list(FLOORS)),
    at_limit=st.booleans(),
    resend=st.booleans(),
    stale=st.booleans(),
)
@_one_thing_off(role="observer")
@_one_thing_off(role=None)
@_one_thing_off(role="chair", floor="someone else's")
@_one_thing_off(status="closed")
@_one_thing_off(status="announced")
@_one_thing_off(muted=True)
@_one_thing_off(floor="someone else's")
@_one_thing_off(floor="run out")
@_one_thing_off(floor="held")
@_one_thing_off(at_limit=True)
@_one_thing_off(resend=True)
@_one_thing_off(stale=True)
@_one_thing_off()
def test_the_way_from_ids_lets_in_only_what_the_usual_way_lets_in(
    app, room, role, status, muted, floor, at_limit, resend, stale
):
    """``message:send`` first tries the message from ids, a second statement of who may
    speak. Whatever the author's role, the room's status, their mute, the floor, the rate
    and the ``client_id``: it takes a message only where it may speak surely (a speaking
    role, a live room, no mute, an open floor or theirs, within the rate, a new message, a
    session not ended), and never one the usual way would refuse or answer as a resend."""
    from consult.consultations.models import Consultation, Participant
    from consult.core.time import utcnow
    from consult.room.models import RoomMute

    cid = sa.inspect(room).identity[0]  # the fixture's object outlives each example's session
    service._ensure_state(cid)
    db.session.commit()
    if db.session.scalar(sa.select(Message.id).where(Message.client_id == "erin-stored")) is None:
        db.session.remove()
        room = consultations.get_consultation(cid)
        service.post_message(user("erin"), room, "stored", "erin-stored")

    # The state this example is about, written as it is.
    now, erin, bob = utcnow(), user("erin"), user("bob")
    db.session.execute(
        sa.delete(Participant).where(
            Participant.consultation_id == cid, Participant.user_id == erin.id
        )
    )
    if role is not None:
        db.session.add(Participant(consultation_id=cid, user_id=erin.id, role=role))
    db.session.execute(sa.update(Consultation).where(Consultation.id == cid).values(status=status))
    db.session.execute(
        sa.delete(RoomMute).where(RoomMute.consultation_id == cid, RoomMute.user_id == erin.id)
    )
    if muted:
        db.session.add(RoomMute(consultation_id=cid, user_id=erin.id, muted_by_id=bob.id))
    mode, holder, seconds = FLOORS[floor]
    db.session.execute(
        sa.update(RoomState)
        .where(RoomState.consultation_id == cid)
        .values(
            floor_mode=mode,
            floor_holder_id=user(holder).id if holder else None,
            floor_until=now + timedelta(seconds=seconds) if holder else None,
        )
    )
    db.session.commit()
    window = app.config["ROOM_RATE_LIMIT_SECONDS"]
    recent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Message)
        .where(Message.author_id == erin.id, Message.created_at > now - timedelta(seconds=window))
    )
    app.config["ROOM_RATE_LIMIT_COUNT"] = recent if at_limit else recent + 1
    client_id = "erin-stored" if resend else f"new-{time.monotonic_ns()}"
    erin_id, name = erin.id, erin.display_name
    session_id = f"{erin_id}:{erin.session_epoch + (1 if stale else 0)}"

    def undo(message_id):
        """The message just written, and its number, taken back: the next way meets the
        same state."""
        db.session.execute(sa.delete(Message).where(Message.id == message_id))
        db.session.execute(
            sa.update(RoomState)
            .where(RoomState.consultation_id == cid)
            .values(last_seq=RoomState.last_seq - 1)
        )
        db.session.commit()

    db.session.remove()
    told = service.post_message_at_once(session_id, cid, "a message", client_id)
    db.session.remove()
    if told is not None:
        undo(told["uid"])
    db.session.execute(
        sa.delete(Participant).where(
            Participant.consultation_id == cid, Participant.user_id == erin_id
        )
    )  # as it was, where the usual way would make a member a participant
    if role is not None:
        db.session.add(Participant(consultation_id=cid, user_id=erin_id, role=role))
    db.session.commit()
    db.session.remove()
    try:
        message = service.post_message(
            user("erin"), consultations.get_consultation(cid), "a message", client_id
        )
    except DomainError:
        let_in = False
    else:
        let_in = not message.duplicate
        if let_in:
            undo(message.id)

    surely = (
        role in service.SPEAKING_ROLES
        and status == "live"
        and not muted
        and floor in ("open", "held")
        and not at_limit
        and not resend
        and not stale
    )
    assert (told is not None) == surely
    if told is not None:
        assert let_in, "the way from ids took a message the usual way refuses"
        assert told["author"] == {
            "username": "erin",
            "display_name": name,
            "role": role,
        }
