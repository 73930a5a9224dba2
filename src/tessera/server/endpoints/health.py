"""``GET /healthz`` (liveness: the process answers) and ``GET /readyz`` (readiness).

Liveness touches nothing outside the process, so an orchestrator never restarts a healthy
server because its database is down. Readiness names each check: the database answers, a
key can sign, and the schema is at the revision this code ships; 200 when all pass, else 503.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tessera.server.endpoints._http import json_response
from tessera.server.storage import migrate

if TYPE_CHECKING:
    from tessera.server.app import Context

__all__ = ["health", "readiness", "ready"]

logger = logging.getLogger("tessera.server")

_NO_STORE = {"Cache-Control": "no-store"}
_HEAD: list[str | None] = []  # the shipped head, read from the migration scripts once


def _shipped_head() -> str | None:
    if not _HEAD:
        _HEAD.append(migrate.head_revision())
    return _HEAD[0]


def _failure(check: str, exc: Exception) -> dict[str, Any]:
    """A failed check's entry: the exception's kind only (messages may name hosts or users)."""
    logger.warning("readiness check %s failed: %s", check, type(exc).__name__)
    return {"ok": False, "error": type(exc).__name__}


def readiness(context: Context) -> dict[str, dict[str, Any]]:
    """Each readiness check by name with ``ok`` and what it found (blocking: run in a thread)."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        with context.db.autocommit() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = _failure("database", exc)
    try:
        key = context.keys.signing_key()
        checks["signing_key"] = {"ok": True, "kid": key.kid}
    except Exception as exc:
        checks["signing_key"] = _failure("signing_key", exc)
    if not checks["database"]["ok"]:
        checks["migrations"] = {"ok": False, "error": "database unavailable"}
        return checks
    try:
        current, head = migrate.current_revision(context.db), _shipped_head()
        checks["migrations"] = {"ok": current == head, "current": current, "head": head}
    except Exception as exc:
        checks["migrations"] = _failure("migrations", exc)
    return checks


async def health(_request: Request) -> Response:
    """Liveness: 200 whenever the process can answer a request."""
    return json_response({"status": "ok"}, 200, _NO_STORE)


async def ready(request: Request) -> Response:
    """Readiness for load balancers: 200 with every check passed, else 503 naming them."""
    checks = await run_in_threadpool(readiness, request.app.state.context)
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    return json_response(body, 200 if ok else 503, _NO_STORE)
