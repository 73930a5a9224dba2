"""The JWKS clients and discovery over an in-memory transport: fetch rules (https only, same-
origin redirects, size and time limits, no cookies), caching, single flight, stale-if-error."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from resourcehelp import FakeClock

import tessera
from tessera.resource import (
    AsyncJWKSClient,
    DiscoveryError,
    FetchPolicy,
    JWKSClient,
    KeysUnavailableError,
    discover,
    discover_async,
)
from tessera.resource._fetch import FetchError, check_url, fetch, new_client

pytestmark = pytest.mark.anyio

JWKS_URL = "https://idp.example/jwks.json"
ISSUER = "https://idp.example"
KEY = tessera.Key.generate("ES256", kid="k1")
Handler = Callable[[httpx.Request], httpx.Response]


def jwks(*keys: tessera.Key) -> dict[str, object]:
    return {"keys": [key.public().to_jwk() for key in keys or (KEY,)]}


class Recorder:
    """A MockTransport handler that records requests and replies from a route table."""

    def __init__(self, routes: dict[str, Callable[[httpx.Request], httpx.Response]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get(str(request.url))
        return route(request) if route else httpx.Response(404)

    def count(self, url: str) -> int:
        return sum(1 for request in self.requests if str(request.url) == url)


def jwks_route(*keys: tessera.Key, cache_control: str = "max-age=300") -> Handler:
    return lambda _: httpx.Response(200, json=jwks(*keys), headers={"cache-control": cache_control})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_for(
    routes: dict[str, Handler], clock: FakeClock, **kwargs: object
) -> tuple[JWKSClient, Recorder]:
    recorder = Recorder(routes)
    client = JWKSClient(
        JWKS_URL,
        transport=httpx.MockTransport(recorder),
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )
    return client, recorder


# -- URL rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example/jwks",
        "http://localhost:8080/jwks",
        "http://127.0.0.1/jwks",
        "http://[::1]:9000/jwks",
    ],
)
def test_accepts_https_and_loopback_http(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example/jwks",
        "file:///etc/passwd",
        "ftp://idp.example/jwks",
        "data:application/json,{}",
        "http://169.254.169.254/latest/meta-data",
        "https://user:pass@idp.example/jwks",
        "https:///jwks",
        "https://idp.example:99999/jwks",
        "gopher://idp.example",
    ],
)
def test_refuses_urls_that_must_not_be_fetched(url: str) -> None:
    with pytest.raises(tessera.ConfigurationError):
        JWKSClient(url)


# -- one fetch ---------------------------------------------------------------------------------


def fetch_with(handler: Handler, url: str = JWKS_URL, **policy: int) -> bytes:
    with new_client(httpx.MockTransport(handler)) as client:
        return fetch(client, url, FetchPolicy(**policy)).body


def test_follows_a_redirect_within_the_same_origin() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/jwks.json":
            return httpx.Response(302, headers={"location": "/keys/v2.json"})
        return httpx.Response(200, content=b'{"keys": []}')

    assert fetch_with(handler) == b'{"keys": []}'


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/jwks.json",
        "http://idp.example/jwks.json",
        "https://idp.example:8443/jwks.json",
        "file:///etc/passwd",
        None,
    ],
)
def test_refuses_a_redirect_off_origin(location: str | None) -> None:
    headers = {"location": location} if location else {}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers=headers)

    with pytest.raises(FetchError):
        fetch_with(handler)
    assert seen == [JWKS_URL]


def test_stops_after_too_many_redirects() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": "/jwks.json"})

    with pytest.raises(FetchError, match="too many redirects"):
        fetch_with(handler, max_redirects=2)


def test_refuses_a_declared_oversize_body_without_reading_it() -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:
        read.append(1)
        yield b"x" * 10

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": "1000000"}, content=body())

    with pytest.raises(FetchError, match="larger than"):
        fetch_with(handler, max_bytes=1000)
    assert read == []


def test_stops_reading_an_endless_body_at_the_size_limit() -> None:
    chunks: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            chunks.append(1)
            yield b"x" * 1024

    with pytest.raises(FetchError, match="larger than"):
        fetch_with(lambda _: httpx.Response(200, content=endless()), max_bytes=10 * 1024)
    assert len(chunks) <= 11


async def test_async_fetch_stops_reading_an_endless_body_at_the_size_limit() -> None:
    chunks: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            chunks.append(1)
            yield b"x" * 1024

    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=endless()))
    client = AsyncJWKSClient(
        JWKS_URL, transport=transport, fetch_policy=FetchPolicy(max_bytes=8192)
    )
    with pytest.raises(KeysUnavailableError):
        await client.get_keys("k1")
    assert len(chunks) <= 9


def test_bounds_a_compressed_body_after_decompression() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))

    def handler(request: httpx.Request) -> httpx.Response:
        # A generator keeps the body streaming, as on the network.
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=iter([bomb]))

    with pytest.raises(FetchError, match="larger than"):
        fetch_with(handler)


def test_reads_a_gzip_jwks() -> None:
    document = json.dumps(jwks()).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        content = gzip.compress(document)
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=content)

    assert fetch_with(handler) == document


@pytest.mark.parametrize("status", [201, 204, 304, 401, 404, 500, 503])
def test_refuses_any_status_but_200(status: int) -> None:
    with pytest.raises(FetchError, match=str(status)):
        fetch_with(lambda _: httpx.Response(status, content=b"{}"))


def test_transport_errors_become_fetch_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    with pytest.raises(FetchError, match="ConnectTimeout"):
        fetch_with(handler)


def test_sends_no_cookies_or_credentials(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=jwks(), headers={"set-cookie": "session=abc; Path=/"})

    client, recorder = client_for({JWKS_URL: handler}, clock)
    client.get_keys("k1")
    clock.advance(10_000)
    client.get_keys("k1")
    assert len(recorder.requests) == 2
    for request in recorder.requests:
        assert "cookie" not in request.headers
        assert "authorization" not in request.headers


# -- the sync client -----------------------------------------------------------------------------


def test_fetches_once_and_serves_from_the_cache(clock: FakeClock) -> None:
    client, recorder = client_for({JWKS_URL: jwks_route()}, clock)
    assert client.get_keys("k1")["k1"].kid == "k1"
    clock.advance(299)
    client.get_keys("k1")
    client.get_keys(None)
    assert recorder.count(JWKS_URL) == 1
    clock.advance(1)
    client.get_keys("k1")
    assert recorder.count(JWKS_URL) == 2


def test_honours_the_cache_control_floor(clock: FakeClock) -> None:
    client, recorder = client_for({JWKS_URL: jwks_route(cache_control="max-age=1")}, clock)
    client.get_keys("k1")
    clock.advance(59)
    client.get_keys("k1")
    assert recorder.count(JWKS_URL) == 1


def test_unknown_kid_refreshes_once_per_unknown_kid_cooldown_backing_off(
    clock: FakeClock,
) -> None:
    client, recorder = client_for({JWKS_URL: jwks_route()}, clock)
    client.get_keys("k1")
    for _ in range(10):
        assert "ghost" not in client.get_keys("ghost")
    assert recorder.count(JWKS_URL) == 1  # within 5 s of the first fetch
    clock.advance(5)
    for _ in range(10):
        client.get_keys("ghost")
    assert recorder.count(JWKS_URL) == 2
    clock.advance(5)
    client.get_keys("ghost")
    assert recorder.count(JWKS_URL) == 2  # that fetch found no ghost: 10 s now
    clock.advance(5)
    client.get_keys("ghost")
    assert recorder.count(JWKS_URL) == 3
    assert client.unknown_kids == 22


def test_a_key_rotated_in_at_once_is_fetched_after_the_unknown_kid_cooldown(
    clock: FakeClock,
) -> None:
    new = tessera.Key.generate("ES256", kid="k2")
    published = [KEY]

    def route(request: httpx.Request) -> httpx.Response:
        return jwks_route(*published)(request)

    client, recorder = client_for({JWKS_URL: route}, clock)
    client.get_keys("k1")
    published.append(new)
    clock.advance(4)
    assert "k2" not in client.get_keys("k2")
    clock.advance(1)
    assert "k2" in client.get_keys("k2")
    assert recorder.count(JWKS_URL) == 2


def test_stampede_of_threads_causes_one_fetch(clock: FakeClock) -> None:
    gate = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        gate.wait(10)
        return jwks_route()(request)

    client, recorder = client_for({JWKS_URL: slow}, clock)
    barrier = threading.Barrier(51)
    results: list[int] = []

    def worker() -> None:
        barrier.wait()
        results.append(len(client.get_keys("k1")))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    barrier.wait()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert results == [1] * 50
    assert recorder.count(JWKS_URL) == 1


def test_keeps_serving_cached_keys_when_the_issuer_fails(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    state = {"up": True}

    def flaky(request: httpx.Request) -> httpx.Response:
        return jwks_route()(request) if state["up"] else httpx.Response(500)

    client, recorder = client_for({JWKS_URL: flaky}, clock)
    client.get_keys("k1")
    state["up"] = False
    clock.advance(1000)
    with caplog.at_level(logging.WARNING, "tessera.resource"):
        assert "k1" in client.get_keys("k1")
    assert "HTTP status 500" in caplog.text
    assert "serving cached JWKS keys" in caplog.text
    with pytest.raises(KeysUnavailableError):
        client.get_keys("new-kid")  # cannot tell whether it is new: 503, not 401
    assert recorder.count(JWKS_URL) == 2


def test_cold_cache_with_the_issuer_down_is_unavailable(clock: FakeClock) -> None:
    client, recorder = client_for({JWKS_URL: lambda _: httpx.Response(503)}, clock)
    for _ in range(5):
        with pytest.raises(KeysUnavailableError) as caught:
            client.get_keys("k1")
    assert caught.value.retry_after == 30
    assert recorder.count(JWKS_URL) == 1


def test_a_jwks_with_one_bad_key_still_serves_the_good_ones(clock: FakeClock) -> None:
    body = {"keys": [{"kty": "RSA", "kid": "bad", "n": "AQAB", "e": "AQAB"}, *jwks()["keys"]]}  # type: ignore[misc]
    client, _ = client_for({JWKS_URL: lambda _: httpx.Response(200, json=body)}, clock)
    assert [key.kid for key in client.get_keys("k1")] == ["k1"]


def test_context_manager_closes_the_client(clock: FakeClock) -> None:
    client, _ = client_for({JWKS_URL: jwks_route()}, clock)
    with client:
        client.get_keys("k1")
    assert client._http is not None
    assert client._http.is_closed


# -- discovery --------------------------------------------------------------------------------


def metadata(issuer: str = ISSUER, jwks_uri: str = JWKS_URL) -> Handler:
    return lambda _: httpx.Response(200, json={"issuer": issuer, "jwks_uri": jwks_uri})


RFC8414 = ISSUER + "/.well-known/oauth-authorization-server"
OPENID = ISSUER + "/.well-known/openid-configuration"


def test_discovery_uses_rfc8414_metadata_first(clock: FakeClock) -> None:
    recorder = Recorder({RFC8414: metadata(), OPENID: metadata(), JWKS_URL: jwks_route()})
    client = JWKSClient.from_issuer(ISSUER, transport=httpx.MockTransport(recorder), clock=clock)
    assert "k1" in client.get_keys("k1")
    assert [str(r.url) for r in recorder.requests] == [RFC8414, JWKS_URL]
    assert client.metadata is not None
    assert client.metadata.jwks_uri == JWKS_URL


def test_discovery_falls_back_to_openid_configuration() -> None:
    recorder = Recorder({OPENID: metadata()})
    found = discover(ISSUER, transport=httpx.MockTransport(recorder))
    assert found.url == OPENID
    assert found.jwks_uri == JWKS_URL


def test_discovery_puts_the_well_known_segment_before_the_issuer_path() -> None:
    issuer = "https://idp.example/tenants/acme"
    rfc8414 = "https://idp.example/.well-known/oauth-authorization-server/tenants/acme"
    recorder = Recorder({rfc8414: metadata(issuer)})
    assert discover(issuer, transport=httpx.MockTransport(recorder)).url == rfc8414


@pytest.mark.parametrize(
    "document",
    [
        {"issuer": "https://evil.example", "jwks_uri": JWKS_URL},
        {"issuer": ISSUER + "/", "jwks_uri": JWKS_URL},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "jwks_uri": "http://idp.example/jwks.json"},
        {"issuer": ISSUER, "jwks_uri": "file:///etc/passwd"},
        {"issuer": ISSUER, "jwks_uri": 42},
    ],
)
def test_discovery_refuses_metadata_for_another_issuer_or_a_bad_jwks_uri(
    document: dict[str, object],
) -> None:
    recorder = Recorder({RFC8414: lambda _: httpx.Response(200, json=document)})
    with pytest.raises(DiscoveryError):
        discover(ISSUER, transport=httpx.MockTransport(recorder))


def test_discovery_failure_leaves_a_cold_cache_unavailable(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder({RFC8414: metadata(issuer="https://evil.example")})
    client = JWKSClient.from_issuer(ISSUER, transport=httpx.MockTransport(recorder), clock=clock)
    with caplog.at_level(logging.WARNING, "tessera.resource"), pytest.raises(KeysUnavailableError):
        client.get_keys("k1")
    assert "not the configured issuer" in caplog.text


def test_discovery_refuses_issuers_with_query_or_fragment() -> None:
    with pytest.raises(tessera.ConfigurationError):
        JWKSClient.from_issuer("https://idp.example/?tenant=a")


def test_a_failed_jwks_fetch_rediscovers_next_time(clock: FakeClock) -> None:
    recorder = Recorder({RFC8414: metadata(jwks_uri=ISSUER + "/old.json")})
    client = JWKSClient.from_issuer(ISSUER, transport=httpx.MockTransport(recorder), clock=clock)
    with pytest.raises(KeysUnavailableError):
        client.get_keys("k1")
    recorder.routes = {RFC8414: metadata(), JWKS_URL: jwks_route()}
    clock.advance(30)
    assert "k1" in client.get_keys("k1")


async def test_async_discovery() -> None:
    recorder = Recorder({OPENID: metadata()})
    found = await discover_async(ISSUER, transport=httpx.MockTransport(recorder))
    assert found.jwks_uri == JWKS_URL


# -- the async client ---------------------------------------------------------------------------


async def test_async_client_caches_and_refreshes_unknown_kids_once(clock: FakeClock) -> None:
    recorder = Recorder({RFC8414: metadata(), JWKS_URL: jwks_route()})
    client = AsyncJWKSClient.from_issuer(
        ISSUER, transport=httpx.MockTransport(recorder), clock=clock
    )
    async with client:
        assert "k1" in await client.get_keys("k1")
        await client.get_keys("ghost")
        clock.advance(5)
        await client.get_keys("ghost")
        await client.get_keys("ghost")
        clock.advance(5)
        await client.get_keys("ghost")  # backed off to 10 s: that fetch found no ghost
    assert recorder.count(JWKS_URL) == 2
    assert client.fetches == 2
    assert client.unknown_kids == 4


async def test_async_stampede_of_a_thousand_tasks_causes_one_fetch(clock: FakeClock) -> None:
    release = asyncio.Event()
    requests: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        await release.wait()
        return httpx.Response(200, json=jwks())

    client = AsyncJWKSClient(JWKS_URL, transport=httpx.MockTransport(handler), clock=clock)
    tasks = [asyncio.create_task(client.get_keys("k1")) for _ in range(1000)]
    await asyncio.sleep(0)  # let every task reach the shared fetch
    release.set()
    results = await asyncio.gather(*tasks)
    assert all("k1" in keys for keys in results)
    assert requests == [JWKS_URL]


async def test_async_refresh_of_expired_keys_runs_in_the_background(clock: FakeClock) -> None:
    release = asyncio.Event()
    calls: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) > 1:
            await release.wait()
        return httpx.Response(200, json=jwks())

    client = AsyncJWKSClient(JWKS_URL, transport=httpx.MockTransport(handler), clock=clock)
    first = await client.get_keys("k1")
    clock.advance(301)
    assert await client.get_keys("k1") is first  # answered at once; refresh in flight
    release.set()
    assert client._task is not None
    await client._task
    assert await client.get_keys("k1") is not first
    assert len(calls) == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch(clock: FakeClock) -> None:
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json=jwks())

    client = AsyncJWKSClient(JWKS_URL, transport=httpx.MockTransport(handler), clock=clock)
    impatient = asyncio.create_task(client.get_keys("k1"))
    patient = asyncio.create_task(client.get_keys("k1"))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert "k1" in await patient
    assert client.fetches == 1
