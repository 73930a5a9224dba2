"""Fetching a URL a client named (its metadata document, its JWK Set) without becoming an SSRF
proxy into the server's own network.

The host is resolved once; if any of its addresses is private, loopback, link-local,
multicast, reserved or unspecified (IPv4-mapped IPv6 included), the fetch is refused unless
the host or the address is on the ``fetch_allow`` list. The connection then goes to the
checked address itself (TLS still verifies the host name), so a second DNS answer cannot
point elsewhere (rebinding). https only; redirects are never followed; no cookies, proxies
or credentials; a deadline for the whole exchange and a byte limit that stops reading.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from tessera.server.errors import ClientMetadataError

__all__ = ["FetchGuard", "Fetched"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="tessera-dns")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 200 response: its body (within the limit) and its Cache-Control header."""

    body: bytes
    cache_control: str
    content_type: str


def _forbidden(address: _Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


class FetchGuard:
    """GETs https URLs under the SSRF rules above; thread-safe, blocking (call off the loop)."""

    def __init__(
        self,
        *,
        allow: Sequence[str] = (),
        timeout: float = 5.0,
        max_bytes: int = 5120,
        ca_file: str = "",
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._hosts = frozenset(entry.lower() for entry in allow if not _is_network(entry))
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in allow if _is_network(entry)
        )
        context = ssl.create_default_context()
        if ca_file:
            context.load_verify_locations(cafile=ca_file)
        self._client = httpx.Client(
            verify=context, trust_env=False, follow_redirects=False, http2=False
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _allowed(self, host: str, address: _Address) -> bool:
        if not _forbidden(address):
            return True
        return host.lower() in self._hosts or any(address in net for net in self._networks)

    def _resolve(self, host: str, port: int, deadline: float) -> _Address:
        try:
            literal: _Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            future = _RESOLVER.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
            try:
                infos = future.result(timeout=max(0.01, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                raise ClientMetadataError(f"resolving {host} took too long") from None
            except OSError:
                raise ClientMetadataError(f"{host} does not resolve") from None
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise ClientMetadataError(f"{host} does not resolve")
        for address in addresses:
            if not self._allowed(host, address):
                raise ClientMetadataError(
                    f"{host} resolves to a private, loopback or link-local address; "
                    "this server does not fetch from those"
                )
        return addresses[0]

    def get(self, url: str, accept: str = "application/json") -> Fetched:
        """The body of a 200 answer to GET ``url``.

        Raises:
            ClientMetadataError: not https, refused address, redirect, other status, too slow,
                too large, or a network/TLS failure (the message names which, never the body).
        """
        deadline = time.monotonic() + self.timeout
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or 443
        except ValueError:
            raise ClientMetadataError("the URL has an invalid host or port") from None
        if parts.scheme != "https" or not host or parts.username or parts.password:
            raise ClientMetadataError("only https URLs without credentials are fetched")
        address = self._resolve(host, port, deadline)
        shown = f"[{address}]" if address.version == 6 else str(address)
        target = f"https://{shown}:{port}{parts.path or '/'}"
        if parts.query:
            target += "?" + parts.query
        request = self._client.build_request(
            "GET",
            target,
            headers={
                "Host": parts.netloc.rpartition("@")[2],
                "Accept": accept,
                "Accept-Encoding": "identity",
                "User-Agent": "tessera-jwt",
                "Connection": "close",
            },
            extensions={"sni_hostname": host},
            timeout=httpx.Timeout(self.timeout),
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise ClientMetadataError(f"{host} did not answer within {self.timeout} s") from None
        except httpx.HTTPError:
            raise ClientMetadataError(f"cannot connect to {host} over TLS") from None
        try:
            if response.is_redirect:
                raise ClientMetadataError("the document is served through a redirect; not followed")
            if response.status_code != 200:
                raise ClientMetadataError(f"{host} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise ClientMetadataError(f"the document exceeds {self.max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ClientMetadataError(f"the document exceeds {self.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise ClientMetadataError(f"{host} did not answer within {self.timeout} s")
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise ClientMetadataError(f"{host} did not answer within {self.timeout} s") from None
        except httpx.HTTPError:
            raise ClientMetadataError(f"the connection to {host} failed") from None
        finally:
            response.close()
        if time.monotonic() > deadline:
            raise ClientMetadataError(f"{host} did not answer within {self.timeout} s")
        return Fetched(
            b"".join(chunks),
            response.headers.get("cache-control", ""),
            response.headers.get("content-type", ""),
        )


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True
