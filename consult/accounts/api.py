from flask import jsonify, request

from consult.api import bp, json_body, require_user
from consult.core.payload import parse

from . import service
from .forms import TokenForm


@bp.post("/token")
def create_token():
    """``{username, password}`` → ``{token, user}``."""
    form = parse(TokenForm, json_body())
    user = service.authenticate(form.username.data, form.password.data, request.remote_addr or "")
    token = service.issue_token(user, form.label.data or "api")
    return jsonify({"token": token, "user": user.to_dict()}), 201


@bp.delete("/token")
def revoke_token():
    """Revoke the bearer token this call is made with."""
    user = require_user()
    _scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    service.revoke_token(user, token.strip())
    return "", 204


@bp.get("/me")
def me():
    user = require_user()
    from consult.communities.service import communities_of, membership

    return jsonify(
        {
            "user": user.to_dict(),
            "site_admin": user.is_site_admin,
            "communities": [
                {**c.to_dict(), "role": membership(user, c).role} for c in communities_of(user)
            ],
        }
    )
