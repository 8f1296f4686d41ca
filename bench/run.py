"""Yiting's benchmark: room fan-out against a bare Socket.IO server, a vote burst, and the
notice page — for each async mode, on SQLite and on PostgreSQL.

    .venv/bin/python bench/run.py            # the whole benchmark (make bench)
    .venv/bin/python bench/run.py --quick    # a small run (part of make test)

Prints a table and writes JSON (``--out``, default bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import requests
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.client import RoomClient  # noqa: E402
from tests.servers import Postgres, free_port  # noqa: E402

PYTHON = sys.executable
MODES = ["eventlet", "gevent", "threading"]
#: A fan-out sends at least 20 messages, and enough for this many deliveries. In a room of 100,
#: 20 messages make 2,000 deliveries, and their p99 lies within the slowest message's: one
#: pause of the server or of the clients' process decided it.
MIN_DELIVERIES = 10_000
#: A fan-out of one round (100 messages or more: a room of 100) sends this many times the
#: messages its deliveries need. With 100, a message's 100 deliveries were 1% of them, and
#: one or two slow messages still decided the p99 (rooms of 100 on PostgreSQL gave 0.76–1.83×
#: over fourteen whole runs); with 300 the slowest 1% spans three messages or more. The quick
#: run keeps 100: it checks the shape, not the figures.
ONE_ROUND_TIMES = 3
#: The quick run's: 100 messages in a room of 10 (one round, both rooms at once) and 20 in a
#: room of 50 (rounds in turn), so that it goes both ways a fan-out is measured.
QUICK_DELIVERIES = 1_000
#: From 500 clients on, 20 messages are sent in one second and their p99 lies within one
#: message's deliveries again: one pause of either process in that second decided it (the bare
#: server's own p99 at 500 clients ranged 351–843 ms over four runs). Such a fan-out is measured
#: in rounds (``--rounds``, 3 by default), and each figure is the rounds' median.
ROUND_FIGURES = ("p50_ms", "p99_ms", "max_ms", "deliveries_per_s")


# --- servers -----------------------------------------------------------------------------


class Server:
    def __init__(self, script: str, mode: str, env: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "SOCKETIO_ASYNC_MODE": mode, "PORT": str(self.port)}
        self.script = script
        self.log = log
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [PYTHON, self.script], cwd=ROOT, env=self.env,
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.script} exited; see {self.log}")
            try:
                requests.get(self.url + "/", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{self.script} did not start; see {self.log}")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Clients:
    """A room's clients in a process of their own (``bench/run.py --clients URL``), asked one
    thing at a time: a line of JSON each way. With every room's clients in one process, the
    rooms slowed each other's readings (docs/performance.md), so each room has its own."""

    def __init__(self, url: str, tokens: list[str] | None, log: Path):
        self.url = url
        self.tokens = tokens
        self.log = log
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [PYTHON, "bench/run.py", "--clients", self.url], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log.open("ab"),
        )  # fmt: skip
        self.ask("start", tokens=self.tokens)
        return self

    def ask(self, do: str, **command) -> dict:
        self.tell(do, **command)
        return self.answer(do)

    def tell(self, do: str, **command) -> None:
        self.process.stdin.write(json.dumps({"do": do, **command}) + "\n")
        self.process.stdin.flush()

    def answer(self, do: str) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the clients of {self.url} exited; see {self.log}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{do}: {answer['error']}")
        return answer

    def __exit__(self, *exc):
        try:
            self.process.stdin.write(json.dumps({"do": "close"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


async def serve_clients(url: str) -> None:
    """The other end of :class:`Clients`: a room of clients of ``url``, doing as asked."""
    loop = asyncio.get_running_loop()
    room: Room | None = None

    async def start(tokens):
        nonlocal room
        room = Room(url, tokens, 1)
        return {}

    async def grow(size):
        await room.grow(size)
        return {}

    async def first():
        return {"ms": await room.first()}

    async def standing():
        return room.standing()

    async def burst(chair, seconder, voters):
        return await vote_burst(room, chair, seconder, voters)

    asked = {"start": start, "grow": grow, "first": first, "round": lambda **kw: room.round(**kw),
             "standing": standing, "burst": burst}  # fmt: skip
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            do = command.pop("do")
            if do == "close":
                break
            try:
                answer = await asked[do](**command)
            except Exception as error:  # noqa: BLE001 — told to the asker, who stops
                answer = {"error": repr(error)}
            print(json.dumps(answer), flush=True)
    finally:
        if room is not None:
            await room.close()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


# --- room fan-out -------------------------------------------------------------------------


class Room:
    """Clients in one consultation room, grown step by step (100, then 500, then 1,000):
    each size is measured with the clients already there, and the vote burst uses them too.
    """

    def __init__(self, url: str, tokens: list[str] | None, consultation_id: int):
        self.url = url
        self.tokens = tokens
        self.consultation_id = consultation_id
        self.clients: list[RoomClient] = []
        self.session: aiohttp.ClientSession | None = None
        self.received: list[dict[str, float]] = []
        self.closed_at: dict[int, float] = {}
        self.join_seconds = 0.0
        self.join_times: list[float] = []
        self.dropped = 0
        self.drop_reasons: dict[str, int] = {}

    async def _connect(self, index: int) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        client = RoomClient(self.session)
        mine: dict[str, float] = {}

        def on_message(data, _mine=mine):
            body = data.get("body", "") if isinstance(data, dict) else ""
            if isinstance(body, str) and body.startswith("bench:"):
                _mine[body] = time.perf_counter()

        def on_closed(data, _index=index):
            self.closed_at.setdefault(_index, time.perf_counter())

        def on_disconnect(reason):
            self.dropped += 1
            self.drop_reasons[reason] = self.drop_reasons.get(reason, 0) + 1

        client.on("message:new", on_message)
        client.on("vote:closed", on_closed)
        client.on_disconnect = on_disconnect
        auth = {"token": self.tokens[index]} if self.tokens else None
        await client.connect(self.url, auth=auth, timeout=60)
        started = time.perf_counter()
        answer = await client.call(
            "room:join", {"consultation_id": self.consultation_id}, timeout=180
        )
        if not answer.get("ok"):
            raise RuntimeError(f"join refused: {answer}")
        self.join_times.append((time.perf_counter() - started) * 1000)
        self.clients.append(client)
        self.received.append(mine)

    async def grow(self, size: int, at_once: int = 50) -> None:
        """Connect and join until ``size`` clients are in the room, ``at_once`` at a time
        (a new one starts as soon as one is in, as people arrive at a meeting)."""
        started = time.perf_counter()
        gate = asyncio.Semaphore(at_once)

        async def one(index: int) -> None:
            async with gate:
                await self._connect(index)

        await asyncio.gather(*(one(i) for i in range(len(self.clients), size)))
        self.join_seconds += time.perf_counter() - started

    async def _send(self, body: str) -> float:
        sent_at = time.perf_counter()
        await self.clients[0].emit(
            "message:send",
            {"consultation_id": self.consultation_id, "body": body, "client_id": uuid.uuid4().hex},
        )
        return sent_at

    async def _arrivals(self, expected: int, seconds: float = 30) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            if sum(len(v) for v in self.received) >= expected:
                return
            await asyncio.sleep(0.01)

    async def first(self) -> float:
        """One message, unmeasured by the rounds: the first message a server process handles
        compiles the statements a message runs (10–15 ms on a 2-core machine). Returns the
        time until every client had it, in ms (reported apart, as ``first_message_ms``)."""
        for mine in self.received:
            mine.clear()
        sent = await self._send(f"bench:first:{uuid.uuid4().hex[:8]}")
        await self._arrivals(len(self.clients))
        return (max((t for m in self.received for t in m.values()), default=sent) - sent) * 1000

    def standing(self) -> dict:
        """How many are in the room, how long it took them to join, and who was dropped."""
        return {
            "clients": len(self.clients),
            "join_s": round(self.join_seconds, 2),
            "join_p50_ms": round(percentile(self.join_times, 0.50), 1),
            "join_p99_ms": round(percentile(self.join_times, 0.99), 1),
            "dropped_connections": self.dropped,
            "drop_reasons": dict(self.drop_reasons),
        }

    async def round(self, messages: int, rate: float, at: float | None = None) -> dict:
        """One round of the fan-out: one client posts ``messages`` at ``rate`` per second
        (from ``at``, a time of :func:`time.time`, if given) and every client should get
        each. Returns the latencies' p50/p99/max, deliveries/s and each message's last
        arrival.

        This process's collector runs before the round, not during it: with a room's
        clients here a full collection took 47 ms, and the round it fell in had the highest
        p99 of five (83 ms; the others 37–68 ms), a pause of the measuring clients, not of
        the server measured."""
        gc.collect()
        gc.disable()
        try:
            if at is not None:
                await asyncio.sleep(max(0.0, at - time.time()))
            return await self._round(messages, rate)
        finally:
            gc.enable()

    async def _round(self, messages: int, rate: float) -> dict:
        for mine in self.received:
            mine.clear()
        sent_at: dict[str, float] = {}
        interval = 1.0 / rate
        began = time.time()
        send_started = time.perf_counter()
        for n in range(messages):
            body = f"bench:{n}:{uuid.uuid4().hex[:8]}"
            sent_at[body] = await self._send(body)
            await asyncio.sleep(max(0.0, send_started + (n + 1) * interval - time.perf_counter()))
        await self._arrivals(messages * len(self.clients))
        latencies = [
            (arrived - sent_at[body]) * 1000
            for mine in self.received
            for body, arrived in mine.items()
            if body in sent_at
        ]
        last = max((t for mine in self.received for t in mine.values()), default=send_started)
        return {
            "began": round(began, 4),  # when its first message was sent, and
            "ended": round(began + last - send_started, 4),  # its last arrived (time.time())
            "delivered": len(latencies),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies, default=float("nan")), 1),
            "deliveries_per_s": round(len(latencies) / max(1e-6, last - send_started), 1),
            # each message's time until its last client had it, in the order sent
            "last_arrival_ms": [
                round((max((m[b] for m in self.received if b in m), default=t) - t) * 1000, 1)
                for b, t in sent_at.items()
            ],
        }

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)
        if self.session is not None:
            await self.session.close()


# --- vote burst ---------------------------------------------------------------------------


def _api(url: str, token: str, method: str, path: str, payload: dict | None = None) -> dict:
    response = requests.request(
        method, url + "/api/v1" + path, json=payload,
        headers={"Authorization": f"Bearer {token}"}, timeout=60,
    )  # fmt: skip
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else {}


async def vote_burst(room: Room, chair: str, seconder: str, voters: int) -> dict:
    """The first ``voters`` clients in the room cast within one second, 10% of them twice;
    the chair closes the vote; every client in the room should hear ``vote:closed``."""
    await room.grow(voters)
    url, consultation_id = room.url, room.consultation_id
    clients = room.clients[:voters]
    room.closed_at.clear()
    loop = asyncio.get_running_loop()
    call = lambda *a: loop.run_in_executor(None, _api, url, *a)  # noqa: E731
    motion = await call(chair, "POST", f"/consultations/{consultation_id}/motions",
                        {"title": "Burst", "text": "Benchmark motion."})  # fmt: skip
    motion_id = motion.get("id") or motion.get("motion", {}).get("id")
    await call(chair, "POST", f"/motions/{motion_id}/submit", {})
    await call(seconder, "POST", f"/motions/{motion_id}/second", {})
    vote = await call(chair, "POST", f"/motions/{motion_id}/votes", {
        "kind": "yes_no_abstain", "secret": False, "threshold": "simple", "quorum": None,
        "results": "hidden",
    })  # fmt: skip
    vote_id = vote["id"]
    choices = ["yes", "no", "abstain"]
    expected = {c: 0 for c in choices}
    refusals = 0
    acked_at: list[float] = []

    unanswered = 0

    async def cast(index: int, delay: float, twice: bool) -> None:
        nonlocal refusals, unanswered
        await asyncio.sleep(delay)
        payload = {"vote_id": vote_id, "choice": choices[index % 3]}
        calls = [clients[index].call("ballot:cast", payload, timeout=60)]
        if twice:
            calls.append(clients[index].call("ballot:cast", payload, timeout=60))
        answers = await asyncio.gather(*calls, return_exceptions=True)
        acked_at.append(time.perf_counter())
        for answer in answers:
            if isinstance(answer, BaseException):  # no answer within 60 s: counted, not fatal
                unanswered += 1
            elif not answer.get("ok"):
                refusals += 1

    for index in range(len(clients)):
        expected[choices[index % 3]] += 1
    started = time.perf_counter()
    await asyncio.gather(*(
        cast(i, i / len(clients), i % 10 == 0) for i in range(len(clients))
    ))  # fmt: skip
    all_acked = max(acked_at) - started
    close_started = time.perf_counter()
    result = await call(chair, "POST", f"/votes/{vote_id}/close", {})
    listening = len(room.clients)
    deadline = time.perf_counter() + 30
    while len(room.closed_at) < listening and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    last_closed = max(room.closed_at.values(), default=float("nan")) - close_started
    final = await call(chair, "GET", f"/votes/{vote_id}")
    counts = {c: final.get("counts", {}).get(c, 0) for c in choices}
    return {
        "voters": len(clients),
        "listening": listening,
        "duplicates": sum(1 for i in range(len(clients)) if i % 10 == 0),
        "all_acked_s": round(all_acked, 2),
        "refused_or_repeated": refusals,
        "unanswered": unanswered,
        "close_to_all_closed_s": round(last_closed, 3),
        "clients_saw_closed": len(room.closed_at),
        "ballots_cast": final.get("ballots_cast"),
        "counts": counts,
        "expected": expected,
        "exact": counts == expected and final.get("ballots_cast") == len(clients),
        "result": result.get("result") or final.get("result"),
    }


# --- notice page --------------------------------------------------------------------------


#: The notice board's readers, signing in and reading, are this one browser.
BROWSER = {"User-Agent": "Mozilla/5.0 (Yiting benchmark)"}


async def http_load(url: str, seconds: float, concurrency: int, cookies=None) -> dict:
    """GET ``url`` from ``concurrency`` connections for ``seconds`` (with ``cookies``)."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(session) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    # As one browser: the sign-in's User-Agent (Flask-Login marks a session whose browser
    # changed as not fresh, and writes its cookie again on every request), and a cookie jar
    # that keeps what the server sets for 127.0.0.1.
    async with aiohttp.ClientSession(
        cookies=cookies, headers=BROWSER, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
    }


def signed_in_cookies(url: str, username: str = "alice") -> dict:
    """The session cookie of a demo resident signed in through the sign-in form."""
    browser = requests.Session()
    browser.headers.update(BROWSER)
    form = browser.get(url + "/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    data = {"username": username, "password": "yiting-demo"}
    if token:
        data["csrf_token"] = token.group(1)
    browser.post(url + "/login", data=data, timeout=30).raise_for_status()
    page = browser.get(url + "/notice", timeout=30).text
    if "/logout" not in page:
        raise RuntimeError(f"{username} could not sign in at {url}")
    return browser.cookies.get_dict()


def notice_bench(env: dict, folder: Path, mode: str, outcomes: int, seconds: float) -> list:
    full = {**os.environ, **env, "SOCKETIO_ASYNC_MODE": "threading"}
    out = subprocess.run(
        [PYTHON, "bench/seed.py", "notice", str(outcomes)], cwd=ROOT, env=full, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    detail = json.loads(out.stdout)["detail"]
    rows = []
    pages = {
        "list": "/notice",
        "search": "/notice?q=%E8%B7%AF%E7%81%AF",  # 路灯
        "detail": f"/notice/{detail}",
    }
    # Who reads it: a visitor (the page is shared for a few seconds), a signed-in resident
    # (the page is shared the same way but for their own parts, rendered for them into it)
    # and, with no cache at all, what rendering all of it afresh costs.
    for cached in (True, False):
        settings = {**env} if cached else {**env, "PUBLIC_PAGE_CACHE_SECONDS": "0"}
        log = folder / f"notice-{mode}-{'cached' if cached else 'uncached'}.log"
        with Server("app.py", mode, settings, log) as app:
            readers = (
                {"visitor": None, "signed in": signed_in_cookies(app.url)}
                if cached
                else {"no cache": None}
            )
            for reader, cookies in readers.items():
                for name, path in pages.items():
                    warm = requests.get(
                        app.url + path, cookies=cookies, headers=BROWSER, timeout=30
                    )
                    warm.raise_for_status()
                    row = asyncio.run(http_load(app.url + path, seconds, 8, cookies))
                    rows.append({"page": name, "reader": reader, **row})
    return rows


# --- data ---------------------------------------------------------------------------------


class Databases:
    """A database for each mode's run, all alike: the demo and the load users are written
    once per kind (SQLite, PostgreSQL) and copied for each run."""

    def __init__(self, pg: Postgres | None, users: int):
        self.pg = pg
        self.users = users
        self.templates: dict[str, tuple[dict, Path, list[str]]] = {}
        self.folders: list[Path] = []

    def _folder(self, prefix: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.folders.append(folder)
        return folder

    def remove(self) -> None:
        """Remove every data folder made (templates and copies)."""
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)

    def _env(self, folder: Path) -> dict:
        return {"YITING_DATA": str(folder), "SECRET_KEY": "bench", "FLASK_APP": "app"}

    def _template(self, kind: str) -> tuple[dict, Path, list[str]]:
        if kind not in self.templates:
            folder = self._folder("yiting-bench-template-")
            env = self._env(folder)
            if kind == "postgres":
                env["DATABASE_URL"] = self.pg.create_database("bench_template")
            self.templates[kind] = (env, folder, prepare(env, self.users))
        return self.templates[kind]

    def fresh(self, kind: str, name: str) -> tuple[dict, Path, list[str]]:
        """A copy of the kind's template: its environment, data folder and users' tokens."""
        _, source, tokens = self._template(kind)
        folder = self._folder("yiting-bench-")
        env = self._env(folder)
        if kind == "postgres":
            env["DATABASE_URL"] = self.pg.create_database(name, template="bench_template")
        else:
            for file in source.glob("yiting.db*"):  # the database and its write-ahead log
                shutil.copy(file, folder / file.name)
        return env, folder, tokens


def login(url: str, username: str) -> str:
    response = requests.post(
        url + "/api/v1/token", json={"username": username, "password": "yiting-demo"}, timeout=30
    )
    response.raise_for_status()
    return response.json()["token"]


def prepare(env: dict, users: int) -> list[str]:
    full = {**os.environ, **env, "SOCKETIO_ASYNC_MODE": "threading"}
    flask = [PYTHON, "-m", "flask", "--app", "app"]
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=full, check=True, capture_output=True)
    subprocess.run(flask + ["demo"], cwd=ROOT, env=full, check=True, capture_output=True)
    out = subprocess.run(
        [PYTHON, "bench/seed.py", "users", str(users)], cwd=ROOT, env=full, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return [row["token"] for row in json.loads(out.stdout)]


# --- main ---------------------------------------------------------------------------------


def run(args) -> dict:
    results: dict = {
        "settings": vars(args), "fan_out": [], "vote_burst": [], "notice": [], "failures": [],
        "seconds": {}, "started": time.time(),
    }  # fmt: skip
    pg = None
    if "postgres" in args.databases:
        pg = Postgres()
        pg.start()
    databases = Databases(pg, max(args.sizes + [args.voters]))
    finished = False
    try:
        for mode in args.modes:
            began = time.perf_counter()
            sizes, voters = for_mode(args, mode)
            log = Path(tempfile.mkdtemp(prefix="yiting-bench-log-"))
            for kind in args.databases:
                env, folder, tokens = databases.fresh(kind, f"bench_{mode}")
                env = {**env, "ROOM_RATE_LIMIT_COUNT": "100000"}
                try:
                    rows, burst = side_by_side(args, mode, sizes, voters, env, tokens, log, kind)
                except Exception as error:  # noqa: BLE001 — say it, go on
                    failure = {"mode": mode, "database": kind, "error": repr(error)}
                    results["failures"].append(failure)
                    print(f"{mode:<9} {kind:<8} FAILED: {error!r}", flush=True)
                    rows, burst = [], None
                for row in rows:
                    results["fan_out"].append({"mode": mode, "database": kind, **row})
                    print_row(results["fan_out"][-1])
                if burst is not None:
                    results["vote_burst"].append({"mode": mode, "database": kind, **burst})
                    print_burst(results["vote_burst"][-1])
                if args.outcomes and mode == args.modes[0]:
                    for row in notice_bench(env, folder, mode, args.outcomes, args.seconds):
                        results["notice"].append({"mode": mode, "database": kind, **row})
                        print_notice(results["notice"][-1])
            results["seconds"][mode] = round(time.perf_counter() - began)
            print(f"{mode}: {results['seconds'][mode]} s", flush=True)
            if any(failure["mode"] == mode for failure in results["failures"]):
                print(f"{mode}: the servers' and clients' logs are kept in {log}", flush=True)
            else:
                shutil.rmtree(log, ignore_errors=True)
        finished = True
    finally:
        if pg:
            pg.stop()
            pg.remove()
        # The data (and the notice board's logs in it) are kept after a failure, to be read.
        if finished and not results["failures"]:
            databases.remove()
        elif databases.folders:
            print("the data folders are kept:", *databases.folders, flush=True)
    results["finished"] = time.time()
    return results


def for_mode(args, mode: str) -> tuple[list[int], int]:
    """The room sizes and the vote burst for ``mode``. threading mode (a thread per
    connection; for development and tests) goes up to ``--threading-max`` clients: at 1,000
    it takes 80–90 s to fill the room on each database, which would take the whole run past
    ten minutes (docs/performance.md)."""
    if mode != "threading" or not args.threading_max:
        return args.sizes, args.voters
    sizes = [size for size in args.sizes if size <= args.threading_max] or [min(args.sizes)]
    return sizes, min(args.voters, max(sizes))


def rounds_for(args, messages: int) -> int:
    """How many rounds a fan-out of ``messages`` is measured in: one if its slowest 1% of
    deliveries holds at least one message's (100 messages or more), else ``--rounds``."""
    return 1 if messages >= 100 else args.rounds


def messages_for(args, size: int) -> int:
    """How many messages the fan-out at ``size`` clients sends: ``--messages`` if given, else
    20 and more in a small room (``MIN_DELIVERIES``, ``QUICK_DELIVERIES`` in the quick run),
    and ``ONE_ROUND_TIMES`` as many in a fan-out of one round outside the quick run."""
    if args.messages:
        return args.messages
    messages = max(20, -(-(QUICK_DELIVERIES if args.quick else MIN_DELIVERIES) // size))
    if rounds_for(args, messages) == 1 and not args.quick:
        messages *= ONE_ROUND_TIMES
    return messages


def side_by_side(args, mode, sizes, voters, env, tokens, log, kind) -> tuple[list, dict | None]:
    """The bare server and Yiting on one database, each with its room's clients in a process
    of their own, filled to each size in turn and measured in alternate rounds (bare, Yiting;
    Yiting, bare; …), so that both meet the same moments of a machine whose speed varies from
    second to second; then (Yiting) the vote burst. Returns the fan-out rows and the burst."""
    rows = []
    with (
        Server("bench/bare_server.py", mode, {}, log / f"bare-{mode}-{kind}.log") as bare,
        Clients(bare.url, None, log / f"bare-clients-{mode}-{kind}.log") as bare_room,
        Server("app.py", mode, env, log / f"yiting-{mode}-{kind}.log") as app,
        Clients(app.url, tokens, log / f"yiting-clients-{mode}-{kind}.log") as room,
    ):
        rooms = {"bare": bare_room, "yiting": room}
        for size in sorted(sizes):
            for clients in rooms.values():
                clients.ask("grow", size=size)
            time.sleep(0.6)  # the joins' presence news (every 0.5 s) has gone out
            first = {name: clients.ask("first")["ms"] for name, clients in rooms.items()}
            messages = messages_for(args, size)
            measured = measure(args, rooms, messages)
            row = {
                name: fan_out_row(clients.ask("standing"), messages, measured[name], first[name])
                for name, clients in rooms.items()
            }
            y, b = row["yiting"], row["bare"]
            row["ratio_deliveries"] = round(y["deliveries_per_s"] / b["deliveries_per_s"], 2)
            row["ratio_p99"] = round(y["p99_ms"] / b["p99_ms"], 2)
            rows.append(row)
        burst = None
        if voters:
            burst = room.ask(
                "burst", chair=login(app.url, "chair"), seconder=login(app.url, "alice"),
                voters=voters,
            )  # fmt: skip
    return rows, burst


def measure(args, rooms: dict[str, Clients], messages: int) -> dict[str, list[dict]]:
    """Each room's rounds of a fan-out of ``messages``, by room.

    A fan-out in one round (100 messages or more: a room of 100) has both rooms at once,
    their messages interleaved: the bare server's are sent halfway between Yiting's, so
    that both meet the same moments of a machine whose speed changes within a second (in
    turn, one room's five seconds could be slower than the other's throughout). A message
    reaches a room of 100 in 4–6 ms of the 25 between the two rooms' messages. Larger
    rooms, whose messages take up to a few hundred ms to reach everyone and would overlap,
    are measured in rounds taken in turn (bare, Yiting; Yiting, bare; …)."""
    measured: dict[str, list[dict]] = {name: [] for name in rooms}
    rounds = rounds_for(args, messages)
    if rounds == 1:
        at = time.time() + 0.5  # once each clients' process has collected its garbage
        for n, clients in enumerate(rooms.values()):
            offset = n / (len(rooms) * args.rate)
            clients.tell("round", messages=messages, rate=args.rate, at=at + offset)
        for name, clients in rooms.items():
            measured[name].append(clients.answer("round"))
        return measured
    for turn in range(rounds):
        for name in list(rooms)[:: 1 if turn % 2 == 0 else -1]:
            measured[name].append(rooms[name].ask("round", messages=messages, rate=args.rate))
    return measured


def fan_out_row(standing: dict, messages: int, measured: list[dict], first_ms: float) -> dict:
    """A fan-out's row: each figure is its rounds' median; every round is kept."""
    middle = {key: statistics.median(r[key] for r in measured) for key in ROUND_FIGURES}
    return {
        **standing,
        "messages": messages,
        "rounds": len(measured),
        "delivered": sum(r["delivered"] for r in measured),
        "expected": messages * standing["clients"] * len(measured),
        **{key: round(value, 1) for key, value in middle.items()},
        "first_message_ms": round(first_ms, 1),
        "each_round": measured,
    }


def print_row(row: dict) -> None:
    y, b = row["yiting"], row["bare"]
    print(
        f"{row['mode']:<9} {row['database']:<8} {y['clients']:>5} "
        f"join {y['join_s']:>6.2f}s (p99 {y['join_p99_ms']:>6.0f} ms)  "
        f"delivered {y['delivered']}/{y['expected']}  "
        f"first {y['first_message_ms']:>6.1f}  "
        f"p50 {y['p50_ms']:>7.1f}  p99 {y['p99_ms']:>7.1f}  max {y['max_ms']:>7.1f} ms  "
        f"{y['deliveries_per_s']:>9.1f}/s | bare p99 {b['p99_ms']:>7.1f} "
        f"{b['deliveries_per_s']:>9.1f}/s | ratio {row['ratio_deliveries']:.2f}x "
        f"p99 {row['ratio_p99']:.2f}x",
        flush=True,
    )


def print_notice(row: dict) -> None:
    print(
        f"{row['mode']:<9} {row['database']:<8} notice {row['page']:<7} {row['reader']:<10}"
        f"{row['rps']:>7.1f} req/s  p50 {row['p50_ms']:>6.1f} ms  p99 {row['p99_ms']:>6.1f} ms  "
        f"({row['requests']} requests, {row['errors']} errors)",
        flush=True,
    )


def print_burst(row: dict) -> None:
    print(
        f"{row['mode']:<9} {row['database']:<8} vote burst {row['voters']} voters "
        f"(+{row['duplicates']} twice): all acknowledged in {row['all_acked_s']:.2f}s, "
        f"every client had vote:closed {row['close_to_all_closed_s']:.3f}s after close "
        f"({row['clients_saw_closed']}/{row['listening']}), tally exact: {row['exact']}"
        f"{', unanswered: ' + str(row['unanswered']) if row.get('unanswered') else ''}",
        flush=True,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run for the test suite")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--sizes", default=None)
    parser.add_argument(
        "--messages", type=int, default=None,
        help="messages per fan-out (default: 20, and enough for 10,000 deliveries; "
        "three times that in a fan-out of one round, 300 in a room of 100)",
    )  # fmt: skip
    parser.add_argument("--voters", type=int, default=None, help="vote burst size (0: skip)")
    parser.add_argument("--outcomes", type=int, default=None, help="notice board size")
    parser.add_argument("--seconds", type=float, default=None, help="per notice page load")
    parser.add_argument(
        "--rate", type=float, default=None, help="messages per second (20; quick run 50)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="rounds of a fan-out of fewer than 100 messages (its figures: their median)",
    )  # fmt: skip
    parser.add_argument(
        "--threading-max", type=int, default=500,
        help="the largest room (and vote burst) in threading mode (0: as for the others)",
    )  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--clients", help=argparse.SUPPRESS)  # a room's clients (Clients)
    args = parser.parse_args(argv)
    if args.clients:
        # uvloop: the clients' reading costs less of the two cores the servers need too.
        uvloop.run(serve_clients(args.clients))
        return 0
    args.modes = args.modes.split(",")
    args.databases = args.databases.split(",")
    default_sizes = "10,50" if args.quick else "100,500,1000"
    args.sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    if args.rate is None:
        args.rate = 50.0 if args.quick else 20.0
    if args.outcomes is None:
        args.outcomes = 200 if args.quick else 10_000
    if args.seconds is None:
        args.seconds = 1.0 if args.quick else 2.0
    if args.voters is None:
        args.voters = 20 if args.quick else 1000
    if args.quick:
        args.voters = min(args.voters, max(args.sizes))
    results = run(args)
    total = round(results["finished"] - results["started"])
    modes = ", ".join(f"{mode} {seconds} s" for mode, seconds in results["seconds"].items())
    print(f"the whole run: {total} s ({modes})", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written: {out}")
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
