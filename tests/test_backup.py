"""SQLite backup and restore through the CLI."""

import sqlalchemy as sa

from consult.accounts.models import User
from consult.audit import verify
from consult.extensions import db


def _usernames():
    return sorted(db.session.scalars(sa.select(User.username)))


def test_backup_then_restore_brings_back_the_data(demo, runner, make_user, tmp_path):
    before = _usernames()
    target = tmp_path / "backup.db"
    result = runner.invoke(args=["backup", "--to", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0

    make_user("zoe")
    db.session.commit()
    assert "zoe" in _usernames()

    refused = runner.invoke(args=["restore", str(target)])
    assert refused.exit_code != 0 and "--yes" in refused.output
    assert "zoe" in _usernames()

    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert _usernames() == before
    assert verify()[1] is None


def test_restore_refuses_a_file_that_is_not_a_yiting_database(demo, runner, tmp_path):
    import sqlite3

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    result = runner.invoke(args=["restore", str(other), "--yes"])
    assert result.exit_code != 0
    assert "not a Yiting database" in result.output
    assert "alice" in _usernames()
