"""Past one machine: two app processes on PostgreSQL share rooms through Redis, behind nginx
with sticky sessions (deploy/nginx.conf)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests
import socketio

from tests.conftest import ROOT, LiveServer, require
from tests.servers import free_port

pytestmark = pytest.mark.live


class Inbox:
    """Events one client received, by name, with a way to wait for one."""

    def __init__(self, client: socketio.Client, *events: str):
        self.events: dict[str, list] = {name: [] for name in events}
        self.changed = threading.Condition()
        for name in events:
            client.on(name, self._collector(name))

    def _collector(self, name):
        def collect(data):
            with self.changed:
                self.events[name].append(data)
                self.changed.notify_all()

        return collect

    def wait_for(self, name: str, predicate, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for item in self.events[name]:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {name} matching within {timeout}s: {self.events[name]}"
                    )
                self.changed.wait(remaining)


@contextmanager
def server_logs_on_failure(*servers: LiveServer):
    """A failure inside the block carries the end of each server's log (pytest shows it)."""
    try:
        yield
    except Exception as error:
        for server in servers:
            tail = server.log.read_text(errors="replace")[-3000:]
            error.add_note(f"--- the end of {server.log} ({server.url}) ---\n{tail}")
        raise


def connect(url: str, token: str, *events: str) -> tuple[socketio.Client, Inbox]:
    client = socketio.Client(reconnection=False)
    inbox = Inbox(client, *events)
    client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
    answer = client.call("room:join", {"consultation_id": 1}, timeout=20)
    assert answer["ok"], answer
    return client, inbox


def api(server: LiveServer, token: str, method: str, path: str, payload=None) -> dict:
    response = requests.request(
        method, f"{server.url}/api/v1{path}", json=payload,
        headers={"Authorization": f"Bearer {token}"}, timeout=20,
    )  # fmt: skip
    assert response.status_code < 400, response.text
    return response.json() if response.content else {}


@pytest.fixture(scope="module")
def cluster(postgres, redis_server, tmp_path_factory):
    url = postgres.create_database("multiprocess")
    env = {"DATABASE_URL": url, "SOCKETIO_MESSAGE_QUEUE": redis_server.url}
    first = LiveServer(tmp_path_factory.mktemp("a"), "eventlet", env)
    second = LiveServer(tmp_path_factory.mktemp("b"), "eventlet", env)
    second.env["SECRET_KEY"] = first.env["SECRET_KEY"]
    first.prepare()
    first.start()
    second.start()
    # How many listen on the channel once both serve, before any client has connected.
    subscribers = redis.Redis.from_url(redis_server.url).pubsub_numsub("flask-socketio")
    first.channel_listeners_at_start = dict(subscribers)[b"flask-socketio"]
    yield first, second
    second.stop()
    first.stop()


def test_each_process_hears_the_others_before_its_first_client(cluster):
    # Started with the first client's connection instead, a process subscribed a moment
    # after that client joined, and a message sent from the other process then was lost.
    first, _second = cluster
    assert first.channel_listeners_at_start == 2  # one listener per process


def test_message_and_vote_cross_processes(cluster):
    a, b = cluster
    with server_logs_on_failure(a, b):
        alice, alice_inbox = connect(a.url, a.token("alice"), "message:new", "vote:closed")
        bob, bob_inbox = connect(b.url, b.token("bob"), "message:new", "vote:opened", "vote:closed")
        try:
            sent = alice.call(
                "message:send",
                {"consultation_id": 1, "body": "hello from process A", "client_id": "mp-1"},
                timeout=20,
            )
            assert sent["ok"], sent
            seen = bob_inbox.wait_for("message:new", lambda m: m["body"] == "hello from process A")
            assert seen["author"]["username"] == "alice"

            chair = a.token("chair")
            motion = api(a, chair, "POST", "/consultations/1/motions",
                         {"title": "Bike shed", "text": "Build a covered bike shed."})  # fmt: skip
            motion_id = motion["id"]
            api(a, chair, "POST", f"/motions/{motion_id}/submit", {})
            api(a, a.token("carol"), "POST", f"/motions/{motion_id}/second", {})
            vote = api(a, chair, "POST", f"/motions/{motion_id}/votes", {
                "kind": "yes_no_abstain", "secret": False, "threshold": "simple",
                "quorum": None, "results": "live",
            })  # fmt: skip
            bob_inbox.wait_for("vote:opened", lambda v: v["id"] == vote["id"])

            cast = bob.call("ballot:cast", {"vote_id": vote["id"], "choice": "no",
                                            "reason": "Too costly"}, timeout=20)  # fmt: skip
            assert cast["ok"], cast
            cast = alice.call("ballot:cast", {"vote_id": vote["id"], "choice": "yes"}, timeout=20)
            assert cast["ok"], cast
            api(b, b.token("dave"), "POST", f"/votes/{vote['id']}/ballots", {"choice": "yes"})

            closed = api(a, chair, "POST", f"/votes/{vote['id']}/close", {})
            for inbox in (alice_inbox, bob_inbox):
                event = inbox.wait_for("vote:closed", lambda v: v["id"] == vote["id"])
                assert event["counts"]["yes"] == 2
                assert event["counts"]["no"] == 1
                assert event["result"] == "adopted"
            assert closed["result"] == "adopted"
            result = api(b, b.token("erin"), "GET", f"/votes/{vote['id']}")
            assert result["ballots_cast"] == 3
            assert [o["text"] for o in result["minority_opinions"]] == ["Too costly"]
        finally:
            alice.disconnect()
            bob.disconnect()


NGINX_TEMPLATE = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{site}
}}
"""


def test_through_nginx_with_sticky_sessions(cluster, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    require(Path(nginx).exists(), "nginx is not installed (apt-get install nginx)")
    a, b = cluster
    with server_logs_on_failure(a, b):
        port = free_port()
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        site = site.replace("server 127.0.0.1:5001;", f"server 127.0.0.1:{a.port};")
        site = site.replace("server 127.0.0.1:5002;", f"server 127.0.0.1:{b.port};")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
        config = tmp_path / "nginx.conf"
        config.write_text(NGINX_TEMPLATE.format(prefix=tmp_path, site=site))
        process = subprocess.Popen(
            [nginx, "-c", str(config), "-p", str(tmp_path), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            proxied = f"http://127.0.0.1:{port}"
            token = requests.post(
                proxied + "/api/v1/token",
                json={"username": "erin", "password": "yiting-demo"},
                timeout=10,
            ).json()["token"]
            # Long-polling first, then the upgrade: both must reach the same process.
            client = socketio.Client(reconnection=False)
            inbox = Inbox(client, "message:new")
            client.connect(proxied, auth={"token": token}, transports=["polling", "websocket"])
            assert client.call("room:join", {"consultation_id": 1}, timeout=20)["ok"]
            other, _ = connect(a.url, a.token("alice"), "message:new")
            other.call("message:send", {"consultation_id": 1, "body": "via nginx",
                                        "client_id": "mp-nginx"}, timeout=20)  # fmt: skip
            inbox.wait_for("message:new", lambda m: m["body"] == "via nginx")
            client.disconnect()
            other.disconnect()
        finally:
            process.terminate()
            process.wait(timeout=10)
