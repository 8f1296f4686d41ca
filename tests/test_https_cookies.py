"""Cookies over HTTPS behind a reverse proxy (SPEC: secure, HttpOnly and SameSite cookies).

``SESSION_COOKIE_SECURE`` comes from the environment (``SESSION_COOKIE_SECURE=1``), and
``PROXY_HOPS=1`` makes Yiting trust nginx's ``X-Forwarded-Proto: https``. These tests build
the app the way such a deployment does and read the ``Set-Cookie`` headers a browser gets.
"""

from __future__ import annotations

import re
import shutil

import pytest

from consult import config, create_app

HOST = "yiting.example"
PROXY = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": HOST,
    "X-Forwarded-For": "203.0.113.7",
}
ORIGIN = f"https://{HOST}"


def make_app(db_path, **overrides):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "https-test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "SOCKETIO_ASYNC_MODE": "threading",
            "PUBLIC_PAGE_CACHE_SECONDS": 0,
            **overrides,
        }
    )


@pytest.fixture
def https_app(tmp_path, demo_template):
    """The demo behind nginx with HTTPS: SESSION_COOKIE_SECURE=1, PROXY_HOPS=1, CSRF on."""
    from consult.extensions import db

    db_path = tmp_path / "yiting.db"
    shutil.copy(demo_template, db_path)
    app = make_app(db_path, SESSION_COOKIE_SECURE=True, PROXY_HOPS=1)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def cookies_set(response) -> dict[str, dict[str, str | bool]]:
    """Each cookie of the response's ``Set-Cookie`` headers with its attributes."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        name = name_value.split("=", 1)[0]
        attrs: dict[str, str | bool] = {}
        for attribute in attributes:
            key, _, value = attribute.partition("=")
            attrs[key.lower()] = value or True
        found[name] = attrs
    return found


def assert_locked_down(name, attrs):
    assert attrs.get("secure") is True, f"cookie {name} is not Secure: {attrs}"
    assert attrs.get("httponly") is True, f"cookie {name} is not HttpOnly: {attrs}"
    assert str(attrs.get("samesite", "")).lower() == "lax", f"cookie {name}: {attrs}"


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the sign-in form carries no CSRF token"
    return match.group(1)


def sign_in(client, username="alice", password="yiting-demo"):
    page = client.get("/login", headers=PROXY)
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        headers={**PROXY, "Referer": f"{ORIGIN}/login"},
    )
    return page, response


def test_sign_in_over_https_sets_only_secure_httponly_samesite_cookies(https_app):
    client = https_app.test_client()
    page, response = sign_in(client)
    assert response.status_code == 302, response.text
    assert not response.headers["Location"].startswith("http://")

    cookie_name = https_app.config["SESSION_COOKIE_NAME"]
    for each in (page, response):
        set_here = cookies_set(each)
        for name, attrs in set_here.items():  # the session, and a remember cookie if any
            assert_locked_down(name, attrs)
    signed_in = cookies_set(response)
    assert cookie_name in signed_in, "signing in set no session cookie"
    assert "remember_token" not in signed_in  # no long-lived cookie: sessions end (12 h)

    # The secure session works on the next request, as a browser would send it back.
    me = client.get("/api/v1/me", headers=PROXY)
    assert me.status_code == 200
    assert me.get_json()["user"]["username"] == "alice"


def test_a_form_over_https_needs_a_same_site_referer(https_app):
    """Behind the proxy the request counts as HTTPS, so Flask-WTF's strict referrer check
    applies: a cross-site form post is refused even with a valid token."""
    client = https_app.test_client()
    page = client.get("/login", headers=PROXY)
    data = {"username": "alice", "password": "yiting-demo", "csrf_token": csrf_token(page.text)}
    refused = client.post(
        "/login", data=data, headers={**PROXY, "Referer": "https://evil.example/login"}
    )
    assert refused.status_code == 400
    assert "csrf_failed" in refused.text
    assert client.get("/api/v1/me", headers=PROXY).status_code == 401  # not signed in


def test_preference_cookies_are_secure_too(https_app):
    client = https_app.test_client()
    for path, name in (("/lang/en", "lang"), ("/text/large", "text")):
        response = client.get(path, headers=PROXY)
        assert response.status_code == 302
        set_here = cookies_set(response)
        assert name in set_here, (path, set_here)
        assert_locked_down(name, set_here[name])


def test_plain_http_without_the_setting_keeps_cookies_usable(tmp_path, demo_template):
    """A development server on http://127.0.0.1 (no SESSION_COOKIE_SECURE) must not set
    Secure cookies, which a browser would drop there; HttpOnly and SameSite stay."""
    from consult.extensions import db

    db_path = tmp_path / "plain.db"
    shutil.copy(demo_template, db_path)
    app = make_app(db_path, WTF_CSRF_ENABLED=False)
    with app.app_context():
        client = app.test_client()
        response = client.post("/login", data={"username": "alice", "password": "yiting-demo"})
        assert response.status_code == 302
        attrs = cookies_set(response)[app.config["SESSION_COOKIE_NAME"]]
        assert "secure" not in attrs
        assert attrs.get("httponly") is True
        assert str(attrs.get("samesite")).lower() == "lax"
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    ("value", "secure"), [("1", True), ("0", False), ("", False), ("yes", False)]
)
def test_the_setting_comes_from_the_environment(monkeypatch, tmp_path, value, secure):
    monkeypatch.setenv("YITING_DATA", str(tmp_path))
    monkeypatch.setenv("SESSION_COOKIE_SECURE", value)
    monkeypatch.setenv("PROXY_HOPS", "1")
    settings = config.from_environment()
    assert settings["SESSION_COOKIE_SECURE"] is secure
    assert settings["PROXY_HOPS"] == 1
