"""Security basics and the language switch: headers, session handling at sign-in, cookies,
redirects that stay on the site, Socket.IO authentication, language and text size."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from consult.extensions import socketio

PAGES = ["/", "/login", "/register", "/communities/demo", "/no-such-page"]


def csp_directives(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("url", PAGES + ["/api/v1/communities", "/api/v1/me"])
def test_security_headers_on_every_response(demo, client, url):
    response = client.get(url)
    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {"same-origin", "no-referrer",
                                                   "strict-origin-when-cross-origin"}  # fmt: skip


def test_pages_have_no_inline_scripts_or_styles(demo, client, auth):
    auth.login("chair")
    for url in ["/", "/communities/demo", f"/consultations/{demo.id}", "/communities/demo/admin",
                "/communities/demo/consultations/new"]:  # fmt: skip
        html = client.get(url).get_data(as_text=True)
        for script in html.split("<script")[1:]:
            tag = script.split(">", 1)[0]
            # Only external scripts, or JSON data blocks (which browsers never execute).
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        assert " style=" not in html, url
        assert " onclick=" not in html and " onload=" not in html, url


def test_sign_in_starts_a_new_session(demo, client):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    before = client.get_cookie("session").value
    response = client.post("/login", data={"username": "alice", "password": "yiting-demo"})
    assert response.status_code == 302
    after = client.get_cookie("session")
    assert after.value != before
    with client.session_transaction() as session:
        assert "planted" not in session
    assert client.get("/api/v1/me").get_json()["user"]["username"] == "alice"


def test_session_cookie_flags(demo, client):
    response = client.post("/login", data={"username": "alice", "password": "yiting-demo"})
    cookie = next(
        value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_sign_out_ends_the_session(demo, client):
    client.post("/login", data={"username": "alice", "password": "yiting-demo"})
    old = client.get_cookie("session").value
    client.post("/logout")
    assert client.get("/api/v1/me").status_code == 401
    # Replaying the old cookie after sign-out still names alice only until the password
    # changes; but the browser's cookie itself no longer does.
    assert client.get_cookie("session") is None or client.get_cookie("session").value != old


def test_sign_out_needs_post(demo, client):
    client.post("/login", data={"username": "alice", "password": "yiting-demo"})
    assert client.get("/logout").status_code == 405
    assert client.get("/api/v1/me").status_code == 200


def test_failed_sign_in_does_not_say_which_part_was_wrong(demo, client):
    unknown = client.post("/login", data={"username": "nobody", "password": "yiting-demo"})
    wrong = client.post("/login", data={"username": "alice", "password": "not-this-one"})
    assert unknown.status_code == wrong.status_code == 401
    assert 'data-code="invalid_credentials"' in unknown.get_data(as_text=True)
    assert 'data-code="invalid_credentials"' in wrong.get_data(as_text=True)


# --- redirects --------------------------------------------------------------------------------

EVIL = [
    "//evil.example",
    "//evil.example/path",
    "https://evil.example/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "https://localhost.evil.example/",
]


def assert_on_site(location: str) -> None:
    parts = urlsplit(location)
    assert parts.scheme in ("", "http", "https"), location
    assert parts.netloc in ("", "localhost"), location
    assert not location.startswith("//"), location
    assert "\\" not in location and "\t" not in location, location


@pytest.mark.parametrize("target", EVIL)
def test_language_switch_does_not_redirect_off_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert_on_site(response.headers["Location"])


@pytest.mark.parametrize("target", EVIL)
def test_text_size_switch_does_not_redirect_off_site(client, target):
    response = client.get("/text/large", query_string={"next": target})
    assert_on_site(response.headers["Location"])


def test_foreign_referrer_is_not_followed(client):
    response = client.get("/lang/en", headers={"Referer": "https://evil.example/page"})
    assert_on_site(response.headers["Location"])


@pytest.mark.parametrize("target", EVIL)
def test_sign_in_does_not_redirect_off_site(demo, client, target):
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "alice", "password": "yiting-demo"},
    )
    assert response.status_code == 302
    assert_on_site(response.headers["Location"])


def test_switches_return_to_the_page_on_site(client):
    response = client.get("/lang/en", query_string={"next": "/communities/demo?x=1"})
    assert response.headers["Location"] == "/communities/demo?x=1"


def test_sign_in_returns_to_the_requested_page(demo, client):
    response = client.get("/communities/demo/admin")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert "/login" in login_url
    response = client.post(login_url, data={"username": "chair", "password": "yiting-demo"})
    assert response.headers["Location"] == "/communities/demo/admin"


# --- language and text size -------------------------------------------------------------------


def test_chinese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-Hans"' in html


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-CN", "zh-Hans"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        ("fr-FR,fr;q=0.9", "zh-Hans"),
        ("fr-FR,en;q=0.5", "en"),
    ],
)
def test_accept_language_is_honoured(client, header, lang):
    html = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{lang}"' in html


def test_english_page_speaks_english(demo, client):
    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Sign in" in html and "Password" in html


def test_language_choice_is_remembered(client):
    response = client.get("/lang/en", query_string={"next": "/"})
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("lang="))
    assert cookie.startswith("lang=en;")
    assert "Max-Age=" in cookie and "SameSite=Lax" in cookie
    # The remembered choice wins over the browser's header.
    html = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<html lang="en"' in html
    client.get("/lang/zh")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-Hans"' in html


def test_unknown_language_changes_nothing(client):
    response = client.get("/lang/xx")
    assert response.status_code == 302
    assert not any(v.startswith("lang=") for v in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("url", PAGES)
def test_every_page_has_the_language_and_text_switch(demo, client, url):
    html = client.get(url).get_data(as_text=True)
    assert "/lang/en?next=" in html
    assert "/text/large?next=" in html
    html = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "/lang/zh?next=" in html


def test_large_text_is_remembered(client):
    html = client.get("/").get_data(as_text=True)
    assert 'class="text-large"' not in html
    client.get("/text/large")
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-Hans" class="text-large"' in html
    assert "/text/normal?next=" in html
    client.get("/text/normal")
    assert 'class="text-large"' not in client.get("/").get_data(as_text=True)


def test_error_pages_are_pages_with_a_code(client):
    response = client.get("/communities/nowhere", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<code>community_not_found</code>" in html
    assert '<html lang="en"' in html


# --- Socket.IO authentication -----------------------------------------------------------------


def test_socket_connects_with_a_token_or_a_session_only(demo, app, client, auth):
    anonymous = socketio.test_client(app)
    assert not anonymous.is_connected()
    forged = socketio.test_client(app, auth={"token": "forged"})
    assert not forged.is_connected()
    with_token = socketio.test_client(app, auth={"token": auth.token("bob")})
    assert with_token.is_connected()
    with_token.disconnect()
    auth.login("alice")
    with_session = socketio.test_client(app, flask_test_client=client)
    assert with_session.is_connected()
    with_session.disconnect()
