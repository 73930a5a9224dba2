"""ID tokens (OIDC Core sec. 2, 3.1.3.6): who signed in, for which client, when and how.

Header ``typ: JWT`` (never ``at+jwt``): an ID token never passes an RFC 9068 access-token
check, and an access token never passes an ID-token check that wants ``JWT``. Each client's
ID tokens are signed by the key ring of its ``id_token_signed_response_alg`` (RS256 unless
the server or the client says otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

import tessera
from tessera.server.config import Settings
from tessera.server.keys import KeyManager
from tessera.server.oidc import claims as user_claims
from tessera.server.oidc.claims_request import ClaimsRequest, acr_value
from tessera.server.storage import oidc_clients
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.grants import FamilyRow
from tessera.server.storage.oidc_clients import OidcClient

__all__ = ["OPENID", "SUBJECT_TYPES", "IdTokens", "left_hash", "session_id", "subject_of"]

OPENID = "openid"
SUBJECT_TYPES = ("public", "pairwise")
AMR_PASSWORD = ("pwd",)
"""RFC 8176 sec. 2: the person signed in with a password (the only way this server has)."""
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def left_hash(value: str, alg: str) -> str:
    """``at_hash``: the left half of the token's hash with the ID token's algorithm's hash
    (OIDC Core sec. 3.1.3.6; EdDSA over Ed25519 uses SHA-512)."""
    digest = hashlib.sha512 if alg == "EdDSA" else _HASHES[alg[-3:]]
    full = digest(value.encode("ascii")).digest()
    return _b64(full[: len(full) // 2])


def session_id(session_hash: str) -> str:
    """The ``sid`` of a browser session (OpenID Front/Back-Channel Logout): derived from the
    stored hash of the cookie, so it reveals nothing about the cookie itself."""
    return _b64(hashlib.sha256(b"tessera sid\0" + session_hash.encode()).digest()[:18])


def sector_of(client: ClientRecord, registration: OidcClient) -> str:
    """The sector identifier of a pairwise client: registered, else its redirect URIs' host."""
    if registration.sector_identifier:
        return registration.sector_identifier
    hosts = {urlsplit(uri).hostname or uri for uri in client.redirect_uris}
    return hosts.pop() if len(hosts) == 1 else client.client_id


def subject_of(user_id: str, client: ClientRecord, registration: OidcClient, salt: bytes) -> str:
    """The ``sub`` this client sees: the user id (public) or, for a pairwise client, a hash
    of sector identifier and user id keyed with the server's salt (OIDC Core sec. 8.1)."""
    if registration.subject_type != "pairwise":
        return user_id
    sector = sector_of(client, registration)
    mac = hmac.new(salt, f"{sector}\0{user_id}".encode(), hashlib.sha256).digest()
    return _b64(mac)


class IdTokens:
    """Signs ID tokens for grants that include ``openid``."""

    def __init__(self, settings: Settings, keys: KeyManager, salt: bytes) -> None:
        self.settings = settings
        self.keys = keys
        self.salt = salt

    def algorithm(self, registration: OidcClient) -> str:
        """The client's ID token algorithm (its registration, else the server default)."""
        return registration.id_token_alg or self.settings.id_token_signing_alg

    def registration(self, conn: Connection, client: ClientRecord) -> OidcClient:
        """The client's OpenID registration (defaults when it has none)."""
        return oidc_clients.find(conn, client.client_id)

    def subject(
        self,
        conn: Connection,
        client: ClientRecord,
        user_id: str,
        registration: OidcClient | None = None,
    ) -> str:
        """The ``sub`` of ``user_id`` as ``client`` sees it: in its ID tokens, its access
        tokens, UserInfo and introspection alike."""
        if registration is None:
            registration = self.registration(conn, client)
        return subject_of(user_id, client, registration, self.salt)

    def issue(
        self,
        conn: Connection,
        client: ClientRecord,
        family: FamilyRow,
        *,
        scopes: Sequence[str],
        access_token: str | None,
        nonce: str | None,
        now: float,
        registration: OidcClient | None = None,
    ) -> str:
        """The signed ID token for ``family``'s person, with the claims its scopes release."""
        if registration is None:
            registration = self.registration(conn, client)
        alg = self.algorithm(registration)
        issued = int(now)
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "sub": subject_of(family.user_id, client, registration, self.salt),
            "aud": client.client_id,
            "exp": issued + self.settings.token_lifetime,
            "iat": issued,
            "auth_time": int(family.auth_time),
            "amr": list(AMR_PASSWORD),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["at_hash"] = left_hash(access_token, alg)
        if family.sid is not None:
            claims["sid"] = family.sid
        asked = ClaimsRequest.from_stored(family.claims).id_token  # OIDC Core sec. 5.5
        if "acr" in asked:
            claims["acr"] = acr_value(self.settings.issuer)
        named = asked - {"acr"}
        if named or user_claims.wants_claims(scopes):  # no query for "openid" alone
            stored = user_claims.user_claims(conn, family.user_id)
            for name, value in user_claims.released(stored, scopes).items():
                claims.setdefault(name, value)
            for name in sorted(named):
                if name in stored:
                    claims.setdefault(name, stored[name])
        return tessera.encode(claims, self.keys.signing_key(alg), typ="JWT")


def verify_hint(
    token: str, keys: KeyManager, settings: Settings, now: Callable[[], float]
) -> dict[str, Any] | None:
    """The claims of an ``id_token_hint`` this server signed, expired or not (OIDC Core sec.
    3.1.2.1: a hint identifies; it does not authenticate); None when it is not one."""
    if len(token) > 8192 or token.count(".") != 2:
        return None
    try:
        _header, unverified = tessera.decode_unverified(token)
        issued = unverified.get("iat")
        audience = unverified.get("aud")
        if not isinstance(issued, int) or isinstance(issued, bool):
            return None
        if not isinstance(audience, str | list):
            return None
        claims = tessera.decode(
            token,
            tessera.KeySet.from_jwks(keys.jwks()[0]),
            algorithms=settings.key_algorithms,
            issuer=settings.issuer,
            audience=audience,
            typ="JWT",
            require=("exp", "iat", "sub", "aud"),
            now=min(issued, now()),  # verifies everything but expiry
        )
    except (tessera.InvalidToken, tessera.InvalidKey, tessera.ConfigurationError):
        return None
    return claims if isinstance(claims.get("sub"), str) else None
