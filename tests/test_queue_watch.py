"""The message-queue watcher (consult/core/queue.py): when the Socket.IO queue (Redis) goes
quiet the clients of this process are told ``server:status`` ``{live: false}``, and
``{live: true}`` once the listener hears the queue again — driven here with a fake clock, a
fake publish and a fake Socket.IO server; the real outage is in tests/test_faults.py."""

from __future__ import annotations

import json
import socket

import pytest
import redis
import socketio as pysocketio

from consult import create_app
from consult.core import queue
from consult.core.queue import DOWN, UP, QueueWatch, WatchedRedisManager
from consult.extensions import socketio
from tests.conftest import _config

URL = "redis://127.0.0.1:6399/0"  # never connected to in this file


# --- the decision -------------------------------------------------------------------------


def test_quiet_queue_goes_down_after_three_heartbeats_and_up_when_heard_again():
    watch = QueueWatch(interval=1.0, now=100.0)
    heard = 100.2
    for now in (101.0, 102.0, 103.0):  # heard each second: nothing to say
        assert watch.step(now, heard, published=True) is None
        heard = now + 0.1
    # Silence: heard last at 103.1; more than 3 s later it is down, said once.
    assert watch.step(104.0, heard, True) is None
    assert watch.step(106.0, heard, True) is None
    assert watch.step(106.2, heard, True) == DOWN == {"live": False, "code": "queue_unavailable"}
    assert watch.live is False
    assert watch.step(107.2, heard, True) is None
    assert watch.step(120.0, heard, True) is None
    # Heard again: up, said once.
    assert watch.step(121.0, 120.5, True) == UP == {"live": True}
    assert watch.live is True
    assert watch.step(122.0, 121.5, True) is None


def test_a_failed_publish_means_down_at_once():
    watch = QueueWatch(interval=1.0, now=0.0)
    assert watch.step(1.0, 0.9, published=False) == DOWN
    assert watch.step(2.0, 0.9, published=False) is None


def test_up_needs_the_listener_to_hear_the_queue_after_it_went_down():
    """Redis answers publishes again before python-socketio's listener is back (it waits
    1, 2, 4 … s between attempts): still down until the listener hears something."""
    watch = QueueWatch(interval=1.0, now=0.0)
    assert watch.step(1.0, 0.95, published=False) == DOWN  # heard 0.05 s before: not enough
    assert watch.step(2.0, 0.95, published=True) is None  # published, but not heard since
    assert watch.step(3.0, 0.95, published=True) is None
    assert watch.step(9.0, 0.95, published=True) is None
    assert watch.step(10.0, 9.5, published=False) is None  # heard, but publishing fails
    assert watch.step(11.0, 10.5, published=True) == UP


def test_nothing_heard_since_the_start_is_down_after_three_heartbeats():
    watch = QueueWatch(interval=0.5, now=50.0)
    assert watch.step(51.0, None, True) is None
    assert watch.step(51.5, None, True) is None
    assert watch.step(51.6, None, True) == DOWN
    assert watch.step(52.0, None, True) is None
    assert watch.step(52.5, 52.1, True) == UP


# --- the manager --------------------------------------------------------------------------


class FakeServer:
    """Records what the manager emits; a python-socketio server stand-in."""

    def __init__(self):
        self.emitted: list[tuple] = []
        self.packet_class = pysocketio.packet.Packet
        self.async_mode = "threading"
        self.manager_initialized = False

    def emit(self, event, data=None, namespace=None, ignore_queue=False, **kwargs):
        self.emitted.append((event, data, namespace, ignore_queue, kwargs))


@pytest.fixture
def manager():
    m = WatchedRedisManager(URL, heartbeat=1.0)
    m.set_server(FakeServer())
    m.watch = QueueWatch(1.0, now=0.0)
    return m


def test_the_manager_tells_its_own_clients_each_change_once(manager, monkeypatch):
    published = {"ok": True}
    monkeypatch.setattr(manager, "publish_heartbeat", lambda: published["ok"])
    manager.heard_at = 0.5
    assert manager.check_queue(1.0) is None
    assert manager.status() is None
    published["ok"] = False  # Redis is away
    assert manager.check_queue(2.0) == DOWN
    assert manager.check_queue(3.0) is None
    assert manager.status() == DOWN and manager.live is False
    published["ok"] = True
    assert manager.check_queue(4.0) is None  # not heard yet
    manager.heard_at = 4.2  # the listener heard a heartbeat
    assert manager.check_queue(5.0) == UP
    assert manager.status() is None and manager.live is True
    # Each change once, to every client of this process (namespace "/"), not through the
    # queue (which is what is missing).
    assert manager.server.emitted == [
        ("server:status", DOWN, "/", True, {}),
        ("server:status", UP, "/", True, {}),
    ]


def test_the_listener_stamps_what_it_hears(manager, monkeypatch):
    messages = [b'{"method": "heartbeat", "host_id": "other"}', b'{"method": "emit"}']
    monkeypatch.setattr(pysocketio.RedisManager, "_listen", lambda self: iter(messages))
    clock = iter([10.0, 11.5])
    manager.clock = lambda: next(clock)
    heard = []
    for message in manager._listen():
        heard.append((message, manager.heard_at))
    assert heard == [(messages[0], 10.0), (messages[1], 11.5)]


def test_the_heartbeat_is_published_on_the_channel(manager, monkeypatch):
    sent = []

    class FakeRedis:
        @classmethod
        def from_url(cls, url, **options):
            sent.append(("connect", url, options))
            return cls()

        def publish(self, channel, message):
            sent.append(("publish", channel, message))
            return 1

    monkeypatch.setattr(manager, "_get_redis_module", lambda: type("M", (), {"Redis": FakeRedis}))
    assert manager.publish_heartbeat() is True
    assert manager.publish_heartbeat() is True
    (kind, url, options), *publishes = sent
    assert (kind, url) == ("connect", URL)
    assert options["socket_connect_timeout"] == queue.CONNECT_TIMEOUT_SECONDS
    assert "socket_timeout" not in options
    assert [p[1] for p in publishes] == ["flask-socketio", "flask-socketio"]
    assert json.loads(publishes[0][2]) == {"method": "heartbeat", "host_id": manager.host_id}


def test_a_heartbeat_that_cannot_be_published_is_reported_not_raised(manager):
    # Nothing listens on this port: connection refused, quickly.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manager.redis_url = f"redis://127.0.0.1:{port}/0"
    assert manager.publish_heartbeat() is False


def test_the_watcher_starts_once_and_never_for_a_write_only_manager(manager, monkeypatch):
    started = []
    manager.server.start_background_task = lambda target: started.append(target)
    assert manager.start_watching() is True
    assert manager.start_watching() is False
    assert started == [manager._watch_forever]
    writer = WatchedRedisManager(URL, write_only=True)
    writer.set_server(FakeServer())
    assert writer.start_watching() is False


def test_a_server_process_listens_before_it_serves_until_it_hears_the_channel(manager, monkeypatch):
    started, beats, slept = [], [], []
    monkeypatch.setattr(manager, "initialize", lambda: started.append("listener and watcher"))
    now = [0.0]
    manager.clock = lambda: now[0]

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    def beat():  # the third heartbeat comes back through Redis
        beats.append(now[0])
        if len(beats) == 3:
            manager.heard_at = now[0] + 0.01
        return True

    manager._sleep = sleep
    monkeypatch.setattr(manager, "publish_heartbeat", beat)
    assert queue.listen_before_serving(manager.server) is None  # a server with no Redis queue
    manager.server.manager = manager
    assert queue.listen_before_serving(manager.server) is True
    # started once, and python-socketio will not start it again at the first connection
    assert started == ["listener and watcher"] and manager.server.manager_initialized is True
    assert len(beats) == 3 and slept == [0.05] * 3
    assert manager.listen_now() is True and started == ["listener and watcher"]


def test_a_server_process_whose_queue_is_silent_serves_after_the_wait(manager, monkeypatch):
    monkeypatch.setattr(manager, "initialize", lambda: None)
    now = [100.0]
    manager.clock = lambda: now[0]
    manager._sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
    monkeypatch.setattr(manager, "publish_heartbeat", lambda: False)  # Redis is away
    assert manager.listen_now(timeout=2.0) is False
    assert 102.0 <= now[0] < 102.1 and manager.heard_at is None


# --- wiring -------------------------------------------------------------------------------


def test_a_redis_queue_gets_the_watched_manager_and_no_queue_a_plain_one(tmp_path, monkeypatch):
    config = _config(tmp_path / "yiting.db")
    app = create_app({**config, "SOCKETIO_MESSAGE_QUEUE": URL})
    manager = socketio.server.manager
    assert isinstance(manager, WatchedRedisManager)
    assert app.extensions["socketio"].server.manager is manager
    assert manager.channel == "flask-socketio" and manager.redis_url == URL
    assert manager.redis_options["socket_connect_timeout"] == 2
    assert "socket_timeout" not in manager.redis_options
    # Building the app started nothing: no listener, no watcher (a flask command is here).
    assert manager._watching is False and manager.redis is None
    # Publishing (a flask command emitting to the room) works without a server running.
    calls = []
    monkeypatch.setattr(redis.Redis, "publish", lambda self, *args: calls.append(args) or 1)
    socketio.emit("message:new", {"seq": 1}, to="consultation:1")
    assert calls and calls[0][0] == "flask-socketio"
    # The next app without a queue does not inherit that manager.
    create_app({**config, "SOCKETIO_MESSAGE_QUEUE": None})
    assert type(socketio.server.manager) is pysocketio.Manager


def test_heartbeat_setting():
    assert queue.heartbeat_seconds({}) == 1.0
    assert queue.heartbeat_seconds({"QUEUE_HEARTBEAT_SECONDS": "0.25"}) == 0.25
    assert queue.heartbeat_seconds({"QUEUE_HEARTBEAT_SECONDS": "soon"}) == 1.0
    assert queue.heartbeat_seconds({"QUEUE_HEARTBEAT_SECONDS": "-1"}) == 1.0


def test_a_client_connecting_while_the_queue_is_down_is_told(app, demo, auth, monkeypatch):
    token = auth.token("bob")
    manager = socketio.server.manager
    monkeypatch.setattr(manager, "status", lambda: dict(DOWN), raising=False)
    client = socketio.test_client(app, auth={"token": token})
    assert client.is_connected()
    received = client.get_received()
    assert [(r["name"], r["args"]) for r in received if r["name"] == "server:status"] == [
        ("server:status", [DOWN])
    ]
    client.disconnect()
    # While it is up, nothing is said at connect.
    monkeypatch.setattr(manager, "status", lambda: None, raising=False)
    client = socketio.test_client(app, auth={"token": token})
    assert not [r for r in client.get_received() if r["name"] == "server:status"]
    client.disconnect()
