"""The room's Socket.IO events through Flask-SocketIO's test client: every event, and
every refusal answered through the acknowledgement with its code, nothing else disturbed."""

from __future__ import annotations

import gc
import re

import pytest
import sqlalchemy as sa
from flask import g
from flask.ctx import RequestContext
from flask.sessions import SecureCookieSessionInterface
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consult.extensions import db, socketio
from consult.room.models import FloorOpinion, HandRaise, Message, RoomMute, RoomVisit
from tests.conftest import fresh_python, statements_run


def fresh():
    """The tests share one application context, so Flask-Login's per-request user in ``g``
    would carry over from one client's event to the next; a server handles each event in
    its own context. Forget it before every connect, event and disconnect."""
    g.pop("_login_user", None)


def connect(app, username, via="cookie"):
    """A Socket.IO test client signed in as ``username`` (session cookie or API token)."""
    fresh()
    http = app.test_client()
    if via == "token":
        response = http.post(
            "/api/v1/token", json={"username": username, "password": "yiting-demo"}
        )
        token = response.get_json()["token"]
        fresh()
        client = socketio.test_client(app, auth={"token": token})
    else:
        response = http.post("/login", data={"username": username, "password": "yiting-demo"})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        fresh()
        client = socketio.test_client(app, flask_test_client=http)
    assert client.is_connected(), username
    return client


def ack(client, event, data=None):
    fresh()
    return client.emit(event, data, callback=True)


def events(client, name):
    return [packet["args"][0] for packet in client.get_received() if packet["name"] == name]


def error_code(answer):
    assert answer["ok"] is False, answer
    assert answer["error"]["message"]
    return answer["error"]["code"]


def message_count(cid):
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Message).where(Message.consultation_id == cid)
    )


def send(client, cid, body, client_id):
    return ack(
        client, "message:send", {"consultation_id": cid, "body": body, "client_id": client_id}
    )


@pytest.fixture
def room(demo):
    return demo.id


@pytest.fixture
def people(app, room):
    """alice (cookie), bob (token) and the chair in the room, their queues emptied."""
    clients = {
        "chair": connect(app, "chair"),
        "alice": connect(app, "alice"),
        "bob": connect(app, "bob", via="token"),
    }
    for client in clients.values():
        assert ack(client, "room:join", {"consultation_id": room})["ok"]
    for client in clients.values():
        client.get_received()
    return clients


def test_events_after_the_connect_do_not_open_the_session_cookie_again(
    app, room, people, monkeypatch
):
    """Flask-SocketIO keeps the connection's copy of the session; an event does not verify
    and decode the cookie again only for that copy to replace it."""
    opened = []
    cookie_session = SecureCookieSessionInterface.open_session

    def counted(self, flask_app, request):
        opened.append(request.environ.get("PATH_INFO"))
        return cookie_session(self, flask_app, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counted)
    alice = people["alice"]  # signed in with the session cookie
    for n in range(3):
        answer = send(alice, room, f"hello {n}", f"session-{n}")
        assert answer["ok"] and answer["message"]["author"]["username"] == "alice", answer
    assert opened == []
    carol = connect(app, "carol")  # signing in and connecting still read the cookie
    assert len(opened) >= 2
    assert ack(carol, "room:join", {"consultation_id": room})["ok"]


def make_consultation(actor_name, access="open", to=("announced", "live"), title="Bike shed"):
    from consult.accounts.service import find_user
    from consult.communities.service import get_community
    from consult.consultations import service

    chair = find_user(actor_name)
    consultation = service.create_consultation(
        chair, get_community("demo"), title=title, access=access
    )
    for status in to:
        service.transition(chair, consultation, status)
    return consultation.id


# --- connecting and joining ---------------------------------------------------------------


def test_unauthenticated_connection_is_refused(app, demo):
    fresh()
    anonymous = socketio.test_client(app)
    assert not anonymous.is_connected()
    fresh()
    bad_token = socketio.test_client(app, auth={"token": "not-a-token"})
    assert not bad_token.is_connected()


def test_join_answers_history_participants_presence_and_floor(app, room):
    alice = connect(app, "alice")
    answer = ack(alice, "room:join", {"consultation_id": room})
    assert answer["ok"] is True
    assert answer["consultation"]["id"] == room
    assert answer["me"] == {
        **answer["me"],
        "username": "alice",
        "role": "voter",
        "can_post": True,
        "muted": False,
        "can_moderate": False,
    }
    roles = {p["username"]: p["role"] for p in answer["participants"]}
    assert roles["chair"] == "chair" and roles["bob"] == "voter"
    assert [p["username"] for p in answer["presence"]["online"]] == ["alice"]
    assert answer["presence"]["hands"] == []
    assert answer["floor"]["mode"] == "open" and answer["floor"]["holder"] is None
    keys = [m["system"]["key"] for m in answer["messages"] if m["kind"] == "system"]
    assert "status_live" in keys and "joined" in keys
    seqs = [m["id"] for m in answer["messages"]]
    assert seqs == sorted(seqs) and seqs == list(range(1, len(seqs) + 1))


def test_join_with_last_seen_id_gets_exactly_the_later_messages(app, room, people):
    for n in range(4):
        assert send(people["alice"], room, f"m{n}", f"c{n}")["ok"]
    history = ack(people["bob"], "room:join", {"consultation_id": room})["messages"]
    bodies = [m["body"] for m in history if m["kind"] == "message"]
    assert bodies == ["m0", "m1", "m2", "m3"]
    second = next(m for m in history if m["body"] == "m1")
    later = ack(people["bob"], "room:join", {"consultation_id": room, "last_seen_id": second["id"]})
    assert [m["body"] for m in later["messages"]] == ["m2", "m3"]
    last = history[-1]["id"]
    assert (
        ack(people["bob"], "room:join", {"consultation_id": room, "last_seen_id": last})["messages"]
        == []
    )


def test_join_refusals(app, room, make_user):
    alice = connect(app, "alice")
    assert (
        error_code(ack(alice, "room:join", {"consultation_id": 987654})) == "consultation_not_found"
    )
    assert error_code(ack(alice, "room:join", "not an object")) == "bad_payload"
    assert error_code(ack(alice, "room:join", {})) == "invalid_field"
    assert error_code(ack(alice, "room:join", {"consultation_id": {"x": 1}})) == "invalid_type"
    assert error_code(ack(alice, "room:join", {"consultation_id": "seven"})) == "invalid_field"
    assert (
        error_code(ack(alice, "room:join", {"consultation_id": room, "last_seen_id": -1}))
        == "invalid_field"
    )
    invited = make_consultation("chair", access="invited")
    assert error_code(ack(alice, "room:join", {"consultation_id": invited})) == "not_participant"
    announced = make_consultation("chair", to=("announced",))
    assert error_code(ack(alice, "room:join", {"consultation_id": announced})) == "room_not_open"
    draft = make_consultation("chair", to=())
    assert error_code(ack(alice, "room:join", {"consultation_id": draft})) == (
        "consultation_not_found"
    )
    make_user("mallory", password="password-123")
    http = app.test_client()
    http.post("/login", data={"username": "mallory", "password": "password-123"})
    fresh()
    outsider = socketio.test_client(app, flask_test_client=http)
    assert error_code(ack(outsider, "room:join", {"consultation_id": room})) == "not_participant"
    # The refused joins put nobody in the room.
    alice.get_received()
    outsider.get_received()
    bob = connect(app, "bob")
    assert send(bob, room, "still here", "b1")["ok"]
    assert events(outsider, "message:new") == []
    assert events(alice, "message:new") == []  # alice never joined successfully


def test_open_consultation_member_joins_as_voter(app, room, make_user):
    from consult.communities.service import get_community

    make_user("newbie", password="password-123", community=get_community("demo"))
    http = app.test_client()
    http.post("/login", data={"username": "newbie", "password": "password-123"})
    fresh()
    newbie = socketio.test_client(app, flask_test_client=http)
    answer = ack(newbie, "room:join", {"consultation_id": room})
    assert answer["ok"] and answer["me"]["role"] == "voter"


def test_presence_follows_join_leave_and_disconnect(app, room, people):
    # alice's list starts as her room:join answer gave it; each ``presence`` announcement
    # says only who came or went (never the whole room) and how many are here.
    here = {"chair", "alice", "bob"}

    def follow(expected_count):
        heard = events(people["alice"], "presence")
        assert heard, "no presence announcement"
        for change in heard:
            assert "online" not in change
            here.update(p["username"] for p in change["arrived"])
            here.difference_update(change["left"])
        assert heard[-1]["online_count"] == expected_count == len(here)

    carol = connect(app, "carol")
    ack(carol, "room:join", {"consultation_id": room})
    follow(4)
    assert here == {"chair", "alice", "bob", "carol"}
    assert ack(carol, "room:leave", {"consultation_id": room}) == {"ok": True}
    follow(3)
    assert "carol" not in here
    fresh()
    people["bob"].disconnect()
    follow(2)
    assert here == {"chair", "alice"}
    open_visits = db.session.scalar(
        sa.select(sa.func.count()).select_from(RoomVisit).where(RoomVisit.left_at.is_(None))
    )
    assert open_visits == 2
    # carol left the Socket.IO room too: she no longer hears it.
    carol.get_received()
    send(people["alice"], room, "after carol left", "a-left")
    assert events(carol, "message:new") == []


# --- messages -----------------------------------------------------------------------------


def test_send_reaches_the_room_and_a_resend_is_stored_once(app, room, people):
    before = message_count(room)
    answer = send(people["alice"], room, "Hello *neighbours* <script>x()</script>", "c-1")
    assert answer["ok"] is True and answer["duplicate"] is False
    message = answer["message"]
    assert message["body"] == "Hello *neighbours* <script>x()</script>"
    assert "<em>neighbours</em>" in message["html"] and "<script" not in message["html"]
    assert message["author"] == {
        "username": "alice",
        "display_name": "王爱丽 Alice",
        "role": "voter",
    }
    heard = events(people["bob"], "message:new")
    assert [m["id"] for m in heard] == [message["id"]] and heard[0]["client_id"] == "c-1"
    again = send(people["alice"], room, "Hello *neighbours* <script>x()</script>", "c-1")
    assert again["ok"] is True and again["duplicate"] is True
    assert again["message"]["id"] == message["id"]
    assert message_count(room) == before + 1
    assert events(people["bob"], "message:new") == []  # nothing new announced
    # The same client id from another person is another message.
    assert send(people["bob"], room, "mine", "c-1")["message"]["id"] == message["id"] + 1


def test_send_refusals(app, room, people):
    alice, bob = people["alice"], people["bob"]
    before = message_count(room)
    too_long = "字" * (app.config["ROOM_MESSAGE_MAX_LENGTH"] + 1)
    assert error_code(send(alice, room, too_long, "x1")) == "message_too_long"
    assert send(alice, room, "字" * app.config["ROOM_MESSAGE_MAX_LENGTH"], "x2")["ok"]
    assert error_code(send(alice, room, "   \n ", "x3")) == "empty_message"
    assert error_code(ack(alice, "message:send", {"consultation_id": room, "client_id": "x4"})) == (
        "empty_message"
    )
    assert error_code(send(alice, room, 42, "x5")) == "invalid_type"
    assert error_code(ack(alice, "message:send", {"consultation_id": room, "body": "hi"})) == (
        "invalid_field"
    )
    assert error_code(send(alice, room, "hi", "bad id with spaces")) == "invalid_field"
    assert error_code(ack(alice, "message:send", ["hi"])) == "bad_payload"
    assert error_code(send(alice, 99999, "hi", "x6")) == "consultation_not_found"
    assert error_code(send(alice, room, "nul\x00", "x7")) == "invalid_text"
    assert message_count(room) == before + 1
    assert [m["body"][:1] for m in events(bob, "message:new")] == ["字"]


def test_rate_limit_per_user(app, room, people):
    app.config["ROOM_RATE_LIMIT_COUNT"] = 3
    alice = people["alice"]
    for n in range(3):
        assert send(alice, room, f"quick {n}", f"q{n}")["ok"]
    assert error_code(send(alice, room, "one too many", "q3")) == "rate_limited"
    # A resend of a stored message is answered, not counted.
    assert send(alice, room, "quick 0", "q0")["duplicate"] is True
    # Others are not limited by alice's pace.
    assert send(people["bob"], room, "my turn", "b0")["ok"]
    bodies = [m["body"] for m in events(people["chair"], "message:new")]
    assert bodies == ["quick 0", "quick 1", "quick 2", "my turn"]


def test_closed_room_is_read_only(app, room, people):
    assert ack(people["chair"], "room:join", {"consultation_id": room})["ok"]
    from consult.accounts.service import find_user
    from consult.consultations import service as consultations

    consultations.transition(find_user("chair"), consultations.get_consultation(room), "closed")
    db.session.remove()
    assert error_code(send(people["alice"], room, "too late", "late")) == "room_closed"
    assert (
        error_code(ack(people["alice"], "hand:raise", {"consultation_id": room})) == "room_closed"
    )
    answer = ack(people["bob"], "room:join", {"consultation_id": room})
    assert answer["ok"] and answer["me"]["can_post"] is False
    assert answer["consultation"]["status"] == "closed"
    assert answer["messages"][-1]["system"]["key"] == "status_closed"


def test_observer_cannot_post(app, room):
    from consult.accounts.service import find_user
    from consult.consultations import service as consultations

    consultations.set_participant(
        find_user("chair"), consultations.get_consultation(room), "dave", "observer"
    )
    dave = connect(app, "dave")
    answer = ack(dave, "room:join", {"consultation_id": room})
    assert answer["ok"] and answer["me"]["can_post"] is False
    assert error_code(send(dave, room, "hello", "d1")) == "cannot_speak"


# --- moderation ---------------------------------------------------------------------------


def test_hide_message_with_reason(app, room, people):
    message = send(people["alice"], room, "rude words", "h1")["message"]
    for client in people.values():
        client.get_received()
    payload = {"consultation_id": room, "message_id": message["id"], "reason": "Personal attack"}
    assert error_code(ack(people["alice"], "message:hide", payload)) == "not_chair"
    no_reason = {**payload, "reason": "  "}
    assert error_code(ack(people["chair"], "message:hide", no_reason)) == "reason_required"
    missing = {**payload, "message_id": 9999}
    assert error_code(ack(people["chair"], "message:hide", missing)) == "message_not_found"
    answer = ack(people["chair"], "message:hide", payload)
    assert answer["ok"] and answer["message"]["hidden"] is True
    assert answer["message"]["hidden_reason"] == "Personal attack"
    hidden = events(people["bob"], "message:hidden")
    assert len(hidden) == 1
    assert hidden[0]["message"]["id"] == message["id"]
    assert hidden[0]["message"]["body"] is None  # the room is not sent the text again
    assert hidden[0]["message"]["hidden_by"]["username"] == "chair"
    assert error_code(ack(people["chair"], "message:hide", payload)) == "already_hidden"
    # Later readers: residents see the mark, the chair also the text.
    bob_view = ack(people["bob"], "room:join", {"consultation_id": room})["messages"]
    chair_view = ack(people["chair"], "room:join", {"consultation_id": room})["messages"]
    bob_line = next(m for m in bob_view if m["id"] == message["id"])
    chair_line = next(m for m in chair_view if m["id"] == message["id"])
    assert bob_line["hidden"] and bob_line["body"] is None and bob_line["html"] == ""
    assert chair_line["hidden"] and chair_line["body"] == "rude words"
    system = next(m for m in bob_view if m["kind"] == "system")
    assert (
        error_code(ack(people["chair"], "message:hide", {**payload, "message_id": system["id"]}))
        == "not_hideable"
    )


def test_mute_and_unmute(app, room, people):
    chair, alice, bob = people["chair"], people["alice"], people["bob"]
    target = {"consultation_id": room, "username": "alice"}
    assert error_code(ack(bob, "participant:mute", target)) == "not_chair"
    unknown = {"consultation_id": room, "username": "nobody"}
    assert error_code(ack(chair, "participant:mute", unknown)) == "user_not_found"
    assert (
        error_code(ack(chair, "participant:mute", {"consultation_id": room, "username": "chair"}))
        == "cannot_mute_chair"
    )
    answer = ack(chair, "participant:mute", target)
    assert answer == {
        "ok": True,
        "participant": {
            "consultation_id": room,
            "username": "alice",
            "display_name": "王爱丽 Alice",
            "muted": True,
        },
    }
    assert events(bob, "participant:muted")[0]["muted"] is True
    assert error_code(send(alice, room, "let me speak", "m1")) == "muted"
    assert error_code(ack(alice, "hand:raise", {"consultation_id": room})) == "muted"
    assert ack(alice, "room:join", {"consultation_id": room})["me"]["muted"] is True
    assert send(bob, room, "bob still speaks", "b1")["ok"]
    assert ack(chair, "participant:unmute", target)["participant"]["muted"] is False
    assert events(bob, "participant:muted")[-1] == {
        "consultation_id": room,
        "username": "alice",
        "display_name": "王爱丽 Alice",
        "muted": False,
    }
    assert send(alice, room, "thank you", "m2")["ok"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RoomMute)) == 0


def test_floor_mode_hands_and_giving_the_floor(app, room, people):
    chair, alice, bob = people["chair"], people["alice"], people["bob"]
    mode = {"consultation_id": room, "mode": "moderated"}
    assert error_code(ack(alice, "floor:mode", mode)) == "not_chair"
    assert error_code(ack(chair, "floor:mode", {**mode, "mode": "chaos"})) == "invalid_field"
    answer = ack(chair, "floor:mode", mode)
    assert answer["ok"] and answer["floor"]["mode"] == "moderated"
    assert events(alice, "floor:updated")[-1]["mode"] == "moderated"
    assert error_code(send(alice, room, "may I?", "a1")) == "floor_not_held"
    assert send(chair, room, "The chair speaks.", "c1")["ok"]

    assert error_code(ack(chair, "floor:give", {"consultation_id": room})) == "no_raised_hands"
    assert ack(bob, "hand:raise", {"consultation_id": room})["ok"]
    presence = ack(alice, "hand:raise", {"consultation_id": room})["presence"]
    assert [h["username"] for h in presence["hands"]] == ["bob", "alice"]
    assert [h["username"] for h in events(chair, "presence")[-1]["hands"]] == ["bob", "alice"]
    # Raising twice keeps one place in the queue.
    ack(bob, "hand:raise", {"consultation_id": room})
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(HandRaise).where(HandRaise.lowered_at.is_(None))
        )
        == 2
    )
    assert error_code(ack(alice, "floor:give", {"consultation_id": room})) == "not_chair"
    bad = {"consultation_id": room, "seconds": 5}
    assert error_code(ack(chair, "floor:give", bad)) == "invalid_seconds"
    assert error_code(ack(chair, "floor:give", {**bad, "seconds": "soon"})) == "invalid_field"
    answer = ack(chair, "floor:give", {"consultation_id": room, "seconds": 120})
    floor = answer["floor"]
    assert floor["holder"]["username"] == "bob"
    assert 118 <= floor["seconds_left"] <= 120 and floor["until"]
    heard = alice.get_received()
    updated = [p["args"][0] for p in heard if p["name"] == "floor:updated"][-1]
    assert updated["holder"]["username"] == "bob"
    presence = [p["args"][0] for p in heard if p["name"] == "presence"][-1]
    assert [h["username"] for h in presence["hands"]] == ["alice"]
    assert send(bob, room, "Thank you, chair.", "b1")["ok"]
    assert error_code(send(alice, room, "me too", "a2")) == "floor_not_held"

    taken = ack(chair, "floor:take", {"consultation_id": room})
    assert taken["ok"] and taken["floor"]["holder"] is None
    assert events(alice, "floor:updated")[-1]["holder"] is None
    assert error_code(send(bob, room, "one more thing", "b2")) == "floor_not_held"
    assert error_code(ack(alice, "floor:take", {"consultation_id": room})) == "not_chair"

    by_name = ack(chair, "floor:give", {"consultation_id": room, "username": "alice"})
    assert by_name["floor"]["holder"]["username"] == "alice" and by_name["floor"]["until"] is None
    assert send(alice, room, "finally", "a3")["ok"]
    lowered = ack(alice, "hand:lower", {"consultation_id": room})
    assert lowered["ok"] and lowered["presence"]["hands"] == []
    assert ack(chair, "floor:mode", {**mode, "mode": "open"})["floor"]["mode"] == "open"
    assert send(bob, room, "open again", "b3")["ok"]
    keys = [
        m["system"]["key"]
        for m in ack(bob, "room:join", {"consultation_id": room})["messages"]
        if m["kind"] == "system"
    ]
    for key in ("floor_moderated", "floor_given_timed", "floor_taken", "floor_given", "floor_open"):
        assert key in keys


def test_speaking_time_runs_out(app, room, people):
    from consult.core.time import utcnow
    from consult.room.models import RoomState

    chair, bob = people["chair"], people["bob"]
    ack(chair, "floor:mode", {"consultation_id": room, "mode": "moderated"})
    ack(chair, "floor:give", {"consultation_id": room, "username": "bob", "seconds": 60})
    assert send(bob, room, "quickly", "b1")["ok"]
    state = db.session.get(RoomState, room)
    state.floor_until = utcnow()
    db.session.commit()
    answer = send(bob, room, "and another thing", "b2")
    assert error_code(answer) == "floor_not_held"
    # bob is told his time is over, not to raise his hand like someone without the floor.
    others = send(people["alice"], room, "me?", "a1")
    assert error_code(others) == "floor_not_held"
    assert answer["error"]["message"] != others["error"]["message"]


def test_record_minority_opinion(app, room, people):
    from consult.accounts.service import find_user
    from consult.consultations import service as consultations

    chair, alice, bob = people["chair"], people["alice"], people["bob"]
    message = send(alice, room, "I disagree: keep the lot green.", "o1")["message"]
    record = {"consultation_id": room, "message_id": message["id"], "motion_id": 7}
    assert error_code(ack(bob, "minority:record", record)) == "not_chair"
    assert error_code(ack(chair, "minority:record", {"consultation_id": room})) == "text_required"
    assert (
        error_code(ack(chair, "minority:record", {**record, "message_id": 4242}))
        == "message_not_found"
    )
    answer = ack(chair, "minority:record", record)
    assert answer["ok"]
    assert answer["opinion"] == {
        **answer["opinion"],
        "text": "I disagree: keep the lot green.",
        "author": "alice",
        "source": "floor",
        "message_id": message["id"],
        "motion_id": 7,
        "recorded_by": "chair",
    }
    assert events(bob, "minority:recorded")[0]["opinion"]["author"] == "alice"
    assert error_code(ack(chair, "minority:record", record)) == "already_recorded"
    # The secretary may record a note from the hall.
    consultations.set_participant(
        find_user("chair"), consultations.get_consultation(room), "carol", "secretary"
    )
    carol = connect(app, "carol")
    note = {"consultation_id": room, "text": "Dave fears for the parking.", "username": "dave"}
    answer = ack(carol, "minority:record", note)
    assert answer["ok"] and answer["opinion"]["author"] == "dave"
    assert answer["opinion"]["message_id"] is None
    assert (
        error_code(ack(carol, "minority:record", {**note, "username": "nobody"}))
        == "user_not_found"
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FloorOpinion)) == 2


def test_every_event_needs_a_consultation_and_a_right(app, room, make_user):
    """Each event refuses an unknown room and a malformed payload with its code."""
    from consult.core.sockets import EVENTS

    room_events = sorted(
        e
        for e in EVENTS
        if e.split(":")[0] in {"room", "message", "participant", "floor", "hand", "minority"}
    )
    assert set(room_events) >= {
        "room:join",
        "room:leave",
        "message:send",
        "message:hide",
        "participant:mute",
        "participant:unmute",
        "floor:mode",
        "hand:raise",
        "hand:lower",
        "floor:give",
        "floor:take",
        "minority:record",
    }
    alice = connect(app, "alice")
    make_user("mallory", password="password-123")
    http = app.test_client()
    http.post("/login", data={"username": "mallory", "password": "password-123"})
    fresh()
    outsider = socketio.test_client(app, flask_test_client=http)
    full = {
        "consultation_id": 99999, "body": "x", "client_id": "z", "message_id": 1,
        "reason": "r", "username": "bob", "mode": "open", "text": "t",
    }  # fmt: skip
    for event in room_events:
        assert error_code(ack(alice, event, 17)) == "bad_payload", event
        assert error_code(ack(alice, event, {})) == "invalid_field", event
        assert error_code(ack(alice, event, full)) == "consultation_not_found", event
        code = error_code(ack(outsider, event, {**full, "consultation_id": room}))
        assert code in {"not_participant", "not_chair"}, (event, code)


def test_system_lines_for_other_features_announcements(app, room, people):
    from consult.core import notify

    target = notify.room_name(room)
    notify.announce(
        "vote:opened", {"consultation_id": room, "id": 3, "title": "Shed or square?"}, target
    )
    notify.announce(
        "vote:opened", {"consultation_id": room, "id": 3, "title": "Shed or square?"}, target
    )
    notify.announce("vote:closed", {"consultation_id": room, "id": 3, "result": "adopted"}, target)
    notify.announce(
        "motion:updated",
        {"consultation_id": room, "id": 5, "title": "Build a shed", "state": "draft"},
        target,
    )
    notify.announce(
        "motion:updated",
        {"consultation_id": room, "id": 5, "title": "Build a shed", "state": "seconded"},
        target,
    )
    lines = [m for m in events(people["alice"], "message:new") if m["kind"] == "system"]
    assert [m["system"]["key"] for m in lines] == ["vote_opened", "vote_closed", "motion_seconded"]
    assert lines[0]["text"] in (
        "Voting has opened: Shed or square?.",
        "表决开始：Shed or square?。",
    ) or ("Shed or square?" in lines[0]["text"])
    assert lines[1]["system"]["params"]["result"] == "adopted"
    seqs = [m["id"] for m in lines]
    assert seqs == sorted(seqs)


def test_a_burst_of_joins_is_told_once(app, room, people, make_user):
    """Seven newcomers within the coalescing window: the room hears one "joined" line and
    one presence announcement for all of them, not seven of each."""
    import time

    from consult.communities.service import get_community

    app.config["ROOM_PRESENCE_COALESCE_SECONDS"] = 1.5
    names = [f"neighbour{n}" for n in range(7)]
    for name in names:
        make_user(name, password="password-123", community=get_community("demo"))
    newcomers = []
    for name in names:
        http = app.test_client()
        http.post("/login", data={"username": name, "password": "password-123"})
        fresh()
        client = socketio.test_client(app, flask_test_client=http)
        assert ack(client, "room:join", {"consultation_id": room})["ok"]
        newcomers.append(client)
    # The last one leaves again at once: she is still a newcomer the others must know of.
    assert ack(newcomers[-1], "room:leave", {"consultation_id": room}) == {"ok": True}
    time.sleep(2.5)
    heard = people["alice"].get_received()
    lines = [
        p["args"][0]
        for p in heard
        if p["name"] == "message:new" and p["args"][0]["kind"] == "system"
    ]
    assert [line["system"]["key"] for line in lines] == ["joined_many"]
    params = lines[0]["system"]["params"]
    assert params == {"names": ", ".join(f"Neighbour{n}" for n in range(5)), "count": "2"}
    assert "Neighbour4" in lines[0]["text"] and "2" in lines[0]["text"]
    presence = [p["args"][0] for p in heard if p["name"] == "presence"]
    assert len(presence) == 1
    assert {p["username"] for p in presence[0]["arrived"]} == set(names[:-1])
    assert presence[0]["left"] == [names[-1]]
    assert [(p["username"], p["role"]) for p in presence[0]["newcomers"]] == [
        (name, "voter") for name in names
    ]
    assert presence[0]["online_count"] == 3 + len(names) - 1
    stored = db.session.scalars(
        sa.select(Message).where(Message.consultation_id == room, Message.kind == "system")
    ).all()
    assert [m.meta["key"] for m in stored].count("joined_many") == 1


def test_joiners_share_the_room_lists_until_the_room_hears_a_change(app, room, people):
    """With the lists reused (as in production), a joiner still sees themselves here, and
    someone who left is not shown to the next joiner once the room was told."""
    import time

    app.config["ROOM_LIST_CACHE_SECONDS"] = 60
    app.config["ROOM_PRESENCE_COALESCE_SECONDS"] = 0.2

    def join(name):
        client = connect(app, name)
        answer = ack(client, "room:join", {"consultation_id": room})
        listed = {p["username"]: p for p in answer["participants"]}
        return client, {p["username"] for p in answer["presence"]["online"]}, listed

    carol, online, _ = join("carol")
    assert online == {"chair", "alice", "bob", "carol"}
    _, online, listed = join("dave")
    assert online == {"chair", "alice", "bob", "carol", "dave"}
    assert listed["dave"]["online"] is True
    assert ack(carol, "room:leave", {"consultation_id": room}) == {"ok": True}
    time.sleep(1)  # the room is told that carol left
    _, online, listed = join("erin")
    assert online == {"chair", "alice", "bob", "dave", "erin"}
    assert listed["carol"]["online"] is False


def test_events_wait_their_turn_at_the_database_and_are_told_when_none_comes(
    app, room, people, monkeypatch
):
    """As many events run at once as the pool has connections; one that gets no turn in
    time is answered ``server_busy`` and writes nothing, and a connection is refused so."""
    from consult.core import database

    turns = app.extensions[database._TURNS]
    monkeypatch.setattr(database, "TURN_WAIT_SECONDS", 0.05)
    token = (
        app.test_client()
        .post("/api/v1/token", json={"username": "bob", "password": "yiting-demo"})
        .get_json()["token"]
    )
    taken = 0
    while turns.acquire(blocking=False):  # every turn busy elsewhere
        taken += 1
    assert taken == 10  # the pool (10 connections kept, 5 more under load) less 5 kept
    before = message_count(room)
    answer = send(people["alice"], room, "while the server is busy", "busy-1")
    assert error_code(answer) == "server_busy"
    assert message_count(room) == before
    fresh()
    assert not socketio.test_client(app, auth={"token": token}).is_connected()
    for _ in range(taken):
        turns.release()
    assert send(people["alice"], room, "and now it is not", "busy-2")["ok"] is True
    fresh()
    assert socketio.test_client(app, auth={"token": token}).is_connected()
    assert message_count(room) == before + 1


def test_a_turn_asked_for_inside_a_turn_is_part_of_it(app, monkeypatch):
    """A disconnect handled inside an event (its emit found a connection gone quiet) asks for
    a turn inside the event's: with every turn held, waiting for another would stall it."""
    import threading

    from consult.core import database

    turns = threading.BoundedSemaphore(1)
    monkeypatch.setitem(app.extensions, database._TURNS, turns)
    monkeypatch.setattr(database, "TURN_WAIT_SECONDS", 0.2)
    inside = []
    with database.database_turn():
        with database.database_turn():
            inside.append("the disconnect")
        assert not turns.acquire(blocking=False)  # the event still holds the one turn
    assert inside == ["the disconnect"]
    assert turns.acquire(blocking=False)  # given back once


#: In a server process of the given mode: a green thread made ready while an event holds its
#: turn at the database, and the order in which it and the event's going on run.
TURN_GIVEN_BACK = (
    "import app; from consult.core.database import database_turn; order = []\n"
    "with app.app.app_context():\n"
    "    with database_turn():\n"
    "        app.socketio.start_background_task(order.append, 'the others')\n"
    "    order.append('the event')\n"
    "app.socketio.sleep(0.1); print(', '.join(order))"
)


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_an_event_goes_on_at_once_when_it_gives_back_its_turn(tmp_path, mode):
    """Giving back a turn at the database lets no other green thread run first: the event
    returns its connection and answers before the room's broadcast is written, not after."""
    order = fresh_python(TURN_GIVEN_BACK, tmp_path, SOCKETIO_ASYNC_MODE=mode)
    assert order.strip() == "the event, the others"


def test_events_leave_no_request_context_for_the_cycle_collector(app, room):
    """Each event runs in a request context made from the socket's path, which no page
    matches. What the event built (the context, the user, the answer) is freed as the event
    ends, not left in a reference cycle for a full collection: under load those collections
    stopped the whole server."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        client = connect(app, "alice", via="token")
        assert ack(client, "room:join", {"consultation_id": room})["ok"]
        for n in range(3):
            assert send(client, room, f"hello {n}", f"garbage-{n}")["ok"]
        fresh()
        client.disconnect()
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, RequestContext)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def _reads_of_the_user(statements):
    return [s for s in statements if re.search(r'\bFROM "?user"?(\s|$)', s)]


def test_a_room_event_reads_its_user_with_the_consultation_in_one_statement(app, room):
    """The user the connection signed in as, the event's consultation and the user's place
    in it are read by one statement: a room's event (here the chair's announcement) costs
    the database one round trip fewer."""
    client = connect(app, "chair", via="token")
    assert ack(client, "room:join", {"consultation_id": room})["ok"]
    db.session.remove()  # what the test has loaded is not the event's
    with statements_run() as statements:
        answer = ack(
            client,
            "message:send",
            {"consultation_id": room, "body": "read once", "client_id": "one-read-1",
             "announcement": True},
        )  # fmt: skip
    assert answer["ok"] is True, answer
    assert answer["message"]["author"]["username"] == "chair"
    (read,) = _reads_of_the_user(statements)
    for joined in ("consultation", "participant", "community", "membership"):
        assert f"JOIN {joined} " in read, read
    assert statements[0] == read


def test_a_message_is_checked_and_written_from_ids_without_loading_anyone(app, room, monkeypatch):
    """An ordinary message from a participant who may speak is checked and written from
    the session's user id and the room's id: one statement reads the author (their
    session's epoch checked), their role and the room, under the write lock; two write the
    message and the counter; nothing is loaded first and the usual way is not taken. The
    room and the author are told the same message. The payload, in the shape the room's page
    sends, is read without building its form."""
    from consult.room import events as room_events
    from consult.room import service as room_service
    from consult.room.models import RoomState

    alice, bob = connect(app, "alice", via="token"), connect(app, "bob", via="token")
    for client in (alice, bob):
        assert ack(client, "room:join", {"consultation_id": room})["ok"]
    assert send(alice, room, "the first, the usual way", "ids-0")["ok"]  # the room's row
    bob.get_received()
    before = db.session.get(RoomState, room).last_seq

    def usual_way(*args, **kwargs):
        raise AssertionError("the usual way was taken")

    def no_form(*args):
        raise AssertionError("the payload's form was built")

    monkeypatch.setattr(room_service, "post_message", usual_way)
    monkeypatch.setattr(room_events, "parse", no_form)
    db.session.remove()  # what the test has loaded is not the event's
    with statements_run() as statements:
        answer = send(alice, room, "from ids alone", "ids-1")
    assert answer["ok"] is True and answer["duplicate"] is False, answer
    message = answer["message"]
    assert message["author"] == {
        "username": "alice",
        "display_name": "王爱丽 Alice",
        "role": "voter",
    }
    assert (message["body"], message["id"], message["kind"]) == (
        "from ids alone",
        before + 1,
        "message",
    )
    assert events(bob, "message:new") == [message]

    (read,) = _reads_of_the_user(statements)
    assert "session_epoch" in read and "JOIN participant " in read and "JOIN room_state " in read
    assert [s.split(" (")[0] for s in statements if not s.startswith("SELECT")] == [
        "BEGIN IMMEDIATE",
        "INSERT INTO room_message",
        "UPDATE room_state SET last_seq=?, updated_at=? WHERE room_state.consultation_id = ?",
    ]
    db.session.remove()
    assert db.session.get(RoomState, room).last_seq == before + 1
    stored = db.session.scalar(sa.select(Message).where(Message.client_id == "ids-1"))
    assert (stored.seq, stored.body, stored.author.username) == (
        before + 1,
        "from ids alone",
        "alice",
    )


def test_a_message_the_ids_alone_do_not_allow_goes_the_usual_way(app, room, monkeypatch):
    """What the message's first statement does not surely allow is left to the usual way,
    which decides and tells why: a resend is answered with the stored message, a chair on a
    moderated floor speaks, a voter without the floor is refused."""
    from consult.room import service as room_service

    usual, post_message = [], room_service.post_message

    def counted(actor, consultation, body, *args, **kwargs):
        usual.append(body)
        return post_message(actor, consultation, body, *args, **kwargs)

    monkeypatch.setattr(room_service, "post_message", counted)
    chair, alice = connect(app, "chair", via="token"), connect(app, "alice", via="token")
    assert ack(alice, "room:join", {"consultation_id": room})["ok"]  # the room's row
    first = send(alice, room, "first", "usual-1")
    assert first["ok"] is True and usual == []
    again = send(alice, room, "first", "usual-1")
    assert again["duplicate"] is True and again["message"]["id"] == first["message"]["id"]
    assert ack(chair, "floor:mode", {"consultation_id": room, "mode": "moderated"})["ok"]
    assert send(chair, room, "the chair speaks", "usual-2")["ok"] is True
    assert error_code(send(alice, room, "may I?", "usual-3")) == "floor_not_held"
    assert usual == ["first", "the chair speaks", "may I?"]
    db.session.remove()
    bodies = db.session.scalars(
        sa.select(Message.body)
        .where(Message.consultation_id == room, Message.kind == "message")
        .order_by(Message.seq)
    ).all()
    assert bodies == ["first", "the chair speaks"]


#: Values of every JSON kind, and client ids and texts near what their checks allow.
PAYLOAD_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-1, max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from(["c-1", "a" * 64, "a" * 65, "a\n", "a b", "7", "hi\x00", "\ud800", " "])
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.just("k"), st.integers(), max_size=1)
)
PAYLOAD_KEYS = st.sampled_from(["consultation_id", "body", "client_id", "announcement", "other"])


def test_a_plain_payload_names_every_field_of_the_form(app):
    """What ``message:send`` reads without its form is a payload of the form's fields only."""
    from consult.room.events import _SEND_FIELDS
    from consult.room.forms import SendPayload

    with app.test_request_context():
        assert set(SendPayload(meta={"csrf": False})._fields) == _SEND_FIELDS


def _nested(depth: int):
    return 1 if depth == 0 else [_nested(depth - 1)]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(PAYLOAD_KEYS, PAYLOAD_VALUES, max_size=5)
    | st.dictionaries(PAYLOAD_KEYS, PAYLOAD_VALUES, max_size=2).map(
        lambda changed: {"consultation_id": 1, "body": "hi", "client_id": "c-1", **changed}
    )
)
@example({"consultation_id": 1, "body": "hi", "client_id": "c-1", "announcement": False})
@example({"consultation_id": 1, "body": "hi", "client_id": "c-1", "announcement": True})
@example({"consultation_id": 1, "body": "hi", "client_id": "c-1", "announcement": 0})
@example({"consultation_id": True, "body": "hi", "client_id": "c-1"})
@example({"consultation_id": "1", "body": "hi", "client_id": "c-1"})
@example({"consultation_id": 0, "body": "hi", "client_id": "c-1"})
@example({"consultation_id": 2**62 + 1, "body": "hi", "client_id": "c-1"})
@example({"consultation_id": 1, "body": "hi", "client_id": "c 1"})
@example({"consultation_id": 1, "body": "hi\x00", "client_id": "c-1"})
@example({"consultation_id": 1, "body": 5, "client_id": "c-1"})
@example({"consultation_id": 1, "body": "hi", "client_id": "c-1", "other": 1})
@example({"consultation_id": 1, "body": "hi", "client_id": "c-1", "other": _nested(9)})
def test_a_payload_read_without_its_form_is_read_as_the_form_reads_it(app, data):
    """``message:send`` reads a payload in the room page's shape without building its form.
    Whatever it reads so is what the form takes, with no announcement; or, where the form
    refuses the text itself, text the service refuses too (so that the usual way tells)."""
    from consult.core.payload import check_text, parse
    from consult.errors import Invalid
    from consult.room.events import _plain_send
    from consult.room.forms import SendPayload

    with app.test_request_context():
        plain = _plain_send(data)
        if plain is None:
            return
        room_id, body, client_id = plain
        try:
            form = parse(SendPayload, data)
        except Invalid as refused:
            assert refused.code == "invalid_text", (data, refused.code)
            with pytest.raises(Invalid):
                check_text(body)
            return
        read = (form.consultation_id.data, form.body.data or "", form.client_id.data)
        assert read == (room_id, check_text(body), client_id)
        assert form.announcement.data is False


def test_a_join_asks_nothing_again_that_its_first_statement_read(app, room):
    """A join's standing (may the joiner moderate? is the joiner a member?) is answered
    from the first statement: neither the community nor the membership is read again."""
    client = connect(app, "bob", via="token")
    db.session.remove()
    with statements_run() as statements:
        answer = ack(client, "room:join", {"consultation_id": room})
    assert answer["ok"] is True and answer["me"]["can_moderate"] is False, answer
    assert answer["me"]["role"] == "voter"
    # Up to the visit's row: the standing. (What follows, the room's news and lists, runs at
    # once in tests and in a task of its own on a server.)
    visit = next(n for n, s in enumerate(statements) if s.startswith("INSERT INTO room_visit"))
    for table in ("user", "consultation", "participant", "community", "membership"):
        again = [s for s in statements[1:visit] if re.search(rf'\bFROM "?{table}"?(\s|$)', s)]
        assert again == [], again


def test_a_room_event_from_a_session_ended_elsewhere_is_refused(app, room):
    """Reading the user beside the consultation does not skip the session's check: after
    "sign out everywhere" (the user's session epoch moved on) the open connection's next
    event is refused and writes nothing."""
    from consult.accounts.service import find_user

    client = connect(app, "alice")
    assert ack(client, "room:join", {"consultation_id": room})["ok"]
    before = message_count(room)
    find_user("alice").session_epoch += 1
    db.session.commit()
    assert error_code(send(client, room, "after sign-out", "ended-1")) == "unauthorized"
    assert message_count(room) == before


def _with_transaction(connection, statement) -> tuple:
    raw = connection.connection.driver_connection
    return " ".join(statement.split()), raw.autocommit, raw.info.transaction_status.name


def statements_and_transactions():
    """The statements sent inside the block, each with its connection's state as it was
    sent: ``(statement, autocommit, transaction status)``. A transaction status of ``IDLE``
    in autocommit means no ``BEGIN`` went before the statement."""
    return statements_run(_with_transaction)


def _room_on_postgresql(pg_app):
    from consult.consultations.models import Consultation
    from consult.room.models import RoomState

    cid = db.session.scalar(sa.select(Consultation.id))

    def counts():
        db.session.remove()
        return message_count(cid), db.session.get(RoomState, cid).last_seq

    return cid, counts


def test_a_message_on_postgresql_is_one_round_trip_in_autocommit(pg_app, monkeypatch):
    """On PostgreSQL ``message:send`` checks its author's standing (their session's epoch,
    their role in the room) and the room and writes the message in one statement,
    committing on its own: no ``BEGIN``, no ``COMMIT``. The connection goes back to the
    pool as it came: the next unit of work is a transaction."""
    cid, counts = _room_on_postgresql(pg_app)
    client = connect(pg_app, "alice", via="token")
    assert ack(client, "room:join", {"consultation_id": cid})["ok"]
    before = counts()
    db.session.remove()
    with statements_and_transactions() as run:
        answer = send(client, cid, "one round trip", "pg-auto-1")
    assert answer["ok"] is True and answer["message"]["body"] == "one round trip", answer
    assert answer["message"]["author"]["role"] == "voter"
    assert [(autocommit, status) for _, autocommit, status in run] == [(True, "IDLE")]
    assert run[0][0].startswith("WITH checks AS"), run[0][0]
    assert "session_epoch" in run[0][0] and 'FROM "user" JOIN participant' in run[0][0]
    assert counts() == (before[0] + 1, before[1] + 1)
    assert answer["message"]["id"] == before[1] + 1

    raw = db.session.connection().connection.driver_connection
    assert raw.autocommit is False
    db.session.execute(sa.text("SELECT 1"))
    assert raw.info.transaction_status.name == "INTRANS"

    # A connection checked after a pause (a ping first) serves the event the same way.
    from consult.core import database

    monkeypatch.setattr(database, "CHECK_AFTER_SECONDS", 0.0)
    db.session.remove()
    with statements_and_transactions() as run:
        answer = send(client, cid, "after a pause", "pg-auto-2")
    assert answer["ok"] is True, answer
    assert [(autocommit, status) for _, autocommit, status in run] == [(True, "IDLE")]
    assert run[0][0].startswith("WITH checks AS"), run
    assert counts() == (before[0] + 2, before[1] + 2)


def test_an_autocommit_connection_commits_each_statement_and_goes_back_as_it_came(pg_app):
    """``autocommit_connection`` (the way a message from ids writes on PostgreSQL): each
    statement commits on its own, seen by another connection while this one is still open;
    the pooled connection goes back to the pool with the pool's own setting; the engine's
    autocommitting copy is made once."""
    from consult.consultations.models import Consultation
    from consult.core.database import autocommit_connection

    cid, _ = _room_on_postgresql(pg_app)
    table = Consultation.__table__
    place = sa.select(table.c.place).where(table.c.id == cid)
    db.session.remove()
    with autocommit_connection() as connection:
        raw = connection.connection.driver_connection
        assert raw.autocommit is True
        connection.execute(sa.update(table).where(table.c.id == cid).values(place="议事厅"))
        assert raw.info.transaction_status.name == "IDLE"  # nothing left to commit
        with db.engine.connect() as other:
            assert other.connection.driver_connection is not raw
            assert other.scalar(place) == "议事厅"
    with db.engine.connect() as again:
        assert again.connection.driver_connection is raw  # the pool gives the last one back
        assert raw.autocommit is False
    with autocommit_connection() as first, autocommit_connection() as second:
        assert first.engine is second.engine and first.engine is not db.engine
        assert first.engine.pool is db.engine.pool


def test_refusals_in_autocommit_write_nothing_on_postgresql(pg_app):
    """Every refusal of ``message:send`` is told with its code and leaves the room's
    messages and counter as they were, with no transaction opened for it; a resend is
    answered with the stored message."""
    from consult.accounts.service import find_user
    from consult.consultations import service as consultations

    pg_app.config.update(ROOM_RATE_LIMIT_COUNT=2, ROOM_RATE_LIMIT_SECONDS=60)
    cid, counts = _room_on_postgresql(pg_app)
    chair, alice, bob = (connect(pg_app, name, via="token") for name in ("chair", "alice", "bob"))
    first = send(alice, cid, "first", "k1")
    assert first["ok"] is True, first
    before = counts()

    def refused(client, body, client_id) -> str:
        db.session.remove()  # the test's reads are not the event's
        with statements_and_transactions() as run:
            code = error_code(send(client, cid, body, client_id))
        assert {(autocommit, status) for _, autocommit, status in run} == {(True, "IDLE")}
        assert counts() == before
        return code

    # A body refused anyway is told after a resend and a closed room are ruled out, under
    # the room's lock, as on SQLite.
    assert error_code(send(alice, cid, "", "k2")) == "empty_message"
    assert counts() == before

    again = send(alice, cid, "first, edited?", "k1")
    assert again["duplicate"] is True and again["message"]["id"] == first["message"]["id"]
    assert counts() == before

    assert ack(chair, "floor:mode", {"consultation_id": cid, "mode": "moderated"})["ok"]
    before = counts()
    assert refused(bob, "may I?", "k3") == "floor_not_held"
    assert ack(chair, "floor:mode", {"consultation_id": cid, "mode": "open"})["ok"]
    assert ack(chair, "participant:mute", {"consultation_id": cid, "username": "bob"})["ok"]
    before = counts()
    assert refused(bob, "hello?", "k4") == "muted"
    assert send(alice, cid, "second", "k5")["ok"] is True
    before = counts()
    assert refused(alice, "third", "k6") == "rate_limited"
    db.session.remove()
    consultations.transition(find_user("chair"), consultations.get_consultation(cid), "closed")
    before = counts()
    assert refused(alice, "too late", "k7") == "room_closed"
    assert send(alice, cid, "second", "k5")["duplicate"] is True
    assert counts() == before


def test_a_members_first_message_joins_them_in_one_transaction_on_postgresql(pg_app):
    """A member of an open consultation who is not yet a participant takes part by posting:
    the participation and its audit entry are written in a transaction started for them
    (never a statement committed alone), and the audit chain still holds."""
    from consult import audit
    from consult.accounts.service import find_user
    from consult.consultations.models import Participant

    cid, counts = _room_on_postgresql(pg_app)
    dave = find_user("dave").id
    db.session.execute(
        sa.delete(Participant).where(
            Participant.consultation_id == cid, Participant.user_id == dave
        )
    )
    db.session.commit()
    client = connect(pg_app, "dave", via="token")
    before = counts()
    db.session.remove()  # the test's reads are not the event's
    with statements_and_transactions() as run:
        answer = send(client, cid, "my first words", "dave-1")
    assert answer["ok"] is True, answer
    writes = [(s.split(" (")[0], status) for s, _, status in run if s.startswith("INSERT")]
    assert ("INSERT INTO participant", "INTRANS") in writes, writes
    assert ("INSERT INTO audit_entry", "INTRANS") in writes, writes
    assert counts() == (before[0] + 1, before[1] + 1)
    db.session.remove()
    role = db.session.scalar(
        sa.select(Participant.role).where(
            Participant.consultation_id == cid, Participant.user_id == dave
        )
    )
    assert role == "voter"
    checked, broken = audit.verify()
    assert broken is None and checked > 0


def test_a_disconnect_handled_inside_another_request_leaves_that_requests_session(app, demo):
    """An emit to a client whose pings stopped closes its connection there and then, and
    Flask-SocketIO runs the disconnect handler inside the emitting request, sharing its
    application context. What that request has loaded stays in its session (opening a vote
    answered 500 when it was detached)."""
    from flask import request as flask_request

    from consult.accounts.models import User
    from consult.room.events import room_disconnect

    with app.test_request_context("/api/v1/motions/1/votes", method="POST"):
        session = db.session()
        chair = session.scalar(sa.select(User).where(User.username == "chair"))
        with app.test_request_context("/socket.io/"):
            flask_request.sid = "a-connection-that-went-quiet"
            room_disconnect("ping timeout")
        assert sa.inspect(chair).session is session is db.session()
        session.expire(chair)
        assert chair.username == "chair"  # read again through the same session
