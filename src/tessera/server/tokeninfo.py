"""Introspection (RFC 7662) and revocation (RFC 7009), free of HTTP.

Access tokens are JWTs this server signed: they are verified with its published keys and
checked against the revocation records by ``jti``. Refresh tokens are looked up by hash.
A client learns about a refresh token only if it was issued to that client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import tessera
from tessera.server.clientauth import ClientAuthenticator
from tessera.server.config import SIGNING_ALGORITHMS, Settings
from tessera.server.errors import InvalidRequest
from tessera.server.form import Form
from tessera.server.grants.issuance import REFRESH_PREFIX, hash_token
from tessera.server.keys import KeyManager
from tessera.server.storage import grants as grant_rows
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.database import Database

if TYPE_CHECKING:
    from tessera.server.cimd import ClientMetadataResolver
    from tessera.server.oidc.idtoken import IdTokens

__all__ = ["TokenInfo"]

INACTIVE: dict[str, Any] = {"active": False}
_MAX_TOKEN = 8192


class TokenInfo:
    """Answers introspection and revocation requests."""

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
        """Gives a refresh token's ``sub`` as its client sees the person (pairwise or not)."""
        self.authenticator = ClientAuthenticator(settings, clock, resolver)

    def _token(self, form: Form) -> str:
        """The ``token`` parameter. Both kinds are told apart by their form, so
        ``token_type_hint`` is never needed and is ignored whatever its value, a wrong or
        unknown one included: introspection (RFC 7662 sec. 2.1) and revocation (RFC 7009
        sec. 2.1, the search extends to every type) look the token up the same way."""
        token = form.get("token")
        if token is None:
            raise InvalidRequest("the token parameter is required")
        return token

    def _access_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid access token this server issued, or None."""
        if len(token) > _MAX_TOKEN or token.count(".") != 2:
            return None
        try:
            _header, unverified = tessera.decode_unverified(token)
            audience = unverified.get("aud")
            if not isinstance(audience, str | list):
                return None
            return tessera.decode(
                token,
                tessera.KeySet.from_jwks(self.keys.jwks()[0]),
                algorithms=SIGNING_ALGORITHMS,
                issuer=self.settings.issuer,
                audience=audience,
                typ="at+jwt",
                require=("exp", "iat", "jti", "sub", "client_id"),
                now=self.clock(),
            )
        except (tessera.InvalidToken, tessera.InvalidKey, tessera.ConfigurationError):
            return None

    def introspect(self, form: Form, authorization: str | None) -> dict[str, Any]:
        """The RFC 7662 sec. 2.2 response for an authenticated client.

        Raises:
            OAuthError: client authentication failed, or no token.
        """
        self.authenticator.prefetch(form, authorization)  # a URL client's document
        with self.db.write() as conn:
            client = self.authenticator.authenticate(conn, form, authorization)
            token = self._token(form)
            claims = self._access_claims(token)
            if claims is not None:
                if grant_rows.is_access_revoked(conn, str(claims["jti"])):
                    return INACTIVE
                return {"active": True, "token_type": "Bearer", **claims}
            return self._refresh_info(conn, client, token)

    def _refresh_info(self, conn: Any, client: ClientRecord, token: str) -> dict[str, Any]:
        if not token.startswith(REFRESH_PREFIX) or len(token) > 200:
            return INACTIVE
        row = grant_rows.find_refresh(conn, hash_token(token))
        if row is None or row.used or row.client_id != client.client_id:
            return INACTIVE
        family = grant_rows.find_family(conn, row.family_id)
        if family is None or family.revoked or row.expires_at <= self.clock():
            return INACTIVE
        info: dict[str, Any] = {
            "active": True,
            "token_type": "refresh_token",
            "client_id": row.client_id,
            "sub": (
                family.user_id
                if self.id_tokens is None
                else self.id_tokens.subject(conn, client, family.user_id)
            ),
            "iss": self.settings.issuer,
            "iat": int(row.issued_at),
            "exp": int(row.expires_at),
        }
        if family.scopes:
            info["scope"] = " ".join(family.scopes)
        return info

    def revoke(self, form: Form, authorization: str | None) -> None:
        """Revoke a token of the requesting client (RFC 7009 sec. 2.1); unknown tokens and
        other clients' tokens are ignored, as sec. 2.2 asks.

        Raises:
            OAuthError: client authentication failed, or no token.
        """
        self.authenticator.prefetch(form, authorization)  # a URL client's document
        with self.db.write() as conn:
            client = self.authenticator.authenticate(conn, form, authorization, allow_public=True)
            token = self._token(form)
            if token.startswith(REFRESH_PREFIX):
                row = (
                    grant_rows.find_refresh(conn, hash_token(token)) if len(token) <= 200 else None
                )
                if row is not None and row.client_id == client.client_id:
                    # RFC 7009 sec. 2.1: revoking a refresh token revokes its grant's tokens.
                    grant_rows.revoke_family(conn, row.family_id)
                return
            claims = self._access_claims(token)
            if claims is not None and claims["client_id"] == client.client_id:
                grant_rows.revoke_access(
                    conn, str(claims["jti"]), client.client_id, float(claims["exp"])
                )
