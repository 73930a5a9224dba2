"""The client credentials grant (RFC 6749 sec. 4.4): a client asks for a token for itself."""

from __future__ import annotations

from typing import Any

import tessera
from tessera.server.config import Settings
from tessera.server.errors import UnauthorizedClient
from tessera.server.form import Form
from tessera.server.grants.scope import granted_audience, granted_scopes
from tessera.server.storage.clients import ClientRecord
from tessera.server.tokens import issue_access_token

__all__ = ["GRANT_TYPE", "grant"]

GRANT_TYPE = "client_credentials"


def grant(
    client: ClientRecord, form: Form, settings: Settings, key: tessera.Key, now: float
) -> dict[str, Any]:
    """Issue an access token whose subject is the client (RFC 9068 sec. 2.2 ``sub``).

    Raises:
        UnauthorizedClient: the client is not registered for this grant.
        InvalidScope, InvalidTarget: see :mod:`tessera.server.grants.scope`.
    """
    if GRANT_TYPE not in client.grant_types:
        raise UnauthorizedClient("this client may not use the client_credentials grant")
    scopes = granted_scopes(form.get("scope"), client.scopes)
    audience = granted_audience(form.resources, client.audiences, settings.default_audience)
    token = issue_access_token(
        key,
        issuer=settings.issuer,
        client_id=client.client_id,
        subject=client.client_id,
        audience=audience,
        scopes=scopes,
        lifetime=settings.token_lifetime,
        now=now,
    )
    response: dict[str, Any] = {
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
    }
    if token.scope:
        response["scope"] = token.scope
    return response
