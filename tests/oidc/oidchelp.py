"""Helpers for the relying-party tests: ID/logout tokens signed by tessera.jose, and a provider
stand-in (OpenID configuration + JWKS over real HTTP on 127.0.0.1) for discovery and rotation.

The stand-in is for the verifier's own plumbing; the protocol is proven against a real
provider nobody here wrote (node-oidc-provider, see test_oidc_node_provider.py).
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import tessera

CLIENT_ID = "photo-app"
ISSUER = "https://login.example"
NOW = 1_800_000_000


def half_hash(value: str, name: str = "sha256") -> str:
    """at_hash/c_hash computed independently of the code under test."""
    if name == "shake256":
        digest = hashlib.shake_256(value.encode()).digest(114)
    else:
        digest = hashlib.new(name, value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def id_claims(issuer: str = ISSUER, now: float = NOW, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": "alice",
        "aud": CLIENT_ID,
        "iat": int(now),
        "exp": int(now) + 300,
        "auth_time": int(now) - 10,
        "nonce": "n-0S6_WzA2Mj",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def logout_claims(issuer: str = ISSUER, now: float = NOW, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": "alice",
        "sid": "session-1",
        "aud": CLIENT_ID,
        "iat": int(now),
        "exp": int(now) + 120,
        "jti": "logout-1",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveApp:
    """An ASGI app served by uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, app: Any = None) -> None:
        self.sock = free_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app

    def start(self, app: Any = None) -> LiveApp:
        """Serve ``app`` (or the one given at construction) on the bound port."""
        config = uvicorn.Config(app or self.app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)  # waiting for a server to start
        return self

    def stop(self) -> None:
        if hasattr(self, "server"):
            self.server.should_exit = True
            self.thread.join(10)
        self.sock.close()


class ProviderStandIn:
    """Serves an OpenID configuration and a JWKS; signs tokens in-process; rotates keys."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.signing_key = tessera.Key.generate(alg, kid="k1")
        self.published = [self.signing_key]
        self.document_overrides: dict[str, Any] = {}
        self.jwks_requests = 0
        self.live = LiveApp(
            Starlette(
                routes=[
                    Route("/.well-known/openid-configuration", self._configuration),
                    Route("/jwks", self._jwks),
                ]
            )
        )
        self.issuer = self.live.url

    def document(self) -> dict[str, Any]:
        base = {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/auth",
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/me",
            "jwks_uri": self.issuer + "/jwks",
            "end_session_endpoint": self.issuer + "/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
            "code_challenge_methods_supported": ["S256"],
        }
        base.update(self.document_overrides)
        return {k: v for k, v in base.items() if v is not None}

    def _configuration(self, request: Request) -> Response:
        return JSONResponse(self.document())

    def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        keys = [key.public().to_jwk() for key in self.published]
        return JSONResponse({"keys": keys}, headers={"cache-control": "max-age=300"})

    def start(self) -> ProviderStandIn:
        self.live.start()
        return self

    def stop(self) -> None:
        self.live.stop()

    def rotate(self, kid: str) -> None:
        self.signing_key = tessera.Key.generate(self.alg, kid=kid)
        self.published.append(self.signing_key)

    def id_token(self, typ: str | None = "JWT", **overrides: Any) -> str:
        claims = id_claims(self.issuer, time.time(), **overrides)
        return tessera.encode(claims, self.signing_key, typ=typ)
