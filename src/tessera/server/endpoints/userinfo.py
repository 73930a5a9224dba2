"""``GET/POST /userinfo`` (OIDC Core sec. 5.3): the signed-in person's claims as JSON.

The access token comes as ``Authorization: Bearer`` or, on POST, as the ``access_token`` form
field (RFC 6750 sec. 2.2), never both; refusals are RFC 6750 sec. 3 challenges.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tessera.resource._bearer import Challenge, parse_authorization
from tessera.resource.errors import BearerError, InvalidRequestError
from tessera.server.endpoints._http import NO_STORE, json_response, read_body
from tessera.server.errors import OAuthError
from tessera.server.form import parse_form

__all__ = ["userinfo"]

_CHALLENGE = Challenge(realm="tessera")


async def _token(request: Request) -> str:
    headers = request.headers.getlist("authorization")
    if request.method == "POST":
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            try:
                body = await read_body(request, request.app.state.context.settings.max_body_size)
                form = parse_form(body)
            except OAuthError as exc:
                raise InvalidRequestError(exc.description) from None
            field = form.get("access_token")
            if field is not None:
                if headers:
                    raise InvalidRequestError("send the access token one way, not two")
                return field
    if request.method == "GET" and "access_token=" in request.url.query:
        raise InvalidRequestError("send the access token in the Authorization header")
    return parse_authorization(headers)


async def userinfo(request: Request) -> Response:
    """The claims of the person the access token was issued for."""
    context = request.app.state.context
    try:
        token = await _token(request)
        result = await run_in_threadpool(context.userinfo.answer, token)
    except BearerError as exc:
        reply = _CHALLENGE.reply(exc)
        return Response(reply.body, reply.status, dict(reply.headers))
    return json_response(result, headers={**NO_STORE, "Vary": "Authorization"})
