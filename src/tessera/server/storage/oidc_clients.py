"""Repository for the clients' OpenID Connect registration (one optional row per client)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from tessera.server.storage.schema import oidc_clients

__all__ = ["OidcClient", "delete_registration", "find", "save"]


@dataclass(frozen=True, slots=True)
class OidcClient:
    """What a client registered for OpenID Connect; the defaults when it has no row."""

    client_id: str
    id_token_alg: str | None = None
    """``id_token_signed_response_alg``; None means the server's ``id_token_signing_alg``."""
    subject_type: str = "public"
    sector_identifier: str | None = None
    """For ``pairwise``: the host whose people get one ``sub`` across its clients."""
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None


def find(conn: Connection, client_id: str) -> OidcClient:
    """The client's registration, or the defaults."""
    row = conn.execute(select(oidc_clients).where(oidc_clients.c.client_id == client_id)).first()
    if row is None:
        return OidcClient(client_id)
    return OidcClient(
        client_id=client_id,
        id_token_alg=row.id_token_alg,
        subject_type=str(row.subject_type),
        sector_identifier=row.sector_identifier,
        post_logout_redirect_uris=tuple(json.loads(row.post_logout_redirect_uris)),
        backchannel_logout_uri=row.backchannel_logout_uri,
    )


def save(conn: Connection, record: OidcClient) -> None:
    """Store (or replace) the client's registration."""
    conn.execute(delete(oidc_clients).where(oidc_clients.c.client_id == record.client_id))
    conn.execute(
        insert(oidc_clients).values(
            client_id=record.client_id,
            id_token_alg=record.id_token_alg,
            subject_type=record.subject_type,
            sector_identifier=record.sector_identifier,
            post_logout_redirect_uris=json.dumps(list(record.post_logout_redirect_uris)),
            backchannel_logout_uri=record.backchannel_logout_uri,
        )
    )


def delete_registration(conn: Connection, client_id: str) -> None:
    """Forget the client's registration (the client is being removed)."""
    conn.execute(delete(oidc_clients).where(oidc_clients.c.client_id == client_id))
