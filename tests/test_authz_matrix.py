"""The authorisation matrix (SPEC section 2): every HTTP route and every client-to-server
Socket.IO event, called as each role, against the answer the table in
:mod:`tests.authz_table` expects.

A world is prepared once per run (a community with a person in each role, consultations in
each status, motions, a vote, outcomes, a topic) and saved as a SQLite file; every call
starts from a fresh copy of it, so what one role does never changes what the next one sees.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from flask import message_flashed

from consult import _import_socket_events, create_app
from consult.core import sockets
from consult.errors import DomainError
from consult.extensions import db, socketio
from tests import authz_table as table
from tests.conftest import _config

_import_socket_events()  # fill sockets.EVENTS before the tests are collected

PASSWORD = "yiting-demo"

#: Routes that are not in the table: Flask's own static files (no data, no state).
UNLISTED_ENDPOINTS = {"static"}


# --- the world -------------------------------------------------------------------------------


def _people(community, other):
    """One account per role; the demo's people and consultation stay as they are."""
    from consult.accounts.service import create_user
    from consult.communities.models import Membership

    accounts = {}
    for role, (username, name) in table.PEOPLE.items():
        if username is None:
            continue
        accounts[role] = create_user(username, name, PASSWORD, site_admin=(role == "site_admin"))
    memberships = [
        (other, "outsider", "resident"),
        (community, "resident", "resident"),
        (community, "observer", "resident"),
        (community, "speaker", "resident"),
        (community, "voter", "resident"),
        (community, "secretary", "resident"),
        (community, "chair", "chair"),  # a committee member: may create and chair
        (community, "admin", "admin"),
    ]
    for where, role, community_role in memberships:
        db.session.add(
            Membership(community_id=where.id, user_id=accounts[role].id, role=community_role)
        )
    db.session.commit()
    return accounts


def _consultation(people, title, access="invited", status="draft", seconds_required=1):
    """A consultation chaired by the chair, with the observer, speaker, voter and secretary
    invited in their roles, moved on to ``status``."""
    from consult.communities.service import get_community
    from consult.consultations import service as consultations

    chair = people["chair"]
    consultation = consultations.create_consultation(
        chair,
        get_community("demo"),
        title=title,
        description="Background.",
        access=access,
        agenda=["Discussion"],
        seconds_required=seconds_required,
        scheduled_at=datetime(2026, 12, 3, 2, 0),
    )
    for role in ("observer", "speaker", "voter", "secretary"):
        consultations.set_participant(chair, consultation, people[role].username, role)
    path = {"draft": [], "announced": ["announced"], "live": ["announced", "live"]}
    for step in path.get(status, ["announced", "live", "closed"]):
        consultations.transition(chair, consultation, step)
    return consultation


def build_world(app) -> dict:
    """Everything the table's calls act on; returns the ids the table's addresses use."""
    import sqlalchemy as sa

    from consult.accounts.service import issue_token
    from consult.communities.service import create_community, get_community
    from consult.consultations import service as consultations
    from consult.consultations.models import Consultation
    from consult.motions import service as motions
    from consult.outcomes import service as outcomes
    from consult.room import service as room
    from consult.topics import service as topics

    community = get_community("demo")
    other = create_community(SimpleNamespace(is_site_admin=True, id=None), "elsewhere", "Elsewhere")
    people = _people(community, other)
    chair, voter, speaker = people["chair"], people["voter"], people["speaker"]
    ids = {"slug": community.slug, "other_slug": other.slug}

    # The demo's open live consultation: the same people take part in their roles there too.
    demo = db.session.scalar(sa.select(Consultation).where(Consultation.status == "live"))
    demo_chair = consultations.participants(demo)[0].user
    for role in ("observer", "speaker", "voter", "secretary", "chair"):
        consultations.set_participant(demo_chair, demo, people[role].username, role)
    ids["open_live"] = demo.id

    foreign = consultations.create_consultation(
        demo_chair, community, title="Someone else's", access="invited"
    )
    consultations.transition(demo_chair, foreign, "announced")
    ids["foreign"] = foreign.id

    ids["draft"] = _consultation(people, "Draft", status="draft").id
    ids["announced"] = _consultation(people, "Announced", status="announced").id
    ids["open_announced"] = _consultation(
        people, "Open announced", access="open", status="announced"
    ).id

    # The live invited consultation: messages, motions in each state, an amendment, a vote.
    live = _consultation(people, "Live", status="live")
    ids["live"] = live.id
    message = room.post_message(voter, live, "An opinion from the floor.", "world-1")
    ids["message"] = message.seq
    m_draft = motions.create_motion(voter, live, "Draft motion", "Text of the draft.")
    ids["m_draft"] = m_draft.id
    m_submitted = motions.create_motion(voter, live, "Submitted motion", "Text submitted.")
    motions.submit_motion(voter, m_submitted)
    ids["m_submitted"] = m_submitted.id
    amendment = motions.propose_amendment(speaker, m_submitted, "Better text.")
    ids["amendment"] = amendment.id
    m_seconded = motions.create_motion(voter, live, "Seconded motion", "Text seconded.")
    motions.submit_motion(voter, m_seconded)
    motions.second_motion(speaker, m_seconded)
    ids["m_seconded"] = m_seconded.id
    m_voting = motions.create_motion(voter, live, "Motion under vote", "Text voted on.")
    motions.submit_motion(voter, m_voting)
    motions.second_motion(speaker, m_voting)
    vote = motions.open_vote(
        chair,
        m_voting,
        kind="yes_no_abstain",
        secret=False,
        threshold="simple",
        quorum=None,
        results="live",
    )
    ids["m_voting"], ids["vote"] = m_voting.id, vote.id

    # Closed, with a draft outcome; published (notice period open, one objection);
    # completed (ratings open).
    closed = _consultation(people, "Closed", status="closed")
    ids["closed"] = closed.id
    ids["o_draft"] = outcomes.draft_outcome(chair, closed, summary="Draft summary.").id

    published = _consultation(people, "Published", status="closed")
    o_pub = outcomes.draft_outcome(
        chair,
        published,
        summary="Published summary.",
        responsible="Property company",
        responsible_user=speaker.username,
    )
    outcomes.publish_outcome(chair, o_pub)
    ids["published"], ids["o_pub"] = published.id, o_pub.id
    ids["objection"] = outcomes.file_objection(voter, o_pub, "I object.").id

    completed = _consultation(people, "Completed", status="closed")
    o_done = outcomes.draft_outcome(chair, completed, summary="Done summary.")
    outcomes.publish_outcome(chair, o_done)
    outcomes.complete_outcome(chair, o_done)
    ids["completed"], ids["o_done"] = completed.id, o_done.id

    # Topic collection: a category and an open topic proposed by the voter.
    category = topics.add_category(people["admin"], community, "Environment")
    ids["category"] = category.id
    ids["topic"] = topics.propose_topic(
        voter, community, "More benches", "Near the playground.", category.id
    ).id

    tokens = {role: issue_token(user, "authz") for role, user in people.items()}
    db.session.commit()
    return {"ids": ids, "tokens": tokens}


def _session_cookies(app) -> dict:
    """A signed-in browser session per role, made through the real sign-in form."""
    cookies = {}
    for role, (username, _name) in table.PEOPLE.items():
        if username is None:
            continue
        client = app.test_client()
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, (role, response.status_code)
        cookie = client.get_cookie("session")
        assert cookie is not None, role
        cookies[role] = cookie.value
    return cookies


@pytest.fixture(scope="session")
def world(demo_template, tmp_path_factory):
    """The prepared world (a SQLite file), its ids, tokens and session cookies."""
    folder = tmp_path_factory.mktemp("authz")
    path = folder / "world.db"
    shutil.copy(demo_template, path)
    app = create_app(_config(path))
    with app.app_context():
        built = build_world(app)
        db.session.remove()
        db.engine.dispose()
    cookies = _session_cookies(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return SimpleNamespace(path=path, cookies=cookies, **built)


# --- making the calls ------------------------------------------------------------------------

#: Tables a refused call may still write (failed sign-ins are counted).
VOLATILE = {"login_attempt", "alembic_version"}
#: Answers that mean "allowed"; every other answer is a refusal.
ALLOWED = re.compile(r"^(2\d\d|ok|redirect)$")


def fill(value, names: dict):
    """Put the world's ids (and ``me``) into an address or a payload: ``"{vote}"`` becomes
    the vote's id itself, ``"/votes/{vote}"`` a formatted string."""
    if callable(value):
        value = value(SimpleNamespace(**names))
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        return names[whole.group(1)] if whole else value.format(**names)
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    return value


def fingerprint(path: Path) -> str:
    """Every row of every table but the volatile ones, as one hash."""
    import hashlib
    import sqlite3

    digest = hashlib.sha256()
    connection = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for name in names:
            if name in VOLATILE or name.startswith("sqlite_"):
                continue
            digest.update(name.encode())
            rows = connection.execute(f'SELECT * FROM "{name}"')  # noqa: S608 — our own names
            for row in sorted(repr(r) for r in rows):
                digest.update(row.encode())
    finally:
        connection.close()
    return digest.hexdigest()


class Matrix:
    """One app on a copy of the world; each call starts from a fresh copy."""

    def __init__(self, world, folder: Path, monkeypatch):
        from consult.web import errors

        self.world = world
        self.path = folder / "matrix.db"
        shutil.copyfile(world.path, self.path)
        self.app = create_app(_config(self.path))
        self.baseline = fingerprint(self.path)
        self.flashes: list[tuple[str, str]] = []
        self.rendered: list[str] = []  # codes of the errors the error handler rendered
        self.codes: dict[str, str] = {}  # message → code of every domain error made

        original_render, original_init = errors.render_error, DomainError.__init__

        def render_error(error):
            self.rendered.append(error.code)
            return original_render(error)

        def init(error, *args, **kwargs):
            original_init(error, *args, **kwargs)
            self.codes[error.message] = error.code

        monkeypatch.setattr(errors, "render_error", render_error)
        monkeypatch.setattr(DomainError, "__init__", init)
        message_flashed.connect(self._flashed, self.app)

    def close(self) -> None:
        message_flashed.disconnect(self._flashed, self.app)
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    def _flashed(self, _app, message, category, **_extra):
        self.flashes.append((str(message), category))

    def reset(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.world.path, self.path)
        stat = self.path.stat()
        self.copied = (stat.st_size, stat.st_mtime_ns)
        self.flashes.clear()
        self.rendered.clear()
        self.codes.clear()

    def names(self, role: str) -> dict:
        username = table.PEOPLE[role][0] or table.PEOPLE["resident"][0]
        return {**self.world.ids, "me": username}

    def http(self, method: str, call: table.Call, role: str) -> str:
        names = self.names(role)
        path = fill(call.path, names)
        client = self.app.test_client()
        headers = {}
        if role != "visitor":
            if path.startswith("/api/"):
                headers["Authorization"] = f"Bearer {self.world.tokens[role]}"
            else:
                client.set_cookie("session", self.world.cookies[role], domain="localhost")
        kwargs = {}
        if call.json is not None:
            kwargs["json"] = fill(call.json, names)
        if call.form is not None:
            kwargs["data"] = {k: str(v) for k, v in fill(call.form, names).items()}
        response = client.open(path, method=method, headers=headers, **kwargs)
        return self.answer(response)

    def _flashed_error(self) -> str | None:
        errors = [message for message, category in self.flashes if category == "error"]
        if not errors:
            return None
        return self.codes.get(errors[-1], f"?{errors[-1]}")

    def answer(self, response) -> str:
        status = response.status_code
        if 300 <= status < 400:
            if urlsplit(response.headers.get("Location", "")).path == "/login":
                return "login"
            code = self._flashed_error()
            if code:
                return f"flash:{code}"
            return "ok" if any(c == "ok" for _m, c in self.flashes) else "redirect"
        if status >= 400:
            code = None
            if response.is_json:
                code = ((response.get_json(silent=True) or {}).get("error") or {}).get("code")
            elif self.rendered:
                code = self.rendered[-1]
            else:
                code = self._flashed_error()
            return f"{status}:{code}" if code else str(status)
        return str(status)

    def emit(self, event: str, call: table.Call, role: str) -> str:
        if role == "visitor":
            client = socketio.test_client(self.app)
            if not client.is_connected():
                return "refused"
        else:
            client = socketio.test_client(self.app, auth={"token": self.world.tokens[role]})
            assert client.is_connected(), role
        try:
            ack = client.emit(event, fill(call.data, self.names(role)), callback=True)
        finally:
            client.disconnect()
        if not isinstance(ack, dict) or not isinstance(ack.get("ok"), bool):
            return f"no acknowledgement: {ack!r}"
        if ack["ok"]:
            return "ok"
        return ack["error"]["code"]

    def changed(self) -> bool:
        """Whether the database differs from the world. Nothing was committed while the
        write-ahead log is empty and the file is the copy (then no need to read it all)."""
        wal = Path(f"{self.path}-wal")
        stat = self.path.stat()
        if (not wal.exists() or wal.stat().st_size == 0) and (
            stat.st_size,
            stat.st_mtime_ns,
        ) == self.copied:
            return False
        return fingerprint(self.path) != self.baseline

    def check_state(self, answer: str, call: table.Call, writes: bool) -> str | None:
        """A refused call leaves the database as it was; an allowed write changes it."""
        changed = self.changed()
        if not ALLOWED.match(answer) and changed:
            return "refused, but the database changed"
        done = {"201", "204", "ok"} | ({"redirect"} if call.redirect_writes else set())
        if writes and answer in done and not changed:
            return "allowed, but nothing was written"
        return None


@pytest.fixture(scope="module")
def matrix(world, tmp_path_factory):
    """One app for the whole table (building an app per route would take most of the time)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        found = Matrix(world, tmp_path_factory.mktemp("matrix"), monkeypatch)
        yield found
        found.close()


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNLISTED_ENDPOINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


# --- the table is complete ---------------------------------------------------------------------


def test_every_route_has_a_row(matrix):
    routes = app_routes(matrix.app)
    missing = sorted(routes - set(table.ROUTES))
    unknown = sorted(set(table.ROUTES) - routes)
    assert not missing, f"routes without a row in tests/authz_table.py: {missing}"
    assert not unknown, f"rows for routes the app does not have: {unknown}"


def test_every_socket_event_has_a_row():
    missing = sorted(set(sockets.EVENTS) - set(table.EVENTS))
    unknown = sorted(set(table.EVENTS) - set(sockets.EVENTS))
    assert not missing, f"Socket.IO events without a row in tests/authz_table.py: {missing}"
    assert not unknown, f"rows for events the server does not handle: {unknown}"


def test_every_row_answers_for_every_role():
    for key, calls in [*table.ROUTES.items(), *table.EVENTS.items()]:
        assert calls, key
        for call in calls:
            assert set(call.expect) == set(table.ROLES), key
            assert all(call.expect.values()), key


# --- and holds -------------------------------------------------------------------------------


def _run(matrix, key, calls, make_call, writes: bool):
    wrong = []
    for call in calls:
        for role in table.ROLES:
            matrix.reset()
            got = make_call(call, role)
            want = call.expect[role]
            where = f"{call.label or call.path or call.data} as {role}"
            if got != want:
                wrong.append(f"{where}: expected {want}, got {got}")
                continue
            problem = matrix.check_state(got, call, writes)
            if problem:
                wrong.append(f"{where}: {problem}")
    assert not wrong, f"{key}:\n  " + "\n  ".join(wrong)


@pytest.mark.parametrize("route", sorted(table.ROUTES), ids=" ".join)
def test_route(matrix, route):
    method, _rule = route
    _run(
        matrix,
        route,
        table.ROUTES[route],
        lambda call, role: matrix.http(method, call, role),
        writes=method != "GET",
    )


@pytest.mark.parametrize("event", sorted(table.EVENTS))
def test_socket_event(matrix, event):
    _run(
        matrix,
        event,
        table.EVENTS[event],
        lambda call, role: matrix.emit(event, call, role),
        writes=False,
    )


# --- taking part is for members ----------------------------------------------------------------


def test_joining_an_open_room_makes_members_voters_but_not_the_site_admin(matrix):
    """A member who joins an open room takes part as a voter (and so votes on what is put
    to the vote later); the site admin, who belongs to no community, only reads and steers."""
    from consult.accounts.service import find_user
    from consult.consultations.service import get_consultation, role_of

    matrix.reset()
    roles = {}
    for role in ("resident", "admin", "site_admin"):
        client = socketio.test_client(matrix.app, auth={"token": matrix.world.tokens[role]})
        answer = client.emit(
            "room:join", {"consultation_id": matrix.world.ids["open_live"]}, callback=True
        )
        client.disconnect()
        assert answer["ok"], (role, answer)
        with matrix.app.app_context():
            user = find_user(table.PEOPLE[role][0])
            roles[role] = role_of(user, get_consultation(matrix.world.ids["open_live"]))
            db.session.remove()
    assert roles == {"resident": "voter", "admin": "voter", "site_admin": None}
