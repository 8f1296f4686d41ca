"""Shared fixtures, after the Flask tutorial's conftest: ``app``, ``client``, ``runner``,
an ``auth`` helper, and a live server and browser for what only real connections show."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("YITING_DATA", str(ROOT / "data" / "test-default"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"


def require(condition: bool, why: str) -> None:
    """Skip locally when a tool is missing; under CI a missing tool is a failure."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs this: {why}")
    pytest.skip(why)


# --- in-process app ----------------------------------------------------------------------


def _config(db_path: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "SOCKETIO_ASYNC_MODE": "threading",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
        "PUBLIC_PAGE_CACHE_SECONDS": 0,
        "ROOM_PRESENCE_COALESCE_SECONDS": 0,
        "ROOM_LIST_CACHE_SECONDS": 0,
        "ROOM_PRUNE_SECONDS": 0,
    }


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory) -> Path:
    """A database file with the schema, made once by the migrations and copied per test."""
    from flask_migrate import upgrade

    from consult import create_app

    path = tmp_path_factory.mktemp("schema") / "template.db"
    app = create_app(_config(path))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        from consult.extensions import db

        db.engine.dispose()
    return path


@pytest.fixture
def app(tmp_path, schema_template):
    from consult import create_app
    from consult.extensions import db

    db_path = tmp_path / "yiting.db"
    shutil.copy(schema_template, db_path)
    app = create_app(_config(db_path))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def demo_template(schema_template, tmp_path_factory) -> Path:
    """The demo loaded once into a database file that each test copies."""
    from consult import create_app
    from consult.cli.demo import load_demo
    from consult.extensions import db

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(schema_template, path)
    app = create_app(_config(path))
    with app.app_context():
        load_demo()
        db.session.remove()
        db.engine.dispose()
    return path


@pytest.fixture
def demo(app, demo_template):
    """The demo community, its people (password ``yiting-demo``) and its live consultation."""
    import sqlalchemy as sa

    from consult.consultations.models import Consultation
    from consult.extensions import db

    db.session.remove()
    db.engine.dispose()
    shutil.copy(demo_template, app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    return db.session.scalar(sa.select(Consultation).where(Consultation.status == "live"))


@pytest.fixture
def english(app, client):
    """English pages and messages, for tests that read English text (Chinese is the default)."""
    from flask_babel import force_locale

    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with force_locale("en"):
        yield


class Auth:
    """Sign in through the real form, or get an API token."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = "yiting-demo"):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")

    def token(self, username: str, password: str = "yiting-demo") -> str:
        response = self.client.post(
            "/api/v1/token", json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]

    def headers(self, username: str, password: str = "yiting-demo") -> dict:
        return {"Authorization": f"Bearer {self.token(username, password)}"}


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def make_user(app):
    """Create a user (and optionally a membership) directly through the services."""
    from consult.accounts.service import create_user
    from consult.communities.models import Membership
    from consult.extensions import db

    def make(username, password="password-123", display_name=None, community=None, role="resident"):
        user = create_user(username, display_name or username.title(), password)
        if community is not None:
            db.session.add(Membership(community_id=community.id, user_id=user.id, role=role))
        db.session.commit()
        return user

    return make


# --- live server ---------------------------------------------------------------------------


def run_fresh(args: list[str], data: Path, **settings: str | None) -> subprocess.CompletedProcess:
    """A fresh interpreter run with ``args`` in the project's folder, with ``data`` as its data
    folder and ``settings`` in its environment (``None`` takes one out); it must succeed."""
    env = {**os.environ, "YITING_DATA": str(data), "SECRET_KEY": "fresh-process-test"}
    for name, value in settings.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def fresh_python(code: str, data: Path, **settings: str | None) -> str:
    """What ``code`` prints, run by :func:`run_fresh`."""
    return run_fresh(["-c", code], data, **settings).stdout


class LiveServer:
    """The app started the way ``make run`` starts it: migrate, demo, ``python app.py``."""

    def __init__(self, data_dir: Path, mode: str, extra_env: dict | None = None):
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "YITING_DATA": str(data_dir),
            "SOCKETIO_ASYNC_MODE": mode,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SECRET_KEY": "live-test-secret",
            "FLASK_APP": "app",
            **(extra_env or {}),
        }
        self.process = None
        self.log = data_dir / f"server-{mode}.log"

    def prepare(self) -> None:
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        for args in (["db", "upgrade"], ["demo", "--if-empty"]):
            subprocess.run(flask + args, cwd=ROOT, env=self.env, check=True, capture_output=True)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                requests.get(self.url + "/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self, sig=None) -> None:
        if self.process and self.process.poll() is None:
            if sig is None:
                self.process.terminate()
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def token(self, username: str, password: str = "yiting-demo") -> str:
        response = requests.post(
            self.url + "/api/v1/token",
            json={"username": username, "password": password},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["token"]


ASYNC_MODES = ["eventlet", "gevent", "threading"]


@pytest.fixture(params=ASYNC_MODES)
def live_server(request, tmp_path):
    """A demo server in a subprocess, once per async mode."""
    server = LiveServer(tmp_path, request.param)
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """One demo server (default async mode) shared by a module's browser tests."""
    server = LiveServer(
        tmp_path_factory.mktemp("live"), os.environ.get("YITING_TEST_MODE", "eventlet")
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


# --- browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    require(
        Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        require(False, "the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(page, base_url: str, username: str, password: str = "yiting-demo") -> None:
    """Sign in through the form and wait until the browser has left the sign-in page: a
    page opened before then could abort the sign-in under load."""
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state()


@pytest.fixture
def new_context(browser, request):
    """Open isolated browser contexts (one per person); dialogs fail the test."""
    contexts = []

    def make(locale: str = "zh-CN", **kwargs):
        context = browser.new_context(locale=locale, **kwargs)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


# --- real database and queue servers -----------------------------------------------------


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A PostgreSQL cluster on loopback for the whole run."""
    from tests.servers import Postgres, postgres_bin

    require(postgres_bin() is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    server = Postgres()
    server.start()
    yield server
    server.stop()
    server.remove()


@pytest.fixture
def pg_app(postgres):
    """The app on a fresh PostgreSQL database with the demo (row locks instead of SQLite's
    write lock)."""
    import uuid

    from flask_migrate import upgrade

    from consult import create_app
    from consult.cli.demo import load_demo
    from consult.extensions import db

    url = postgres.create_database(f"app_{uuid.uuid4().hex[:10]}")
    config = {
        **_config(ROOT / "unused.db"),
        "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
    }
    pg = create_app(config)
    with pg.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        load_demo()
        yield pg
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def caching(app):
    """Public pages and the shared list are kept for a minute, from an empty cache."""
    from consult.core import cache

    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 60
    cache.clear()
    yield
    cache.clear()


def leave_unread(username: str, count: int) -> None:
    """The user has ``count`` unread notifications, and only those."""
    from consult.accounts.service import find_user
    from consult.topics import notifications

    user = find_user(username)
    notifications.mark_read(user)
    for number in range(count):
        notifications.notify_users(
            [user.id], "topic_declined", params={"title": f"Topic {number}", "reason": "-"}
        )


@contextmanager
def statements_run(entry=None):
    """The SQL statements the database is sent inside the block, as a list; with ``entry``,
    what ``entry(connection, statement)`` makes of each as it is sent."""
    import sqlalchemy as sa

    from consult.extensions import db

    statements: list = []

    def record(connection, cursor, statement, *args):
        statements.append(statement if entry is None else entry(connection, statement))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def in_threads(app, work, *args) -> list:
    """``work(arg)`` for each of ``args`` at once, each in a thread with its own application
    context and session; returns what they raised."""
    from consult.extensions import db

    errors = []

    def run(arg):
        with app.app_context():
            try:
                work(arg)
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A Redis server on loopback for the whole run."""
    from tests.servers import Redis, redis_bin

    require(redis_bin() is not None, "Redis is not installed (apt-get install redis-server)")
    server = Redis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
