"""Logging for ``tessera serve``: text or JSON lines, a request id per request, and one
access line per request (method, route, status, latency, client, grant, outcome).

The access line carries only what :mod:`tessera.server.requestinfo` was told: the
authenticated client id, a supported grant type, the error code. Request bodies, headers
and query strings are never logged, so secrets, codes and tokens have no way in.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.server import requestinfo
from tessera.server.requestinfo import RequestInfo

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "RequestLogMiddleware",
    "RouteLabels",
    "log_config",
    "request_id_from",
]

LOG_FORMATS = ("text", "json")
ACCESS_LOGGER = "tessera.server.access"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:=@+/-]{1,128}$")
_TEXT_FORMAT = "%(levelname)s:     %(name)s: %(message)s"
_ACCESS_FIELDS = ("method", "route", "status", "latency_ms", "client_id", "grant", "outcome")

access_logger = logging.getLogger(ACCESS_LOGGER)

Observer = Callable[[RequestInfo, int, float], None]
"""Told of every finished request: its info, status and duration in seconds."""


def request_id_from(header: bytes | None) -> str:
    """The incoming ``X-Request-ID`` when it is sane (1-128 characters of a safe set), else a
    new random id: a client cannot inject log syntax or flood a log with a huge value."""
    if header is not None:
        try:
            value = header.decode("ascii")
        except UnicodeDecodeError:
            value = ""
        if _REQUEST_ID.match(value):
            return value
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, access fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or requestinfo.request_id()
        if rid is not None:
            line["request_id"] = rid
        for name in _ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def log_config(log_format: str, *, access: bool, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for the server's and uvicorn's loggers (given
    to uvicorn too, so every worker process logs the same way)."""
    formatter: dict[str, Any] = (
        {"()": "tessera.server.logs.JsonFormatter"}
        if log_format == "json"
        else {"format": _TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "tessera",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tessera": formatter},
        "handlers": {"tessera": handler},
        "loggers": {
            "tessera": {"handlers": ["tessera"], "level": level, "propagate": False},
            ACCESS_LOGGER: {"level": "INFO" if access else "WARNING"},
            "uvicorn": {"handlers": ["tessera"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "alembic": {"handlers": ["tessera"], "level": "WARNING", "propagate": False},
        },
    }


class RouteLabels:
    """The route template of a request (bounded: one label per route, never the raw path)."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._paths: dict[str, str] = {}
        self._mounts: list[str] = []
        for route in routes:
            if isinstance(route, Route) and "{" not in route.path:
                self._paths[route.path] = route.path
            elif isinstance(route, Mount):
                self._mounts.append(route.path)
        self._templated = [r for r in routes if isinstance(r, Route) and "{" in r.path]

    def __call__(self, scope: Scope) -> str:
        path = scope.get("path", "")
        found = self._paths.get(path)
        if found is not None:
            return found
        for mount in self._mounts:
            if path == mount or path.startswith(mount + "/"):
                return mount + "/*"
        for route in self._templated:
            if route.path_regex.match(path):
                return route.path
        return "unmatched"


class RequestLogMiddleware:
    """Outermost pure ASGI middleware: gives each request an id (echoed in ``X-Request-ID``),
    then writes its access line and tells the observers (metrics) how it went."""

    def __init__(
        self, app: ASGIApp, labels: RouteLabels, observers: Sequence[Observer] = ()
    ) -> None:
        self.app = app
        self.labels = labels
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value
                break
        info = RequestInfo(
            request_id=request_id_from(incoming),
            method=scope.get("method", ""),
            route=self.labels(scope),
        )
        status = 500
        started = time.perf_counter()

        async def tagged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", ()) if k != b"x-request-id"]
                headers.append((b"x-request-id", info.request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        token = requestinfo.start(info)
        try:
            await self.app(scope, receive, tagged_send)
        finally:
            elapsed = time.perf_counter() - started
            self._finish(info, status, elapsed)
            requestinfo.reset(token)

    def _finish(self, info: RequestInfo, status: int, elapsed: float) -> None:
        outcome = "ok" if status < 400 else (info.error or "error")
        if access_logger.isEnabledFor(logging.INFO):
            access_logger.info(
                "%s %s %d %.1fms client=%s grant=%s outcome=%s rid=%s",
                info.method,
                info.route,
                status,
                elapsed * 1000,
                info.client_id or "-",
                info.grant or "-",
                outcome,
                info.request_id,
                extra={
                    "request_id": info.request_id,
                    "method": info.method,
                    "route": info.route,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                    "client_id": info.client_id,
                    "grant": info.grant,
                    "outcome": outcome,
                },
            )
        for observer in self.observers:
            try:
                observer(info, status, elapsed)
            except Exception:  # an observer's bug must not fail the request
                logging.getLogger("tessera.server").exception("request observer failed")
