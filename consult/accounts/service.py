"""Account operations: register, authenticate (rate-limited), issue and revoke tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from consult import audit
from consult.core.payload import check_text
from consult.core.time import utcnow
from consult.errors import Conflict, Invalid, TooMany, Unauthorized
from consult.extensions import db

from .forms import USERNAME_RE
from .models import ApiToken, LoginAttempt, User
from .passwords import (
    DUMMY_HASH,
    MAX_LENGTH,
    MIN_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)


def validate_new_account(username: str, display_name: str, password: str) -> None:
    """Check the fields of a new account; raise :class:`Invalid` with a field code."""
    if not isinstance(username, str) or not re.fullmatch(USERNAME_RE, username):
        raise Invalid(
            "invalid_username",
            _("Use 3–32 lower-case letters, digits, dots, dashes or underscores."),
        )
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > 64:
        raise Invalid("invalid_display_name", _("The display name must be 1–64 characters."))
    check_text(display_name)
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Invalid(
            "invalid_password",
            _(
                "The password must be %(min)d to %(max)d characters.",
                min=MIN_LENGTH,
                max=MAX_LENGTH,
            ),
        )


def find_user(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def create_user(
    username: str, display_name: str, password: str, *, actor=None, site_admin=False
) -> User:
    """Create an account in the caller's transaction (the caller commits)."""
    validate_new_account(username, display_name, password)
    if find_user(username) is not None:
        raise Conflict("username_taken", _("That username is already taken."))
    user = User(
        username=username,
        display_name=check_text(display_name.strip()),
        password_hash=hash_password(password),
        is_site_admin=site_admin,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(actor or user, "user.created", user, username=username)
    return user


def register(username: str, display_name: str, password: str) -> User:
    """Self-registration from the register page."""
    user = create_user(username, display_name, password)
    db.session.commit()
    return user


def _check_rate(username: str, address: str) -> None:
    cfg = current_app.config
    since = utcnow() - timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    by_account = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.at >= since)
    )
    by_address = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.address == address, LoginAttempt.at >= since)
    )
    if (
        by_account >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        or by_address >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    ):
        minutes = cfg["LOGIN_WINDOW_SECONDS"] // 60
        raise TooMany(
            "too_many_attempts",
            _(
                "Too many failed sign-in attempts. Please wait %(minutes)d minutes and try "
                "again, or ask your community worker to help.",
                minutes=minutes,
            ),
        )


def authenticate(username: str, password: str, address: str) -> User:
    """The user for these credentials, or :class:`Unauthorized`; failures are rate-limited."""
    username = (username or "").strip().lower()[:64]
    address = (address or "unknown")[:64]
    _check_rate(username, address)
    user = find_user(username)
    ok = verify_password(user.password_hash if user else DUMMY_HASH, password or "")
    if not (user and ok):
        db.session.add(LoginAttempt(username=username, address=address))
        db.session.commit()
        raise Unauthorized("invalid_credentials", _("Wrong username or password."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.username == username))
    db.session.commit()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, label: str = "") -> str:
    """A new random token (256 bits); only its digest is stored. Returned once."""
    token = secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, token_hash=_digest(token), label=label[:64])
    db.session.add(record)
    audit.record(user, "token.issued", record, label=label[:64])
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    if not token or len(token) > 256:
        return None
    record = db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    return record.user if record else None


def revoke_token(user: User, token: str) -> None:
    record = db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == _digest(token), ApiToken.user_id == user.id
        )
    )
    if record is None or record.revoked_at is not None:
        raise Unauthorized("invalid_token", _("This token is not valid."))
    record.revoked_at = utcnow()
    audit.record(user, "token.revoked", record)
    db.session.commit()


def _session_parts(session_id) -> tuple[int, int] | None:
    try:
        user_id, epoch = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    return user_id, epoch


def session_user(session_id) -> tuple[int, int] | None:
    """The user id and epoch a session names (``"<id>:<epoch>"``), not yet checked: for a
    statement that checks the epoch itself, as :func:`load_session_user` does."""
    parts = _session_parts(session_id)
    if parts is None or not 0 < parts[0] < 2**63 or not -(2**31) <= parts[1] < 2**31:
        return None
    return parts


def session_user_id(session_id) -> int | None:
    """The user id a session names, not yet checked: for reading the user together with
    something else before :func:`load_session_user` checks it."""
    parts = session_user(session_id)
    return parts[0] if parts else None


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: ``"<id>:<epoch>"``; a stale epoch ends the session. A user
    already in the database session (read beside something else) is not read again."""
    parts = _session_parts(session_id)
    if parts is None:
        return None
    user_id, epoch = parts
    user = db.session.get(User, user_id)
    if user is None or user.session_epoch != epoch:
        return None
    return user
