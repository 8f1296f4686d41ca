"""Configuration from the environment, with safe defaults."""

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    path = Path(os.environ.get("YITING_DATA", ROOT / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one kept in the data folder (never a constant)."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _int(name: str, default: int | None) -> int | None:
    """An integer setting, or ``default`` when unset or not a number."""
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default


def from_environment() -> dict:
    data_dir = _data_dir()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'yiting.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if database_url.startswith(prefix):  # psycopg 3 is the driver we install
            database_url = "postgresql+psycopg://" + database_url[len(prefix) :]
    origins = os.environ.get("SOCKETIO_CORS_ORIGINS")
    engine = dict(DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"])
    # Database connections per process: the pool keeps DATABASE_POOL_SIZE (10) open and
    # opens up to DATABASE_MAX_OVERFLOW (5) more under load, each closed again when it comes
    # back. In threading mode every client connection is a thread; see docs/deploy.md.
    for option, name in (
        ("pool_size", "DATABASE_POOL_SIZE"),
        ("max_overflow", "DATABASE_MAX_OVERFLOW"),
    ):
        if os.environ.get(name):
            engine[option] = _int(name, 0)
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": engine,
        "SECRET_KEY": _secret_key(data_dir),
        "DATA_DIR": str(data_dir),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SOCKETIO_ASYNC_MODE": os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet"),
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
        # None lets python-engineio accept only the site's own origin.
        "SOCKETIO_CORS_ORIGINS": origins.split(",") if origins else None,
        "HOST": os.environ.get("HOST", "127.0.0.1"),
        "PORT": _int("PORT", 5000),
        # Connections the kernel may hold for the server before it takes them (core/serving.py).
        "LISTEN_BACKLOG": _int("LISTEN_BACKLOG", 1024),
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        # Number of reverse proxies in front (nginx: 1) whose X-Forwarded-* headers to trust.
        "PROXY_HOPS": _int("PROXY_HOPS", 0),
        # Chat limits (SPEC 4): per-user rate and message length.
        "ROOM_RATE_LIMIT_COUNT": _int("ROOM_RATE_LIMIT_COUNT", 5),
        "ROOM_RATE_LIMIT_SECONDS": _int("ROOM_RATE_LIMIT_SECONDS", 10),
        "ROOM_MESSAGE_MAX_LENGTH": _int("ROOM_MESSAGE_MAX_LENGTH", 2000),
        # Who came and went is announced at most this often per room (a burst shares one).
        "ROOM_PRESENCE_COALESCE_SECONDS": float(
            os.environ.get("ROOM_PRESENCE_COALESCE_SECONDS", 0.5)
        ),
        # How long this process reuses a room's participant and presence lists for people
        # joining it (dropped at once when this process announces a change; 0: never).
        "ROOM_LIST_CACHE_SECONDS": float(os.environ.get("ROOM_LIST_CACHE_SECONDS", 1.0)),
        # Visitors' copy of a public page is shared this long (0: never; see core/cache.py).
        "PUBLIC_PAGE_CACHE_SECONDS": _int("PUBLIC_PAGE_CACHE_SECONDS", 5),
        # On PostgreSQL under eventlet or gevent, the process waits this long for an answer
        # before its other green threads run (0: they run at once). Unset: 5 ms for a
        # database on this machine, 0 for one elsewhere (see core/database.py).
        "DATABASE_WAIT_IN_PROCESS_MS": _int("DATABASE_WAIT_IN_PROCESS_MS", None),
        # The server makes Python's full garbage collection this often, and Python makes
        # none by itself (0: Python's own rule; see core/collector.py).
        "FULL_COLLECTION_SECONDS": float(os.environ.get("FULL_COLLECTION_SECONDS", 60)),
        # On SQLite the server copies the log into the database file this often, in a thread
        # of its own, and no commit does (0: SQLite's own rule; see core/checkpoints.py).
        "SQLITE_CHECKPOINT_SECONDS": float(os.environ.get("SQLITE_CHECKPOINT_SECONDS", 2)),
        # Those who may attend a meeting are reminded this long before it (0: never), and
        # the server looks for meetings to remind of this often (consult/topics/reminders.py).
        "REMINDER_HOURS": float(os.environ.get("REMINDER_HOURS", 24)),
        "REMINDER_SWEEP_SECONDS": float(os.environ.get("REMINDER_SWEEP_SECONDS", 60)),
    }


DEFAULTS = {
    # Pooled connections are checked after a pause, not at every use (core/database.py).
    # Ten are kept: with SQLAlchemy's five, eight pages at once opened and closed a
    # PostgreSQL connection (a server process of its own) for most of their requests.
    # The connection returned last is the next handed out (LIFO): under a light load one or
    # two do the work and keep what they prepared (psycopg prepares a statement at its fifth
    # use on a connection); taken in turn, each of the ten planned its first five afresh.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 10, "max_overflow": 5, "pool_use_lifo": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    # The session cookie is sent again when the session changes, not with every page: it
    # changes once a minute while the reader is active, and the server ends a session by its
    # own clock (2 hours idle, 12 in all; core/sessions.py), not by the cookie's expiry.
    "SESSION_REFRESH_EACH_REQUEST": False,
    # A signed-in browser session ends after 2 hours idle, and after 12 hours in any case.
    "SESSION_IDLE_SECONDS": 2 * 3600,
    "SESSION_ABSOLUTE_SECONDS": 12 * 3600,
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    # Socket.IO: the largest packet a client may send (a 2,000-character message is ~8 KiB).
    "SOCKETIO_MAX_HTTP_BUFFER_SIZE": 64 * 1024,
    "BABEL_DEFAULT_LOCALE": "zh",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh", "en"],
    # Sign-in rate limits: failures within the window before further attempts are refused.
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
}
