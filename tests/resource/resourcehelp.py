"""Helpers for the resource-server tests: real servers on 127.0.0.1 and an issuer stand-in.

The stand-in is a tiny Starlette app serving RFC 8414 / OpenID metadata and a JWKS, counting
requests, and letting a test mint tokens, rotate keys, hold JWKS replies behind a gate, or stop
the issuer altogether. Cache time is a FakeClock: tests move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import tessera

AUDIENCE = "demo-api"


class FakeClock:
    """A clock that moves only when told (monotonic seconds for the JWKS cache)."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LiveServer:
    """An ASGI app served by uvicorn in a thread on a free 127.0.0.1 port (bound at once)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, app: Any, lifespan: Literal["auto", "on", "off"] = "off") -> LiveServer:
        config = uvicorn.Config(
            app, log_level="warning", lifespan=lifespan, backlog=4096, timeout_keep_alive=30
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)  # waiting for a server to start, not for a cache to expire
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(10)
            self.server = None
        self.sock.close()


class IssuerStandIn:
    """A minimal authorization server: metadata + JWKS over HTTP, tokens minted in-process."""

    def __init__(self, alg: str = "ES256") -> None:
        self.server = LiveServer()
        self.issuer = self.server.url
        self.alg = alg
        self.signing_key = tessera.Key.generate(alg, kid="key-1")
        self.published: list[tessera.Key] = [self.signing_key]
        self.jwks_requests = 0
        self.metadata_requests: list[str] = []
        self.cache_control: str | None = "public, max-age=300"
        self.failing = False
        self.gate: threading.Event | None = None
        self.cookie_headers: list[str] = []
        self.serve_rfc8414 = True
        self.extra_jwks: list[dict[str, Any]] = []

    # -- HTTP ---------------------------------------------------------------------------------

    def _metadata(self, request: Request) -> Response:
        self.metadata_requests.append(request.url.path)
        if self.failing:
            return Response("down", 503)
        if request.url.path.endswith("oauth-authorization-server") and not self.serve_rfc8414:
            return Response("not found", 404)
        return JSONResponse(
            {
                "issuer": self.issuer,
                "jwks_uri": self.issuer + "/jwks.json",
                "token_endpoint": self.issuer + "/token",
            }
        )

    async def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        self.cookie_headers.extend(request.headers.getlist("cookie"))
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 30)
        if self.failing:
            return Response("down", 503)
        keys = [k.public().to_jwk() for k in self.published] + self.extra_jwks
        headers = {"set-cookie": "tracking=1; Path=/"}
        if self.cache_control is not None:
            headers["cache-control"] = self.cache_control
        return JSONResponse({"keys": keys}, headers=headers)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", self._metadata),
                Route("/.well-known/openid-configuration", self._metadata),
                Route("/jwks.json", self._jwks),
            ]
        )

    def start(self) -> IssuerStandIn:
        self.server.start(self.app())
        return self

    def stop(self) -> None:
        self.server.stop()

    # -- tokens and keys ------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": AUDIENCE,
            "client_id": "badge-reader",
            "iat": now,
            "exp": now + 300,
            "jti": f"jti-{now}-{id(overrides)}",
            "scope": "lab:enter",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self,
        *,
        key: tessera.Key | None = None,
        typ: str | None = "at+jwt",
        headers: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        return tessera.encode(
            self.claims(**overrides), key or self.signing_key, headers=headers, typ=typ
        )

    def rotate(self, kid: str) -> tessera.Key:
        """Publish a new key and sign with it from now on (old keys stay published)."""
        self.signing_key = tessera.Key.generate(self.alg, kid=kid)
        self.published.append(self.signing_key)
        return self.signing_key
