"""``POST /token`` (RFC 6749 sec. 3.2): a form in, a JSON token response out, never cached."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tessera.server import requestinfo
from tessera.server.endpoints._http import NO_STORE, json_response, read_body
from tessera.server.errors import InvalidRequest
from tessera.server.form import check_content_type, parse_form
from tessera.server.grants import GRANT_TYPES

__all__ = ["token"]


async def token(request: Request) -> Response:
    """Issue an access token, or answer with the RFC 6749 sec. 5.2 error."""
    context = request.app.state.context
    if request.scope.get("query_string"):
        # RFC 6749 sec. 2.3.1/3.2: parameters (and credentials) belong in the body.
        raise InvalidRequest("send the parameters in the request body, not in the URL")
    check_content_type(request.headers.get("content-type"))
    authorizations = request.headers.getlist("authorization")
    if len(authorizations) > 1:
        raise InvalidRequest("send one Authorization header")
    body = await read_body(request, context.settings.max_body_size)
    form = parse_form(body)
    if (grant := form.get("grant_type")) in GRANT_TYPES:
        requestinfo.note_grant(grant)
    authorization = authorizations[0] if authorizations else None
    endpoint = context.token_endpoint
    if context.hot_store is not None:
        # PostgreSQL: the client lookup is awaited, the worker serves others meanwhile.
        result = await endpoint.handle_async(form, authorization, context.hot_store)
    elif endpoint.blocks(form):
        # Authorization code and refresh grants run transactions: a worker thread.
        result = await run_in_threadpool(endpoint.handle, form, authorization)
    else:
        # SQLite: one primary-key lookup in a local file costs less than a thread hop.
        result = endpoint.handle(form, authorization)
    return json_response(result, headers=NO_STORE)
