"""OpenID Connect relying party: sign people in with any OpenID provider (Tessera's included).

>>> from tessera.oidc import IDTokenVerifier
>>> # verifier = IDTokenVerifier.from_provider("https://login.example", client_id="app")

The pieces: :class:`RelyingParty` / :class:`AsyncRelyingParty` (code flow with PKCE, nonce,
UserInfo, refresh, RP-initiated logout), :func:`discover_provider` (OpenID Connect Discovery
1.0), :class:`IDTokenVerifier` (ID tokens per OIDC Core 3.1.3.7 and back-channel logout
tokens), typed errors in :mod:`tessera.oidc.errors`. Keys come from tessera.resource.
"""

from tessera.oidc.client import AsyncRelyingParty, RelyingParty
from tessera.oidc.errors import (
    AuthorizationError,
    AuthTimeError,
    InvalidAuthorizedPartyError,
    InvalidNonceError,
    LogoutTokenError,
    OIDCError,
    StateMismatchError,
    SubjectMismatchError,
    TokenEndpointError,
    TokenHashError,
    UserInfoError,
)
from tessera.oidc.flow import AuthorizationRequest, Tokens
from tessera.oidc.provider import ProviderMetadata, discover_provider, discover_provider_async
from tessera.oidc.tokens import IDToken, LogoutToken
from tessera.oidc.verifier import IDTokenVerifier
from tessera.resource.discovery import DiscoveryError

__all__ = [
    "AsyncRelyingParty",
    "AuthTimeError",
    "AuthorizationError",
    "AuthorizationRequest",
    "DiscoveryError",
    "IDToken",
    "IDTokenVerifier",
    "InvalidAuthorizedPartyError",
    "InvalidNonceError",
    "LogoutToken",
    "LogoutTokenError",
    "OIDCError",
    "ProviderMetadata",
    "RelyingParty",
    "StateMismatchError",
    "SubjectMismatchError",
    "TokenEndpointError",
    "TokenHashError",
    "Tokens",
    "UserInfoError",
    "discover_provider",
    "discover_provider_async",
]
