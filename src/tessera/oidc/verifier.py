"""Verifying ID tokens (OIDC Core 3.1.3.7) and logout tokens (Back-Channel Logout 1.0 sec. 2.6)
for one client of one OpenID provider.

The issuer and its keys are fixed by configuration or discovery, never by the token; keys come
from the resource toolkit's JWKS clients (``Cache-Control``, rotation on an unknown ``kid``,
cooldown, stale-if-error). The core verifies the signature and ``iss``/``aud``/``exp``/``iat``/
``nbf``; this module adds ``azp``, ``nonce``, ``at_hash``/``c_hash``, ``auth_time``/``max_age``
and the token type.

>>> # verifier = IDTokenVerifier.from_provider("https://login.example", client_id="app")
>>> # id_token = verifier.verify(response["id_token"], nonce=pending.nonce)
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from tessera.errors import ConfigurationError, MalformedTokenError, MissingClaimError
from tessera.jose._compact import DEFAULT_LIMITS, Limits, split_segments
from tessera.jose._header import parse_protected
from tessera.jose.jwa import JWS_ALGORITHMS
from tessera.jose.jwk import Key, KeySet
from tessera.jose.jwt import decode
from tessera.oidc import _checks
from tessera.oidc.provider import ProviderMetadata, discover_provider, discover_provider_async
from tessera.oidc.tokens import IDToken, LogoutToken
from tessera.resource._fetch import FetchPolicy
from tessera.resource._jwks_cache import CachePolicy
from tessera.resource.jwks import (
    AsyncJWKSClient,
    AsyncKeySource,
    JWKSClient,
    KeySource,
    StaticKeys,
)
from tessera.resource.verifier import DEFAULT_ALGORITHMS

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_LOGOUT_MAX_AGE", "IDTokenVerifier"]

Keys: TypeAlias = Key | KeySet | KeySource | AsyncKeySource
DEFAULT_LOGOUT_MAX_AGE = 300.0
"""Seconds a logout token is accepted after its ``iat`` (it may have no ``exp``)."""
_ID_REQUIRED = ("aud", "exp", "iat", "iss", "sub")
_LOGOUT_REQUIRED = ("aud", "iat", "iss")


def _source(keys: Keys) -> KeySource | AsyncKeySource:
    if isinstance(keys, Key | KeySet):
        return StaticKeys(keys)
    if isinstance(keys, KeySource | AsyncKeySource):
        return keys
    raise ConfigurationError("keys must be a Key, a KeySet, a JWKS client or a key source")


def _seconds(value: object, what: str, upper: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{what} must be a number of seconds")
    if not (math.isfinite(value) and 0 <= value <= upper):
        raise ConfigurationError(f"{what} must be between 0 and {upper:g} seconds")
    return float(value)


def _algorithms(wanted: Iterable[str], supported: tuple[str, ...]) -> tuple[str, ...]:
    """The caller's algorithms, narrowed to the provider's when it lists some."""
    if isinstance(wanted, str):
        raise ConfigurationError("algorithms must be a list of names, not a string")
    chosen = set(wanted)
    if supported:
        chosen &= set(supported)
    if not chosen:
        raise ConfigurationError("the provider signs ID tokens with no algorithm allowed here")
    return tuple(sorted(chosen))


class IDTokenVerifier:
    """Verifies ID tokens and logout tokens from ``issuer`` for ``client_id``.

    ``algorithms`` defaults to the asymmetric ones (``none`` and HMAC never pass).
    ``trusted_audiences`` are other audiences an ID token may also name (OIDC Core 3.1.3.7
    step 3 refuses untrusted ones). ``require_auth_time`` is for clients registered with
    ``require_auth_time``. ``clock`` gives the wall time in seconds.

    Raises:
        ConfigurationError: unsafe or inconsistent settings.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        keys: Keys,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        trusted_audiences: Iterable[str] = (),
        require_auth_time: bool = False,
        logout_max_age: float = DEFAULT_LOGOUT_MAX_AGE,
        clock: Callable[[], float] = time.time,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("issuer must be a non-empty string")
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        self.issuer = issuer
        self.client_id = client_id
        self._source = _source(keys)
        self._async = inspect.iscoroutinefunction(self._source.get_keys)
        self._algorithms = _algorithms(algorithms, ())
        unknown = [a for a in self._algorithms if a not in JWS_ALGORITHMS or a == "none"]
        if unknown:
            raise ConfigurationError(f"unknown or unsafe algorithms: {unknown}")
        self._leeway = _seconds(leeway, "leeway", 300)
        if isinstance(trusted_audiences, str):
            raise ConfigurationError("trusted_audiences must be a collection of strings")
        self._trusted = frozenset(trusted_audiences)
        self._require_auth_time = bool(require_auth_time)
        self._logout_max_age = _seconds(logout_max_age, "logout_max_age", 86400)
        self._clock = clock
        self._limits = limits

    @classmethod
    def from_metadata(
        cls,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        asynchronous: bool = False,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        trusted_audiences: Iterable[str] = (),
        require_auth_time: bool = False,
        logout_max_age: float = DEFAULT_LOGOUT_MAX_AGE,
        clock: Callable[[], float] = time.time,
        limits: Limits = DEFAULT_LIMITS,
        cache: CachePolicy = CachePolicy(),  # noqa: B008 - frozen, so sharing is safe
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: Any = None,
    ) -> IDTokenVerifier:
        """A verifier for a discovered provider: its ``issuer``, its ``jwks_uri`` (fetched on
        first use, by an async client when ``asynchronous``), its signing algorithms. The
        other options are those of the constructor.

        Raises:
            ConfigurationError: no algorithm in common, or unsafe settings.
        """
        keys: Keys
        if asynchronous:
            keys = AsyncJWKSClient(
                metadata.jwks_uri, cache=cache, fetch_policy=fetch_policy, transport=transport
            )
        else:
            keys = JWKSClient(
                metadata.jwks_uri, cache=cache, fetch_policy=fetch_policy, transport=transport
            )
        return cls(
            issuer=metadata.issuer,
            client_id=client_id,
            keys=keys,
            algorithms=_algorithms(algorithms, metadata.id_token_signing_alg_values_supported),
            leeway=leeway,
            trusted_audiences=trusted_audiences,
            require_auth_time=require_auth_time,
            logout_max_age=logout_max_age,
            clock=clock,
            limits=limits,
        )

    @classmethod
    def from_provider(
        cls,
        issuer: str,
        *,
        client_id: str,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        trusted_audiences: Iterable[str] = (),
        require_auth_time: bool = False,
        logout_max_age: float = DEFAULT_LOGOUT_MAX_AGE,
        clock: Callable[[], float] = time.time,
        limits: Limits = DEFAULT_LIMITS,
        cache: CachePolicy = CachePolicy(),  # noqa: B008
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.BaseTransport | None = None,
    ) -> IDTokenVerifier:
        """Discover ``issuer`` (blocking, now) and verify with its keys from then on.

        The keys are fetched on first use and cached by a :class:`JWKSClient` under ``cache``;
        the other options are those of the constructor.

        Raises:
            ConfigurationError: an issuer URL that cannot be discovered, or unsafe settings.
            DiscoveryError: the provider configuration is missing or unacceptable.
        """
        metadata = discover_provider(issuer, policy=fetch_policy, transport=transport)
        return cls.from_metadata(
            metadata,
            client_id=client_id,
            algorithms=algorithms,
            leeway=leeway,
            trusted_audiences=trusted_audiences,
            require_auth_time=require_auth_time,
            logout_max_age=logout_max_age,
            clock=clock,
            limits=limits,
            cache=cache,
            fetch_policy=fetch_policy,
            transport=transport,
        )

    @classmethod
    async def afrom_provider(
        cls,
        issuer: str,
        *,
        client_id: str,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        trusted_audiences: Iterable[str] = (),
        require_auth_time: bool = False,
        logout_max_age: float = DEFAULT_LOGOUT_MAX_AGE,
        clock: Callable[[], float] = time.time,
        limits: Limits = DEFAULT_LIMITS,
        cache: CachePolicy = CachePolicy(),  # noqa: B008
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> IDTokenVerifier:
        """The async twin of :meth:`from_provider`: keys then come from an AsyncJWKSClient.

        Raises:
            ConfigurationError: an issuer URL that cannot be discovered, or unsafe settings.
            DiscoveryError: the provider configuration is missing or unacceptable.
        """
        metadata = await discover_provider_async(issuer, policy=fetch_policy, transport=transport)
        return cls.from_metadata(
            metadata,
            client_id=client_id,
            asynchronous=True,
            algorithms=algorithms,
            leeway=leeway,
            trusted_audiences=trusted_audiences,
            require_auth_time=require_auth_time,
            logout_max_age=logout_max_age,
            clock=clock,
            limits=limits,
            cache=cache,
            fetch_policy=fetch_policy,
            transport=transport,
        )

    @property
    def is_async(self) -> bool:
        """Whether the keys come from an async source (then only the ``a...`` methods work)."""
        return self._async

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The signature algorithms accepted."""
        return self._algorithms

    @property
    def logout_max_age(self) -> float:
        """Seconds a logout token is accepted after its ``iat``."""
        return self._logout_max_age

    @property
    def leeway(self) -> float:
        """Clock skew tolerated on time claims, in seconds."""
        return self._leeway

    # -- key lookup ---------------------------------------------------------------------------

    def _kid(self, token: str) -> tuple[str | None, dict[str, Any]]:
        if not isinstance(token, str):
            raise MalformedTokenError("a token must be a string")
        # Only the header picks the keys: the claims are parsed once, by decode, after the
        # signature. The parsed header comes from the core's cache (issuers reuse a few).
        h_seg = split_segments(token, self._limits)[0]
        header = parse_protected(h_seg, self._limits.max_json_depth).header
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise MalformedTokenError("kid must be a string")
        return kid, header

    def _keys(self, kid: str | None) -> KeySet:
        if self._async:
            raise ConfigurationError("this verifier's keys are async: use the 'a...' methods")
        keys: KeySet = self._source.get_keys(kid)  # type: ignore[assignment]
        return keys

    async def _akeys(self, kid: str | None) -> KeySet:
        source: Any = self._source
        if self._async:
            keys: KeySet = await source.get_keys(kid)
            return keys
        cached: KeySet | None = source.cached_keys(kid)
        if cached is not None:
            return cached
        import asyncio

        fetched: KeySet = await asyncio.to_thread(source.get_keys, kid)
        return fetched

    # -- ID tokens ----------------------------------------------------------------------------

    def _check_id(
        self,
        token: str,
        header: dict[str, Any],
        keys: KeySet,
        nonce: str | None,
        access_token: str | None,
        code: str | None,
        max_age: float | None,
        require_at_hash: bool,
    ) -> IDToken:
        if nonce is not None and not isinstance(nonce, str):
            raise ConfigurationError("nonce must be a string")
        if max_age is not None:
            max_age = _seconds(max_age, "max_age", 10**9)
        _checks.check_id_token_typ(header, {})
        now = self._clock()
        claims = decode(
            token,
            keys,
            algorithms=self._algorithms,
            issuer=self.issuer,
            audience=self.client_id,
            leeway=self._leeway,
            require=_ID_REQUIRED,
            now=now,
            limits=self._limits,
        )
        _checks.check_id_token_typ(header, claims)
        _checks.check_subject(claims)
        audiences = _checks.check_audiences(claims, self.client_id, self._trusted)
        _checks.check_nonce(claims, nonce)
        _checks.check_optional_types(claims)
        auth_time = _checks.check_auth_time(
            claims, now, self._leeway, max_age, self._require_auth_time
        )
        _checks.check_token_hash(claims, "at_hash", access_token, header, keys, require_at_hash)
        _checks.check_token_hash(claims, "c_hash", code, header, keys, False)
        return IDToken.from_claims(claims, header, audiences, auth_time, token)

    def verify(
        self,
        token: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
        code: str | None = None,
        max_age: float | None = None,
        require_at_hash: bool = False,
    ) -> IDToken:
        """Verify an ID token; ``nonce``, ``max_age`` as sent in the authorization request,
        ``access_token``/``code`` as received with it (checked against ``at_hash``/``c_hash``).

        Raises:
            InvalidToken: a subclass naming the reason (see :mod:`tessera.oidc.errors`).
            KeysUnavailableError: the provider's keys cannot be had.
            ConfigurationError: the keys come from an async source (use :meth:`averify`).
        """
        kid, header = self._kid(token)
        keys = self._keys(kid)
        return self._check_id(
            token, header, keys, nonce, access_token, code, max_age, require_at_hash
        )

    async def averify(
        self,
        token: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
        code: str | None = None,
        max_age: float | None = None,
        require_at_hash: bool = False,
    ) -> IDToken:
        """The async form of :meth:`verify`; works with sync and async key sources.

        Raises:
            InvalidToken: a subclass naming the reason.
            KeysUnavailableError: the provider's keys cannot be had.
        """
        kid, header = self._kid(token)
        keys = await self._akeys(kid)
        return self._check_id(
            token, header, keys, nonce, access_token, code, max_age, require_at_hash
        )

    # -- logout tokens ------------------------------------------------------------------------

    def _check_logout(
        self, token: str, header: dict[str, Any], keys: KeySet, require_typ: bool
    ) -> LogoutToken:
        _checks.check_logout_typ(header, require_typ)
        claims = decode(
            token,
            keys,
            algorithms=self._algorithms,
            issuer=self.issuer,
            audience=self.client_id,
            leeway=self._leeway,
            require=_LOGOUT_REQUIRED,
            now=self._clock(),
            max_age=self._logout_max_age,
            limits=self._limits,
        )
        event = _checks.check_logout_claims(claims)
        audiences = _checks.check_audiences(claims, self.client_id, self._trusted)
        jti = claims.get("jti")
        if not jti:
            raise MissingClaimError("the 'jti' claim is required", "jti")
        return LogoutToken(
            iss=claims["iss"],
            sub=claims.get("sub"),
            sid=claims.get("sid"),
            jti=jti,
            iat=claims["iat"],
            aud=audiences,
            event=event,
            claims=claims,
        )

    def verify_logout_token(self, token: str, *, require_typ: bool = False) -> LogoutToken:
        """Verify a back-channel logout token (the ``logout_token`` form field).

        ``require_typ`` demands the ``logout+jwt`` type (recommended by the spec, not sent by
        every provider); without it an untyped or ``JWT`` token is accepted too.

        Raises:
            InvalidToken: a subclass naming the reason (``LogoutTokenError`` for sec. 2.4).
            KeysUnavailableError: the provider's keys cannot be had.
        """
        kid, header = self._kid(token)
        return self._check_logout(token, header, self._keys(kid), require_typ)

    async def averify_logout_token(self, token: str, *, require_typ: bool = False) -> LogoutToken:
        """The async form of :meth:`verify_logout_token`.

        Raises:
            InvalidToken: a subclass naming the reason.
            KeysUnavailableError: the provider's keys cannot be had.
        """
        kid, header = self._kid(token)
        return self._check_logout(token, header, await self._akeys(kid), require_typ)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the blocking JWKS client's connections, if the keys come from one."""
        source: Any = self._source
        if isinstance(source, JWKSClient):
            source.close()

    async def aclose(self) -> None:
        """Close the JWKS client's connections, if the keys come from one."""
        source: Any = self._source
        if isinstance(source, AsyncJWKSClient):
            await source.aclose()
        elif isinstance(source, JWKSClient):
            source.close()
