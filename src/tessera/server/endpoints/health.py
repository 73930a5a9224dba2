"""``GET /healthz``: 200 when the database answers and a key signs, else 503."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tessera.server.endpoints._http import json_response

__all__ = ["health"]


async def health(request: Request) -> Response:
    """Report readiness for load balancers."""
    context = request.app.state.context
    ok = await run_in_threadpool(context.healthy)
    return json_response(
        {"status": "ok" if ok else "unavailable"},
        200 if ok else 503,
        {"Cache-Control": "no-store"},
    )
