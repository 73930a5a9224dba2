"""Repository for what a person's consent produces: the grant (a token *family*), its
authorization code, its refresh tokens and the access tokens issued from it.

Single use is enforced by the database, not by a read-then-write: consuming a code or a refresh
token is one ``UPDATE ... SET used = true WHERE ... AND used = false``. On PostgreSQL the
second of two concurrent updates waits for the first's row lock, re-checks the condition and
changes nothing; on SQLite writers are serialised. Whoever sees ``rowcount == 1`` won.

Lock order: every transaction that changes a grant's rows locks the grant's family row first
(:func:`lock_family` in the grants, the ``UPDATE`` of :func:`revoke_family` elsewhere), then
its codes, refresh and access tokens. Without that order a loser of a refresh race (holding
the refresh token's row lock, which PostgreSQL keeps after re-checking a row it waited for)
and a reuse-revoker (holding the family row, wanting the refresh rows) deadlock (40P01).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tessera.server.storage.schema import access_tokens, codes, families, refresh_tokens

__all__ = [
    "CodeRow",
    "FamilyRow",
    "RefreshRow",
    "consume_code",
    "consume_refresh",
    "extend_family",
    "families_of_session",
    "find_code",
    "find_family",
    "find_refresh",
    "grant_of_access",
    "has_grant",
    "insert_code",
    "insert_family",
    "insert_refresh",
    "is_access_revoked",
    "lock_family",
    "purge_expired",
    "record_access",
    "revoke_access",
    "revoke_family",
]


@dataclass(frozen=True, slots=True)
class FamilyRow:
    """One authorization grant: who consented to what, for which client."""

    family_id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    auth_time: float
    revoked: bool
    created_at: float
    expires_at: float
    sid: str | None = None
    """The browser session it was granted in (OpenID logout ends it with the session)."""
    claims: str | None = None
    """The claims asked for by name (OIDC Core sec. 5.5, ``acr_values``), as
    :meth:`ClaimsRequest.stored` wrote them; None when none were."""


@dataclass(frozen=True, slots=True)
class CodeRow:
    """An authorization code as stored (the code itself only as its SHA-256)."""

    code_hash: str
    family_id: str
    client_id: str
    user_id: str
    redirect_uri: str
    redirect_uri_given: bool
    scopes: tuple[str, ...]
    code_challenge: str
    auth_time: float
    used: bool
    expires_at: float
    nonce: str | None = None
    """The OpenID request's nonce, echoed in the ID token."""


@dataclass(frozen=True, slots=True)
class RefreshRow:
    """A refresh token as stored (only its SHA-256)."""

    token_hash: str
    family_id: str
    client_id: str
    used: bool
    issued_at: float
    expires_at: float


def insert_family(conn: Connection, row: FamilyRow) -> None:
    """Store a new grant."""
    conn.execute(
        insert(families).values(
            family_id=row.family_id,
            client_id=row.client_id,
            user_id=row.user_id,
            scopes=" ".join(row.scopes),
            audiences=json.dumps(list(row.audiences)),
            auth_time=row.auth_time,
            revoked=row.revoked,
            created_at=row.created_at,
            expires_at=row.expires_at,
            sid=row.sid,
            claims=row.claims,
        )
    )


def find_family(conn: Connection, family_id: str) -> FamilyRow | None:
    """The grant with this id, or None."""
    return _family(conn, select(families).where(families.c.family_id == family_id))


def lock_family(conn: Connection, family_id: str) -> FamilyRow | None:
    """The grant with this id, its row locked until the transaction ends (PostgreSQL's
    ``FOR NO KEY UPDATE``: waits for a concurrent rotation or revocation of the same grant to
    commit, and reads what it committed); None when there is no such grant. On SQLite the
    write lock serialises the transactions instead."""
    statement = (
        select(families).where(families.c.family_id == family_id).with_for_update(key_share=True)
    )
    return _family(conn, statement)


def _family(conn: Connection, statement: Any) -> FamilyRow | None:
    row = conn.execute(statement).first()
    if row is None:
        return None
    return FamilyRow(
        family_id=row.family_id,
        client_id=row.client_id,
        user_id=row.user_id,
        scopes=tuple(str(row.scopes).split()),
        audiences=tuple(json.loads(row.audiences)),
        auth_time=float(row.auth_time),
        revoked=bool(row.revoked),
        created_at=float(row.created_at),
        expires_at=float(row.expires_at),
        sid=row.sid,
        claims=row.claims,
    )


def families_of_session(conn: Connection, sid: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """The live grants made in browser session ``sid``: (family id, client id, scopes)."""
    rows = conn.execute(
        select(families.c.family_id, families.c.client_id, families.c.scopes).where(
            families.c.sid == sid, families.c.revoked.is_(False)
        )
    ).all()
    return [(str(r[0]), str(r[1]), tuple(str(r[2]).split())) for r in rows]


def has_grant(
    conn: Connection,
    client_id: str,
    user_id: str,
    scopes: tuple[str, ...],
    now: float,
    claims: Callable[[tuple[str, ...], str | None], bool] | None = None,
) -> bool:
    """True when the person already granted the client (a live grant) at least ``scopes``,
    and, with ``claims``, a grant for which ``claims(its scopes, its stored claims)`` holds:
    ``prompt=none`` may then skip the consent page."""
    rows = conn.execute(
        select(families.c.scopes, families.c.claims).where(
            families.c.client_id == client_id,
            families.c.user_id == user_id,
            families.c.revoked.is_(False),
            families.c.expires_at > now,
        )
    ).all()
    wanted = set(scopes)
    for row in rows:
        granted = tuple(str(row[0]).split())
        if wanted <= set(granted) and (claims is None or claims(granted, row[1])):
            return True
    return False


def extend_family(conn: Connection, family_id: str, expires_at: float) -> None:
    """Keep a grant's row until ``expires_at`` (its newest token's expiry)."""
    conn.execute(
        update(families)
        .where(families.c.family_id == family_id, families.c.expires_at < expires_at)
        .values(expires_at=expires_at)
    )


def revoke_family(conn: Connection, family_id: str) -> None:
    """Revoke a grant: its refresh tokens and the access tokens issued from it."""
    conn.execute(update(families).where(families.c.family_id == family_id).values(revoked=True))
    conn.execute(
        update(refresh_tokens).where(refresh_tokens.c.family_id == family_id).values(used=True)
    )
    conn.execute(
        update(access_tokens).where(access_tokens.c.family_id == family_id).values(revoked=True)
    )


def insert_code(conn: Connection, row: CodeRow) -> None:
    """Store a new authorization code."""
    conn.execute(
        insert(codes).values(
            code_hash=row.code_hash,
            family_id=row.family_id,
            client_id=row.client_id,
            user_id=row.user_id,
            redirect_uri=row.redirect_uri,
            redirect_uri_given=row.redirect_uri_given,
            scopes=" ".join(row.scopes),
            code_challenge=row.code_challenge,
            auth_time=row.auth_time,
            used=row.used,
            expires_at=row.expires_at,
            nonce=row.nonce,
        )
    )


def find_code(conn: Connection, code_hash: str) -> CodeRow | None:
    """The code with this hash, or None."""
    row = conn.execute(select(codes).where(codes.c.code_hash == code_hash)).first()
    if row is None:
        return None
    return CodeRow(
        code_hash=row.code_hash,
        family_id=row.family_id,
        client_id=row.client_id,
        user_id=row.user_id,
        redirect_uri=row.redirect_uri,
        redirect_uri_given=bool(row.redirect_uri_given),
        scopes=tuple(str(row.scopes).split()),
        code_challenge=row.code_challenge,
        auth_time=float(row.auth_time),
        used=bool(row.used),
        expires_at=float(row.expires_at),
        nonce=row.nonce,
    )


def consume_code(conn: Connection, code_hash: str) -> bool:
    """Mark a code used; True only for the one caller that changed it from unused."""
    result = conn.execute(
        update(codes)
        .where(codes.c.code_hash == code_hash, codes.c.used.is_(False))
        .values(used=True)
    )
    return result.rowcount == 1


def insert_refresh(conn: Connection, row: RefreshRow) -> None:
    """Store a new refresh token."""
    conn.execute(
        insert(refresh_tokens).values(
            token_hash=row.token_hash,
            family_id=row.family_id,
            client_id=row.client_id,
            used=row.used,
            issued_at=row.issued_at,
            expires_at=row.expires_at,
        )
    )


def find_refresh(conn: Connection, token_hash: str) -> RefreshRow | None:
    """The refresh token with this hash, or None."""
    row = conn.execute(
        select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    return RefreshRow(
        token_hash=row.token_hash,
        family_id=row.family_id,
        client_id=row.client_id,
        used=bool(row.used),
        issued_at=float(row.issued_at),
        expires_at=float(row.expires_at),
    )


def consume_refresh(conn: Connection, token_hash: str) -> bool:
    """Mark a refresh token used; True only for the one caller that changed it from unused."""
    result = conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used.is_(False))
        .values(used=True)
    )
    return result.rowcount == 1


def record_access(
    conn: Connection, jti: str, family_id: str | None, client_id: str, expires_at: float
) -> None:
    """Remember an access token issued from a grant, so revoking the grant revokes it."""
    conn.execute(
        insert(access_tokens).values(
            jti=jti, family_id=family_id, client_id=client_id, revoked=False, expires_at=expires_at
        )
    )


def revoke_access(conn: Connection, jti: str, client_id: str, expires_at: float) -> None:
    """Revoke one access token by ``jti`` (it may not have been recorded when issued)."""
    upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = upsert(access_tokens).values(
        jti=jti, family_id=None, client_id=client_id, revoked=True, expires_at=expires_at
    )
    conn.execute(statement.on_conflict_do_update(index_elements=["jti"], set_={"revoked": True}))


def is_access_revoked(conn: Connection, jti: str) -> bool:
    """True when the access token with this ``jti`` was revoked, alone or with its grant."""
    row = conn.execute(select(access_tokens.c.revoked).where(access_tokens.c.jti == jti)).first()
    return row is not None and bool(row[0])


def grant_of_access(conn: Connection, jti: str) -> FamilyRow | None:
    """The grant that issued the live access token ``jti``; None when the token was revoked
    (alone or with its grant), not issued from a grant, or is unknown."""
    statement = (
        select(families)
        .select_from(
            access_tokens.join(families, access_tokens.c.family_id == families.c.family_id)
        )
        .where(
            access_tokens.c.jti == jti,
            access_tokens.c.revoked.is_(False),
            families.c.revoked.is_(False),
        )
    )
    return _family(conn, statement)


def purge_expired(conn: Connection, now: float) -> int:
    """Forget expired refresh tokens, access-token records and grants, and codes an hour
    after they expired (until then a replay still revokes what the code produced)."""
    count = int(conn.execute(delete(codes).where(codes.c.expires_at < now - 3600)).rowcount)
    for table in (refresh_tokens, access_tokens, families):
        count += int(conn.execute(delete(table).where(table.c.expires_at < now)).rowcount)
    return count
