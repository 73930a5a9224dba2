"""Checking bearer access tokens (RFC 9068) against one or several trusted issuers.

Order matters (attack catalogue #40, Storm-0558): the token's ``iss`` is checked against the
allow-list first, then the key is looked up among *that issuer's* keys only, by ``kid``; no
key ever comes from a shared pool or from the token (#13, #14). Then the core verifies the
signature and the claims, with ``typ`` = ``at+jwt`` by default so ID tokens and other JWTs are
not accepted as access tokens (#41).

>>> verifier = Verifier.from_issuer("https://idp.example", audience="https://api.example")
>>> # token = verifier.verify(bearer)  -> AccessToken, or raises InvalidToken / KeysUnavailable
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from tessera import Limits
from tessera.errors import (
    ConfigurationError,
    InvalidIssuerError,
    MalformedTokenError,
    MissingClaimError,
)
from tessera.jose.jwa import JWS_ALGORITHMS
from tessera.jose.jwk import Key, KeySet
from tessera.jose.jwt import decode, decode_unverified
from tessera.resource._fetch import FetchPolicy
from tessera.resource._jwks_cache import CachePolicy
from tessera.resource.access_token import AccessToken
from tessera.resource.jwks import AsyncKeySource, JWKSClient, KeySource, StaticKeys

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_ALGORITHMS", "Verifier"]

logger = logging.getLogger("tessera.resource")

DEFAULT_ALGORITHMS = (
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
    "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
)  # fmt: skip
"""Asymmetric algorithms only: a resource server never shares an HMAC secret with an issuer."""

MAX_CACHED_TOKEN = 4096
DEFAULT_LIMITS = Limits()
Keys: TypeAlias = Key | KeySet | KeySource | AsyncKeySource
_Source: TypeAlias = KeySource | AsyncKeySource
_Entry: TypeAlias = tuple[AccessToken, KeySet, _Source, float]
"""A remembered token: its claims, the key set that verified it, where those keys came from,
and the wall time from which it is expired (``exp`` + leeway)."""


def _source(keys: Keys) -> KeySource | AsyncKeySource:
    if isinstance(keys, Key | KeySet):
        return StaticKeys(keys)
    if isinstance(keys, KeySource | AsyncKeySource):
        return keys
    raise ConfigurationError("keys must be a Key, a KeySet, a JWKS client or a key source")


def _is_async(source: KeySource | AsyncKeySource) -> bool:
    return inspect.iscoroutinefunction(source.get_keys)


class Verifier:
    """Verifies access tokens for ``audience`` from trusted issuers, returning AccessToken.

    Build it with :meth:`from_issuer` (discovery), :meth:`from_jwks_url`, ``Verifier(issuer=...,
    keys=...)`` (static keys or your own JWKS client) or :meth:`for_issuers` (several issuers).
    ``algorithms`` defaults to the asymmetric ones; ``typ=None`` turns off the RFC 9068 type
    check (for issuers that do not send ``at+jwt``; weaker, see attack catalogue #41).
    ``clock`` gives the wall time in seconds. Verified tokens are remembered (at most
    ``token_cache_size``) until they expire or their issuer's key set changes, so a client
    reusing its token costs a dictionary lookup, not a signature check; 0 turns it off.

    Raises:
        ConfigurationError: unsafe or inconsistent settings.
    """

    def __init__(
        self,
        *,
        issuer: str,
        keys: Keys,
        audience: str | Iterable[str],
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        typ: str | None = "at+jwt",
        require: Collection[str] = ("exp", "iss"),
        clock: Callable[[], float] = time.time,
        token_cache_size: int = 1024,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("issuer must be a non-empty string")
        self._sources: dict[str, KeySource | AsyncKeySource] = {issuer: _source(keys)}
        self._async = {iss for iss, source in self._sources.items() if _is_async(source)}
        if isinstance(audience, str):
            audiences: frozenset[str] | str = audience
        else:
            audiences = frozenset(audience)
            if not audiences or not all(isinstance(a, str) and a for a in audiences):
                raise ConfigurationError("audience must be a string or strings")
        if not audiences:
            raise ConfigurationError("audience must not be empty (RFC 9068 sec. 4)")
        self._audience = audiences
        if isinstance(algorithms, str):
            raise ConfigurationError("algorithms must be a list of names, not a string")
        self._algorithms = tuple(sorted(set(algorithms)))
        unknown = [a for a in self._algorithms if a not in JWS_ALGORITHMS]
        if unknown or not self._algorithms:
            raise ConfigurationError(f"unknown or no algorithms: {unknown}")
        if isinstance(leeway, bool) or not isinstance(leeway, int | float):
            raise ConfigurationError("leeway must be a number of seconds")
        if not (math.isfinite(leeway) and 0 <= leeway <= 300):
            raise ConfigurationError("leeway must be between 0 and 300 seconds")
        self._leeway = float(leeway)
        if typ is not None and not isinstance(typ, str):
            raise ConfigurationError("typ must be a string or None")
        self._typ = typ
        if isinstance(require, str):
            raise ConfigurationError("require must be a collection of claim names")
        self._require = tuple(sorted({"exp", "iss", *require}))
        self._clock = clock
        if not isinstance(token_cache_size, int) or token_cache_size < 0:
            raise ConfigurationError("token_cache_size must be a non-negative integer")
        self._cache_size = token_cache_size
        self._tokens: dict[str, _Entry] = {}
        self._limits = limits

    @classmethod
    def for_issuers(
        cls,
        trusted: Mapping[str, Keys],
        *,
        audience: str | Iterable[str],
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        typ: str | None = "at+jwt",
        require: Collection[str] = ("exp", "iss"),
        clock: Callable[[], float] = time.time,
        token_cache_size: int = 1024,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Verifier:
        """A verifier trusting several issuers, each with its own keys (multi-tenant).

        A token is checked only against the keys of the issuer its ``iss`` names, so a key
        of one issuer can never vouch for a token claiming another (attack catalogue #40).

        Raises:
            ConfigurationError: no issuers, or unsafe settings.
        """
        if not isinstance(trusted, Mapping) or not trusted:
            raise ConfigurationError("trusted must map at least one issuer to its keys")
        items = list(trusted.items())
        first_issuer, first_keys = items[0]
        self = cls(
            issuer=first_issuer,
            keys=first_keys,
            audience=audience,
            algorithms=algorithms,
            leeway=leeway,
            typ=typ,
            require=require,
            clock=clock,
            token_cache_size=token_cache_size,
            limits=limits,
        )
        for issuer, keys in items[1:]:
            if not isinstance(issuer, str) or not issuer:
                raise ConfigurationError("issuers must be non-empty strings")
            source = _source(keys)
            self._sources[issuer] = source
            if _is_async(source):
                self._async.add(issuer)
        return self

    @classmethod
    def from_issuer(
        cls,
        issuer: str,
        *,
        audience: str | Iterable[str],
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        typ: str | None = "at+jwt",
        require: Collection[str] = ("exp", "iss"),
        clock: Callable[[], float] = time.time,
        token_cache_size: int = 1024,
        limits: Limits = DEFAULT_LIMITS,
        cache: CachePolicy = CachePolicy(),  # noqa: B008 - frozen, so sharing is safe
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.BaseTransport | None = None,
    ) -> Verifier:
        """A verifier for ``issuer``, whose JWKS is found by RFC 8414 / OpenID discovery.

        Nothing is fetched until the first token arrives. The keys come from a blocking
        :class:`JWKSClient` under ``cache``; async code uses its cache directly and fetches in
        a worker thread. The other options are those of the constructor.
        For an asyncio-native client pass ``keys=AsyncJWKSClient.from_issuer(issuer)``.

        Raises:
            ConfigurationError: an issuer URL that cannot be discovered, or unsafe settings.
        """
        client = JWKSClient.from_issuer(
            issuer, cache=cache, fetch_policy=fetch_policy, transport=transport
        )
        return cls(
            issuer=issuer,
            keys=client,
            audience=audience,
            algorithms=algorithms,
            leeway=leeway,
            typ=typ,
            require=require,
            clock=clock,
            token_cache_size=token_cache_size,
            limits=limits,
        )

    @classmethod
    def from_jwks_url(
        cls,
        issuer: str,
        jwks_url: str,
        *,
        audience: str | Iterable[str],
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 0,
        typ: str | None = "at+jwt",
        require: Collection[str] = ("exp", "iss"),
        clock: Callable[[], float] = time.time,
        token_cache_size: int = 1024,
        limits: Limits = DEFAULT_LIMITS,
        cache: CachePolicy = CachePolicy(),  # noqa: B008
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.BaseTransport | None = None,
    ) -> Verifier:
        """A verifier for ``issuer`` whose keys are published at ``jwks_url`` (no discovery).

        The options are those of :meth:`from_issuer`.

        Raises:
            ConfigurationError: a URL that may not be fetched, or unsafe settings.
        """
        client = JWKSClient(jwks_url, cache=cache, fetch_policy=fetch_policy, transport=transport)
        return cls(
            issuer=issuer,
            keys=client,
            audience=audience,
            algorithms=algorithms,
            leeway=leeway,
            typ=typ,
            require=require,
            clock=clock,
            token_cache_size=token_cache_size,
            limits=limits,
        )

    @property
    def issuers(self) -> tuple[str, ...]:
        """The trusted issuers."""
        return tuple(self._sources)

    @property
    def audiences(self) -> tuple[str, ...]:
        """The accepted audiences (``aud`` values), sorted."""
        audience = self._audience
        return (audience,) if isinstance(audience, str) else tuple(sorted(audience))

    @property
    def is_async(self) -> bool:
        """Whether some issuer's keys come from an async source (then only averify works)."""
        return bool(self._async)

    def _route(self, token: str) -> tuple[str, str | None, dict[str, Any]]:
        """The issuer (checked against the allow-list) and kid of ``token``, before any key."""
        if not isinstance(token, str):
            raise MalformedTokenError("a token must be a string")
        header, claims = decode_unverified(token, limits=self._limits)
        iss = claims.get("iss")
        if iss is None:
            raise MissingClaimError("the 'iss' claim is required", "iss")
        if not isinstance(iss, str) or iss not in self._sources:
            raise InvalidIssuerError("the token was issued by an untrusted issuer", "iss")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise MalformedTokenError("kid must be a string")
        return iss, kid, header

    def remembered(self, token: str) -> AccessToken | None:
        """The AccessToken of ``token`` if it was verified before and that answer needs no I/O.

        None means: call :meth:`verify` or :meth:`averify` (integrations try this first to
        spare a coroutine). A hit needs the exact token string, unexpired by the clock, and the
        issuer's key set, as its source gives it now without fetching, to be the very set that
        verified it (so rotation or a refresh sends the token through full verification again).
        """
        entry = self._tokens.get(token)
        if entry is None:
            return None
        access, verified_with, source, expires = entry
        if self._clock() < expires and source.cached_keys(access.kid) is verified_with:
            return access
        return None

    def _remembered(self, token: str, keys: KeySet, now: float) -> AccessToken | None:
        """A token verified before with the same key set and not yet expired, else None."""
        entry = self._tokens.get(token)
        if entry is None:
            return None
        access, verified_with, _, expires = entry
        if verified_with is keys and now < expires:
            return access
        self._tokens.pop(token, None)
        return None

    def _check(
        self, token: str, iss: str, header: dict[str, Any], keys: KeySet, now: float
    ) -> AccessToken:
        claims = decode(
            token,
            keys,
            algorithms=self._algorithms,
            issuer=iss,
            audience=self._audience,
            typ=self._typ,
            leeway=self._leeway,
            require=self._require,
            now=now,
            limits=self._limits,
        )
        access = AccessToken.from_claims(claims, header)
        # Only a plain str is remembered: a subclass could redefine equality and hashing.
        if self._cache_size and type(token) is str and len(token) <= MAX_CACHED_TOKEN:
            tokens = self._tokens
            if len(tokens) >= self._cache_size:
                try:  # drop the oldest entry; another thread may be doing the same
                    tokens.pop(next(iter(tokens)), None)
                except (RuntimeError, StopIteration):
                    tokens.clear()
            tokens[token] = (access, keys, self._sources[iss], access.exp + self._leeway)
        return access

    def _keys(self, iss: str, kid: str | None) -> KeySet:
        if iss in self._async:
            raise ConfigurationError("this issuer's keys are async: use 'await averify(token)'")
        source: Any = self._sources[iss]
        keys: KeySet = source.get_keys(kid)
        return keys

    async def _akeys(self, iss: str, kid: str | None) -> KeySet:
        source: Any = self._sources[iss]
        if iss in self._async:
            keys: KeySet = await source.get_keys(kid)
            return keys
        cached: KeySet | None = source.cached_keys(kid)
        if cached is not None:
            return cached
        fetched: KeySet = await asyncio.to_thread(source.get_keys, kid)
        return fetched

    def verify(self, token: str) -> AccessToken:
        """Verify a bearer token (the text after ``Bearer``) and return its typed claims.

        Raises:
            InvalidToken: a subclass naming the reason (untrusted ``iss``, unknown ``kid``,
                bad signature, expired, wrong ``aud`` or ``typ``...).
            KeysUnavailableError: the issuer's keys cannot be had (cold cache, issuer down).
            ConfigurationError: an issuer's keys come from an async source (use averify).
        """
        if type(token) is str:
            hit = self.remembered(token)
            if hit is not None and hit.iss not in self._async:  # async keys: averify only
                return hit
            entry = self._tokens.get(token)
            if entry is not None:  # a fetch may be due: let the key source decide
                access = self._remembered(
                    token, self._keys(entry[0].iss, entry[0].kid), self._clock()
                )
                if access is not None:
                    return access
        iss, kid, header = self._route(token)
        keys = self._keys(iss, kid)
        return self._check(token, iss, header, keys, self._clock())

    async def averify(self, token: str) -> AccessToken:
        """The async form of :meth:`verify`; works with sync and async key sources.

        Raises:
            InvalidToken: a subclass naming the reason.
            KeysUnavailableError: the issuer's keys cannot be had (cold cache, issuer down).
        """
        if type(token) is str:
            hit = self.remembered(token)
            if hit is not None:
                return hit
            entry = self._tokens.get(token)
            if entry is not None:  # a fetch may be due: let the key source decide
                keys = await self._akeys(entry[0].iss, entry[0].kid)
                access = self._remembered(token, keys, self._clock())
                if access is not None:
                    return access
        iss, kid, header = self._route(token)
        keys = await self._akeys(iss, kid)
        return self._check(token, iss, header, keys, self._clock())
