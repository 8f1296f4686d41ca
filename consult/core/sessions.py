"""Session lifetime: an idle timeout and an absolute timeout for signed-in browsers."""

import time

from flask import current_app, flash, session
from flask_babel import gettext as _
from flask_login import current_user, logout_user


def start(session_obj=None) -> None:
    """Mark the start of a signed-in session (called at sign-in)."""
    now = int(time.time())
    (session_obj or session).update({"_started": now, "_seen": now})


def check() -> None:
    """End a session that has been idle too long or is older than the absolute limit."""
    if "_user_id" not in session:
        return
    now = int(time.time())
    config = current_app.config
    started = session.get("_started", now)
    seen = session.get("_seen", now)
    if (
        now - seen > config["SESSION_IDLE_SECONDS"]
        or now - started > config["SESSION_ABSOLUTE_SECONDS"]
    ):
        logout_user()
        session.clear()
        flash(_("You were signed out after a period of inactivity. Please sign in again."), "ok")
        return
    if now - seen >= 60:  # write the cookie at most once a minute
        session["_seen"] = now
    if current_user.is_authenticated and "_started" not in session:
        session["_started"] = started


def init_app(app) -> None:
    app.config.setdefault("SESSION_IDLE_SECONDS", 2 * 3600)
    app.config.setdefault("SESSION_ABSOLUTE_SECONDS", 12 * 3600)
    app.before_request(check)
