"""Repository for browser sessions at the authorization endpoint (cookie value stored hashed)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from tessera.server.storage.schema import sessions

__all__ = ["SessionRow", "create", "delete_session", "find", "purge_expired"]


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A session: its CSRF token and, once signed in, the user and when they signed in."""

    session_hash: str
    csrf_token: str
    user_id: str | None
    auth_time: float | None
    expires_at: float


def find(conn: Connection, session_hash: str, now: float) -> SessionRow | None:
    """The live session with this hash, or None."""
    row = conn.execute(
        select(
            sessions.c.session_hash,
            sessions.c.csrf_token,
            sessions.c.user_id,
            sessions.c.auth_time,
            sessions.c.expires_at,
        ).where(sessions.c.session_hash == session_hash, sessions.c.expires_at > now)
    ).first()
    if row is None:
        return None
    return SessionRow(str(row[0]), str(row[1]), row[2], row[3], float(row[4]))


def create(conn: Connection, row: SessionRow) -> None:
    """Store a new session."""
    conn.execute(
        insert(sessions).values(
            session_hash=row.session_hash,
            csrf_token=row.csrf_token,
            user_id=row.user_id,
            auth_time=row.auth_time,
            expires_at=row.expires_at,
        )
    )


def delete_session(conn: Connection, session_hash: str) -> None:
    """End a session."""
    conn.execute(delete(sessions).where(sessions.c.session_hash == session_hash))


def purge_expired(conn: Connection, now: float) -> int:
    """Forget expired sessions."""
    return int(conn.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount)
