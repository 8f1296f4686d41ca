"""Bad input: oversize and malformed fields, wrong JSON types, NUL bytes and lone surrogates,
HTML and script in names and titles, and forms without their CSRF token. Each gets a clear
error code; nothing is stored; what is stored legitimately is shown inert."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from consult.accounts.models import User
from consult.communities.models import Membership
from consult.consultations.models import AgendaItem, Consultation, Participant
from consult.extensions import db

SCRIPT = "<script>alert(1)</script>"


def counts() -> tuple:
    db.session.rollback()  # a fresh snapshot: other apps may have written to the file
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (User, Membership, Consultation, AgendaItem, Participant)
    )


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.fixture
def chair(demo, auth):
    return auth.headers("chair")


def create(client, headers, **fields):
    return client.post(
        "/api/v1/consultations", json={"community": "demo", **fields}, headers=headers
    )


# --- JSON: oversize, wrong types, unstorable text --------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"title": "t" * 201}, "invalid_field"),
        ({"title": "T", "description": "d" * 50_001}, "invalid_field"),
        ({"title": "T", "place": "p" * 201}, "invalid_field"),
        ({"title": "T", "agenda": ["a" * 201]}, "invalid_field"),
        ({"title": {"en": "Title"}}, "invalid_type"),
        ({"title": ["Title"]}, "invalid_type"),
        ({"title": 42}, "invalid_type"),
        ({"title": 4.2}, "invalid_type"),
        ({"title": False}, "invalid_type"),
        ({"title": "T", "description": {"md": "x"}}, "invalid_type"),
        ({"title": "T", "agenda": [{"title": "x"}]}, "invalid_type"),
        ({"title": "T", "agenda": [["nested"]]}, "invalid_type"),
        ({"title": "T", "seconds_required": [1]}, "invalid_type"),
        ({"title": "a\x00b"}, "invalid_text"),
        ({"title": "T", "description": "text\x00"}, "invalid_text"),
        ({"title": "T", "agenda": ["ok", "bad\x00"]}, "invalid_text"),
        ({"title": "a\ud800b"}, "invalid_text"),
        ({"title": "T", "place": "\udfff"}, "invalid_text"),
        ({"title": "T", "scheduled_at": "9999-12-31T23:59-10:00"}, "invalid_scheduled_at"),
        ({"title": "T", "scheduled_at": "0001-01-01T00:00+05:00"}, "invalid_scheduled_at"),
        ({"title": "T", "scheduled_at": "2030-02-30T10:00"}, "invalid_scheduled_at"),
        ({"title": "T", "seconds_required": 10**40}, "invalid_seconds_required"),
    ],
)
def test_bad_consultation_fields_are_refused_and_nothing_stored(client, chair, fields, code):
    before = counts()
    response = create(client, chair, **fields)
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == code
    assert response.get_json()["error"]["message"]
    assert counts() == before


def test_the_limits_themselves_are_accepted(client, chair):
    response = create(client, chair, title="t" * 200, description="d" * 50_000, place="p" * 200)
    assert response.status_code == 201
    stored = db.session.get(Consultation, response.get_json()["id"])
    assert (len(stored.title), len(stored.description), len(stored.place)) == (200, 50_000, 200)


def test_lone_surrogate_sent_as_a_json_escape(client, chair):
    before = counts()
    response = client.post(
        "/api/v1/consultations",
        data='{"community": "demo", "title": "x\\ud83dy"}',
        content_type="application/json",
        headers=chair,
    )
    assert response.status_code == 422
    assert error_code(response) == "invalid_text"
    assert counts() == before


def test_deeply_nested_json_is_refused(client, chair):
    nested = "T"
    for _ in range(50):
        nested = [nested]
    before = counts()
    response = create(client, chair, title="T", agenda=nested)
    assert response.status_code == 400
    assert error_code(response) == "bad_payload"
    assert counts() == before


def test_invalid_utf8_body(client, chair):
    response = client.post(
        "/api/v1/consultations",
        data=b'{"community": "demo", "title": "\xff\xfe"}',
        content_type="application/json",
        headers=chair,
    )
    assert response.status_code == 400
    assert error_code(response) == "bad_json"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"username": "granny", "display_name": "d" * 65, "password": "password-123"},
         "invalid_field"),
        ({"username": "granny", "display_name": "Gran\x00", "password": "password-123"},
         "invalid_text"),
        ({"username": "granny", "display_name": "Gran\ud800", "password": "password-123"},
         "invalid_text"),
        ({"username": "granny", "display_name": ["Gran"], "password": "password-123"},
         "invalid_type"),
        ({"username": "<script>", "display_name": "G", "password": "password-123"},
         "invalid_username"),
        ({"username": "gran\x00", "display_name": "G", "password": "password-123"},
         "invalid_text"),
        ({"username": "granny", "display_name": "G", "password": "p" * 129}, "invalid_field"),
        ({"username": "granny", "display_name": "   ", "password": "password-123"},
         "invalid_display_name"),
    ],
)  # fmt: skip
def test_bad_member_fields_are_refused_and_nothing_stored(client, chair, fields, code):
    before = counts()
    response = client.post("/api/v1/communities/demo/members", json=fields, headers=chair)
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == code
    assert counts() == before


# --- HTML and script: stored as text, shown inert ---------------------------------------------


def test_script_in_a_title_is_stored_as_text_and_rendered_escaped(client, chair, auth):
    response = create(
        client,
        chair,
        title=SCRIPT,
        description=f"{SCRIPT}\n\n[click](javascript:alert(1)) <img src=x onerror=alert(1)>",
        place='<b onmouseover="alert(1)">Hall</b>',
        agenda=[SCRIPT],
    )
    assert response.status_code == 201
    cid = response.get_json()["id"]
    assert db.session.get(Consultation, cid).title == SCRIPT
    client.post(f"/api/v1/consultations/{cid}/transition", json={"to": "announced"},
                headers=chair)  # fmt: skip
    for url in (f"/consultations/{cid}", "/communities/demo"):
        html = client.get(url).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "<script>alert" not in html, url
        assert 'href="javascript:' not in html, url
        assert "<img" not in html, url
        assert '<b onmouseover="alert(1)">' not in html, url


def test_script_in_a_display_name_is_rendered_escaped(client, chair, auth):
    response = client.post(
        "/api/v1/communities/demo/members",
        json={"username": "mallory", "display_name": SCRIPT, "password": "mallory-password"},
        headers=chair,
    )
    assert response.status_code == 201
    assert response.get_json()["display_name"] == SCRIPT
    demo_id = db.session.scalar(sa.select(Consultation.id).where(Consultation.status == "live"))
    client.post(f"/api/v1/consultations/{demo_id}/participants",
                json={"username": "mallory", "role": "observer"}, headers=chair)  # fmt: skip
    auth.login("chair")
    for url in ("/communities/demo/admin",):
        html = client.get(url).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>alert" not in html
    auth.logout()
    auth.login("mallory", "mallory-password")
    html = client.get("/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the header shows the name
    assert "<script>alert" not in html


def test_script_in_a_cancel_reason_is_rendered_escaped(client, chair):
    cid = create(client, chair, title="Bins").get_json()["id"]
    client.post(f"/api/v1/consultations/{cid}/transition",
                json={"to": "announced"}, headers=chair)  # fmt: skip
    response = client.post(f"/api/v1/consultations/{cid}/transition",
                           json={"to": "cancelled", "reason": SCRIPT}, headers=chair)  # fmt: skip
    assert response.status_code == 200
    html = client.get(f"/consultations/{cid}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html


# --- HTML forms ---------------------------------------------------------------------------


def form_values(**overrides):
    values = {
        "title": "Bicycle shed",
        "description": "",
        "form": "council",
        "access": "open",
        "scheduled_at": "",
        "place": "",
        "agenda": "",
        "seconds_required": "1",
        "default_threshold": "simple",
    }
    values.update(overrides)
    return values


def test_new_consultation_form_works(client, demo, auth):
    auth.login("chair")
    response = client.post("/communities/demo/consultations/new",
                           data=form_values(agenda="One\nTwo", scheduled_at="2030-05-01T10:00"))  # fmt: skip
    assert response.status_code == 302
    cid = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    stored = db.session.get(Consultation, cid)
    assert [item.title for item in stored.agenda_items] == ["One", "Two"]
    assert stored.scheduled_at.isoformat() == "2030-05-01T02:00:00"


@pytest.mark.parametrize(
    "overrides",
    [
        {"title": "t" * 201},
        {"title": ""},
        {"description": "d" * 50_001},
        {"place": "p" * 201},
        {"form": "party"},
        {"access": "everyone"},
        {"seconds_required": "many"},
        {"seconds_required": "-3"},
        {"scheduled_at": "not a date"},
        {"scheduled_at": "0001-01-01T00:00"},
        {"title": "nul\x00byte"},
        {"agenda": "ok\nbad\x00"},
    ],
)
def test_new_consultation_form_refuses_bad_fields(client, demo, auth, overrides):
    auth.login("chair")
    before = counts()
    response = client.post("/communities/demo/consultations/new", data=form_values(**overrides),
                           headers={"Accept-Language": "en"})  # fmt: skip
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="error' in html or 'class="flash flash-error' in html
    assert counts() == before


def test_register_form_refuses_bad_fields_and_stores_nothing(client, demo):
    before = counts()
    cases = [
        {"username": "<script>", "display_name": "X", "password": "password-123"},
        {"username": "newbie", "display_name": "d" * 65, "password": "password-123"},
        {"username": "newbie", "display_name": "Nul\x00", "password": "password-123"},
        {"username": "newbie", "display_name": "X", "password": "short"},
        {"username": "newbie", "display_name": "X", "password": "p" * 129},
    ]
    for case in cases:
        response = client.post("/register", data={**case, "confirm": case["password"]})
        assert response.status_code == 422, case
    assert counts() == before


def test_script_in_a_registered_display_name_is_inert(client, demo):
    response = client.post(
        "/register",
        data={"username": "mallory", "display_name": SCRIPT, "password": "password-123",
              "confirm": "password-123"},
        follow_redirects=True,
    )  # fmt: skip
    html = response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html


# --- CSRF ---------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app, demo):
    """The same database, served by an app with CSRF protection on (as in production)."""
    from consult import create_app

    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY")}
    other = create_app(
        {**config, "TESTING": True, "WTF_CSRF_ENABLED": True, "SOCKETIO_ASYNC_MODE": "threading"}
    )
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def page_token(client, url) -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_login_without_csrf_token_is_refused(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "chair", "password": "yiting-demo"},
                           headers={"Accept-Language": "en"})  # fmt: skip
    assert response.status_code == 400
    assert "csrf_failed" in response.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    # With the token from the form, the same sign-in works.
    token = page_token(client, "/login")
    response = client.post(
        "/login", data={"username": "chair", "password": "yiting-demo", "csrf_token": token}
    )
    assert response.status_code == 302
    assert client.get("/api/v1/me").get_json()["user"]["username"] == "chair"


def test_register_without_csrf_token_stores_nothing(csrf_app):
    client = csrf_app.test_client()
    before = counts()
    response = client.post("/register", data={"username": "newbie", "display_name": "N",
                                              "password": "password-123",
                                              "confirm": "password-123"})  # fmt: skip
    assert response.status_code == 400
    assert counts() == before


def test_forms_of_a_signed_in_user_need_the_token(csrf_app):
    client = csrf_app.test_client()
    token = page_token(client, "/login")
    client.post("/login", data={"username": "chair", "password": "yiting-demo",
                                "csrf_token": token})  # fmt: skip
    before = counts()
    response = client.post("/communities/demo/consultations/new", data=form_values())
    assert response.status_code == 400
    assert counts() == before
    with csrf_app.app_context():
        cid = db.session.scalar(sa.select(Consultation.id).where(Consultation.status == "live"))
        db.session.remove()
    response = client.post(f"/consultations/{cid}/transition", data={"to": "closed"})
    assert response.status_code == 400
    db.session.rollback()
    assert db.session.get(Consultation, cid).status == "live"


def test_api_with_session_cookie_needs_the_csrf_header(csrf_app):
    client = csrf_app.test_client()
    token = page_token(client, "/login")
    client.post("/login", data={"username": "chair", "password": "yiting-demo",
                                "csrf_token": token})  # fmt: skip
    before = counts()
    payload = {"community": "demo", "title": "Cookie only"}
    response = client.post("/api/v1/consultations", json=payload)
    assert response.status_code == 403
    assert error_code(response) == "csrf_failed"
    response = client.post("/api/v1/consultations", json=payload,
                           headers={"X-CSRFToken": "forged"})  # fmt: skip
    assert error_code(response) == "csrf_failed"
    assert counts() == before
    # Reading needs no token; writing with the page's token works.
    assert client.get("/api/v1/me").status_code == 200
    html = client.get("/").get_data(as_text=True)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
    response = client.post("/api/v1/consultations", json=payload, headers={"X-CSRFToken": meta})
    assert response.status_code == 201


def test_bearer_token_calls_need_no_csrf_token(csrf_app):
    client = csrf_app.test_client()
    token = client.post("/api/v1/token", json={"username": "chair", "password": "yiting-demo"})
    assert token.status_code == 201
    response = client.post(
        "/api/v1/consultations",
        json={"community": "demo", "title": "From a kiosk"},
        headers={"Authorization": f"Bearer {token.get_json()['token']}"},
    )
    assert response.status_code == 201
