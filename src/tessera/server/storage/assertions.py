"""Repository for used client-assertion ids: each ``jti`` is accepted once until it expires."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite

from tessera.server.storage.schema import assertions

__all__ = ["purge_expired", "record_once"]

_INSERTS: dict[str, Any] = {
    "postgresql": postgresql.insert(assertions)
    .on_conflict_do_nothing()
    .returning(assertions.c.jti),
    "sqlite": sqlite.insert(assertions).on_conflict_do_nothing().returning(assertions.c.jti),
}


def record_once(conn: Connection, client_id: str, jti: str, expires_at: float) -> bool:
    """Record a used ``jti`` (call inside a transaction); False when the client already used it.

    The primary key makes the check atomic across replicas sharing the database, and
    ``ON CONFLICT DO NOTHING RETURNING`` makes it one statement that returns no row on a replay.
    """
    statement = _INSERTS[conn.dialect.name]
    row = conn.execute(
        statement, {"client_id": client_id, "jti": jti, "expires_at": expires_at}
    ).first()
    return row is not None


def purge_expired(conn: Connection, now: float) -> int:
    """Forget ids whose assertions have expired (a replay would fail on ``exp`` anyway)."""
    result = conn.execute(delete(assertions).where(assertions.c.expires_at < now))
    return int(result.rowcount)
