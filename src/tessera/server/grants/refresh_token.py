"""The refresh token grant (RFC 6749 sec. 6) with rotation (RFC 9700 sec. 4.14.2).

Every use returns a new refresh token and retires the old one. Presenting a retired token
means two parties hold it: the whole grant (its refresh and access tokens) is revoked. When
two requests race with one token, the grant's row lock queues them: exactly one consumes it,
the others then see a reuse.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection

import tessera
from tessera.server.config import Settings
from tessera.server.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from tessera.server.form import Form
from tessera.server.grants.issuance import REFRESH_PREFIX, hash_token, issue_for_grant
from tessera.server.grants.scope import granted_scopes, still_allowed
from tessera.server.oidc.idtoken import OPENID, IdTokens
from tessera.server.storage import grants as grant_rows
from tessera.server.storage import users as user_rows
from tessera.server.storage.clients import ClientRecord

__all__ = ["GRANT_TYPE", "grant"]

GRANT_TYPE = "refresh_token"
_INVALID = "the refresh token is invalid, expired, revoked or was issued to another client"
_REUSED = "the refresh token was already used; the grant is revoked (RFC 9700 sec. 4.14)"


def grant(
    conn: Connection,
    client: ClientRecord,
    form: Form,
    settings: Settings,
    key: tessera.Key,
    now: float,
    id_tokens: IdTokens | None = None,
) -> dict[str, Any]:
    """Rotate a refresh token (call inside a transaction that commits even on refusal); with
    ``openid`` in the scope, a new ID token: same ``sub``, the original ``auth_time``, no
    ``nonce`` (OIDC Core sec. 12.2). The tokens carry the grant's scopes and audiences that
    the client is still registered for.

    Raises:
        UnauthorizedClient: a client without people grants.
        InvalidRequest: no refresh_token.
        InvalidGrant: unknown, expired, revoked, reused or foreign refresh token.
        InvalidScope: a scope beyond the original grant, or none of the asked scope still
            registered for the client (the grant's scopes and audiences are narrowed to the
            client's current ones).
        InvalidTarget: none of the grant's audiences still registered for the client.
    """
    if not {"authorization_code", GRANT_TYPE} & set(client.grant_types):
        raise UnauthorizedClient("this client may not use the refresh_token grant")
    value = form.get("refresh_token")
    if value is None:
        raise InvalidRequest("the refresh_token parameter is required")
    row = None
    if value.startswith(REFRESH_PREFIX) and len(value) <= 200:
        row = grant_rows.find_refresh(conn, hash_token(value))
    if row is None or row.client_id != client.client_id:
        raise InvalidGrant(_INVALID)
    # The grant's row first (see storage.grants: one lock order for every transaction).
    family = grant_rows.lock_family(conn, row.family_id)
    if family is None or family.revoked or row.expires_at <= now:
        raise InvalidGrant(_INVALID)
    if row.used:
        grant_rows.revoke_family(conn, row.family_id)
        raise InvalidGrant(_REUSED)
    if user_rows.find_by_id(conn, family.user_id) is None:
        # The person was removed: nothing more is issued from their grants.
        grant_rows.revoke_family(conn, family.family_id)
        raise InvalidGrant(_INVALID)
    try:
        scopes = granted_scopes(form.get("scope"), family.scopes)
    except InvalidScope:
        raise InvalidScope("the requested scope exceeds the original grant") from None
    # The client's registration as it is now bounds every new token. A refusal leaves the
    # refresh token unused and the grant intact: RFC 6749 sec. 5.2 makes invalid_scope a
    # request error, not a compromised token (re-adding a scope makes the token work again).
    scopes, audiences = still_allowed(
        scopes,
        family.audiences,
        allowed_scopes=client.scopes,
        allowed_audiences=client.audiences,
        default=settings.default_audience,
        userinfo=settings.userinfo_endpoint,
    )
    if not grant_rows.consume_refresh(conn, row.token_hash):
        grant_rows.revoke_family(conn, row.family_id)
        raise InvalidGrant(_REUSED)
    registration = id_tokens.registration(conn, client) if id_tokens is not None else None
    subject = family.user_id
    if id_tokens is not None:
        subject = id_tokens.subject(conn, client, family.user_id, registration)
    response = issue_for_grant(
        conn,
        dataclasses.replace(family, audiences=audiences),
        scopes=scopes,
        refresh=True,
        key=key,
        settings=settings,
        now=now,
        subject=subject,
    )
    if id_tokens is not None and OPENID in scopes:
        response["id_token"] = id_tokens.issue(
            conn,
            client,
            family,
            scopes=scopes,
            access_token=response["access_token"],
            nonce=None,
            now=now,
            registration=registration,
        )
    return response
