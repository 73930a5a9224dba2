"""HTTP plumbing for the debugger's JSON endpoints: bounded bodies, same-origin checks, errors.

Every failure becomes a JSON ``{"error": {"code", "message"}}`` with a 4xx status; request
bodies (which hold tokens and keys) are never logged, echoed into errors, or kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from tessera import ConfigurationError, InvalidKey, TesseraError

__all__ = [
    "MAX_BODY_BYTES",
    "Endpoint",
    "RequestError",
    "endpoint",
    "error_response",
    "field",
    "json_response",
]

MAX_BODY_BYTES = 256 * 1024
"""Largest request body accepted: a maximal token (64 KiB) plus a JWKS, with room to spare."""

_log = logging.getLogger("tessera.debugger")
_NO_STORE = {"Cache-Control": "no-store"}
_KIND_NAMES: dict[type, str] = {str: "string", dict: "JSON object", list: "JSON array",
                                bool: "boolean", int: "integer"}  # fmt: skip

Endpoint = Callable[[Request], Awaitable[JSONResponse]]


class RequestError(Exception):
    """A request the debugger refuses; knows its HTTP status and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_response(data: dict[str, Any], status: int = 200) -> JSONResponse:
    """A JSON response that no cache keeps (it may hold claims or keys)."""
    return JSONResponse(data, status_code=status, headers=_NO_STORE)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one error shape every endpoint uses."""
    return json_response({"error": {"code": code, "message": message}}, status)


def _check_origin(request: Request) -> None:
    """Refuse cross-site requests: the endpoints act for the page, not for other sites."""
    if request.headers.get("sec-fetch-site", "same-origin") == "cross-site":
        raise RequestError(403, "cross_origin", "cross-site requests are refused")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        # Compare host:port only: behind a TLS-terminating proxy the scheme may differ.
        origin_host = origin.split("://", 1)[-1].rstrip("/").lower()
        if origin_host != request.headers.get("host", "").lower():
            raise RequestError(403, "cross_origin", "cross-origin requests are refused")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, read up to :data:`MAX_BODY_BYTES`."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        # A form or text/plain POST from another site cannot send application/json
        # without a CORS preflight, which is never answered.
        raise RequestError(415, "unsupported_media_type", "send the body as application/json")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise RequestError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise RequestError(400, "invalid_json", "the body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise RequestError(400, "invalid_request", "the body must be a JSON object")
    return data


def field(data: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    """``data[name]`` checked to be of ``kind`` (None when absent and not required)."""
    value = data.get(name)
    if value is None:
        if required:
            raise RequestError(400, "invalid_request", f"{name!r} is required")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        what = _KIND_NAMES.get(kind, kind.__name__)
        raise RequestError(400, "invalid_request", f"{name!r} must be a {what}")
    return value


Handler = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]


def endpoint(handler: Handler) -> Endpoint:
    """Wrap ``handler(request, body) -> dict`` with the origin check, body limit and errors."""

    @wraps(handler)
    async def wrapped(request: Request) -> JSONResponse:
        try:
            _check_origin(request)
            body = await _read_json(request)
            return json_response(await handler(request, body))
        except RequestError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except InvalidKey as exc:
            return error_response(400, exc.code, f"invalid key: {exc}")
        except (ConfigurationError, TesseraError) as exc:
            return error_response(400, exc.code, str(exc))
        except RecursionError:
            return error_response(400, "too_deep", "the JSON is nested too deeply")
        except Exception as exc:
            # Only the type and the path: the body holds tokens and keys.
            _log.error("debugger %s failed: %s", request.url.path, type(exc).__name__)
            return error_response(500, "internal", "internal error")

    return wrapped
