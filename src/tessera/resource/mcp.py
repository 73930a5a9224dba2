"""Protect an MCP server written with the official ``mcp`` Python SDK (``MCPServer``, the
FastMCP of SDK 1.x) with ``tessera.resource`` (install the ``mcp`` extra).

Two ways, both checking tokens with a :class:`~tessera.resource.Verifier`:

* :func:`protect` wraps the server's ASGI app: it serves the RFC 9728 metadata, answers a
  request without a valid token with 401 and ``WWW-Authenticate: Bearer ... scope="...",
  resource_metadata="..."`` (what MCP clients discover the authorization server from), and a
  token lacking the scopes with 403 ``insufficient_scope`` naming them (step-up)::

      app = protect(server.streamable_http_app(), verifier,
                    resource="https://mcp.example/mcp",
                    authorization_servers=["https://idp.example"], scopes=["mcp:tools"])

* :class:`TokenVerifier` plugs into the SDK's own hooks,
  ``MCPServer(token_verifier=TokenVerifier(verifier, resource=...), auth=AuthSettings(...))``;
  the SDK then serves the metadata and its own challenges (which carry no ``scope``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from tessera.errors import ConfigurationError, InvalidToken
from tessera.resource._bearer import Challenge
from tessera.resource.asgi import ASGIApp, BearerAuthMiddleware
from tessera.resource.errors import BearerError
from tessera.resource.metadata import ProtectedResourceMetadata
from tessera.resource.scopes import Requirement, require_scopes
from tessera.resource.verifier import Verifier

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken as SdkAccessToken

__all__ = ["TokenVerifier", "protect"]

logger = logging.getLogger("tessera.resource.mcp")


class TokenVerifier:
    """The ``mcp`` SDK's ``TokenVerifier`` protocol over a tessera Verifier: a verified token
    becomes the SDK's ``AccessToken`` (client, scopes, expiry, subject, claims), anything
    else None (the SDK answers 401).

    ``resource`` is reported as the token's resource indicator when the token's ``aud``
    contains it, so ``AuthSettings(validate_token_resource=True)`` holds.
    """

    def __init__(self, verifier: Verifier, *, resource: str | None = None) -> None:
        if not isinstance(verifier, Verifier):
            raise ConfigurationError("TokenVerifier needs a tessera.resource.Verifier")
        self.verifier = verifier
        self.resource = resource

    async def verify_token(self, token: str) -> SdkAccessToken | None:
        """The SDK's view of ``token``, or None when it does not verify."""
        from mcp.server.auth.provider import AccessToken as SdkAccessToken

        try:
            verified = self.verifier.remembered(token) or await self.verifier.averify(token)
        except (InvalidToken, BearerError) as exc:
            logger.info("bearer token refused: %s", exc)
            return None
        resource = self.resource if self.resource in verified.aud else None
        if resource is None and self.resource is None and verified.aud:
            resource = verified.aud[0]
        return SdkAccessToken(
            token=token,
            client_id=verified.client_id or "",
            scopes=sorted(verified.scopes),
            expires_at=int(verified.exp),
            resource=resource,
            subject=verified.sub,
            claims=dict(verified.claims),
        )


class _ScopedChallenge(Challenge):
    """Every challenge names the scopes the resource needs, 401s included (MCP clients
    request exactly those)."""

    __slots__ = ("scopes",)

    def __init__(
        self,
        realm: str | None,
        metadata: ProtectedResourceMetadata,
        scopes: tuple[str, ...],
    ) -> None:
        super().__init__(realm, metadata)
        self.scopes = scopes

    def www_authenticate(self, error: BearerError) -> str:
        if self.scopes and not getattr(error, "scope", ()):
            error = _WithScope(error, self.scopes)
        return super().www_authenticate(error)


class _WithScope(BearerError):
    """``error`` as it is, plus the scope the challenge names."""

    def __init__(self, error: BearerError, scope: tuple[str, ...]) -> None:
        super().__init__(error.description)
        self.error = error.error
        self.status_code = error.status_code
        self.scope = scope


def protect(
    app: ASGIApp,
    verifier: Verifier,
    *,
    resource: str,
    authorization_servers: Iterable[str],
    scopes: Sequence[str] = (),
    requirements: Sequence[Requirement] = (),
    resource_name: str | None = None,
    realm: str | None = None,
) -> ASGIApp:
    """``app`` (an MCP server's ASGI app) behind bearer tokens, with RFC 9728 metadata.

    ``resource`` is the MCP endpoint's URL (the tokens' audience); every request needs all
    of ``scopes`` and meets ``requirements``; ``scopes`` are also published as
    ``scopes_supported`` and named in every challenge.

    Raises:
        ConfigurationError: a bad resource URL, scope or realm.
    """
    scope_tuple = tuple(scopes)
    metadata = ProtectedResourceMetadata(
        resource,
        tuple(authorization_servers),
        scopes_supported=scope_tuple,
        resource_name=resource_name,
    )
    needs = [*requirements]
    if scope_tuple:
        needs.insert(0, require_scopes(*scope_tuple))
    middleware = BearerAuthMiddleware(
        app, verifier, realm=realm, metadata=metadata, requirements=needs
    )
    middleware.challenge = _ScopedChallenge(realm, metadata, scope_tuple)
    return middleware
