"""Apply the Alembic migrations programmatically (``tessera db upgrade`` and on start)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.pool import NullPool

from tessera.server.storage.database import Database

__all__ = ["current_revision", "head_revision", "upgrade"]

_SCRIPTS = "tessera.server:migrations"
_PG_LOCK = 0x7E55E7A  # advisory lock id: replicas starting together migrate one at a time


def _config() -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call from several replicas at once."""
    from alembic import command

    config = _config()
    with _exclusive(db) as conn:
        config.attributes["connection"] = conn  # type: ignore[attr-defined]
        command.upgrade(config, revision)  # type: ignore[arg-type]


@contextlib.contextmanager
def _exclusive(db: Database) -> Iterator[Connection]:
    """A transaction that holds the database's migration lock until it commits.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: ``BEGIN IMMEDIATE`` on a connection
    of its own (the sqlite3 module would otherwise start the transaction only at the first
    write, so two replicas could both find the schema missing and both create it).
    """
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK})
            yield conn
        return
    engine = create_engine(db.url, poolclass=NullPool, connect_args={"timeout": 30})

    def manual(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the module leaves BEGIN to us

    def begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits for (at most) the other migrator

    event.listen(engine, "connect", manual)
    event.listen(engine, "begin", begin)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def current_revision(db: Database) -> str | None:
    """The schema's revision, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this code ships (what ``upgrade`` brings a database to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()  # type: ignore[arg-type]
