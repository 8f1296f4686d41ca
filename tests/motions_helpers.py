"""Helpers shared by the motion and vote service tests."""

import pytest
import sqlalchemy as sa

from consult.accounts.service import find_user
from consult.errors import DomainError
from consult.extensions import db
from consult.motions import service


def user(name):
    return find_user(name)


def count(model, **where):
    query = sa.select(sa.func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def code_of(call):
    with pytest.raises(DomainError) as info:
        call()
    return info.value.code


def seconded_motion(demo, title="South gate square", text="Build a small square.", by="alice"):
    motion = service.create_motion(user(by), demo, title, text)
    service.submit_motion(user(by), motion)
    service.second_motion(user("bob" if by != "bob" else "carol"), motion)
    return motion


def open_vote(demo, **settings):
    motion = seconded_motion(demo)
    return service.open_vote(user("chair"), motion, **settings)
