"""The UserInfo answer (OIDC Core sec. 5.3), free of HTTP: the claims an access token with
``openid`` may read, as RFC 6750 refusals otherwise.

The access token must be one this server signed (``typ: at+jwt``: an ID token is refused),
unexpired and unrevoked, with ``openid`` in its scope; its ``aud`` is not checked (UserInfo
belongs to the issuer, and every access token of a person is meant to reach it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tessera import InvalidKey, InvalidToken, KeySet, decode, decode_unverified
from tessera.errors import ConfigurationError
from tessera.resource.errors import InsufficientScopeError, RejectedTokenError
from tessera.server.config import SIGNING_ALGORITHMS, Settings
from tessera.server.keys import KeyManager
from tessera.server.oidc.claims import released, user_claims
from tessera.server.oidc.claims_request import ClaimsRequest, acr_value
from tessera.server.oidc.idtoken import OPENID, IdTokens
from tessera.server.storage import clients as client_rows
from tessera.server.storage import grants as grant_rows
from tessera.server.storage.database import Database

__all__ = ["UserInfo"]

_MAX_TOKEN = 8192


class UserInfo:
    """Answers UserInfo requests."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        keys: KeyManager,
        id_tokens: IdTokens,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.db = db
        self.keys = keys
        self.id_tokens = id_tokens
        self.clock = clock

    def _claims(self, token: str) -> dict[str, Any]:
        if len(token) > _MAX_TOKEN or token.count(".") != 2:
            raise RejectedTokenError("the access token is malformed", "malformed")
        try:
            _header, unverified = decode_unverified(token)
            audience = unverified.get("aud")
            if not isinstance(audience, str | list) or not audience:
                raise RejectedTokenError("the access token has no audience", "invalid_audience")
            return decode(
                token,
                KeySet.from_jwks(self.keys.jwks()[0]),
                algorithms=SIGNING_ALGORITHMS,
                issuer=self.settings.issuer,
                audience=audience,
                typ="at+jwt",
                require=("exp", "iat", "jti", "sub", "client_id"),
                now=self.clock(),
            )
        except InvalidToken as exc:
            raise RejectedTokenError(
                "the access token is invalid, expired or not an access token of this server",
                exc.code,
            ) from None
        except (InvalidKey, ConfigurationError):
            raise RejectedTokenError("the access token is invalid", "malformed") from None

    def answer(self, token: str) -> dict[str, Any]:
        """The person's claims for this access token.

        Raises:
            RejectedTokenError: not a live access token of this server, or its person is gone.
            InsufficientScopeError: the token lacks ``openid``.
        """
        claims = self._claims(token)
        scope = claims.get("scope")
        scopes = tuple(scope.split(" ")) if isinstance(scope, str) else ()
        if OPENID not in scopes:
            raise InsufficientScopeError("UserInfo needs an access token with openid", (OPENID,))
        with self.db.read() as conn:
            # The person comes from the grant that issued the token, never from its sub: a
            # pairwise client's tokens carry that client's own subject (OIDC Core sec. 8).
            family = grant_rows.grant_of_access(conn, str(claims["jti"]))
            if family is None:
                raise RejectedTokenError(
                    "the access token was revoked or was not issued to a person", "revoked"
                )
            client = client_rows.find(conn, str(claims["client_id"]))
            stored = user_claims(conn, family.user_id)
            if client is None or not stored:
                raise RejectedTokenError("the access token's client or person is gone", "revoked")
            subject = self.id_tokens.subject(conn, client, family.user_id)
        if subject != claims["sub"]:
            raise RejectedTokenError("the access token's subject is not its person's", "revoked")
        answer = {"sub": subject, **released(stored, scopes)}
        # OIDC Core sec. 5.5: the claims asked for by name for UserInfo (kept, when the grant
        # was made, to those the client may have).
        for name in sorted(ClaimsRequest.from_stored(family.claims).userinfo):
            if name == "acr":
                answer["acr"] = acr_value(self.settings.issuer)
            elif name in stored:
                answer.setdefault(name, stored[name])
        return answer
