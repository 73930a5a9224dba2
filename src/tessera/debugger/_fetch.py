"""Fetching a JWK Set for the page, server-side and defensively (attack catalogue #14, #52).

The URL is typed by the person at the page, yet the fetch runs on the server, so it is
treated as untrusted: http(s) only, no credentials in the URL, a timeout on every socket
operation and on the whole transfer, a size limit, redirects only within the URL's origin,
and, unless the app allows private hosts, only public IP addresses. The address is resolved
once and the connection pinned to it, so DNS rebinding cannot swap in an internal host.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

__all__ = ["DEFAULT_TIMEOUT", "MAX_JWKS_BYTES", "FetchError", "FetchPolicy", "fetch"]

DEFAULT_TIMEOUT = 5.0
MAX_JWKS_BYTES = 512 * 1024
_MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16384


class FetchError(Exception):
    """The JWKS could not be fetched; the message is safe to show to the page."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits on a fetch; ``allow_private`` admits loopback and private addresses."""

    allow_private: bool = False
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = MAX_JWKS_BYTES


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int


def _origin(url: str) -> _Origin:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("the JWKS URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError("the JWKS URL must use http or https")
    if parts.username is not None or parts.password is not None:
        raise FetchError("the JWKS URL must not carry credentials")
    host = (parts.hostname or "").lower()
    if not host:
        raise FetchError("the JWKS URL has no host")
    return _Origin(scheme, host, port or (443 if scheme == "https" else 80))


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(origin: _Origin, policy: FetchPolicy) -> str:
    """One address for the host, checked against the policy (the connection is pinned to it)."""
    try:
        infos = socket.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchError(f"cannot resolve {origin.host}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchError(f"cannot resolve {origin.host}")
    if not policy.allow_private and not all(_is_public(a) for a in addresses):
        raise FetchError("the JWKS URL points to a private or local address: refused")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a fixed address; ``Host`` still names the URL's host."""

    def __init__(self, origin: _Origin, address: str, timeout: float) -> None:
        super().__init__(origin.host, origin.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        """Connect to the resolved address, never re-resolving the name."""
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a fixed address; the certificate is checked for the host."""

    def __init__(self, origin: _Origin, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(origin.host, origin.port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        """Connect to the resolved address and verify TLS against the URL's host name."""
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _get(url: str, origin: _Origin, policy: FetchPolicy, deadline: float) -> tuple[int, str, bytes]:
    """One GET: (status, Location header, body); the body only for status 200."""
    address = _resolve(origin, policy)
    remaining = max(0.05, deadline - time.monotonic())
    kind = _PinnedHTTPS if origin.scheme == "https" else _PinnedHTTP
    connection = kind(origin, address, remaining)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "GET", target, headers={"Accept": "application/jwk-set+json, application/json"}
        )
        response = connection.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location") or "", b""
        length = response.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > policy.max_bytes:
            raise FetchError(f"the JWKS is larger than {policy.max_bytes} bytes")
        body = bytearray()
        while chunk := response.read(_CHUNK):
            body += chunk
            if len(body) > policy.max_bytes:
                raise FetchError(f"the JWKS is larger than {policy.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchError(f"fetching the JWKS took longer than {policy.timeout:g} s")
        return 200, "", bytes(body)
    finally:
        connection.close()


def fetch(url: str, policy: FetchPolicy) -> bytes:
    """GET ``url`` under ``policy`` and return the body (blocking: run it in a thread).

    Raises:
        FetchError: a refused URL, address or redirect, an HTTP error, a timeout or a body
            over the size limit.
    """
    origin = _origin(url)
    deadline = time.monotonic() + policy.timeout
    try:
        for _ in range(_MAX_REDIRECTS + 1):
            status, location, body = _get(url, origin, policy, deadline)
            if status == 200:
                return body
            if status not in _REDIRECTS or not location:
                raise FetchError(f"fetching the JWKS failed: HTTP {status}")
            url = urljoin(url, location)
            try:
                same = _origin(url) == origin
            except FetchError:
                same = False
            if not same:
                raise FetchError("the JWKS URL redirects to another origin: refused")
        raise FetchError("the JWKS URL redirects too many times")
    except TimeoutError:
        raise FetchError(f"fetching the JWKS timed out after {policy.timeout:g} s") from None
    except ssl.SSLError as exc:
        raise FetchError(f"TLS failed: {exc.reason or 'handshake error'}") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise FetchError(f"cannot fetch the JWKS: {reason}") from None
