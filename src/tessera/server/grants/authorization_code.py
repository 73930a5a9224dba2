"""The authorization code grant's token request (RFC 6749 sec. 4.1.3, RFC 7636 sec. 4.5-4.6).

A code is single use: the second presentation fails and revokes every token the first one
produced (RFC 6749 sec. 10.5). Checks run before the code is consumed, so a request with a
wrong verifier or redirect URI does not burn it for its rightful client.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

import tessera
from tessera.server.config import Settings
from tessera.server.errors import InvalidGrant, InvalidRequest, UnauthorizedClient
from tessera.server.form import Form
from tessera.server.grants import pkce
from tessera.server.grants.issuance import hash_token, issue_for_grant, wants_refresh
from tessera.server.oidc.idtoken import OPENID, IdTokens
from tessera.server.storage import grants as grant_rows
from tessera.server.storage import users as user_rows
from tessera.server.storage.clients import ClientRecord

__all__ = ["GRANT_TYPE", "grant"]

GRANT_TYPE = "authorization_code"
_INVALID = "the authorization code is invalid, expired or was issued to another client"


def grant(
    conn: Connection,
    client: ClientRecord,
    form: Form,
    settings: Settings,
    key: tessera.Key,
    now: float,
    id_tokens: IdTokens | None = None,
) -> dict[str, Any]:
    """Exchange a code for tokens (call inside a transaction that commits even on refusal);
    with ``openid`` granted and ``id_tokens``, an ID token too (OIDC Core sec. 3.1.3.3).

    Raises:
        InvalidRequest: no code or no code_verifier.
        UnauthorizedClient: the client may not use this grant.
        InvalidGrant: unknown, expired, used or foreign code; redirect URI or verifier mismatch.
    """
    if GRANT_TYPE not in client.grant_types:
        raise UnauthorizedClient("this client may not use the authorization_code grant")
    code = form.get("code")
    verifier = form.get("code_verifier")
    if code is None:
        raise InvalidRequest("the code parameter is required")
    if verifier is None:
        raise InvalidRequest("the code_verifier parameter is required (PKCE, RFC 7636)")
    row = grant_rows.find_code(conn, hash_token(code)) if len(code) <= 200 else None
    if row is None or row.client_id != client.client_id:
        raise InvalidGrant(_INVALID)
    # The grant's row first (see storage.grants: one lock order for every transaction).
    family = grant_rows.lock_family(conn, row.family_id)
    if row.used:
        grant_rows.revoke_family(conn, row.family_id)
        raise InvalidGrant("the authorization code was already used; its tokens are revoked")
    if row.expires_at <= now:
        raise InvalidGrant(_INVALID)
    redirect_uri = form.get("redirect_uri")
    if (row.redirect_uri_given or redirect_uri is not None) and redirect_uri != row.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    if not pkce.verifies(verifier, row.code_challenge):
        raise InvalidGrant("the code_verifier does not match the code_challenge")
    if not grant_rows.consume_code(conn, row.code_hash):
        # Someone else redeemed it between our read and our update: a replay.
        grant_rows.revoke_family(conn, row.family_id)
        raise InvalidGrant("the authorization code was already used; its tokens are revoked")
    if family is None or family.revoked:
        raise InvalidGrant(_INVALID)
    if user_rows.find_by_id(conn, family.user_id) is None:
        # The person was removed: nothing more is issued from their grants.
        grant_rows.revoke_family(conn, family.family_id)
        raise InvalidGrant(_INVALID)
    # A pairwise client sees its own sub for the person, in every token (OIDC Core sec. 8).
    registration = id_tokens.registration(conn, client) if id_tokens is not None else None
    subject = family.user_id
    if id_tokens is not None:
        subject = id_tokens.subject(conn, client, family.user_id, registration)
    response = issue_for_grant(
        conn,
        family,
        scopes=family.scopes,
        refresh=wants_refresh(client, family.scopes),
        key=key,
        settings=settings,
        now=now,
        subject=subject,
    )
    if id_tokens is not None and OPENID in family.scopes:
        response["id_token"] = id_tokens.issue(
            conn,
            client,
            family,
            scopes=family.scopes,
            access_token=response["access_token"],
            nonce=row.nonce,
            now=now,
            registration=registration,
        )
    return response
