"""Session lifetime: an idle timeout and an absolute timeout for signed-in browsers."""

import time

from flask import current_app, flash, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user, logout_user


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, not opened again for every Socket.IO event.

    Flask-SocketIO handles each event in a request context made from the connection's
    environ, so Flask verifies and decodes the session cookie each time, and then
    Flask-SocketIO puts in its place the copy of the session it keeps for the connection
    (``saved_session`` in the environ, made at the connect). That copy is given at once."""

    def open_session(self, app, request):
        saved = request.environ.get("saved_session")
        if saved is not None:
            return saved
        return super().open_session(app, request)


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
    if "_started" not in session and current_user.is_authenticated:
        session["_started"] = started


def init_app(app) -> None:
    app.session_interface = SessionInterface()
    app.config.setdefault("SESSION_IDLE_SECONDS", 2 * 3600)
    app.config.setdefault("SESSION_ABSOLUTE_SECONDS", 12 * 3600)
    app.before_request(check)
