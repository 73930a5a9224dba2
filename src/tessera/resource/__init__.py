"""Resource-server toolkit: check bearer access tokens from any OAuth issuer, in a few lines.

>>> from tessera.resource import Verifier
>>> verifier = Verifier.from_issuer("https://idp.example", audience="https://api.example")

The pieces: :class:`Verifier` (iss allow-list, per-issuer keys, RFC 9068 checks) over a key
source (:class:`JWKSClient` / :class:`AsyncJWKSClient`, discovery, or static keys);
:func:`require_scopes` / :func:`require_claim` for authorization; RFC 6750 errors; RFC 9728
metadata. Framework glue lives in ``tessera.resource.asgi``, ``.fastapi`` and ``.flask``;
httpx, FastAPI and Flask are imported only by the parts that need them.
"""

from tessera.resource._fetch import FetchPolicy
from tessera.resource._jwks_cache import CachePolicy
from tessera.resource.access_token import AccessToken
from tessera.resource.discovery import DiscoveryError, ServerMetadata, discover, discover_async
from tessera.resource.errors import (
    BearerError,
    InsufficientScopeError,
    InvalidRequestError,
    KeysUnavailableError,
    MissingTokenError,
    RejectedTokenError,
)
from tessera.resource.jwks import AsyncJWKSClient, AsyncKeySource, JWKSClient, KeySource, StaticKeys
from tessera.resource.metadata import ProtectedResourceMetadata
from tessera.resource.scopes import Requirement, require_claim, require_scopes
from tessera.resource.verifier import DEFAULT_ALGORITHMS, Verifier

__all__ = [
    "DEFAULT_ALGORITHMS",
    "AccessToken",
    "AsyncJWKSClient",
    "AsyncKeySource",
    "BearerError",
    "CachePolicy",
    "DiscoveryError",
    "FetchPolicy",
    "InsufficientScopeError",
    "InvalidRequestError",
    "JWKSClient",
    "KeySource",
    "KeysUnavailableError",
    "MissingTokenError",
    "ProtectedResourceMetadata",
    "RejectedTokenError",
    "Requirement",
    "ServerMetadata",
    "StaticKeys",
    "Verifier",
    "discover",
    "discover_async",
    "require_claim",
    "require_scopes",
]
