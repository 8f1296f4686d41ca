"""The migrations are the schema: applied to an empty database they give exactly the models'
tables, constraints and indexes, and the SQLite settings hold (WAL, foreign keys)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from consult import create_app
from consult.config import ROOT
from consult.extensions import db

MIGRATIONS = str(ROOT / "migrations")


@pytest.fixture
def empty_app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}",
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def differences() -> list:
    from consult.core.database import all_models

    metadata = all_models()
    assert metadata is db.metadata
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def test_migrations_give_exactly_the_models_schema(empty_app):
    upgrade(directory=MIGRATIONS)
    assert differences() == []


def test_every_model_table_is_created(empty_app):
    upgrade(directory=MIGRATIONS)
    tables = set(sa.inspect(db.engine).get_table_names())
    expected = {
        "user",
        "api_token",
        "login_attempt",
        "audit_entry",
        "community",
        "membership",
        "consultation",
        "agenda_item",
        "participant",
    }
    assert expected <= tables
    assert set(db.metadata.tables) <= tables


def test_downgrade_to_nothing_and_back(empty_app):
    upgrade(directory=MIGRATIONS)
    downgrade(directory=MIGRATIONS, revision="base")
    assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(directory=MIGRATIONS)
    assert differences() == []


def test_sqlite_runs_with_wal_and_foreign_keys(empty_app):
    upgrade(directory=MIGRATIONS)
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_integrity_lives_in_the_schema(empty_app):
    upgrade(directory=MIGRATIONS)
    from consult.communities.models import Membership

    with pytest.raises(sa.exc.IntegrityError):  # foreign key: no such user or community
        db.session.add(Membership(community_id=41, user_id=42, role="resident"))
        db.session.commit()
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO user (username, display_name, password_hash, is_site_admin, created_at,"
            " session_epoch) VALUES ('a', 'A', 'x', 0, '2030-01-01', 0)"
        )
        connection.exec_driver_sql(
            "INSERT INTO community (slug, name, timezone, created_at)"
            " VALUES ('c', 'C', 'Asia/Shanghai', '2030-01-01')"
        )
    for statement in (
        # the role must be one of the three
        "INSERT INTO membership (community_id, user_id, role, created_at)"
        " VALUES (1, 1, 'mayor', '2030-01-01')",
        # usernames are unique
        "INSERT INTO user (username, display_name, password_hash, is_site_admin, created_at,"
        " session_epoch) VALUES ('a', 'B', 'y', 0, '2030-01-01', 0)",
    ):
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.exec_driver_sql(statement)
