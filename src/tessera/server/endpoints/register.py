"""``POST /register`` (RFC 7591) and ``GET/PUT/DELETE /register/{client_id}`` (RFC 7592):
JSON in, JSON out, never cached."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tessera.server.endpoints._http import NO_STORE, json_response, read_body
from tessera.server.errors import InvalidClientMetadata, InvalidRequest
from tessera.server.registration import Registrar

__all__ = ["register", "registration"]


def _authorization(request: Request) -> str | None:
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise InvalidRequest("send one Authorization header")
    return values[0] if values else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _document(request: Request) -> dict[str, Any]:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise InvalidRequest("send the client metadata as application/json", status=415)
    body = await read_body(request, request.app.state.context.settings.max_body_size)
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidClientMetadata("the body is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidClientMetadata("the client metadata must be a JSON object")
    return document


def _registrar(request: Request) -> Registrar:
    registrar = request.app.state.context.registrar
    assert isinstance(registrar, Registrar)  # the routes exist only when it does
    return registrar


async def register(request: Request) -> Response:
    """Register a client: 201 with its client_id and registration access token."""
    registrar = _registrar(request)
    authorization = _authorization(request)
    registrar.check_initial_token(authorization)
    document = await _document(request)
    answer = await run_in_threadpool(registrar.register, document)
    return json_response(answer.body, 201, NO_STORE)


async def registration(request: Request) -> Response:
    """Read (GET), replace (PUT) or delete (DELETE) one client's registration."""
    registrar = _registrar(request)
    client_id = request.path_params["client_id"]
    authorization = _authorization(request)
    if request.method == "DELETE":
        await run_in_threadpool(registrar.delete, client_id, authorization)
        return Response(status_code=204, headers=NO_STORE)
    if request.method == "PUT":
        document = await _document(request)
        answer = await run_in_threadpool(registrar.update, client_id, authorization, document)
    else:
        answer = await run_in_threadpool(registrar.read, client_id, authorization)
    return json_response(answer.body, 200, NO_STORE)
