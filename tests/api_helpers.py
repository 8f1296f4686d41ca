"""Helpers shared by the JSON API tests."""

import sqlalchemy as sa

from consult.extensions import db


def cached_headers(auth):
    """``headers(username)``: Bearer headers per user, made once per test."""
    cache = {}

    def headers(username):
        if username not in cache:
            cache[username] = auth.headers(username)
        return cache[username]

    return headers


def error(response):
    """The error code of a JSON error answer."""
    return response.get_json()["error"]["code"]


def count(model) -> int:
    """Rows of ``model`` in the database, read afresh."""
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))
