"""Finding an issuer's JWKS from its URL alone: RFC 8414 metadata, then OpenID discovery.

The document's ``issuer`` must equal the configured issuer exactly (RFC 8414 sec. 3.3,
OpenID Connect Discovery sec. 4.3), otherwise one tenant's metadata could name another's keys.
The ``jwks_uri`` must pass the same URL rules as any fetch (https, or http to localhost).

>>> metadata_urls("https://idp.example/tenant")[0]
'https://idp.example/.well-known/oauth-authorization-server/tenant'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tessera.errors import ConfigurationError, TesseraError
from tessera.resource._fetch import (
    FetchError,
    FetchPolicy,
    Response,
    check_url,
    fetch,
    fetch_async,
    new_client,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DiscoveryError",
    "ServerMetadata",
    "check_issuer",
    "discover",
    "discover_async",
    "metadata_urls",
    "parse_metadata",
]


class DiscoveryError(TesseraError):
    """The issuer's metadata could not be fetched or is not acceptable."""

    code = "discovery_failed"


@dataclass(frozen=True, slots=True)
class ServerMetadata:
    """The parts of an authorization server's metadata a resource server needs."""

    issuer: str
    jwks_uri: str
    url: str
    raw: Mapping[str, Any] = field(compare=False, hash=False, repr=False)


def check_issuer(issuer: str) -> str:
    """Return ``issuer`` if it can be discovered: a fetchable URL with no query or fragment.

    Raises:
        ConfigurationError: not an https (or loopback http) URL, or with query/fragment.
    """
    check_url(issuer)
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ConfigurationError("an issuer URL has no query or fragment (RFC 8414 sec. 2)")
    return issuer


def metadata_urls(issuer: str) -> tuple[str, str]:
    """The RFC 8414 sec. 3.1 URL, then the OpenID Connect Discovery sec. 4 URL, for ``issuer``."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"
    return rfc8414, f"{parts.scheme}://{parts.netloc}{path}/.well-known/openid-configuration"


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def parse_metadata(response: Response, issuer: str) -> ServerMetadata:
    """Check a fetched metadata document against the configured ``issuer``.

    Raises:
        DiscoveryError: not a JSON object, ``issuer`` differs, or no acceptable ``jwks_uri``.
    """
    try:
        data = json.loads(response.body, object_pairs_hook=_unique)
    except (ValueError, RecursionError):
        raise DiscoveryError("the issuer metadata is not valid JSON") from None
    if not isinstance(data, dict):
        raise DiscoveryError("the issuer metadata is not a JSON object")
    if data.get("issuer") != issuer:
        raise DiscoveryError("the metadata's issuer is not the configured issuer")
    jwks_uri = data.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise DiscoveryError("the issuer metadata has no jwks_uri")
    try:
        check_url(jwks_uri)
    except ConfigurationError as exc:
        raise DiscoveryError(f"unacceptable jwks_uri: {exc}") from None
    return ServerMetadata(issuer, jwks_uri, response.url, data)


def discover(
    issuer: str,
    *,
    policy: FetchPolicy = FetchPolicy(),  # noqa: B008 - frozen, so sharing is safe
    client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ServerMetadata:
    """Fetch and check ``issuer``'s metadata (RFC 8414 first, then OpenID), blocking.

    Raises:
        ConfigurationError: the issuer URL cannot be discovered.
        DiscoveryError: neither document could be fetched, or the one found is unacceptable.
    """
    check_issuer(issuer)
    own = client is None
    http = new_client(transport) if client is None else client
    try:
        failures = []
        for url in metadata_urls(issuer):
            try:
                response = fetch(http, url, policy)
            except FetchError as exc:
                failures.append(f"{url}: {exc}")
                continue
            return parse_metadata(response, issuer)
        raise DiscoveryError("no issuer metadata found (" + "; ".join(failures) + ")")
    finally:
        if own:
            http.close()


async def discover_async(
    issuer: str,
    *,
    policy: FetchPolicy = FetchPolicy(),  # noqa: B008 - frozen, so sharing is safe
    client: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ServerMetadata:
    """The async twin of :func:`discover`.

    Raises:
        ConfigurationError: the issuer URL cannot be discovered.
        DiscoveryError: neither document could be fetched, or the one found is unacceptable.
    """
    check_issuer(issuer)
    own = client is None
    http = new_client(transport, asynchronous=True) if client is None else client
    try:
        failures = []
        for url in metadata_urls(issuer):
            try:
                response = await fetch_async(http, url, policy)
            except FetchError as exc:
                failures.append(f"{url}: {exc}")
                continue
            return parse_metadata(response, issuer)
        raise DiscoveryError("no issuer metadata found (" + "; ".join(failures) + ")")
    finally:
        if own:
            await http.aclose()
