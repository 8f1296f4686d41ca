"""Accounts: registration, password hashing, rate-limited sign-in and API tokens."""

from __future__ import annotations

import base64
import re

import pytest
import sqlalchemy as sa

from consult.accounts import service
from consult.accounts.models import ApiToken, LoginAttempt, User
from consult.errors import Conflict, Invalid, TooMany, Unauthorized
from consult.extensions import db


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- registration ------------------------------------------------------------------------


def test_register_creates_the_account(app):
    user = service.register("wang.li", "王丽", "a-good-password")
    stored = db.session.scalar(sa.select(User).where(User.username == "wang.li"))
    assert stored is not None and stored.id == user.id
    assert stored.display_name == "王丽"
    assert stored.password_hash != "a-good-password"
    assert not stored.is_site_admin


def test_duplicate_username_is_refused(app):
    service.register("wang", "Wang", "a-good-password")
    with pytest.raises(Conflict) as caught:
        service.register("wang", "Another Wang", "another-password")
    assert caught.value.code == "username_taken"
    assert caught.value.status == 409
    db.session.rollback()
    assert count(User) == 1


def test_register_page_refuses_a_taken_username(client, make_user):
    make_user("wang")
    response = client.post(
        "/register",
        data={
            "username": "wang",
            "display_name": "Wang",
            "password": "a-good-password",
            "confirm": "a-good-password",
        },
    )
    assert response.status_code == 409
    assert 'data-code="username_taken"' in response.get_data(as_text=True)
    assert count(User) == 1


@pytest.mark.parametrize("length", [8, 128])
def test_password_length_limits_are_inclusive(app, length):
    user = service.register("limit", "Limit", "p" * length)
    assert service.authenticate("limit", "p" * length, "10.0.0.1").id == user.id


@pytest.mark.parametrize("length", [0, 7, 129, 1000])
def test_password_outside_8_to_128_is_refused(app, length):
    with pytest.raises(Invalid) as caught:
        service.register("limit", "Limit", "p" * length)
    assert caught.value.code == "invalid_password"
    db.session.rollback()
    assert count(User) == 0


def test_register_page_refuses_a_short_password(client):
    response = client.post(
        "/register",
        data={
            "username": "shorty",
            "display_name": "S",
            "password": "1234567",
            "confirm": "1234567",
        },
    )
    assert response.status_code == 422
    assert count(User) == 0


@pytest.mark.parametrize(
    "username", ["ab", "Has-Capitals", "with space", "<b>x</b>", "a" * 33, "-leading", "名字"]
)
def test_bad_usernames_are_refused(app, username):
    with pytest.raises(Invalid) as caught:
        service.register(username, "Name", "a-good-password")
    assert caught.value.code == "invalid_username"
    db.session.rollback()
    assert count(User) == 0


def test_register_page_signs_the_new_user_in(client):
    response = client.post(
        "/register",
        data={
            "username": "newbie",
            "display_name": "New Resident",
            "password": "a-good-password",
            "confirm": "a-good-password",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "New Resident" in response.get_data(as_text=True)
    me = client.get("/api/v1/me").get_json()
    assert me["user"]["username"] == "newbie"


# --- password hashing --------------------------------------------------------------------


def test_password_is_hashed_with_argon2id_at_owasp_strength(app):
    user = service.register("hashme", "Hash", "a-good-password")
    stored = db.session.get(User, user.id).password_hash
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", stored)
    assert match, stored
    memory_kib, iterations, parallelism = (int(g) for g in match.groups())
    assert memory_kib >= 19456
    assert iterations >= 2
    assert parallelism == 1
    assert "a-good-password" not in stored


# --- signing in --------------------------------------------------------------------------


def test_sign_in_with_the_right_password(app, make_user):
    user = make_user("resident", password="right-password")
    assert service.authenticate("resident", "right-password", "10.0.0.1").id == user.id


def test_wrong_password_is_refused_and_recorded(app, make_user):
    make_user("resident", password="right-password")
    with pytest.raises(Unauthorized) as caught:
        service.authenticate("resident", "wrong-password", "10.0.0.1")
    assert caught.value.code == "invalid_credentials"
    assert count(LoginAttempt) == 1


def test_unknown_account_gets_the_same_answer(app):
    with pytest.raises(Unauthorized) as caught:
        service.authenticate("nobody", "whatever-password", "10.0.0.1")
    assert caught.value.code == "invalid_credentials"


def test_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(app, make_user):
    make_user("resident", password="right-password")
    for _ in range(5):
        with pytest.raises(Unauthorized):
            service.authenticate("resident", "wrong-password", f"10.0.0.{_}")
    with pytest.raises(TooMany) as caught:
        service.authenticate("resident", "right-password", "10.0.0.99")
    assert caught.value.code == "too_many_attempts"
    assert caught.value.status == 429


def test_failures_under_the_limit_are_forgotten_after_a_success(app, make_user):
    make_user("resident", password="right-password")
    for _ in range(4):
        with pytest.raises(Unauthorized):
            service.authenticate("resident", "wrong-password", "10.0.0.1")
    service.authenticate("resident", "right-password", "10.0.0.1")
    with pytest.raises(Unauthorized):
        service.authenticate("resident", "wrong-password", "10.0.0.1")
    # The counter started again: this is not the sixth failure in a row.
    assert service.authenticate("resident", "right-password", "10.0.0.1")


def test_sign_in_is_rate_limited_per_address(app, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
    make_user("victim", password="right-password")
    for n in range(4):
        with pytest.raises(Unauthorized):
            service.authenticate(f"guess{n}", "wrong-password", "192.0.2.7")
    with pytest.raises(TooMany) as caught:
        service.authenticate("victim", "right-password", "192.0.2.7")
    assert caught.value.code == "too_many_attempts"
    # Another address is not affected.
    assert service.authenticate("victim", "right-password", "192.0.2.8").username == "victim"


def test_sign_in_page_shows_the_rate_limit_message(client, make_user):
    make_user("resident", password="right-password")
    for _ in range(5):
        response = client.post("/login", data={"username": "resident", "password": "nope-nope"})
        assert response.status_code == 401
    response = client.post(
        "/login",
        data={"username": "resident", "password": "right-password"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert 'data-code="too_many_attempts"' in html
    assert "Too many failed sign-in attempts" in html
    assert client.get("/api/v1/me").status_code == 401


def test_token_endpoint_is_rate_limited_too(client, make_user):
    make_user("resident", password="right-password")
    for _ in range(5):
        response = client.post(
            "/api/v1/token", json={"username": "resident", "password": "wrong-password"}
        )
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_credentials"
    response = client.post(
        "/api/v1/token", json={"username": "resident", "password": "right-password"}
    )
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "too_many_attempts"
    assert count(ApiToken) == 0


def test_sign_in_and_out_through_the_pages(client, make_user):
    make_user("resident", password="right-password", display_name="Resident Ren")
    response = client.post("/login", data={"username": "resident", "password": "right-password"})
    assert response.status_code == 302
    assert "Resident Ren" in client.get("/").get_data(as_text=True)
    client.post("/logout")
    assert "Resident Ren" not in client.get("/").get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


def test_changed_session_epoch_ends_existing_sessions(client, make_user):
    user = make_user("resident", password="right-password")
    client.post("/login", data={"username": "resident", "password": "right-password"})
    assert client.get("/api/v1/me").status_code == 200
    user.session_epoch += 1
    db.session.commit()
    assert client.get("/api/v1/me").status_code == 401


# --- tokens ------------------------------------------------------------------------------


def test_issued_token_is_random_and_only_its_sha256_is_stored(app, make_user):
    user = make_user("kiosk")
    token = service.issue_token(user, "hall screen")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    assert service.issue_token(user) != token
    rows = db.session.execute(sa.text("SELECT * FROM api_token")).all()
    assert len(rows) == 2
    for row in rows:
        assert all(token not in str(value) for value in row)
    import hashlib

    digest = hashlib.sha256(token.encode()).hexdigest()
    assert db.session.scalar(sa.select(ApiToken.label).where(ApiToken.token_hash == digest)) == (
        "hall screen"
    )


def test_token_identifies_its_user_until_revoked(app, make_user):
    user = make_user("kiosk")
    token = service.issue_token(user)
    assert service.user_for_token(token).id == user.id
    assert service.user_for_token(token + "x") is None
    assert service.user_for_token("") is None
    service.revoke_token(user, token)
    assert service.user_for_token(token) is None
    assert db.session.scalar(sa.select(ApiToken.revoked_at)) is not None
    with pytest.raises(Unauthorized) as caught:
        service.revoke_token(user, token)
    assert caught.value.code == "invalid_token"


def test_someone_else_cannot_revoke_my_token(app, make_user):
    owner, other = make_user("owner"), make_user("other")
    token = service.issue_token(owner)
    with pytest.raises(Unauthorized):
        service.revoke_token(other, token)
    db.session.rollback()
    assert service.user_for_token(token).id == owner.id


def test_revoked_token_gets_401_over_http(client, make_user):
    make_user("kiosk", password="kiosk-password")
    response = client.post(
        "/api/v1/token", json={"username": "kiosk", "password": "kiosk-password"}
    )
    token = response.get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete("/api/v1/token", headers=headers).status_code == 204
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"
