"""Helpers shared by the endpoints: bounded body reading and OAuth JSON responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tessera.server import requestinfo
from tessera.server.errors import InvalidRequest, OAuthError

__all__ = ["NO_STORE", "json_response", "oauth_error_response", "read_body"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""RFC 6749 sec. 5.1: token responses (and their errors) must not be cached."""


def _dumps(content: Any) -> bytes:
    import json

    return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A compact JSON response."""
    return Response(_dumps(content), status, dict(headers or {}), "application/json")


def oauth_error_response(error: OAuthError) -> Response:
    """The RFC 6749 sec. 5.2 error body with its status and headers (never cached)."""
    requestinfo.note_error(error.error)
    return json_response(error.body(), error.status, {**NO_STORE, **error.headers})


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing anything over ``limit`` bytes with 413 before reading it all.

    Raises:
        InvalidRequest: a bad Content-Length (400) or a body over the limit (413).
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise InvalidRequest(f"the request body exceeds {limit} bytes", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest(f"the request body exceeds {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)
