"""Engine settings (SQLite gets WAL, foreign keys and a busy timeout), the write lock, and
lookups remembered within one unit of work."""

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from consult.core.payload import parse_id
from consult.errors import NotFound
from consult.extensions import db


def configure(app) -> None:
    engine: Engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def all_models():
    """Import every feature's models so that metadata is complete (migrations, tests)."""
    from importlib import import_module

    from consult import FEATURES

    for name in FEATURES:
        try:
            import_module(f"consult.{name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"consult.{name}.models":
                raise
    return db.metadata


def lock_for_write(session=None) -> None:
    """Take the database's write lock now, so that checks made next hold until commit.

    On SQLite this starts the transaction with ``BEGIN IMMEDIATE`` (writers queue behind the
    busy timeout instead of failing when their snapshot is stale). On PostgreSQL lock the
    rows you check with ``SELECT … FOR UPDATE`` instead (``.with_for_update()``).
    """
    session = session or db.session
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.driver_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_or_404(model, value, code: str, message: str):
    """The row of ``model`` whose id is ``value`` (an id from a URL or a payload, see
    :func:`~consult.core.payload.parse_id`), or :class:`NotFound` with ``code``/``message``."""
    key = parse_id(value)
    row = db.session.get(model, key) if key else None
    if row is None:
        raise NotFound(code, message)
    return row


_MEMO = "remembered"


def remembered(key: tuple, load: Callable):
    """``load()``, asked once per session until the session writes anything.

    For lookups one event repeats (someone's membership of a community, their place in a
    consultation: a message asks each several times, a join more). Anything added to the
    session, any flush, commit or rollback, and any bulk write forgets every answer."""
    memo = db.session.info.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = load()
    return memo[key]


def _forget(session, *args) -> None:
    session.info.pop(_MEMO, None)


for _name in ("after_attach", "after_flush", "after_commit", "after_rollback"):
    event.listen(Session, _name, _forget)
event.listen(Session, "after_soft_rollback", _forget)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_write(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _forget(state.session)
