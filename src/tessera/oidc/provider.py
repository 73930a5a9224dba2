"""An OpenID provider's configuration (OpenID Connect Discovery 1.0), fetched and checked.

Only ``{issuer}/.well-known/openid-configuration`` is read (Discovery sec. 4); its ``issuer``
must equal the configured one exactly (sec. 4.3), and every endpoint must pass the same URL
rules as any fetch (https, or http to this machine), so a provider's document cannot point the
client at ``file:`` URLs or plain-http hosts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tessera.errors import ConfigurationError
from tessera.resource._fetch import (
    FetchError,
    FetchPolicy,
    Response,
    check_url,
    fetch,
    fetch_async,
    new_client,
)
from tessera.resource.discovery import DiscoveryError, check_issuer

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ProviderMetadata",
    "configuration_url",
    "discover_provider",
    "discover_provider_async",
    "parse_configuration",
]

_MAX_LIST = 64


def configuration_url(issuer: str) -> str:
    """Where ``issuer``'s OpenID configuration lives (Discovery sec. 4.1).

    >>> configuration_url("https://idp.example/tenant/")
    'https://idp.example/tenant/.well-known/openid-configuration'
    """
    parts = urlsplit(issuer)
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/.well-known/openid-configuration"
    )


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _endpoint(data: Mapping[str, Any], name: str) -> str | None:
    if data.get(name) is None:
        return None
    return _required(data, name)


def _required(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise DiscoveryError(f"the provider configuration has no usable {name}")
    try:
        check_url(value)
    except ConfigurationError as exc:
        raise DiscoveryError(f"unacceptable {name}: {exc}") from None
    if urlsplit(value).fragment:
        raise DiscoveryError(f"{name} must not have a fragment")
    return value


def _names(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if (
        not isinstance(value, list)
        or len(value) > _MAX_LIST
        or not all(isinstance(v, str) for v in value)
    ):
        raise DiscoveryError(f"{name} must be a list of strings")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of an OpenID provider's configuration a relying party uses; ``raw`` has all."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str | None
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    id_token_signing_alg_values_supported: tuple[str, ...]
    code_challenge_methods_supported: tuple[str, ...]
    token_endpoint_auth_methods_supported: tuple[str, ...]
    authorization_response_iss_parameter_supported: bool
    url: str
    raw: Mapping[str, Any] = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_document(cls, data: Mapping[str, Any], issuer: str, url: str) -> ProviderMetadata:
        """Check a configuration document (already parsed) against the configured ``issuer``.

        Raises:
            DiscoveryError: another ``issuer``, a missing or unacceptable endpoint, or a
                list member of the wrong type.
        """
        if data.get("issuer") != issuer:
            raise DiscoveryError("the configuration's issuer is not the configured issuer")
        jwks_uri = _required(data, "jwks_uri")
        authorization = _required(data, "authorization_endpoint")
        iss_parameter = data.get("authorization_response_iss_parameter_supported", False)
        if not isinstance(iss_parameter, bool):
            raise DiscoveryError("authorization_response_iss_parameter_supported is a boolean")
        return cls(
            issuer=issuer,
            authorization_endpoint=authorization,
            token_endpoint=_endpoint(data, "token_endpoint"),
            jwks_uri=jwks_uri,
            userinfo_endpoint=_endpoint(data, "userinfo_endpoint"),
            end_session_endpoint=_endpoint(data, "end_session_endpoint"),
            id_token_signing_alg_values_supported=_names(
                data, "id_token_signing_alg_values_supported"
            ),
            code_challenge_methods_supported=_names(data, "code_challenge_methods_supported"),
            token_endpoint_auth_methods_supported=_names(
                data, "token_endpoint_auth_methods_supported"
            ),
            authorization_response_iss_parameter_supported=iss_parameter,
            url=url,
            raw=dict(data),
        )


def parse_configuration(response: Response, issuer: str) -> ProviderMetadata:
    """Parse and check a fetched configuration document.

    Raises:
        DiscoveryError: not a JSON object, or see :meth:`ProviderMetadata.from_document`.
    """
    try:
        data = json.loads(response.body, object_pairs_hook=_unique)
    except (ValueError, RecursionError):
        raise DiscoveryError("the provider configuration is not valid JSON") from None
    if not isinstance(data, dict):
        raise DiscoveryError("the provider configuration is not a JSON object")
    return ProviderMetadata.from_document(data, issuer, response.url)


def discover_provider(
    issuer: str,
    *,
    policy: FetchPolicy = FetchPolicy(),  # noqa: B008 - frozen, so sharing is safe
    client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ProviderMetadata:
    """Fetch and check ``issuer``'s OpenID configuration, blocking.

    Raises:
        ConfigurationError: the issuer URL cannot be discovered.
        DiscoveryError: the document could not be fetched or is unacceptable.
    """
    check_issuer(issuer)
    own = client is None
    http = new_client(transport) if client is None else client
    url = configuration_url(issuer)
    try:
        response = fetch(http, url, policy)
    except FetchError as exc:
        raise DiscoveryError(f"no provider configuration at {url}: {exc}") from None
    finally:
        if own:
            http.close()
    return parse_configuration(response, issuer)


async def discover_provider_async(
    issuer: str,
    *,
    policy: FetchPolicy = FetchPolicy(),  # noqa: B008 - frozen, so sharing is safe
    client: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ProviderMetadata:
    """The async twin of :func:`discover_provider`.

    Raises:
        ConfigurationError: the issuer URL cannot be discovered.
        DiscoveryError: the document could not be fetched or is unacceptable.
    """
    check_issuer(issuer)
    own = client is None
    http = new_client(transport, asynchronous=True) if client is None else client
    url = configuration_url(issuer)
    try:
        response = await fetch_async(http, url, policy)
    except FetchError as exc:
        raise DiscoveryError(f"no provider configuration at {url}: {exc}") from None
    finally:
        if own:
            await http.aclose()
    return parse_configuration(response, issuer)
