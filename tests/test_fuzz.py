"""Fuzzing every Socket.IO event and every JSON API call with generated payloads.

The answer is always a clear error code (never a crash: no ``server_error``, no 5xx), the
server keeps serving, and a refused call leaves the database unchanged.
"""

from __future__ import annotations

import hashlib
import re

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consult import _import_socket_events
from consult.core.sockets import EVENTS
from consult.extensions import db, socketio

_import_socket_events()  # fill EVENTS before the tests are collected

#: Tables that legitimately change on a refused call (failed sign-ins are counted).
VOLATILE = {"login_attempt", "alembic_version"}

FIELD_NAMES = [
    "consultation_id", "last_seen_id", "body", "client_id", "message_id", "reason", "username",
    "role", "mode", "seconds", "text", "title", "motion_id", "amendment_id", "vote_id", "choice",
    "kind", "options", "secret", "threshold", "quorum", "results", "deadline", "to", "summary",
    "stars", "comment", "percent", "note", "answer", "category", "description", "community",
    "password", "display_name", "slug", "name", "ids", "id",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, -1, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "yes",
            "no",
            "abstain",
            "1/2",
            "live",
            "open",
            "\ud800",
            "a\x00b",
            "<script>alert(1)</script>",
            "x" * 70_000,
            "\u202eevil",
        ]
    ),  # fmt: skip
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.one_of(
    st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), json_values, max_size=8),
    json_values,
)
deep = st.integers(min_value=20, max_value=200).map(
    lambda n: {"consultation_id": 1, "body": _nest(n)}
)


def _nest(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def fingerprint() -> str:
    """A hash of every row of every table but the volatile ones."""
    digest = hashlib.sha256()
    db.session.remove()
    with db.engine.connect() as connection:
        for table in sorted(db.metadata.tables.values(), key=lambda t: t.name):
            if table.name in VOLATILE:
                continue
            rows = connection.execute(sa.select(table)).all()
            digest.update(table.name.encode())
            for row in sorted(repr(tuple(r)) for r in rows):
                digest.update(row.encode())
    return digest.hexdigest()


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.fixture
def chair_socket(demo, app, auth):
    client = socketio.test_client(app, auth={"token": auth.token("chair")})
    assert client.is_connected()
    yield client
    client.disconnect()


def _check_ack(ack, event):
    assert isinstance(ack, dict), f"{event}: no acknowledgement"
    assert isinstance(ack.get("ok"), bool), f"{event}: {ack!r}"
    if not ack["ok"]:
        error = ack.get("error") or {}
        assert isinstance(error.get("code"), str) and error["code"], f"{event}: {ack!r}"
        assert isinstance(error.get("message"), str) and error["message"]
        assert error["code"] != "server_error", f"{event} crashed on its payload"


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_socket_event_fuzz(event, chair_socket):
    @FUZZ
    @given(payload=payloads | deep)
    def check(payload):
        before = fingerprint()
        ack = chair_socket.emit(event, payload, callback=True)
        _check_ack(ack, event)
        if not ack["ok"]:
            assert fingerprint() == before, f"{event} refused {payload!r} but changed data"

    check()
    # The server still serves this client.
    assert chair_socket.is_connected()


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _fill(rule, ints, texts) -> str:
    path = rule.rule
    out = path
    for match in re.finditer(r"<(?:(\w+):)?(\w+)>", path):
        converter = match.group(1) or "default"
        value = str(ints.pop()) if converter == "int" else texts.pop()
        out = out.replace(match.group(0), value, 1)
    return out


ids = st.one_of(st.sampled_from([1, 2, 3, 0, 10**12, 2**63 + 5]), st.integers(0, 50))
segments = st.one_of(st.sampled_from(["demo", "alice", "nope", "x" * 300]), st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FFF, blacklist_characters="/?#%"),
    min_size=1, max_size=20,
))  # fmt: skip


def test_every_event_is_fuzzed():
    assert "room:join" in EVENTS and "message:send" in EVENTS


def test_api_fuzz(demo, app, auth):
    headers = auth.headers("chair")
    client = app.test_client()
    rules = list(_api_rules(app))
    assert len(rules) >= 10

    @settings(FUZZ, max_examples=120)
    @given(
        index=st.integers(0, len(rules) - 1),
        body=payloads,
        raw=st.sampled_from([None, b"\xff\xfe\x00", b"{", b"[]", b'{"a":' * 50]),
        int_values=st.lists(ids, min_size=4, max_size=4),
        text_values=st.lists(segments, min_size=4, max_size=4),
        use_token=st.booleans(),
    )
    def check(index, body, raw, int_values, text_values, use_token):
        rule, method = rules[index]
        path = _fill(rule, int_values, text_values)
        before = fingerprint() if method != "GET" else None
        kwargs = {"headers": headers if use_token else {}}
        if method != "GET":
            if raw is not None:
                kwargs["data"] = raw
                kwargs["content_type"] = "application/json"
            else:
                kwargs["json"] = body
        response = client.open(path, method=method, **kwargs)
        assert response.status_code < 500, f"{method} {path}: {response.get_data(as_text=True)}"
        if response.status_code >= 400:
            error = (response.get_json(silent=True) or {}).get("error") or {}
            assert isinstance(error.get("code"), str), f"{method} {path}: no JSON error"
            if before is not None:
                assert fingerprint() == before, f"{method} {path} refused but changed data"

    check()
    assert client.get("/").status_code == 200
