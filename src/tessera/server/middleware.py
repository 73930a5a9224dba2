"""The outermost safety net: any exception becomes a JSON error, never a traceback.

OAuth errors are answered by their exception handler before reaching here. What arrives is
either an outage (database unreachable, no signing key: 503 ``temporarily_unavailable``) or
a bug (500 ``server_error``, logged in full, described to the client in one fixed sentence).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.server.endpoints._http import oauth_error_response
from tessera.server.errors import (
    InternalError,
    OAuthError,
    ServerConfigError,
    TemporarilyUnavailable,
)
from tessera.server.metrics import database_error

__all__ = ["ErrorMiddleware"]

logger = logging.getLogger("tessera.server")


def _classify(exc: Exception) -> OAuthError:
    if isinstance(exc, OAuthError):
        return exc
    if isinstance(exc, OperationalError | TimeoutError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
        logger.warning(
            "database unavailable: %s%s",
            type(exc).__name__,
            f" (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) else "",
        )
        database_error(type(exc).__name__)
        return TemporarilyUnavailable()
    if isinstance(exc, ServerConfigError):
        logger.error("cannot serve: %s", exc)
        return TemporarilyUnavailable()
    logger.exception("unexpected error", exc_info=exc)
    return InternalError()


class ErrorMiddleware:
    """Pure ASGI middleware: turns escaped exceptions into RFC 6749-shaped JSON responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return
        except Exception as exc:
            error = _classify(exc)
            if started:
                raise
            await oauth_error_response(error)(scope, receive, send)
