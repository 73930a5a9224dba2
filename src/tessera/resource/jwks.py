"""Where a verifier gets an issuer's keys: a remote JWKS (sync or async client) or static keys.

:class:`JWKSClient` and :class:`AsyncJWKSClient` are thin drivers of one sans-I/O cache
(:mod:`tessera.resource._jwks_cache`): ``Cache-Control`` honoured within a floor and a ceiling,
an unknown ``kid`` refetched within seconds (``unknown_kid_cooldown``, backing off while made-up
kids find nothing, all fetches capped per minute), a single fetch in flight however many
requests wait, and the last good keys kept while the issuer is down. The URL comes from
configuration or discovery, never from a token (attack catalogue #14, #52).

>>> client = JWKSClient("https://idp.example/jwks.json")  # nothing is fetched yet
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tessera.errors import ConfigurationError
from tessera.jose.jwk import Key, KeySet
from tessera.resource._fetch import (
    FetchPolicy,
    Response,
    check_url,
    fetch,
    fetch_async,
    httpx_,
    new_client,
)
from tessera.resource._jwks_cache import Action, CachePolicy, JWKSCache, load_keyset, parse_max_age
from tessera.resource.discovery import ServerMetadata, check_issuer, discover, discover_async

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AsyncJWKSClient",
    "AsyncKeySource",
    "CachePolicy",
    "FetchPolicy",
    "JWKSClient",
    "KeySource",
    "StaticKeys",
]

logger = logging.getLogger("tessera.resource")
Clock = Callable[[], float]


@runtime_checkable
class KeySource(Protocol):
    """Blocking access to one issuer's keys."""

    def get_keys(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token naming ``kid`` with (may fetch)."""
        ...

    def cached_keys(self, kid: str | None = None) -> KeySet | None:
        """The keys if they can be given without I/O, else None."""
        ...


@runtime_checkable
class AsyncKeySource(Protocol):
    """Non-blocking access to one issuer's keys."""

    async def get_keys(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token naming ``kid`` with (may fetch)."""
        ...

    def cached_keys(self, kid: str | None = None) -> KeySet | None:
        """The keys if they can be given without I/O, else None."""
        ...


class StaticKeys:
    """Keys given in configuration: never fetched, never expire."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Key | KeySet) -> None:
        if isinstance(keys, Key):
            keys = KeySet([keys])
        if not isinstance(keys, KeySet):
            raise ConfigurationError("StaticKeys needs a tessera.Key or tessera.KeySet")
        self._keys = keys

    def get_keys(self, kid: str | None = None) -> KeySet:
        """The configured keys."""
        return self._keys

    def cached_keys(self, kid: str | None = None) -> KeySet | None:
        """The configured keys."""
        return self._keys


class _Remote:
    """What both drivers share: configuration, the cache state, and turning replies into keys."""

    def __init__(
        self,
        url: str | None,
        issuer: str | None,
        cache: CachePolicy,
        fetch_policy: FetchPolicy,
        transport: Any,
        clock: Clock,
    ) -> None:
        httpx_()  # fail early with the install hint when httpx is missing
        if not isinstance(cache, CachePolicy) or not isinstance(fetch_policy, FetchPolicy):
            raise ConfigurationError("cache and fetch_policy must be policy objects")
        self._url = check_url(url) if url is not None else None
        self._issuer = check_issuer(issuer) if issuer is not None else None
        self._cache = JWKSCache(cache)
        self._fetch_policy = fetch_policy
        self._transport = transport
        self._clock = clock
        self.metadata: ServerMetadata | None = None
        """The issuer metadata found by discovery (None before it, or without it)."""
        self.fetch_failures = 0
        """How many fetches (or discoveries) failed; ``tessera.resource.prometheus`` exports it."""

    @property
    def fetches(self) -> int:
        """How many JWKS fetches were started (for monitoring and tests)."""
        return self._cache.fetches

    @property
    def unknown_kids(self) -> int:
        """How many lookups named a ``kid`` the cached keys lack and were answered without it
        (their tokens were refused): a burst follows an immediate rotation or made-up kids."""
        return self._cache.unknown_kids

    @property
    def source(self) -> str:
        """The JWKS URL, or the issuer whose metadata will name it."""
        return self._url or f"{self._issuer} (discovery)"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.source}>"

    def cached_keys(self, kid: str | None = None) -> KeySet | None:
        """The keys if no fetch is needed to answer for ``kid``, else None.

        Raises:
            KeysUnavailableError: the cache has decided it cannot answer (see ``get_keys``).
        """
        cache = self._cache
        now = self._clock()
        keys = cache.fresh(kid, now)
        if keys is not None:
            return keys
        if cache.plan(kid, now) is Action.USE:
            return cache.result(kid, now)
        return None

    def _issuer_url(self) -> str:
        if self._issuer is None:  # only reachable if both URL and issuer were None
            raise ConfigurationError("a JWKS client needs a URL or an issuer")
        return self._issuer

    def _discovered(self, metadata: ServerMetadata) -> str:
        self.metadata = metadata
        self._url = metadata.jwks_uri
        return metadata.jwks_uri

    def _store(self, response: Response) -> None:
        keys = load_keyset(response.body, response.url)
        self._cache.succeeded(keys, parse_max_age(response.headers), self._clock())
        logger.info("fetched %d keys from %s", len(keys), response.url)

    def _fail(self, exc: BaseException) -> None:
        reason = str(exc) or type(exc).__name__
        self.fetch_failures += 1
        logger.warning("fetching the JWKS of %s failed: %s", self.source, reason)
        if self._issuer is not None:
            self._url = None  # discover again next time: the jwks_uri may have moved
        self._cache.failed(reason, self._clock())


class JWKSClient(_Remote):
    """A blocking JWKS client with a shared cache, safe to use from many threads.

    Construction does no I/O. ``clock`` (monotonic seconds) drives the cache; inject one in
    tests instead of sleeping. ``transport`` replaces the network (``httpx.MockTransport``).

    Raises:
        ConfigurationError: a URL that may not be fetched.
        ImportError: httpx is not installed.
    """

    def __init__(
        self,
        url: str,
        *,
        cache: CachePolicy = CachePolicy(),  # noqa: B008 - frozen, so sharing is safe
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(url, None, cache, fetch_policy, transport, clock)
        self._init_sync()

    def _init_sync(self) -> None:
        self._cond = threading.Condition()
        self._http: httpx.Client | None = None

    @classmethod
    def from_issuer(
        cls,
        issuer: str,
        *,
        cache: CachePolicy = CachePolicy(),  # noqa: B008
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.monotonic,
    ) -> JWKSClient:
        """A client whose JWKS URL is found through ``issuer``'s metadata, on first use."""
        self = cls.__new__(cls)
        _Remote.__init__(self, None, issuer, cache, fetch_policy, transport, clock)
        self._init_sync()
        return self

    def get_keys(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token naming ``kid`` (None: no kid), fetching when needed.

        Raises:
            KeysUnavailableError: no usable keys (cold cache and the issuer is unreachable).
        """
        cache = self._cache
        now = self._clock()
        if cache.plan(kid, now) is Action.USE:
            return cache.result(kid, now)
        with self._cond:
            while True:
                now = self._clock()
                action = cache.plan(kid, now)
                if action is not Action.WAIT:
                    break
                if not self._cond.wait(self._fetch_policy.timeout * 4):
                    break  # the fetch in flight is stuck: answer with what there is
            if action in (Action.FETCH, Action.REFRESH):
                cache.begin(now, kid)
        if action in (Action.FETCH, Action.REFRESH):
            self._refresh()
        return cache.result(kid, self._clock())

    def _refresh(self) -> None:
        try:
            if self._http is None:
                self._http = new_client(self._transport)
            url = self._url
            if url is None:
                issuer = self._issuer_url()
                metadata = discover(issuer, policy=self._fetch_policy, client=self._http)
                url = self._discovered(metadata)
            response = fetch(self._http, url, self._fetch_policy)
            with self._cond:
                self._store(response)
        except Exception as exc:
            with self._cond:
                self._fail(exc)
        finally:
            with self._cond:
                if self._cache.in_flight:  # interrupted (KeyboardInterrupt...)
                    self._cache.failed("interrupted", self._clock())
                self._cond.notify_all()

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> JWKSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncJWKSClient(_Remote):
    """The asyncio twin of :class:`JWKSClient`: same cache rules, one fetch task in flight.

    Waiting requests share the fetch task (shielded, so a client that disconnects does not
    cancel it for the others). A refresh of expired keys runs in the background while the
    current keys keep answering. Use it from one event loop.

    Raises:
        ConfigurationError: a URL that may not be fetched.
        ImportError: httpx is not installed.
    """

    def __init__(
        self,
        url: str,
        *,
        cache: CachePolicy = CachePolicy(),  # noqa: B008
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(url, None, cache, fetch_policy, transport, clock)
        self._init_async()

    def _init_async(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_issuer(
        cls,
        issuer: str,
        *,
        cache: CachePolicy = CachePolicy(),  # noqa: B008
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
    ) -> AsyncJWKSClient:
        """A client whose JWKS URL is found through ``issuer``'s metadata, on first use."""
        self = cls.__new__(cls)
        _Remote.__init__(self, None, issuer, cache, fetch_policy, transport, clock)
        self._init_async()
        return self

    async def get_keys(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token naming ``kid`` (None: no kid), fetching when needed.

        Raises:
            KeysUnavailableError: no usable keys (cold cache and the issuer is unreachable).
        """
        cache = self._cache
        now = self._clock()
        action = cache.plan(kid, now)
        if action is Action.USE:
            return cache.result(kid, now)
        loop = asyncio.get_running_loop()
        if action is Action.WAIT:
            task = self._task
            if task is None or task.get_loop() is not loop:
                return cache.result(kid, self._clock())
        else:
            cache.begin(now, kid)
            task = self._task = loop.create_task(self._refresh())
        if action is not Action.REFRESH:
            await asyncio.shield(task)
        return cache.result(kid, self._clock())

    async def _refresh(self) -> None:
        try:
            if self._http is None:
                self._http = new_client(self._transport, asynchronous=True)
            url = self._url
            if url is None:
                metadata = await discover_async(
                    self._issuer_url(), policy=self._fetch_policy, client=self._http
                )
                url = self._discovered(metadata)
            self._store(await fetch_async(self._http, url, self._fetch_policy))
        except Exception as exc:
            self._fail(exc)
        finally:
            if self._cache.in_flight:  # cancelled
                self._cache.failed("interrupted", self._clock())

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncJWKSClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
