"""Repository for people who sign in: a stable id (their tokens' ``sub``), a name, a hash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from tessera.server.storage.schema import users

__all__ = [
    "UserRecord",
    "delete_user",
    "find_by_id",
    "find_by_name",
    "find_claims",
    "insert_user",
    "list_all",
    "set_claims",
    "set_hash",
]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored."""

    user_id: str
    username: str
    password_hash: str
    created_at: float
    updated_at: float


_COLUMNS = (
    users.c.user_id,
    users.c.username,
    users.c.password_hash,
    users.c.created_at,
    users.c.updated_at,
)


def _record(row: tuple[object, ...]) -> UserRecord:
    user_id, username, password_hash, created, updated = row
    return UserRecord(
        str(user_id),
        str(username),
        str(password_hash),
        float(created),  # type: ignore[arg-type]
        float(updated),  # type: ignore[arg-type]
    )


def find_by_name(conn: Connection, username: str) -> UserRecord | None:
    """The user with this name, or None."""
    row = conn.execute(select(*_COLUMNS).where(users.c.username == username)).first()
    return None if row is None else _record(tuple(row))


def find_by_id(conn: Connection, user_id: str) -> UserRecord | None:
    """The user with this id, or None."""
    row = conn.execute(select(*_COLUMNS).where(users.c.user_id == user_id)).first()
    return None if row is None else _record(tuple(row))


def list_all(conn: Connection) -> list[UserRecord]:
    """Every user, by name."""
    return [
        _record(tuple(row)) for row in conn.execute(select(*_COLUMNS).order_by(users.c.username))
    ]


def insert_user(conn: Connection, record: UserRecord) -> None:
    """Store a new user (IntegrityError on a duplicate name)."""
    conn.execute(
        insert(users).values(
            user_id=record.user_id,
            username=record.username,
            password_hash=record.password_hash,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
    )


def set_hash(conn: Connection, user_id: str, password_hash: str, now: float) -> bool:
    """Replace a user's password hash; False when there is no such user."""
    result = conn.execute(
        update(users)
        .where(users.c.user_id == user_id)
        .values(password_hash=password_hash, updated_at=now)
    )
    return bool(result.rowcount)


def delete_user(conn: Connection, user_id: str) -> bool:
    """Remove a user; False when there was none."""
    return bool(conn.execute(delete(users).where(users.c.user_id == user_id)).rowcount)


def find_claims(conn: Connection, user_id: str) -> dict[str, Any]:
    """The person's OpenID claims (email, name, ...) as stored; empty when none or no user."""
    row = conn.execute(select(users.c.claims).where(users.c.user_id == user_id)).first()
    if row is None or not row[0]:
        return {}
    value = json.loads(str(row[0]))
    return value if isinstance(value, dict) else {}


def set_claims(conn: Connection, user_id: str, claims: dict[str, Any], now: float) -> bool:
    """Replace the person's OpenID claims; False when there is no such user."""
    result = conn.execute(
        update(users)
        .where(users.c.user_id == user_id)
        .values(claims=json.dumps(claims, separators=(",", ":")), updated_at=now)
    )
    return bool(result.rowcount)
