"""The Socket.IO message queue (Redis), watched: clients are told when live updates from the
other server processes are interrupted, and when they are back.

With ``SOCKETIO_MESSAGE_QUEUE`` set, every event goes through Redis to the clients of every
process. When Redis goes away, what residents say is still stored and acknowledged, but the
clients of the other processes stop hearing it. python-socketio's listener reconnects by
itself (after 1, 2, 4 … seconds); until it does, a process hears nothing from the others.

:class:`WatchedRedisManager` is python-socketio's ``RedisManager`` with two additions:

- its listener notes when it last heard anything on the channel (``heard_at``);
- a watcher task, started with the listener when the server process starts, before it
  serves (never in a ``flask`` command), publishes a heartbeat on the channel every
  ``QUEUE_HEARTBEAT_SECONDS`` (default 1 s). Hearing the heartbeats come back — its own or
  another process's — is what proves the round trip through Redis; when nothing was heard
  for more than three heartbeats (or the heartbeat could not be published) the queue is
  "down", and it is "up" again only once the listener hears the channel after that.

On each change the process tells its own clients (not through the queue) with the event
``server:status``: ``{"live": false, "code": "queue_unavailable"}`` or ``{"live": true}``.
A client that connects while the queue is down is told at connect (``consult.core.sockets``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import socketio

log = logging.getLogger(__name__)

#: Flask-SocketIO's channel: the one every process (and every ``flask`` command) uses.
CHANNEL = "flask-socketio"
DEFAULT_HEARTBEAT_SECONDS = 1.0
#: Heartbeats that may go unheard before the queue counts as down.
MISSED_HEARTBEATS = 3
#: A dead Redis host must not hold a publish (and the request making it) for long. No
#: ``socket_timeout``: the listener waits on an idle connection for as long as it takes.
CONNECT_TIMEOUT_SECONDS = 2
#: The listener tries to come back at least this often (python-socketio waits up to 60 s).
LISTEN_RETRY_MAX_SECONDS = 5
#: How long a server process waits at start to hear the channel before it serves anyway.
HEARD_AT_START_SECONDS = 5.0

DOWN = {"live": False, "code": "queue_unavailable"}
UP = {"live": True}


def _keepalive_options() -> dict:
    """TCP keepalive, so a listener whose Redis vanished without closing the connection (a
    host or network gone) notices in about 20 s instead of waiting on it for ever."""
    wanted = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 3, "TCP_KEEPCNT": 3}
    options = {
        getattr(socket, name): value for name, value in wanted.items() if hasattr(socket, name)
    }
    return {"socket_keepalive": True, "socket_keepalive_options": options} if options else {}


def is_redis_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("redis://", "rediss://"))


def heartbeat_seconds(config) -> float:
    """``QUEUE_HEARTBEAT_SECONDS`` from the app's config or the environment (default 1)."""
    raw = config.get("QUEUE_HEARTBEAT_SECONDS") or os.environ.get("QUEUE_HEARTBEAT_SECONDS")
    try:
        seconds = float(raw) if raw else DEFAULT_HEARTBEAT_SECONDS
    except ValueError:
        return DEFAULT_HEARTBEAT_SECONDS
    return seconds if seconds > 0 else DEFAULT_HEARTBEAT_SECONDS


class QueueWatch:
    """The watcher's decision, kept pure so it can be driven with a fake clock.

    ``step(now, heard_at, published)`` is called once per heartbeat and returns the status
    to announce when the state changes, else None.
    """

    def __init__(self, interval: float, misses: int = MISSED_HEARTBEATS, now: float = 0.0):
        self.interval = interval
        self.misses = misses
        self.live = True
        self.started_at = now
        self.down_at: float | None = None
        #: Why it went down, for the log: "heartbeat not published" or "nothing heard".
        self.reason = ""

    def step(self, now: float, heard_at: float | None, published: bool) -> dict | None:
        last = heard_at if heard_at is not None else self.started_at
        quiet = now - last > self.misses * self.interval
        if self.live:
            if published and not quiet:
                return None
            self.live = False
            self.down_at = now
            self.reason = "heartbeat not published" if not published else "nothing heard"
            return dict(DOWN)
        # Up again only when the listener heard the channel since it went down: a publish
        # that works again does not mean this process hears the others yet.
        heard_since = heard_at is not None and heard_at > self.down_at
        if published and heard_since and not quiet:
            self.live = True
            self.down_at = None
            return dict(UP)
        return None


class WatchedRedisManager(socketio.RedisManager):
    """python-socketio's Redis client manager that knows whether it hears the queue."""

    def __init__(
        self,
        url: str,
        channel: str = CHANNEL,
        heartbeat: float = DEFAULT_HEARTBEAT_SECONDS,
        redis_options: dict | None = None,
        **kwargs,
    ):
        options = {
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            **_keepalive_options(),
            **(redis_options or {}),
        }
        super().__init__(url, channel=channel, redis_options=options, **kwargs)
        self.heartbeat = heartbeat
        self.clock = time.monotonic
        self.heard_at: float | None = None
        self.watch = QueueWatch(heartbeat)
        self._watch_lock = threading.Lock()
        self._watching = False
        self._beat_client = None

    @property
    def live(self) -> bool:
        return self.watch.live

    def status(self) -> dict | None:
        """What a client connecting now must be told: the interruption, or nothing."""
        return None if self.watch.live else dict(DOWN)

    # --- the listener ----------------------------------------------------------------

    def _listen(self):
        for message in super()._listen():
            self.heard_at = self.clock()
            yield message

    def _redis_listen_with_retries(self):  # pragma: no cover — needs a real Redis
        """As python-socketio's, but coming back at least every few seconds."""
        retry_sleep = 1
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                retry_sleep = 1
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 — any failure: connect again later
                self._get_logger().error(
                    "Cannot receive from redis... retrying in %s secs",
                    retry_sleep,
                    extra={"redis_exception": str(exc)},
                )
                self._sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, LISTEN_RETRY_MAX_SECONDS)

    def _sleep(self, seconds: float) -> None:
        if self.server is not None:
            self.server.sleep(seconds)
        else:  # pragma: no cover
            time.sleep(seconds)

    # --- the watcher -----------------------------------------------------------------

    def initialize(self):
        """Start listening and watching: once, from :meth:`listen_now` in a server process
        (python-socketio would call it at the first client connection). A ``flask`` command
        never gets here, so it only publishes."""
        super().initialize()
        self.start_watching()

    def listen_now(self, timeout: float = HEARD_AT_START_SECONDS) -> bool:
        """Start listening and watching now, not at the first client's connection, and wait
        until the channel is heard (a heartbeat of its own come back through Redis).

        Started with the first connection, the listener subscribed a moment after that
        client had joined: what another process said in that moment never reached it (a
        message sent from process A as Bob joined on a fresh process B). False when nothing
        was heard within ``timeout`` (Redis away): the process serves, and the watcher tells
        its clients."""
        if not self.server.manager_initialized:
            self.server.manager_initialized = True
            self.initialize()
        deadline = self.clock() + timeout
        while self.heard_at is None and self.clock() < deadline:
            self.publish_heartbeat()
            self._sleep(0.05)
        if self.heard_at is None:
            log.warning("Message queue not heard at start: serving without it for now.")
        return self.heard_at is not None

    def start_watching(self) -> bool:
        with self._watch_lock:
            if self._watching or self.write_only or self.server is None:
                return False
            self._watching = True
        self.watch = QueueWatch(self.heartbeat, now=self.clock())
        self.server.start_background_task(self._watch_forever)
        return True

    def _watch_forever(self) -> None:  # pragma: no cover — runs for the life of the process
        while True:
            try:
                self.check_queue(self.clock())
            except Exception:  # noqa: BLE001 — the watcher must outlive any one failure
                log.exception("message queue watcher failed")
            self._sleep(self.heartbeat)

    def check_queue(self, now: float) -> dict | None:
        """One heartbeat: publish it, decide, and tell this process's clients on a change."""
        published = self.publish_heartbeat()
        change = self.watch.step(now, self.heard_at, published)
        if change is not None:
            self.announce(change)
        return change

    def publish_heartbeat(self) -> bool:
        """Publish on the channel; the listeners ignore the unknown method but hear it.

        A client of its own, without retries or an error logged each second while Redis is
        away (``_publish`` logs two), and without touching the listener's connection."""
        message = self.json.dumps({"method": "heartbeat", "host_id": self.host_id})
        try:
            if self._beat_client is None:
                module = self._get_redis_module()
                self._beat_client = module.Redis.from_url(self.redis_url, **self.redis_options)
            self._beat_client.publish(self.channel, message)
            return True
        except Exception as exc:  # noqa: BLE001 — any failure means: not published
            log.debug("heartbeat not published: %s", exc)
            return False

    def announce(self, status: dict) -> None:
        if status["live"]:
            log.info("Message queue is back: live updates from the other processes resume.")
        else:
            log.warning(
                "Message queue unavailable (%s): live updates from the other processes are "
                "interrupted; clients of this process are told.",
                self.watch.reason,
            )
        # To this process's own clients only: the queue is what is missing.
        self.server.emit("server:status", status, namespace="/", ignore_queue=True)


def manager_for(config) -> WatchedRedisManager | None:
    """The client manager for ``SOCKETIO_MESSAGE_QUEUE`` when it is a Redis URL, else None
    (no queue, or a kind Flask-SocketIO builds itself)."""
    url = config.get("SOCKETIO_MESSAGE_QUEUE")
    if not is_redis_url(url):
        return None
    return WatchedRedisManager(url, heartbeat=heartbeat_seconds(config))


def listen_before_serving(server) -> bool | None:
    """In a server process, before it serves: hear the other processes from the start
    (:meth:`WatchedRedisManager.listen_now`). None without a Redis queue."""
    manager = getattr(server, "manager", None)
    return manager.listen_now() if isinstance(manager, WatchedRedisManager) else None


def status_at_connect(server) -> dict | None:
    """The ``server:status`` a client connecting to ``server`` must get, if any."""
    manager = getattr(server, "manager", None)
    status = getattr(manager, "status", None)
    return status() if callable(status) else None
