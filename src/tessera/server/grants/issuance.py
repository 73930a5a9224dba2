"""Tokens for a person's grant: an access token whose ``sub`` is the person as the client
sees them (the user id, or the client's pairwise subject), recorded so that revoking the grant
revokes it, and a new refresh token when the grant has them."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

import tessera
from tessera.server.config import Settings
from tessera.server.storage import grants as grant_rows
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.grants import FamilyRow, RefreshRow
from tessera.server.tokens import issue_access_token

__all__ = ["OFFLINE_ACCESS", "REFRESH_PREFIX", "hash_token", "issue_for_grant", "wants_refresh"]

OFFLINE_ACCESS = "offline_access"
REFRESH_PREFIX = "rt."
"""Refresh tokens start with this, so introspection and revocation can tell them from JWTs."""


def hash_token(value: str) -> str:
    """The stored form of a code or refresh token: SHA-256, hex (they carry 256 random bits)."""
    return hashlib.sha256(value.encode()).hexdigest()


def wants_refresh(client: ClientRecord, scopes: Sequence[str]) -> bool:
    """A grant gets refresh tokens when ``offline_access`` was granted or the client may use
    the refresh_token grant."""
    return OFFLINE_ACCESS in scopes or "refresh_token" in client.grant_types


def issue_for_grant(
    conn: Connection,
    family: FamilyRow,
    *,
    scopes: Sequence[str],
    refresh: bool,
    key: tessera.Key,
    settings: Settings,
    now: float,
    subject: str | None = None,
) -> dict[str, Any]:
    """The token response for ``family``: a recorded access token (``sub``: ``subject``,
    by default the user id), and a refresh token."""
    token = issue_access_token(
        key,
        issuer=settings.issuer,
        client_id=family.client_id,
        subject=family.user_id if subject is None else subject,
        audience=family.audiences,
        scopes=scopes,
        lifetime=settings.token_lifetime,
        now=now,
    )
    expires_at = now + settings.token_lifetime
    grant_rows.record_access(
        conn, token.claims["jti"], family.family_id, family.client_id, expires_at
    )
    response: dict[str, Any] = {
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
    }
    if token.scope:
        response["scope"] = token.scope
    if refresh:
        value = REFRESH_PREFIX + secrets.token_urlsafe(32)
        refresh_expires = now + settings.refresh_token_lifetime
        grant_rows.insert_refresh(
            conn,
            RefreshRow(
                token_hash=hash_token(value),
                family_id=family.family_id,
                client_id=family.client_id,
                used=False,
                issued_at=now,
                expires_at=refresh_expires,
            ),
        )
        expires_at = refresh_expires
        response["refresh_token"] = value
    grant_rows.extend_family(conn, family.family_id, expires_at)
    return response
