"""Fetching issuer documents (metadata, JWKS) safely, with one sans-I/O core and two drivers.

The rules (attack catalogue #14, #52): https only, except plain http to this machine
(``localhost``, ``127.0.0.1``, ``[::1]``); no credentials, cookies or environment proxies/netrc;
redirects followed only within the same origin; a time limit and a size limit that stops reading
(compressed bodies are bounded after decompression). URLs come from configuration or issuer
metadata, never from a token.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from tessera._install import install_hint
from tessera.errors import ConfigurationError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BodyReader",
    "FetchError",
    "FetchPolicy",
    "Response",
    "check_url",
    "fetch",
    "fetch_async",
    "httpx_",
    "new_client",
    "redirect_target",
]

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HINT = f"fetching keys needs httpx: {install_hint('fastapi')}"
# Fetches are minutes apart, so no connection is kept open between them (and none leaks when
# the event loop that made it is gone).
_HEADERS = {
    "accept": "application/jwk-set+json, application/json",
    "connection": "close",
    "accept-encoding": "gzip, deflate, identity",
    "user-agent": "tessera-jwt",
}


def httpx_() -> Any:
    """The httpx module, imported on first use so the toolkit works without it for static keys."""
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(_HINT) from exc
    return httpx


class FetchError(Exception):
    """A fetch failed; the message is safe to log (no body content)."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits for fetching issuer documents: total ``timeout`` (s), ``max_bytes``, redirects."""

    timeout: float = 5.0
    max_bytes: int = 512 * 1024
    max_redirects: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float):
            raise ConfigurationError("timeout must be a number of seconds")
        if not math.isfinite(self.timeout) or self.timeout <= 0:
            raise ConfigurationError("timeout must be positive and finite")
        if not isinstance(self.max_bytes, int) or self.max_bytes < 1:
            raise ConfigurationError("max_bytes must be a positive integer")
        if not isinstance(self.max_redirects, int) or self.max_redirects < 0:
            raise ConfigurationError("max_redirects must be a non-negative integer")


@dataclass(frozen=True, slots=True)
class Response:
    """A successful fetch: the final URL, lower-cased headers and the (decoded) body."""

    url: str
    headers: dict[str, str]
    body: bytes


def check_url(url: str) -> str:
    """Return ``url`` if it may be fetched: https, or http to a loopback name; no userinfo.

    Raises:
        ConfigurationError: any other scheme (``file:``, ``ftp:``, ``data:``...), a remote
            plain-http URL, credentials in the URL, or no host.
    """
    if not isinstance(url, str):
        raise ConfigurationError("a URL must be a string")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise ConfigurationError(f"not a valid URL: {url!r}") from None
    if not host:
        raise ConfigurationError(f"the URL has no host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("URLs with credentials are refused")
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK):
        return url
    raise ConfigurationError(
        f"only https URLs (or http to localhost) may be fetched, not {url[:100]!r}"
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port or default)


def redirect_target(url: str, location: str | None) -> str:
    """Where a redirect from ``url`` leads, if it stays within the same origin.

    Raises:
        FetchError: no ``Location``, another origin, or a URL that may not be fetched.
    """
    if not location:
        raise FetchError("redirect without a Location header")
    target = urljoin(url, location.strip())
    if _origin(target) != _origin(url):
        raise FetchError("refusing a redirect to another origin")
    try:
        return check_url(target)
    except ConfigurationError as exc:
        raise FetchError(str(exc)) from None


class BodyReader:
    """Accumulates a response body chunk by chunk, stopping at ``limit`` decoded bytes."""

    def __init__(self, limit: int, encoding: str | None) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        encoding = (encoding or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._inflate: Any = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif encoding == "identity":
            self._inflate = None
        else:
            raise FetchError(f"unsupported content encoding {encoding[:20]!r}")

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchError(f"response larger than {self.limit} bytes")
        self.chunks.append(data)

    def feed(self, chunk: bytes) -> None:
        """Add raw bytes from the wire.

        Raises:
            FetchError: the decoded body passed the limit, or the compression is corrupt.
        """
        if self._inflate is None:
            self._add(chunk)
            return
        try:
            data = self._inflate.decompress(chunk, self.limit - self.size + 1)
        except zlib.error:
            raise FetchError("corrupt compressed response") from None
        self._add(data)
        if self._inflate.unconsumed_tail:
            raise FetchError(f"response larger than {self.limit} bytes")

    def body(self) -> bytes:
        """The complete decoded body."""
        return b"".join(self.chunks)


def _check_status(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise FetchError(f"HTTP status {response.status_code}")
    length = response.headers.get("content-length")
    if length is not None and not length.strip().isdigit():
        raise FetchError("invalid Content-Length")


def _request(url: str, policy: FetchPolicy) -> httpx.Request:
    hx = httpx_()
    timeout = hx.Timeout(policy.timeout)
    # Built directly (not client.build_request) so the client's cookies are never attached.
    request: httpx.Request = hx.Request(
        "GET", url, headers=_HEADERS, extensions={"timeout": timeout.as_dict()}
    )
    return request


def _reader(response: httpx.Response, policy: FetchPolicy) -> BodyReader:
    _check_status(response)
    length = response.headers.get("content-length")
    encoding = response.headers.get("content-encoding")
    if length is not None and encoding is None and int(length) > policy.max_bytes:
        raise FetchError(f"response larger than {policy.max_bytes} bytes")
    return BodyReader(policy.max_bytes, encoding)


def _complete(url: str, response: httpx.Response, policy: FetchPolicy) -> Response:
    body = response.content
    if len(body) > policy.max_bytes:
        raise FetchError(f"response larger than {policy.max_bytes} bytes")
    return Response(url, dict(response.headers.items()), body)


def new_client(transport: Any = None, *, asynchronous: bool = False) -> Any:
    """An httpx client with no cookies kept, no environment proxies/netrc, no redirects."""
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    httpx = httpx_()
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    kind = httpx.AsyncClient if asynchronous else httpx.Client
    return kind(transport=transport, cookies=jar, trust_env=False, follow_redirects=False)


def fetch(client: httpx.Client, url: str, policy: FetchPolicy) -> Response:
    """GET ``url`` under ``policy`` (sync driver).

    Raises:
        FetchError: any failure: transport, status, redirect, size, time.
    """
    httpx = httpx_()
    deadline = time.monotonic() + policy.timeout
    try:
        for _ in range(policy.max_redirects + 1):
            response = client.send(_request(url, policy), stream=True, auth=None)
            try:
                if response.status_code in _REDIRECTS:
                    url = redirect_target(url, response.headers.get("location"))
                    continue
                reader = _reader(response, policy)
                if response.is_stream_consumed:  # in-memory transports hand over read bodies
                    return _complete(url, response, policy)
                for chunk in response.iter_raw():
                    reader.feed(chunk)
                    if time.monotonic() > deadline:
                        raise FetchError("timed out")
                return Response(url, dict(response.headers.items()), reader.body())
            finally:
                response.close()
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise FetchError(f"{type(exc).__name__}") from None
    raise FetchError("too many redirects")


async def fetch_async(client: httpx.AsyncClient, url: str, policy: FetchPolicy) -> Response:
    """GET ``url`` under ``policy`` (async driver of the same rules as :func:`fetch`).

    Raises:
        FetchError: any failure: transport, status, redirect, size, time.
    """
    httpx = httpx_()
    deadline = time.monotonic() + policy.timeout
    try:
        for _ in range(policy.max_redirects + 1):
            response = await client.send(_request(url, policy), stream=True, auth=None)
            try:
                if response.status_code in _REDIRECTS:
                    url = redirect_target(url, response.headers.get("location"))
                    continue
                reader = _reader(response, policy)
                if response.is_stream_consumed:  # in-memory transports hand over read bodies
                    return _complete(url, response, policy)
                async for chunk in response.aiter_raw():
                    reader.feed(chunk)
                    if time.monotonic() > deadline:
                        raise FetchError("timed out")
                return Response(url, dict(response.headers.items()), reader.body())
            finally:
                await response.aclose()
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise FetchError(f"{type(exc).__name__}") from None
    raise FetchError("too many redirects")
