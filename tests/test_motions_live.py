"""Votes over real connections: the app in a subprocess (as ``make run`` starts it), on SQLite
(eventlet and threading) and on PostgreSQL (where Debian's server is installed).

- 100 eligible voters cast at the same moment, with 20 duplicate submissions: exactly 100
  ballots, the duplicates answered clearly (``unchanged`` for an open ballot, 409
  ``already_voted`` for a secret one), and an exact tally.
- A vote with a deadline closes by itself while nobody makes any request: a listener in
  the room hears ``vote:closed``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio

from tests.conftest import LiveServer

pytestmark = pytest.mark.live

VOTERS = 100
DUPLICATES = 20
CHOICES = ("yes", "no", "abstain")


@pytest.fixture(scope="module", params=["eventlet", "threading", "postgresql"])
def server(request, tmp_path_factory):
    """One server per async mode (and one on PostgreSQL), shared by this module's tests."""
    folder = tmp_path_factory.mktemp(f"motions-{request.param}")
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres")
        url = postgres.create_database("motions_live")
        live = LiveServer(folder, "eventlet", {"DATABASE_URL": url})
    else:
        live = LiveServer(folder, request.param)
    live.prepare()
    live.start()
    yield live
    live.stop()


class Client:
    def __init__(self, server: LiveServer, token: str):
        self.url = server.url + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path, body=None):
        return self.session.post(self.url + path, json=body if body is not None else {}, timeout=60)

    def get(self, path):
        return self.session.get(self.url + path, timeout=60)


def consultation_id(server) -> int:
    found = requests.get(server.url + "/api/v1/communities/demo/consultations", timeout=10)
    return next(c["id"] for c in found.json()["consultations"] if c["status"] == "live")


def register_voters(server, chair: Client, cid: int) -> dict[str, str]:
    """Register the voters as the community's admin, invite them, and sign each in."""
    names = [f"voter{n:03d}" for n in range(VOTERS)]

    def register(name):
        created = chair.post(
            "/communities/demo/members",
            {"username": name, "display_name": f"Voter {name[5:]}", "password": "voter-pass-1"},
        )
        assert created.status_code == 201, created.text
        invited = chair.post(
            f"/consultations/{cid}/participants", {"username": name, "role": "voter"}
        )
        assert invited.status_code == 200, invited.text
        return name, server.token(name, "voter-pass-1")

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(register, names))


def seconded_motion(server, cid: int, title: str) -> int:
    alice, bob = Client(server, server.token("alice")), Client(server, server.token("bob"))
    motion = alice.post(f"/consultations/{cid}/motions", {"title": title, "text": "Build it."})
    assert motion.status_code == 201, motion.text
    motion_id = motion.json()["id"]
    assert alice.post(f"/motions/{motion_id}/submit").status_code == 200
    assert bob.post(f"/motions/{motion_id}/second").status_code == 200
    return motion_id


def cast_all_at_once(server, vote_id: int, tokens: dict[str, str]):
    """Every voter once, and the first DUPLICATES voters twice, released together."""
    plan = [(name, CHOICES[n % 3]) for n, name in enumerate(sorted(tokens))]
    plan += plan[:DUPLICATES]
    barrier = threading.Barrier(len(plan))
    sessions = [Client(server, tokens[name]) for name, _choice in plan]
    answers = [None] * len(plan)

    def cast(index):
        name, choice = plan[index]
        barrier.wait()
        response = sessions[index].post(f"/votes/{vote_id}/ballots", {"choice": choice})
        answers[index] = (name, response.status_code, response.json())

    threads = [threading.Thread(target=cast, args=(i,)) for i in range(len(plan))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(answer is not None for answer in answers)
    return plan, answers


def db_count(server, sql, *params):
    """Ask the server's database itself (SQLite file or PostgreSQL)."""
    url = server.env.get("DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            return cursor.fetchone()[0]
    with sqlite3.connect(server.data_dir / "yiting.db", timeout=30) as connection:
        return connection.execute(sql, params).fetchone()[0]


def expected_counts(tokens):
    counts = dict.fromkeys(CHOICES, 0)
    for n, _name in enumerate(sorted(tokens)):
        counts[CHOICES[n % 3]] += 1
    return counts


def test_hundred_voters_at_once(server):
    chair = Client(server, server.token("chair"))
    cid = consultation_id(server)
    tokens = register_voters(server, chair, cid)

    # an open ballot: the duplicates are idempotent ("unchanged")
    motion_id = seconded_motion(server, cid, "Open ballot under load")
    opened = chair.post(f"/motions/{motion_id}/votes", {"secret": False, "results": "live"})
    assert opened.status_code == 201, opened.text
    vote = opened.json()
    assert vote["eligible"] == VOTERS + 6  # the demo's five voters and the chair
    _plan, answers = cast_all_at_once(server, vote["id"], tokens)
    statuses = sorted((code, body.get("status")) for _n, code, body in answers)
    assert statuses.count((201, "recorded")) == VOTERS, statuses
    assert statuses.count((200, "unchanged")) == DUPLICATES, statuses
    assert db_count(server, "SELECT count(*) FROM ballot WHERE vote_id = ?", vote["id"]) == VOTERS
    assert (
        db_count(
            server, "SELECT count(DISTINCT voter_id) FROM ballot WHERE vote_id = ?", vote["id"]
        )
        == VOTERS
    )
    live = chair.get(f"/votes/{vote['id']}").json()
    assert live["ballots_cast"] == VOTERS and live["counts"] == expected_counts(tokens)
    closed = chair.post(f"/votes/{vote['id']}/close").json()
    assert closed["counts"] == expected_counts(tokens) and closed["ballots_cast"] == VOTERS

    # a secret ballot: the duplicates are refused with 409, nothing written twice
    motion_id = seconded_motion(server, cid, "Secret ballot under load")
    opened = chair.post(f"/motions/{motion_id}/votes", {"secret": True})
    assert opened.status_code == 201, opened.text
    vote = opened.json()
    plan, answers = cast_all_at_once(server, vote["id"], tokens)
    accepted = [(n, body) for n, code, body in answers if code == 201]
    refused = [(n, body) for n, code, body in answers if code == 409]
    assert len(accepted) == VOTERS and len(refused) == DUPLICATES
    assert all(body["error"]["code"] == "already_voted" for _n, body in refused)
    assert {n for n, _b in accepted} == set(tokens)
    assert (
        db_count(server, "SELECT count(*) FROM secret_ballot WHERE vote_id = ?", vote["id"])
        == VOTERS
    )
    assert (
        db_count(server, "SELECT count(*) FROM voter_mark WHERE vote_id = ?", vote["id"]) == VOTERS
    )
    result = chair.post(f"/votes/{vote['id']}/close").json()
    assert result["counts"] == expected_counts(tokens) and result["ballots_cast"] == VOTERS
    published = {r["receipt"]: r["choice"] for r in result["receipts"]}
    assert published == {body["receipt"]: body["choice"] for _n, body in accepted}


def test_deadline_closes_the_vote_with_nobody_asking(server):
    chair = Client(server, server.token("chair"))
    cid = consultation_id(server)
    motion_id = seconded_motion(server, cid, "Closes by itself")
    listener = socketio.Client(reconnection=False)
    heard = []
    done = threading.Event()

    @listener.on("vote:closed")
    def on_closed(payload):
        heard.append(payload)
        done.set()

    listener.connect(server.url, auth={"token": server.token("dave")}, transports=["websocket"])
    try:
        joined = listener.call("room:join", {"consultation_id": cid}, timeout=10)
        assert joined["ok"], joined
        from datetime import UTC, datetime, timedelta

        deadline = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        opened = chair.post(f"/motions/{motion_id}/votes", {"deadline": deadline})
        assert opened.status_code == 201, opened.text
        vote_id = opened.json()["id"]
        Client(server, server.token("alice")).post(f"/votes/{vote_id}/ballots", {"choice": "yes"})
        started = time.monotonic()
        assert done.wait(15), "the vote did not close at its deadline"
        assert time.monotonic() - started < 12
    finally:
        listener.disconnect()
    assert heard[0]["id"] == vote_id and heard[0]["closed_because"] == "deadline"
    assert heard[0]["result"] == "adopted" and heard[0]["counts"]["yes"] == 1
    assert (
        db_count(server, "SELECT count(*) FROM vote WHERE id = ? AND status = 'closed'", vote_id)
        == 1
    )
