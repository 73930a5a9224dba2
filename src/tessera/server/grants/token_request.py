"""The token endpoint's logic (RFC 6749 sec. 3.2): check the request, authenticate, grant."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from tessera.server.clientauth import ClientAuthenticator
from tessera.server.config import Settings
from tessera.server.errors import (
    Contention,
    InvalidGrant,
    InvalidRequest,
    OAuthError,
    UnsupportedGrantType,
)
from tessera.server.form import Form
from tessera.server.grants import authorization_code, client_credentials, refresh_token
from tessera.server.keys import KeyManager
from tessera.server.oidc.idtoken import IdTokens
from tessera.server.storage.database import Database
from tessera.server.storage.hot import HotStore

if TYPE_CHECKING:
    from tessera.server.cimd import ClientMetadataResolver

__all__ = ["GRANT_TYPES", "TokenEndpoint"]

GRANT_TYPES = (
    client_credentials.GRANT_TYPE,
    authorization_code.GRANT_TYPE,
    refresh_token.GRANT_TYPE,
)
"""Grant types this server supports (metadata ``grant_types_supported``)."""
_RACED = "a concurrent request used the same code or refresh token"
_PERSONAL = {
    authorization_code.GRANT_TYPE: authorization_code.grant,
    refresh_token.GRANT_TYPE: refresh_token.grant,
}


class TokenEndpoint:
    """Turns a parsed token request into a token response; one database round trip for
    secret clients (the client lookup), two for ``private_key_jwt`` (plus the ``jti``)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        keys: KeyManager,
        clock: Callable[[], float],
        resolver: ClientMetadataResolver | None = None,
        id_tokens: IdTokens | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.keys = keys
        self.clock = clock
        self.id_tokens = id_tokens
        self.authenticator = ClientAuthenticator(settings, clock, resolver)

    @staticmethod
    def blocks(form: Form) -> bool:
        """True when the request runs transactions (send it to a worker thread)."""
        return form.get("grant_type") in _PERSONAL

    def handle(self, form: Form, authorization: str | None) -> dict[str, Any]:
        """The token response body.

        Raises:
            OAuthError: the RFC 6749 sec. 5.2 error to return.
        """
        grant_type = _grant_type(form)
        personal = _PERSONAL.get(grant_type)
        if personal is None:
            with self.db.hot() as conn:
                client = self.authenticator.authenticate(conn, form, authorization)
            key = self.keys.signing_key()
            return client_credentials.grant(client, form, self.settings, key, self.clock())
        self.authenticator.prefetch(form, authorization)
        key = self.keys.signing_key()

        def exchange(conn: Connection) -> dict[str, Any] | OAuthError:
            client = self.authenticator.authenticate(conn, form, authorization, allow_public=True)
            try:
                return personal(
                    conn, client, form, self.settings, key, self.clock(), self.id_tokens
                )
            except OAuthError as exc:
                # Commit what the refusal did (revoking a replayed grant), then answer.
                return exc

        try:
            # Nothing leaves the transaction before it commits (the response is sent after),
            # so a transaction that lost a race to a concurrent one is safely run again.
            outcome = self.db.transaction(exchange, operation=grant_type)
        except Contention:
            raise InvalidGrant(_RACED) from None
        if isinstance(outcome, OAuthError):
            raise outcome
        return outcome

    async def handle_async(
        self, form: Form, authorization: str | None, store: HotStore
    ) -> dict[str, Any]:
        """:meth:`handle` without blocking the event loop: the client credentials grant awaits
        its queries on ``store``; the others run their transactions on a worker thread.

        Raises:
            OAuthError: the RFC 6749 sec. 5.2 error to return.
        """
        if _grant_type(form) in _PERSONAL:
            return await run_in_threadpool(self.handle, form, authorization)
        client = await self.authenticator.authenticate_async(store, form, authorization)
        key = self.keys.signing_key()
        return client_credentials.grant(client, form, self.settings, key, self.clock())


def _grant_type(form: Form) -> str:
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("the grant_type parameter is required")
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType(
            "this server supports the client_credentials, authorization_code and "
            "refresh_token grants"
        )
    return grant_type
