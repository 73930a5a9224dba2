"""The ASGI application: routes, error handling, and the key maintenance loop.

``create_app(settings)`` builds everything from settings; tests inject ``db``, ``kek`` and a
``clock`` to travel in time. ``from_environment()`` is the factory uvicorn workers call.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from tessera.server._fetch_guard import FetchGuard
from tessera.server.cimd import ClientMetadataResolver
from tessera.server.config import Settings
from tessera.server.cors import EndpointCORS
from tessera.server.endpoints._http import json_response, oauth_error_response
from tessera.server.endpoints.authorize import authorize, stylesheet
from tessera.server.endpoints.health import health, ready
from tessera.server.endpoints.jwks import jwks
from tessera.server.endpoints.logout import logout
from tessera.server.endpoints.metadata import metadata, openid_configuration
from tessera.server.endpoints.register import register, registration
from tessera.server.endpoints.token import token
from tessera.server.endpoints.tokeninfo import introspect, revoke
from tessera.server.endpoints.userinfo import userinfo
from tessera.server.errors import InvalidRequest, OAuthError
from tessera.server.grants import TokenEndpoint
from tessera.server.kek import KEK
from tessera.server.keys import KeyManager
from tessera.server.logs import Observer, RequestLogMiddleware, RouteLabels
from tessera.server.middleware import ErrorMiddleware
from tessera.server.oidc.idtoken import IdTokens
from tessera.server.oidc.sector import SectorFetcher
from tessera.server.oidc.userinfo import UserInfo
from tessera.server.registration import Registrar
from tessera.server.storage import assertions, grants, sessions, throttle
from tessera.server.storage.bounds import MAINTENANCE_TIMEOUT, Bounds
from tessera.server.storage.database import Database
from tessera.server.storage.hot import HotStore
from tessera.server.tokeninfo import TokenInfo

__all__ = ["SETTINGS_ENV", "Context", "create_app", "from_environment"]

SETTINGS_ENV = "TESSERA_SERVE_SETTINGS"
"""How ``tessera serve`` hands resolved settings to its uvicorn worker processes."""

logger = logging.getLogger("tessera.server")


@dataclass(slots=True)
class Context:
    """What the endpoints need, stored on ``app.state.context``."""

    settings: Settings
    db: Database
    keys: KeyManager
    token_endpoint: TokenEndpoint
    token_info: TokenInfo
    clock: Callable[[], float]
    id_tokens: IdTokens
    userinfo: UserInfo
    hot_store: HotStore | None = None
    """The token endpoint's non-blocking queries (PostgreSQL); None on SQLite."""
    client_metadata: ClientMetadataResolver | None = None
    """Resolves URL client ids (Client ID Metadata Documents); None when not accepted."""
    registrar: Registrar | None = None
    """Dynamic client registration (RFC 7591/7592); None when not served."""

    def maintain(self) -> None:
        """Apply the key schedule; forget expired assertion ids, sessions, codes, tokens and
        old sign-in failures. A purge may have many rows to delete: it gets
        ``MAINTENANCE_TIMEOUT``, not a request's ``database_timeout``."""
        with self.db.patient(MAINTENANCE_TIMEOUT):
            for event in self.keys.maintain():
                logger.info("keys: %s", event)
            now = self.clock()
            with self.db.write() as conn:
                assertions.purge_expired(conn, now)
                sessions.purge_expired(conn, now)
                grants.purge_expired(conn, now)
                throttle.purge_stale(conn, now - self.settings.login_window)


async def _maintenance_loop(context: Context) -> None:
    settings = context.settings
    last = time.monotonic()
    while True:
        await asyncio.sleep(settings.key_cache_ttl)
        try:
            await run_in_threadpool(context.keys.refresh)
            if time.monotonic() - last >= settings.maintenance_interval:
                last = time.monotonic()
                await run_in_threadpool(context.maintain)
        except Exception:
            logger.exception("key maintenance failed; retrying")


async def _oauth_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, OAuthError):  # registered for OAuthError only
        raise exc
    return oauth_error_response(exc)


async def _http_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error = InvalidRequest(f"this endpoint accepts {allowed or 'another method'}", status=405)
        error.headers.update(exc.headers or {})
        return oauth_error_response(error)
    if exc.status_code == 404:
        return json_response({"error": "not_found", "error_description": "no such endpoint"}, 404)
    return json_response({"error": "invalid_request"}, exc.status_code, exc.headers)


def _debugger(keys: KeyManager) -> ASGIApp:
    """The debugger page, verifying "with this server's keys" against the published JWKS."""
    from tessera import KeySet
    from tessera.debugger import create_app as create_debugger

    def server_keys() -> KeySet:
        return KeySet.from_jwks(keys.jwks()[0])

    return create_debugger(server_keys=server_keys)


def _to_debugger(prefix: str) -> Callable[[Request], Awaitable[Response]]:
    """``/debugger`` sends the browser on to the page at ``/debugger/`` (the mount's root)."""
    target = prefix + "/debugger/"

    async def redirect(request: Request) -> Response:
        query = request.url.query
        return RedirectResponse(target + ("?" + query if query else ""), status_code=308)

    return redirect


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    kek: KEK | None = None,
    clock: Callable[[], float] = time.time,
    maintenance: bool = True,
) -> Starlette:
    """The authorization server as an ASGI app (the schema must be migrated already).

    On start it makes sure a key signs (creating the first one) and, with ``maintenance``,
    runs the rotation loop; on shutdown it closes the database pool. Without ``db`` its
    database waits are bounded by the settings (``database_timeout`` and the others).
    """
    bounds = Bounds.of(settings)
    database = db if db is not None else Database(settings.database, bounds=bounds)
    if kek is None:
        kek = KEK.load(settings.kek, settings.kek_file, create=True)
    keys = KeyManager(database, kek, settings, clock=clock)
    guard = (  # client metadata documents and sector_identifier_uri documents
        FetchGuard(
            allow=settings.fetch_allow,
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
            ca_file=settings.fetch_ca_file,
        )
        if settings.client_metadata_documents or settings.registration
        else None
    )
    resolver = (
        ClientMetadataResolver(settings, clock, guard)
        if guard is not None and settings.client_metadata_documents
        else None
    )
    id_tokens = IdTokens(settings, keys, kek.derive("tessera oidc pairwise subject"))
    context = Context(
        settings=settings,
        db=database,
        keys=keys,
        token_endpoint=TokenEndpoint(settings, database, keys, clock, resolver, id_tokens),
        token_info=TokenInfo(settings, database, keys, clock, resolver, id_tokens),
        clock=clock,
        id_tokens=id_tokens,
        userinfo=UserInfo(settings, database, keys, id_tokens, clock),
        hot_store=(
            HotStore(database.engine.url, bounds=bounds)
            if HotStore.supports(database.engine.url)
            else None
        ),
        client_metadata=resolver,
        registrar=(
            Registrar(settings, database, clock, SectorFetcher(guard))
            if settings.registration and guard is not None
            else None
        ),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(keys.check_kek)  # another KEK than the keys': do not start
        await run_in_threadpool(context.maintain)
        # Everything loaded so far lives as long as the process: keep it out of GC passes.
        gc.collect()
        gc.freeze()
        task = None
        if maintenance:
            task = asyncio.create_task(_maintenance_loop(context))
            keys.refreshed_in_background = True  # requests never wait for a key re-read
        if context.hot_store is not None:
            context.hot_store.start()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                keys.refreshed_in_background = False
            if context.hot_store is not None:
                await context.hot_store.close()
            if guard is not None:
                guard.close()
            if db is None:
                database.dispose()

    prefix = settings.issuer_path
    routes: list[BaseRoute] = [
        Route(prefix + "/token", token, methods=["POST"]),
        Route(prefix + "/authorize", authorize, methods=["GET", "POST"]),
        Route(prefix + "/introspect", introspect, methods=["POST"]),
        Route(prefix + "/revoke", revoke, methods=["POST"]),
        Route(prefix + "/static/tessera.css", stylesheet, methods=["GET"]),
        Route(prefix + "/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server" + prefix, metadata, methods=["GET"]),
        Route(prefix + "/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route(prefix + "/userinfo", userinfo, methods=["GET", "POST"]),
        Route(prefix + "/logout", logout, methods=["GET", "POST"]),
        Route(prefix + "/healthz", health, methods=["GET"]),
        Route(prefix + "/readyz", ready, methods=["GET"]),
    ]
    if settings.registration:
        routes.append(Route(prefix + "/register", register, methods=["POST"]))
        routes.append(
            Route(
                prefix + "/register/{client_id}",
                registration,
                methods=["GET", "PUT", "DELETE"],
            )
        )
    if settings.debugger:
        routes.append(Route(prefix + "/debugger", _to_debugger(prefix), methods=["GET", "HEAD"]))
        routes.append(Mount(prefix + "/debugger", app=_debugger(keys)))
    observers: list[Observer] = []
    if settings.metrics:
        from tessera.server.metrics import Metrics

        metrics = Metrics(keys, clock, token_route=prefix + "/token", bearer=settings.metrics_token)
        routes.append(Route(prefix + "/metrics", metrics.endpoint, methods=["GET"]))
        observers.append(metrics.observe)
    middleware = [
        Middleware(RequestLogMiddleware, labels=RouteLabels(routes), observers=observers),
        Middleware(ErrorMiddleware),
    ]
    if settings.allowed_origins:
        # only the endpoints browser-based clients call (metadata, JWKS, token, registration)
        middleware.append(Middleware(EndpointCORS, settings=settings))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={OAuthError: _oauth_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # never redirect a POST carrying credentials
    app.state.context = context
    return app


def from_environment() -> Starlette:
    """The app for a uvicorn worker: settings from ``TESSERA_SERVE_SETTINGS`` (set by serve)."""
    from tessera.server.config import load_settings

    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        return create_app(load_settings())
    values: dict[str, Any] = json.loads(raw)
    return create_app(load_settings(config=os.devnull, **values))
