"""``POST /introspect`` (RFC 7662) and ``POST /revoke`` (RFC 7009): forms in, JSON out."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tessera.server.endpoints._http import NO_STORE, json_response, read_body
from tessera.server.errors import InvalidRequest
from tessera.server.form import Form, check_content_type, parse_form

__all__ = ["introspect", "revoke"]


async def _read(request: Request) -> tuple[Form, str | None]:
    if request.scope.get("query_string"):
        raise InvalidRequest("send the parameters in the request body, not in the URL")
    check_content_type(request.headers.get("content-type"))
    authorizations = request.headers.getlist("authorization")
    if len(authorizations) > 1:
        raise InvalidRequest("send one Authorization header")
    body = await read_body(request, request.app.state.context.settings.max_body_size)
    return parse_form(body), authorizations[0] if authorizations else None


async def introspect(request: Request) -> Response:
    """Whether a token is active, and its claims (RFC 7662 sec. 2.2)."""
    form, authorization = await _read(request)
    info = request.app.state.context.token_info
    result = await run_in_threadpool(info.introspect, form, authorization)
    return json_response(result, headers=NO_STORE)


async def revoke(request: Request) -> Response:
    """Revoke a token; 200 with an empty body whether or not it was known (RFC 7009 sec. 2.2)."""
    form, authorization = await _read(request)
    await run_in_threadpool(request.app.state.context.token_info.revoke, form, authorization)
    return Response(b"", 200, NO_STORE)
