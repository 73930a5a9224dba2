"""CORS for the endpoints a browser-based client calls, and for no other.

A browser app (a single-page app, the MCP Inspector) reads this server's metadata and JWKS,
registers itself, and exchanges codes and refresh tokens; it may also call UserInfo and revoke
its tokens. Those endpoints answer the origins of ``allowed_origins`` (``*``: any) with the
methods and request headers each needs. Credentials (cookies) are never allowed: none of these
endpoints reads a cookie, and the sign-in pages (``/authorize``, ``/logout``), introspection
(for resource servers), the debugger and ``/metrics`` send no CORS headers at all, so a page
elsewhere cannot read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.server.config import Settings

__all__ = ["EndpointCORS"]

_MAX_AGE = 600
_BEARER_HEADERS = ("Authorization", "Content-Type")


@dataclass(frozen=True, slots=True)
class _Policy:
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()


_DOCUMENT = _Policy(("GET",))
_FORM = _Policy(("POST",), _BEARER_HEADERS)
_USERINFO = _Policy(("GET", "POST"), _BEARER_HEADERS)
_MANAGEMENT = _Policy(("GET", "PUT", "DELETE"), _BEARER_HEADERS)


class EndpointCORS:
    """ASGI middleware: each browser-facing path gets its own CORS policy; every other path
    passes through untouched (no CORS headers, preflights answered by the router: 405)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        prefix = settings.issuer_path
        origins = list(settings.allowed_origins)

        def cors(policy: _Policy) -> ASGIApp:
            return CORSMiddleware(
                app,
                allow_origins=origins,
                allow_methods=list(policy.methods),
                allow_headers=list(policy.headers),
                allow_credentials=False,
                expose_headers=["WWW-Authenticate"],
                max_age=_MAX_AGE,
            )

        by_policy = {policy: cors(policy) for policy in (_DOCUMENT, _FORM, _USERINFO)}
        paths: dict[str, _Policy] = {
            "/.well-known/oauth-authorization-server" + prefix: _DOCUMENT,
            prefix + "/.well-known/openid-configuration": _DOCUMENT,
            prefix + "/jwks.json": _DOCUMENT,
            prefix + "/token": _FORM,
            prefix + "/revoke": _FORM,
            prefix + "/userinfo": _USERINFO,
        }
        if settings.registration:
            paths[prefix + "/register"] = _FORM
        self._exact = {path: by_policy[policy] for path, policy in paths.items()}
        self._management: Sequence[tuple[str, ASGIApp]] = (
            [(prefix + "/register/", cors(_MANAGEMENT))] if settings.registration else []
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            handler = self._exact.get(path)
            if handler is None:
                for start, managed in self._management:
                    if path.startswith(start) and "/" not in path[len(start) :]:
                        handler = managed
                        break
            if handler is not None:
                await handler(scope, receive, send)
                return
        await self.app(scope, receive, send)
