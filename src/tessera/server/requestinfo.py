"""What one request did, noted by the code that knows (authenticated client, grant, error)
and read by the request log and the metrics when the response is sent.

A context variable holds it: set by :class:`tessera.server.logs.RequestLogMiddleware` per
request, visible in worker threads (``run_in_threadpool`` copies the context).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

__all__ = [
    "RequestInfo",
    "current",
    "note_client",
    "note_error",
    "note_grant",
    "request_id",
    "reset",
    "start",
]


@dataclass(slots=True)
class RequestInfo:
    """The facts of one request worth a log field or a metric label (never a secret)."""

    request_id: str
    method: str = ""
    route: str = ""
    client_id: str | None = None
    """Set only once the client has authenticated (an unauthenticated id is not trusted)."""
    grant: str | None = None
    """One of the supported grant types (never the raw parameter)."""
    error: str | None = None
    """The RFC 6749 error code answered, if any."""


_CURRENT: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "tessera_request", default=None
)


def current() -> RequestInfo | None:
    """The request being served in this context, or None outside a request."""
    return _CURRENT.get()


def start(info: RequestInfo) -> contextvars.Token[RequestInfo | None]:
    """Make ``info`` the current request (the middleware resets it with the token)."""
    return _CURRENT.set(info)


def reset(token: contextvars.Token[RequestInfo | None]) -> None:
    """Undo :func:`start`."""
    _CURRENT.reset(token)


def request_id() -> str | None:
    """The current request's id, for log lines."""
    info = _CURRENT.get()
    return None if info is None else info.request_id


def note_client(client_id: str) -> None:
    """Record the authenticated client."""
    info = _CURRENT.get()
    if info is not None:
        info.client_id = client_id


def note_grant(grant: str) -> None:
    """Record the grant type (callers pass only a supported one)."""
    info = _CURRENT.get()
    if info is not None:
        info.grant = grant


def note_error(code: str) -> None:
    """Record the OAuth error code of the response."""
    info = _CURRENT.get()
    if info is not None:
        info.error = code
