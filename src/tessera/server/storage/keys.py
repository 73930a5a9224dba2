"""Repository for signing keys: public JWK, encrypted private JWK and the four lifecycle times."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from tessera.server.storage.schema import signing_keys

__all__ = ["KeyRow", "delete_removed", "insert_key", "list_keys", "set_schedule"]


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One signing key's stored state; every time is seconds since the epoch."""

    kid: str
    alg: str
    public_jwk: str
    private_jwk: bytes
    created_at: float
    activate_at: float
    retire_at: float | None
    remove_at: float | None


_ALL = select(
    signing_keys.c.kid,
    signing_keys.c.alg,
    signing_keys.c.public_jwk,
    signing_keys.c.private_jwk,
    signing_keys.c.created_at,
    signing_keys.c.activate_at,
    signing_keys.c.retire_at,
    signing_keys.c.remove_at,
).order_by(signing_keys.c.activate_at, signing_keys.c.kid)


def list_keys(conn: Connection) -> list[KeyRow]:
    """Every stored key, oldest activation first."""
    return [
        KeyRow(
            kid=row[0],
            alg=row[1],
            public_jwk=row[2],
            private_jwk=bytes(row[3]),
            created_at=row[4],
            activate_at=row[5],
            retire_at=row[6],
            remove_at=row[7],
        )
        for row in conn.execute(_ALL)
    ]


def insert_key(conn: Connection, row: KeyRow) -> None:
    """Store a new key."""
    conn.execute(
        insert(signing_keys).values(
            kid=row.kid,
            alg=row.alg,
            public_jwk=row.public_jwk,
            private_jwk=row.private_jwk,
            created_at=row.created_at,
            activate_at=row.activate_at,
            retire_at=row.retire_at,
            remove_at=row.remove_at,
        )
    )


def set_schedule(
    conn: Connection,
    kid: str,
    *,
    activate_at: float | None = None,
    retire_at: float | None = None,
    remove_at: float | None = None,
) -> None:
    """Change a key's activation, retirement or removal time (None leaves it as it is)."""
    values = {
        name: value
        for name, value in (
            ("activate_at", activate_at),
            ("retire_at", retire_at),
            ("remove_at", remove_at),
        )
        if value is not None
    }
    if values:
        conn.execute(update(signing_keys).where(signing_keys.c.kid == kid).values(**values))


def delete_removed(conn: Connection, now: float) -> list[str]:
    """Delete keys whose removal time has passed; their kids."""
    gone = [
        row[0]
        for row in conn.execute(select(signing_keys.c.kid).where(signing_keys.c.remove_at <= now))
    ]
    if gone:
        conn.execute(delete(signing_keys).where(signing_keys.c.kid.in_(gone)))
    return gone
