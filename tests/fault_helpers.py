"""Helpers for the fault tests (tests/test_faults.py): a prepared data folder with a crowd of
voters, a room client that keeps the transcript the way the room page does, and small HTTP
and database readers."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import socketio

from tests.conftest import ROOT, LiveServer

ROOM = 1  # the demo's live consultation
CROWD_PASSWORD = "crowd-password-1"  # noqa: S105 — test accounts only
DEMO_PEOPLE = ("chair", "alice", "bob", "carol", "dave", "erin")

PREPARE = """
import json, sys
import sqlalchemy as sa
from consult import create_app
from consult.accounts import service as accounts
from consult.communities.models import Community, Membership
from consult.consultations import service as consultations
from consult.consultations.models import Consultation
from consult.extensions import db

crowd, password, people = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
app = create_app()
with app.app_context():
    # One password hash for the whole crowd: hashing it per account would take minutes.
    hashed = accounts.hash_password(password)
    accounts.hash_password = lambda _password: hashed
    community = db.session.scalar(sa.select(Community).where(Community.slug == "demo"))
    room = db.session.scalar(sa.select(Consultation).where(Consultation.status == "live"))
    room_id = room.id
    tokens = {}
    for n in range(crowd):
        user = accounts.create_user(f"crowd{n:03d}", f"Crowd {n:03d}", password)
        db.session.add(Membership(community_id=community.id, user_id=user.id, role="resident"))
        db.session.commit()
        room = db.session.get(Consultation, room_id)
        consultations.ensure_participant(user, room)  # an open consultation: a voter
        tokens[user.username] = accounts.issue_token(user, "fault test")
    for name in people:
        tokens[name] = accounts.issue_token(accounts.find_user(name), "fault test")
    db.engine.dispose()
print(json.dumps({"room": room_id, "tokens": tokens}))
"""


def crowd_names(count: int, start: int = 0) -> list[str]:
    return [f"crowd{n:03d}" for n in range(start, start + count)]


def prepare_folder(folder: Path, crowd: int, extra_env: dict | None = None) -> dict:
    """Schema, demo and ``crowd`` residents who take part as voters; returns their tokens."""
    server = LiveServer(folder, "threading", extra_env)
    server.prepare()
    done = subprocess.run(
        [sys.executable, "-c", PREPARE, str(crowd), CROWD_PASSWORD, ",".join(DEMO_PEOPLE)],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert answer["room"] == ROOM, answer
    return answer["tokens"]


def copy_folder(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for item in template.iterdir():
        if item.is_file() and item.suffix != ".log":
            shutil.copy(item, folder / item.name)
    return folder


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api(url: str, token: str, method: str, path: str, payload=None, timeout: float = 20):
    """An API call: ``(status, json)``."""
    response = requests.request(
        method, f"{url}/api/v1{path}", json=payload, headers=bearer(token), timeout=timeout
    )
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text[:500]}
    return response.status_code, body


def api_ok(url: str, token: str, method: str, path: str, payload=None) -> dict:
    status, body = api(url, token, method, path, payload)
    assert status < 400, (method, path, status, body)
    return body


def server_transcript(url: str, token: str, room: int = ROOM) -> list[dict]:
    """Every message of the room from the HTTP API, page by page, oldest first."""
    messages: list[dict] = []
    after = 0
    for _page in range(1000):
        body = api_ok(url, token, "GET", f"/consultations/{room}/messages?after={after}&limit=500")
        messages.extend(body["messages"])
        if not body["has_more"] or not body["messages"]:
            return messages
        after = body["last_seq"]
    raise AssertionError("the transcript did not end")


def sqlite_rows(path: Path, query: str, *args) -> list[tuple]:
    """Read the database file directly (read-only)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(query, args).fetchall()
    finally:
        connection.close()


def flask_command(server: LiveServer, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=server.env,  # in the server's own mode: app.py runs a command in threading
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_motion(url: str, chair: str, seconder: str, title: str) -> int:
    motion = api_ok(
        url, chair, "POST", f"/consultations/{ROOM}/motions", {"title": title, "text": title}
    )
    api_ok(url, chair, "POST", f"/motions/{motion['id']}/submit", {})
    state = api_ok(url, chair, "GET", f"/motions/{motion['id']}")["state"]
    if state == "submitted":
        api_ok(url, seconder, "POST", f"/motions/{motion['id']}/second", {})
    return motion["id"]


class RoomClient:
    """A python-socketio client in the room that keeps the transcript as the room page
    (static/js/room.js) does: messages by ``seq`` (``id``), one each, and ``last_seq`` = the
    highest number up to which nothing is missing — what it sends back as ``last_seen_id``.

    ``call`` returns the acknowledgement, or None when none came (the connection dropped or
    the time ran out): the client cannot know whether the server acted.
    """

    def __init__(self, url: str, token: str, name: str = "", room: int = ROOM, rejoin=False):
        self.url, self.token, self.name, self.room = url, token, name, room
        #: Like the room page: after a connection lost by no choice of ours, connect again
        #: and join with ``last_seen_id``. ``unexpected_drops`` counts those losses.
        self.rejoin = rejoin
        self.leaving = False
        self.unexpected_drops = 0
        self.lock = threading.Lock()
        self.seen: dict[int, dict] = {}
        self.deliveries: Counter = Counter()  # seq → how often it arrived (live or caught up)
        self.conflicts: list[tuple[dict, dict]] = []  # one seq, two different messages
        self.live_events: list[tuple[str, dict]] = []
        self.pending: set[threading.Event] = set()
        self.client: socketio.Client | None = None
        self.joins = 0
        self.refusals: list = []  # connect_error data

    # --- the connection ---------------------------------------------------------------

    def connect(self, timeout: float = 20) -> None:
        self.leaving = False
        # The pure-Python UTF-8 check of websocket-client costs more than everything else a
        # crowd of clients does in one process; JSON decoding still refuses bad text.
        client = socketio.Client(
            reconnection=False, websocket_extra_options={"skip_utf8_validation": True}
        )
        client.on("message:new", self._message)
        client.on("disconnect", self._gone)
        client.on("connect_error", self.refusals.append)
        for name in ("vote:opened", "vote:closed", "vote:tally"):
            client.on(name, self._event_collector(name))
        client.connect(
            self.url, auth={"token": self.token}, transports=["websocket"], wait_timeout=timeout
        )
        self.client = client

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def _gone(self, *_reason) -> None:
        with self.lock:
            for event in self.pending:
                event.set()
        if self.rejoin and not self.leaving:
            self.unexpected_drops += 1
            threading.Thread(target=self._recover, daemon=True).start()

    def _recover(self) -> None:
        for attempt in range(10):
            time.sleep(1 + attempt)
            if self.leaving:
                return
            try:
                self.connect(timeout=30)
                self.join(timeout=60)
                return
            except (AssertionError, socketio.exceptions.SocketIOError, OSError):
                self.close()
                self.leaving = False

    def _event_collector(self, name):
        def collect(data):
            with self.lock:
                self.live_events.append((name, data))

        return collect

    def call(self, event: str, data: dict, timeout: float = 20) -> dict | None:
        if not self.connected:
            return None
        done = threading.Event()
        box: dict = {}

        def answered(*args):
            box["ack"] = args[0] if args else None
            done.set()

        with self.lock:
            self.pending.add(done)
        try:
            self.client.emit(event, data, callback=answered)
            done.wait(timeout)
        except (socketio.exceptions.SocketIOError, OSError):
            return None
        finally:
            with self.lock:
                self.pending.discard(done)
        return box.get("ack")

    def close(self) -> None:
        self.leaving = True
        if self.client is not None and self.client.connected:
            try:
                self.client.disconnect()
            except Exception:  # noqa: BLE001 — a connection that is gone is closed
                pass

    def drop(self, abrupt: bool = False) -> None:
        """Lose the connection: a polite close, or the network going away (TCP shut down
        without a WebSocket close frame)."""
        self.leaving = True
        if abrupt and self.client is not None:
            ws = getattr(self.client.eio, "ws", None)
            sock = getattr(ws, "sock", None)
            if sock is not None:
                import socket

                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                deadline = time.monotonic() + 10
                while self.client.connected and time.monotonic() < deadline:
                    time.sleep(0.05)
        self.close()

    # --- the transcript ---------------------------------------------------------------

    def _message(self, message: dict) -> None:
        self.add(message)

    def add(self, message: dict) -> None:
        seq = message.get("seq")
        if not isinstance(seq, int):
            return
        with self.lock:
            self.deliveries[seq] += 1
            kept = self.seen.get(seq)
            if kept is None:
                self.seen[seq] = message
            elif (kept.get("uid"), kept.get("body"), kept.get("client_id")) != (
                message.get("uid"),
                message.get("body"),
                message.get("client_id"),
            ):
                self.conflicts.append((kept, message))

    @property
    def last_seq(self) -> int:
        with self.lock:
            last = 0
            while last + 1 in self.seen:
                last += 1
            return last

    def gaps(self) -> list[int]:
        with self.lock:
            top = max(self.seen, default=0)
            return [seq for seq in range(1, top + 1) if seq not in self.seen]

    def join(self, last_seen_id: int | None = None, catch_up: bool = True, timeout=30) -> dict:
        """``room:join``; with ``catch_up`` from ``last_seq`` (0 on the first join: everything)."""
        data = {"consultation_id": self.room}
        if catch_up:
            data["last_seen_id"] = self.last_seq if last_seen_id is None else last_seen_id
        answer = self.call("room:join", data, timeout=timeout)
        assert answer is not None and answer.get("ok"), (self.name, answer)
        self.joins += 1
        for message in answer["messages"]:
            self.add(message)
        if answer.get("has_more"):
            self.fill_gaps()
        return answer

    def fill_gaps(self) -> int:
        """What room.js does on a gap: fetch the messages after ``last_seq`` over HTTP."""
        fetched = 0
        after = self.last_seq
        for _page in range(1000):
            status, body = api(
                self.url, self.token, "GET", f"/consultations/{self.room}/messages"
                f"?after={after}&limit=500",
            )  # fmt: skip
            assert status == 200, (self.name, status, body)
            for message in body["messages"]:
                self.add(message)
            fetched += len(body["messages"])
            if not body["has_more"] or not body["messages"]:
                return fetched
            after = body["last_seq"]
        return fetched

    def send(self, body: str, client_id: str, timeout: float = 20) -> dict | None:
        answer = self.call(
            "message:send",
            {"consultation_id": self.room, "body": body, "client_id": client_id},
            timeout=timeout,
        )
        if answer and answer.get("ok"):
            self.add(answer["message"])
        return answer

    def transcript(self) -> list[tuple[int, int, str, str | None]]:
        with self.lock:
            return [
                (seq, m.get("uid"), m.get("body"), m.get("client_id"))
                for seq, m in sorted(self.seen.items())
            ]


def row(message: dict) -> tuple[int, int, str, str | None]:
    return (message["seq"], message.get("uid"), message.get("body"), message.get("client_id"))


def in_parallel(function, items, workers: int = 16, timeout: float = 120) -> list:
    """Run ``function(item)`` for each item on a few threads; results in order."""
    results: list = [None] * len(items)
    errors: list[BaseException] = []
    queue = list(enumerate(items))
    queue_lock = threading.Lock()

    def worker():
        while True:
            with queue_lock:
                if not queue:
                    return
                index, item = queue.pop()
            try:
                results[index] = function(item)
            except BaseException as exc:  # noqa: BLE001 — reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"parallel work did not finish within {timeout}s")
    if errors:
        raise errors[0]
    return results


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s")
