"""Dynamic client registration (RFC 7591) and its management (RFC 7592), free of HTTP.

A client registers its metadata and gets a ``client_id`` and a registration access token
(256 random bits, stored as SHA-256, compared in constant time; an unknown client costs the
same compare). With the token it reads, replaces or deletes its registration. Dynamic clients
are never given a secret: ``token_endpoint_auth_method`` is ``none`` (the default here, where
RFC 7591 would say ``client_secret_basic``: sec. 3.2.1 lets the server substitute) or
``private_key_jwt`` with inline ``jwks``. They use the authorization code grant with PKCE and
may ask for ``dynamic_scopes``; their tokens go to ``default_audience``.

Software statements (sec. 2.3) are accepted but not trusted: this server is configured with no
software publisher's keys, so a statement must be a well-formed JWS and its claims are
ignored (the sec. 2.3 "MAY ignore" case); anything else is ``invalid_software_statement``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import tessera
from tessera.server._client_metadata import SelfDescribed, check_metadata
from tessera.server.clientauth import hash_secret
from tessera.server.config import Settings
from tessera.server.errors import (
    AdminError,
    InvalidClientMetadata,
    InvalidRequest,
    InvalidSoftwareStatement,
    InvalidToken,
)
from tessera.server.oidc.registration import from_client_metadata
from tessera.server.oidc.sector import SectorFetcher
from tessera.server.registry import new_id
from tessera.server.storage import clients as client_rows
from tessera.server.storage import oidc_clients
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.database import Database
from tessera.server.storage.oidc_clients import OidcClient

__all__ = ["Registrar", "Registration"]

_ISSUED_ONLY = (
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
)
_DUMMY_HASH = hashlib.sha256(b"no such registration").hexdigest()
_BAD_TOKEN = "the registration access token is missing or wrong"


@dataclass(frozen=True, slots=True)
class Registration:
    """A client's registration as answered (RFC 7591 sec. 3.2.1, RFC 7592 sec. 3)."""

    body: dict[str, Any]


def _public_jwks(jwks: Mapping[str, Any]) -> str:
    try:
        keyset = tessera.KeySet.from_jwks(jwks)
    except tessera.InvalidKey as exc:
        raise InvalidClientMetadata(f"jwks is not a usable JWK Set: {exc}") from None
    public = []
    for key in keyset:
        if key.kty == "oct":
            raise InvalidClientMetadata("jwks must hold public keys (RSA, EC or OKP), not oct")
        public.append(key.public().to_jwk() if key.is_private else key.to_jwk())
    if not public:
        raise InvalidClientMetadata("jwks holds no keys")
    return json.dumps({"keys": public}, separators=(",", ":"))


def _check_statement(document: Mapping[str, Any]) -> None:
    statement = document.get("software_statement")
    if statement is None:
        return
    if not isinstance(statement, str) or len(statement) > 8192:
        raise InvalidSoftwareStatement("software_statement must be a JWT")
    try:
        tessera.decode_unverified(statement)
    except tessera.InvalidToken:
        raise InvalidSoftwareStatement("software_statement is not a well-formed JWT") from None


def _token_of(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 512:
        return None
    return value


class Registrar:
    """Registers, reads, replaces and deletes self-registered clients."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Callable[[], float],
        sectors: SectorFetcher | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.sectors = sectors

    def client_uri(self, client_id: str) -> str:
        """The client configuration endpoint of one client (RFC 7592 sec. 1.1)."""
        return f"{self.settings.registration_endpoint}/{client_id}"

    def _checked(self, document: Mapping[str, Any]) -> tuple[SelfDescribed, str | None]:
        _check_statement(document)
        described = check_metadata(document, allowed_scopes=self.settings.dynamic_scopes)
        if described.jwks_uri is not None:
            raise InvalidClientMetadata("register the keys inline as jwks; jwks_uri is not used")
        jwks = _public_jwks(described.jwks) if described.jwks is not None else None
        return described, jwks

    def _openid(
        self, client_id: str, document: Mapping[str, Any], described: SelfDescribed
    ) -> OidcClient:
        """The OpenID part of the metadata (the defaults when there is none); a
        ``sector_identifier_uri`` is fetched and checked against the redirect URIs."""
        sector = None
        if "sector_identifier_uri" in document:
            if self.sectors is None:
                raise InvalidClientMetadata("this server does not fetch sector_identifier_uri")
            sector = self.sectors.sector_of(
                document["sector_identifier_uri"], described.redirect_uris
            )
        try:
            found = from_client_metadata(
                client_id, document, self.settings, sector_identifier=sector
            )
        except AdminError as exc:
            raise InvalidClientMetadata(str(exc)) from None
        return found if found is not None else OidcClient(client_id)

    def _record(
        self, client_id: str, described: SelfDescribed, jwks: str | None, created: float
    ) -> ClientRecord:
        return ClientRecord(
            client_id=client_id,
            name=f"{(described.client_name or 'Unnamed application')[:150]} ({client_id})",
            secret_hash=None,
            auth_methods=(described.auth_method,),
            grant_types=described.grant_types,
            scopes=described.scopes,
            audiences=(),
            jwks=jwks,
            created_at=created,
            updated_at=self.clock(),
            client_type="public" if described.auth_method == "none" else "confidential",
            redirect_uris=described.redirect_uris,
            application_type=described.application_type,
        )

    @staticmethod
    def _stored_metadata(document: Mapping[str, Any], described: SelfDescribed) -> str:
        """What the client sent, with the values the server applies put in (sec. 3.2.1)."""
        kept = {
            name: value
            for name, value in document.items()
            if name not in _ISSUED_ONLY and name not in ("client_id", "client_secret")
        }
        kept.update(
            redirect_uris=list(described.redirect_uris),
            token_endpoint_auth_method=described.auth_method,
            grant_types=list(described.grant_types),
            response_types=["code"],
            application_type=described.application_type,
            scope=" ".join(described.scopes),
        )
        return json.dumps(kept, separators=(",", ":"), ensure_ascii=False)

    def _answer(
        self, record: ClientRecord, metadata_json: str, token: str | None = None
    ) -> Registration:
        body: dict[str, Any] = json.loads(metadata_json)
        body.update(
            client_id=record.client_id,
            client_id_issued_at=int(record.created_at),
            registration_client_uri=self.client_uri(record.client_id),
        )
        if token is not None:
            body["registration_access_token"] = token
        return Registration(body)

    def check_initial_token(self, authorization: str | None) -> None:
        """With ``registration_initial_token`` set, the request must carry it as a Bearer.

        Raises:
            InvalidToken: no token or the wrong one.
        """
        expected = self.settings.registration_initial_token
        if expected is None:
            return
        given = _token_of(authorization) or ""
        if not hmac.compare_digest(hash_secret(given), hash_secret(expected)):
            raise InvalidToken("registration needs the initial access token (Bearer)")

    def register(self, document: Mapping[str, Any]) -> Registration:
        """Register a new client from its metadata (RFC 7591 sec. 3.1).

        Raises:
            InvalidClientMetadata / InvalidRedirectUri / InvalidSoftwareStatement: bad metadata.
            InvalidRequest: the server holds its maximum of dynamic clients (403).
        """
        if "client_id" in document:
            raise InvalidClientMetadata("client_id is assigned by the server")
        described, jwks = self._checked(document)
        now = self.clock()
        record = self._record(new_id(), described, jwks, now)
        openid = self._openid(record.client_id, document, described)
        metadata_json = self._stored_metadata(document, described)
        token = secrets.token_urlsafe(32)
        with self.db.write() as conn:
            if client_rows.count_registered(conn) >= self.settings.registration_max_clients:
                raise InvalidRequest(
                    "this server holds its maximum number of registered clients", status=403
                )
            client_rows.insert_registered(conn, record, hash_secret(token), metadata_json)
            oidc_clients.save(conn, openid)
        return self._answer(record, metadata_json, token)

    def _authorized(self, client_id: str, authorization: str | None) -> tuple[ClientRecord, str]:
        token = _token_of(authorization)
        with self.db.read() as conn:
            found = client_rows.find_registered(conn, client_id) if len(client_id) <= 64 else None
        expected = found[1] if found is not None else _DUMMY_HASH
        matches = hmac.compare_digest(hash_secret(token or ""), expected)
        if found is None or token is None or not matches:
            raise InvalidToken(_BAD_TOKEN)
        return found[0], found[2]

    def read(self, client_id: str, authorization: str | None) -> Registration:
        """The current registration (RFC 7592 sec. 2.1).

        Raises:
            InvalidToken: unknown client or wrong registration access token (401).
        """
        record, metadata_json = self._authorized(client_id, authorization)
        return self._answer(record, metadata_json)

    def update(
        self, client_id: str, authorization: str | None, document: Mapping[str, Any]
    ) -> Registration:
        """Replace the registration with ``document`` (RFC 7592 sec. 2.2).

        Raises:
            InvalidToken: unknown client or wrong registration access token (401).
            InvalidRequest: the body names another client_id or a server-issued field.
            InvalidClientMetadata / InvalidRedirectUri / InvalidSoftwareStatement: bad metadata.
        """
        current, _ = self._authorized(client_id, authorization)
        if document.get("client_id") != client_id:
            raise InvalidRequest("the body must carry this client's client_id")
        issued = [name for name in _ISSUED_ONLY if name in document]
        if issued or "client_secret" in document:
            shown = issued[0] if issued else "client_secret"
            raise InvalidRequest(f"{shown} must not be sent in an update (RFC 7592 sec. 2.2)")
        described, jwks = self._checked(document)
        record = self._record(client_id, described, jwks, current.created_at)
        openid = self._openid(client_id, document, described)
        metadata_json = self._stored_metadata(document, described)
        with self.db.write() as conn:
            if not client_rows.replace_registered(conn, record, metadata_json):
                raise InvalidToken(_BAD_TOKEN)
            oidc_clients.save(conn, openid)
        return self._answer(record, metadata_json)

    def delete(self, client_id: str, authorization: str | None) -> None:
        """Remove the registration (RFC 7592 sec. 2.3); its tokens expire on their own.

        Raises:
            InvalidToken: unknown client or wrong registration access token (401).
        """
        self._authorized(client_id, authorization)
        with self.db.write() as conn:
            client_rows.delete_client(conn, client_id)
            oidc_clients.delete_registration(conn, client_id)
