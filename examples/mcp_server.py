"""An MCP server (official ``mcp`` SDK, ``MCPServer``) whose tools need a token from Tessera.

Run Tessera with dynamic registration and/or client metadata documents, then this server::

    tessera serve --port 8000   # with [server] registration = true, default_audience, ...
    TESSERA_ISSUER=http://127.0.0.1:8000 MCP_URL=http://127.0.0.1:8001/mcp \\
        uvicorn --factory examples.mcp_server:create_app --port 8001

An MCP client (Claude, VS Code, the SDK's ``OAuthClientProvider``) pointed at MCP_URL gets a
401 naming the protected-resource metadata, finds Tessera there, registers (or presents its
metadata document URL), signs the person in and calls the tools with its token.
"""

from __future__ import annotations

import os
from typing import Any

from mcp.server.mcpserver import MCPServer

from tessera.resource import Verifier
from tessera.resource.mcp import TokenVerifier, protect

SCOPES = ["mcp:tools"]


def build_server(**options: Any) -> MCPServer[Any]:
    """The MCP server and its tools (nothing about tokens here)."""
    server: MCPServer[Any] = MCPServer("tessera-example", **options)

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    return server


def create_app(issuer: str | None = None, resource: str | None = None) -> Any:
    """The MCP endpoint at ``resource`` (its path, /mcp), behind tokens from ``issuer``."""
    issuer = issuer or os.environ.get("TESSERA_ISSUER", "http://127.0.0.1:8000")
    resource = resource or os.environ.get("MCP_URL", "http://127.0.0.1:8001/mcp")
    verifier = Verifier.from_issuer(issuer, audience=resource)
    return protect(
        build_server().streamable_http_app(streamable_http_path="/mcp"),
        verifier,
        resource=resource,
        authorization_servers=[issuer],
        scopes=SCOPES,
        resource_name="Tessera example MCP server",
    )


def create_sdk_app(issuer: str | None = None, resource: str | None = None) -> Any:
    """The same server protected through the SDK's own auth hooks instead: a tessera
    ``TokenVerifier`` and the SDK's ``AuthSettings`` (its challenges carry no ``scope``)."""
    from mcp.server.auth.settings import AuthSettings

    issuer = issuer or os.environ.get("TESSERA_ISSUER", "http://127.0.0.1:8000")
    resource = resource or os.environ.get("MCP_URL", "http://127.0.0.1:8001/mcp")
    verifier = Verifier.from_issuer(issuer, audience=resource)
    server = build_server(
        token_verifier=TokenVerifier(verifier, resource=resource),
        auth=AuthSettings(
            issuer_url=issuer,
            resource_server_url=resource,
            required_scopes=SCOPES,
            validate_token_resource=True,
        ),
    )
    return server.streamable_http_app(streamable_http_path="/mcp")
