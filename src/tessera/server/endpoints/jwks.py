"""``GET /jwks.json`` (RFC 7517 sec. 5): public keys only, cached for one JWKS cache period."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["jwks"]


async def jwks(request: Request) -> Response:
    """The JWK Set; 304 when the client's ETag is current."""
    context = request.app.state.context
    body, etag = await run_in_threadpool(context.keys.jwks)
    headers = {
        "Cache-Control": f"public, max-age={context.settings.jwks_max_age}",
        "ETag": etag,
    }
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, 200, headers, "application/json")
