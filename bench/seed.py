"""Seed a benchmark database: N residents of the demo community with API tokens.

Run with the server's environment (YITING_DATA / DATABASE_URL); prints a JSON list of
``{"username", "token"}``. Passwords are hashed once and shared: this is load data.
"""

import json
import secrets
import sys

import sqlalchemy as sa

from consult import create_app
from consult.accounts.models import ApiToken, User
from consult.accounts.passwords import hash_password
from consult.accounts.service import _digest
from consult.communities.models import Community, Membership
from consult.extensions import db


def seed(count: int) -> list[dict]:
    app = create_app({"SOCKETIO_ASYNC_MODE": "threading"})
    out = []
    with app.app_context():
        community = db.session.scalar(sa.select(Community).where(Community.slug == "demo"))
        shared = hash_password("bench-password")
        for n in range(count):
            username = f"bench{n:05d}"
            user = User(username=username, display_name=f"Bench {n}", password_hash=shared)
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(community_id=community.id, user_id=user.id))
            token = secrets.token_urlsafe(32)
            db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), label="bench"))
            out.append({"username": username, "token": token})
        db.session.commit()
    return out


if __name__ == "__main__":
    json.dump(seed(int(sys.argv[1])), sys.stdout)
