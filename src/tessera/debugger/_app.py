"""The debugger's Starlette app: the page at ``/``, its static files and ``api/`` endpoints.

The app works at any mount point: the page's ``<base href>`` is built from the ASGI
``root_path``, so the authorization server can mount it at ``/debugger``.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tessera import __version__
from tessera.jose.jwa import JWS_ALGORITHMS

from ._api import Api, Settings
from ._fetch import FetchPolicy
from ._headers import SecurityHeadersMiddleware
from ._http import endpoint, error_response
from ._keys import ServerKeys

__all__ = ["create_app"]

_HERE = Path(__file__).parent
_TEMPLATE = _HERE / "templates" / "index.html"


class _Page:
    """The page, rendered once per mount point (the template has no per-request data)."""

    def __init__(self, has_server_keys: bool) -> None:
        self._has_server_keys = has_server_keys
        self._rendered: dict[str, str] = {}

    def render(self, root_path: str) -> str:
        """The HTML with its base URL, algorithm list and key options filled in."""
        page = self._rendered.get(root_path)
        if page is None:
            options = "".join(f'<option value="{name}">{name}</option>' for name in JWS_ALGORITHMS)
            server = (
                '<option value="server">this server\'s keys</option>'
                if self._has_server_keys
                else ""
            )
            page = (
                _TEMPLATE.read_text("utf-8")
                .replace("{{base}}", html.escape(root_path.rstrip("/") + "/", quote=True))
                .replace("{{alg_options}}", options)
                .replace("{{server_option}}", server)
                .replace("{{version}}", html.escape(__version__))
            )
            if len(self._rendered) < 16:
                self._rendered[root_path] = page
        return page

    async def respond(self, request: Request) -> Response:
        """GET /: the page for the mount point this request came through."""
        root_path = str(request.scope.get("root_path", ""))
        return HTMLResponse(self.render(root_path), headers={"Cache-Control": "no-store"})


async def _http_error(request: Request, exc: Exception) -> Response:
    """404/405 as JSON under ``api/``, as text elsewhere."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    detail = exc.detail if isinstance(exc, HTTPException) else "bad request"
    if "/api/" in request.url.path:
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        return error_response(status, code, detail)
    return PlainTextResponse(detail, status_code=status)


def create_app(
    *,
    server_keys: ServerKeys | None = None,
    allow_private_fetch: bool = False,
) -> Starlette:
    """The debugger app: decode, verify, lint and encode tokens in the browser.

    ``server_keys`` returns the key set the page offers as "this server's keys" (called on
    each request, so rotation shows). ``allow_private_fetch`` lets "JWKS from a URL" reach
    loopback and private addresses: right for ``tessera debugger`` on one's own machine,
    wrong for a server others can reach (it would be a request-forgery tool).

    >>> app = create_app()
    """
    api = Api(Settings(server_keys, FetchPolicy(allow_private=allow_private_fetch)))
    routes = [
        Route("/", _Page(server_keys is not None).respond, methods=["GET", "HEAD"]),
        Route("/api/verify", endpoint(api.verify), methods=["POST"]),
        Route("/api/encode", endpoint(api.encode), methods=["POST"]),
        Route("/api/lint", endpoint(api.lint), methods=["POST"]),
        Route("/api/generate-key", endpoint(api.generate_key), methods=["POST"]),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeadersMiddleware)],
        exception_handlers={HTTPException: _http_error},
    )
