"""The JSON API under ``/api/v1``: one blueprint that every feature adds its routes to.

Errors are ``{"error": {"code", "message"}}`` with a fitting status. Authentication is a
bearer token (``Authorization: Bearer …``) or the browser's session cookie; a state-changing
call made with the cookie must carry the CSRF token in ``X-CSRFToken``.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from consult.errors import BadRequest, DomainError, Forbidden, Unauthorized
from consult.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def error_response(error: DomainError):
    response = jsonify({"error": error.to_dict()})
    response.status_code = error.status
    return response


@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    g.auth_via = None
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("invalid_token", _("Use “Authorization: Bearer <token>”."))
        from consult.accounts.service import user_for_token

        user = user_for_token(token.strip())
        if user is None:
            raise Unauthorized("invalid_token", _("This token is not valid or was revoked."))
        g._login_user = user  # Flask-Login's per-request user; no session is created
        g.auth_via = "token"
    elif current_user.is_authenticated:
        g.auth_via = "session"
        if request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except (ValidationError, CSRFError) as exc:
                raise Forbidden(
                    "csrf_failed",
                    _("Send the page's CSRF token in X-CSRFToken, or use a bearer token."),
                ) from exc


@bp.after_request
def vary_on_authorization(response):
    response.vary.add("Authorization")
    return response


def json_body() -> dict:
    """The request's JSON object, or a clear error."""
    if not request.is_json:
        raise BadRequest("bad_json", _("Send a JSON body with Content-Type: application/json."))
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("bad_json", _("The request body is not valid JSON."))
    if not isinstance(data, dict):
        raise BadRequest("bad_payload", _("The request body must be a JSON object."))
    return data


def require_user():
    if not current_user.is_authenticated:
        raise Unauthorized("unauthorized", _("Sign in or send a bearer token."))
    return current_user._get_current_object()


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        require_user()
        return view(*args, **kwargs)

    return wrapped
