"""Client authentication at the token endpoint (RFC 6749 sec. 2.3, RFC 7521/7523).

Three methods: ``client_secret_basic`` (HTTP Basic, RFC 6749 sec. 2.3.1),
``client_secret_post`` (secret in the body) and ``private_key_jwt`` (RFC 7523 sec. 2.2 and
3, with the audience rule of RFC 7523bis: ``aud`` is one string, exactly the issuer
identifier or the token endpoint URL). A request may use one method only. Secrets are
random 256-bit strings stored as SHA-256 and compared in constant time; an unknown client
costs the same hash and compare as a known one.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from sqlalchemy import Connection

import tessera
from tessera.server import requestinfo
from tessera.server.config import Settings
from tessera.server.errors import InvalidClient, InvalidRequest
from tessera.server.form import Form
from tessera.server.storage import assertions
from tessera.server.storage import clients as client_rows
from tessera.server.storage.clients import ClientRecord

if TYPE_CHECKING:
    from tessera.server.cimd import ClientMetadataResolver
    from tessera.server.storage.hot import HotStore

__all__ = [
    "ASSERTION_ALGORITHMS",
    "ASSERTION_TYPE",
    "AUTH_METHODS",
    "ClientAuthenticator",
    "Credentials",
    "hash_secret",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
    "RS384",
    "RS512",
    "EdDSA",
    "Ed25519",
)
"""Signature algorithms accepted on client assertions: asymmetric only."""
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
"""Token endpoint authentication methods; ``none`` is for public clients (RFC 7591 sec. 2)."""
_ASSERTION_TYPES = ("jwt", "client-authentication+jwt")  # RFC 7523bis explicit typing
_CLIENT_ID = re.compile(r"^[\x20-\x7e]{1,255}\Z")  # RFC 6749 appendix A.1: VSCHAR
_FAILED = "client authentication failed"
_REPLAYED = "the client assertion was already used (jti replay)"
_DUMMY_HASH = hashlib.sha256(b"no such client").hexdigest()
_JWKS_CACHE_SIZE = 256
_LEEWAY = 5
"""Seconds of clock skew allowed on an assertion's ``exp``, ``iat`` and lifetime."""


def hash_secret(secret: str) -> str:
    """The stored form of a client secret: SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    """The client authentication a request presents, before the client's row is read."""

    method: str
    """``client_secret_basic``, ``client_secret_post``, ``private_key_jwt`` or ``none``."""
    client_id: str
    secret: str | None = None
    assertion: str | None = None

    @property
    def well_formed(self) -> bool:
        """False for ids no client can have: no database lookup for those."""
        return _CLIENT_ID.match(self.client_id) is not None


def _basic_credentials(value: str) -> tuple[str, str]:
    """(client_id, secret) from a Basic credential: base64 of form-encoded ``id:secret``."""
    try:
        decoded = binascii.a2b_base64(value.strip().encode("ascii"), strict_mode=True)
        text = decoded.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidClient("the Basic credentials are not valid base64 of id:secret") from None
    client_id, colon, secret = text.partition(":")
    if not colon:
        raise InvalidClient("the Basic credentials are not valid base64 of id:secret")
    return unquote_plus(client_id), unquote_plus(secret)


class ClientAuthenticator:
    """Authenticates the client of a token request against the stored clients."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float],
        resolver: ClientMetadataResolver | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.resolver = resolver
        self._audiences = frozenset((settings.issuer, settings.token_endpoint))
        self._validators: dict[str, Callable[[Any], bool]] = {
            "aud": lambda aud: isinstance(aud, str)
        }
        self._keysets: dict[tuple[str, str], tessera.KeySet] = {}
        self._lock = threading.Lock()

    def authenticate(
        self,
        conn: Connection,
        form: Form,
        authorization: str | None,
        *,
        allow_public: bool = False,
    ) -> ClientRecord:
        """The authenticated client of this request; with ``allow_public``, a public client
        named by ``client_id`` alone (``none``: its proof is PKCE or the token it holds).

        Raises:
            InvalidRequest: more than one method, or a malformed request.
            InvalidClient: no credentials, unknown client, wrong secret, bad assertion.
        """
        presented = self.credentials(form, authorization, allow_public=allow_public)
        record = self._find(conn, presented) if presented.well_formed else None
        record, used = self.check(presented, record)
        if used is not None and not assertions.record_once(conn, record.client_id, *used):
            raise InvalidClient(_REPLAYED)
        requestinfo.note_client(record.client_id)
        return record

    def _find(self, conn: Connection, presented: Credentials) -> ClientRecord | None:
        from tessera.server.cimd import is_metadata_url

        if self.resolver is not None and is_metadata_url(presented.client_id):
            return self.resolver.cached(presented.client_id)  # see prefetch()
        return client_rows.find(conn, presented.client_id)

    def prefetch(self, form: Form, authorization: str | None) -> None:
        """Fetch the metadata document of a URL client id now, before a transaction opens,
        so :meth:`authenticate` finds it in the cache without holding the database.

        Raises:
            InvalidClient: the document cannot be fetched or used.
            InvalidRequest: a malformed request (see :meth:`credentials`).
        """
        from tessera.server.cimd import is_metadata_url
        from tessera.server.errors import ClientMetadataError

        if self.resolver is None:
            return
        client_id = self.credentials(form, authorization, allow_public=True).client_id
        if not is_metadata_url(client_id) or _CLIENT_ID.match(client_id) is None:
            return
        try:
            self.resolver.resolve(client_id)
        except ClientMetadataError as exc:
            raise InvalidClient(f"the client metadata document cannot be used: {exc}") from None

    async def authenticate_async(
        self, store: HotStore, form: Form, authorization: str | None
    ) -> ClientRecord:
        """:meth:`authenticate` for confidential clients, with the queries awaited on ``store``
        so the worker serves other requests during the round trips."""
        presented = self.credentials(form, authorization)
        record = await store.find_client(presented.client_id) if presented.well_formed else None
        record, used = self.check(presented, record)
        if used is not None and not await store.record_assertion(record.client_id, *used):
            raise InvalidClient(_REPLAYED)
        requestinfo.note_client(record.client_id)
        return record

    def credentials(
        self, form: Form, authorization: str | None, *, allow_public: bool = False
    ) -> Credentials:
        """What the request presents, checked for form (no database access yet).

        Raises:
            InvalidRequest: more than one method, or a malformed request.
            InvalidClient: no credentials, or credentials that cannot be right.
        """
        methods = []
        if authorization is not None:
            methods.append("client_secret_basic")
        if "client_secret" in form:
            methods.append("client_secret_post")
        if "client_assertion" in form or "client_assertion_type" in form:
            methods.append("private_key_jwt")
        if len(methods) > 1:
            raise InvalidRequest("use exactly one client authentication method")
        if not methods:
            if allow_public and form.get("client_id") is not None:
                return Credentials("none", form.params["client_id"])
            raise InvalidClient("client authentication is required")
        if methods[0] == "private_key_jwt":
            return self._assertion_credentials(form)
        if authorization is None:
            client_id = form.get("client_id") or ""
            return Credentials(methods[0], client_id, secret=form.params["client_secret"])
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("use HTTP Basic authentication at the token endpoint")
        client_id, secret = _basic_credentials(encoded)
        named = form.get("client_id")
        if named is not None and named != client_id:
            raise InvalidRequest("client_id does not match the authenticated client")
        return Credentials(methods[0], client_id, secret=secret)

    def check(
        self, presented: Credentials, record: ClientRecord | None
    ) -> tuple[ClientRecord, tuple[str, float] | None]:
        """The client if ``presented`` proves to be ``record`` (the row for its id, or None),
        plus the assertion ``(jti, exp)`` still to be recorded once, for ``private_key_jwt``.

        Raises:
            InvalidClient: unknown client, wrong secret, method not allowed, bad assertion.
        """
        if presented.method == "none":
            if record is None or not record.is_public:
                raise InvalidClient("client authentication is required")
            return record, None
        if presented.method == "private_key_jwt":
            return self._check_assertion(presented, record)
        usable = (
            record is not None
            and record.secret_hash is not None
            and presented.method in record.auth_methods
        )
        expected = record.secret_hash if usable and record and record.secret_hash else _DUMMY_HASH
        # An unknown client costs the same hash and comparison as a known one.
        matches = hmac.compare_digest(hash_secret(presented.secret or ""), expected)
        if not (matches and usable and record is not None):
            raise InvalidClient(_FAILED)
        return record, None

    def _assertion_credentials(self, form: Form) -> Credentials:
        assertion_type = form.get("client_assertion_type")
        assertion = form.get("client_assertion")
        if assertion_type is None or assertion is None:
            raise InvalidRequest("client_assertion and client_assertion_type go together")
        if assertion_type != ASSERTION_TYPE:
            raise InvalidClient(f"client_assertion_type must be {ASSERTION_TYPE}")
        try:
            header, unverified = tessera.decode_unverified(assertion)
        except tessera.InvalidToken:
            raise InvalidClient("the client assertion is not a well-formed JWT") from None
        client_id = unverified.get("sub")
        if not isinstance(client_id, str) or unverified.get("iss") != client_id:
            raise InvalidClient("the client assertion's iss and sub must both be the client_id")
        named = form.get("client_id")
        if named is not None and named != client_id:
            raise InvalidClient("client_id does not match the client assertion")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or _media(typ) not in _ASSERTION_TYPES):
            raise InvalidClient(
                "the client assertion's typ must be JWT or client-authentication+jwt"
            )
        return Credentials("private_key_jwt", client_id, assertion=assertion)

    def _check_assertion(
        self, presented: Credentials, record: ClientRecord | None
    ) -> tuple[ClientRecord, tuple[str, float]]:
        if record is None or record.jwks is None or "private_key_jwt" not in record.auth_methods:
            raise InvalidClient(_FAILED)
        now = self.clock()
        claims = self._verify(presented.assertion or "", record, now)
        if claims["exp"] - now > self.settings.assertion_max_lifetime + _LEEWAY:
            raise InvalidClient(
                "the client assertion must expire within "
                f"{self.settings.assertion_max_lifetime} seconds (assertion_max_lifetime)"
            )
        jti = claims["jti"]
        if not 0 < len(jti) <= 255:
            raise InvalidClient("the client assertion's jti must have 1 to 255 characters")
        # Kept while the assertion still verifies (exp + leeway): single use for its whole
        # lifetime, and the store holds at most assertion_max_lifetime's worth of ids.
        return record, (jti, float(claims["exp"]) + _LEEWAY)

    def _verify(self, assertion: str, record: ClientRecord, now: float) -> dict[str, Any]:
        keyset = self._keyset(record.client_id, record.jwks or "")
        try:
            return tessera.decode(
                assertion,
                keyset,
                algorithms=ASSERTION_ALGORITHMS,
                issuer=record.client_id,
                subject=record.client_id,
                audience=self._audiences,
                require=("iss", "sub", "aud", "exp", "jti"),
                now=now,
                leeway=_LEEWAY,
                validators=self._validators,
            )
        except tessera.InvalidAudienceError:
            raise InvalidClient(
                "the client assertion's aud must be one string: the issuer identifier or "
                "the token endpoint URL"
            ) from None
        except tessera.ClaimError as exc:
            if exc.claim == "aud":
                raise InvalidClient(
                    "the client assertion's aud must be one string: the issuer identifier or "
                    "the token endpoint URL"
                ) from None
            raise InvalidClient(f"the client assertion is invalid: {exc}") from None
        except (
            tessera.SignatureError,
            tessera.KeyNotFoundError,
            tessera.AlgorithmNotAllowedError,
        ):
            raise InvalidClient(
                "the client assertion's signature does not verify with the client's keys"
            ) from None
        except tessera.InvalidToken as exc:
            raise InvalidClient(f"the client assertion is invalid: {exc}") from None

    def _keyset(self, client_id: str, jwks: str) -> tessera.KeySet:
        """The client's registered keys, parsed once per JWKS version."""
        cache_key = (client_id, jwks)
        keyset = self._keysets.get(cache_key)
        if keyset is None:
            try:
                keyset = tessera.KeySet.from_jwks(jwks, skip_invalid=True)
            except tessera.InvalidKey:
                raise InvalidClient(_FAILED) from None
            with self._lock:
                if len(self._keysets) >= _JWKS_CACHE_SIZE:
                    self._keysets.clear()
                self._keysets[cache_key] = keyset
        return keyset


def _media(typ: str) -> str:
    lowered = typ.lower()
    return lowered[12:] if lowered.startswith("application/") else lowered
