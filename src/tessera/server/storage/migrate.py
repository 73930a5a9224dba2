"""Apply the Alembic migrations programmatically (``tessera db upgrade`` and on start)."""

from __future__ import annotations

from sqlalchemy import text

from tessera.server.storage.database import Database

__all__ = ["current_revision", "upgrade"]

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
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK})
        config.attributes["connection"] = conn  # type: ignore[attr-defined]
        command.upgrade(config, revision)  # type: ignore[arg-type]


def current_revision(db: Database) -> str | None:
    """The schema's revision, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
