"""Helpers for the debugger tests: an in-memory HTTP client, live servers in threads, tokens."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import uvicorn

import tessera

SECRET = b"kH3v9Qz1wLp8Rt6Yx2Nc5Vb7Mn4Jd0Fs-debugger-test-key"
"""A random-looking HMAC secret (no lint findings for it), used as UTF-8 text."""


class Client:
    """A synchronous client for an ASGI app, in memory (httpx.ASGITransport, no sockets)."""

    def __init__(self, app: Any, base_url: str = "http://testserver") -> None:
        self.app = app
        self.base_url = base_url

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request through the app and return the read response."""

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url) as client:
                return await client.request(method, url, **kwargs)

        return anyio.run(send)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST ``url``."""
        return self.request("POST", url, **kwargs)


MakeClient = Callable[..., Client]
"""``make_client(**create_app_kwargs)`` (the conftest fixture's type)."""


def free_socket() -> socket.socket:
    """A listening TCP socket on a free 127.0.0.1 port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    sock = free_socket()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class StaticServer:
    """A tiny HTTP server on 127.0.0.1 whose paths are answered by functions."""

    routes: dict[str, Route]
    base: str = ""
    port: int = 0


@contextmanager
def serve_routes(routes: dict[str, Route]) -> Iterator[StaticServer]:
    """Serve ``routes`` (path -> handler function) on a free port, in a thread."""
    state = StaticServer(routes)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = state.routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404)
                return
            route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    state.base = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def body(data: bytes, content_type: str = "application/json") -> Route:
    """A route answering 200 with ``data``."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return route


def redirect(location: str, status: int = 302) -> Route:
    """A route answering with a redirect to ``location``."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def hs256_token(claims: dict[str, Any], secret: bytes = SECRET) -> str:
    """An HS256 JWT signed with ``secret``."""
    return tessera.encode(claims, tessera.Key.from_secret(secret, alg="HS256"))


def fresh_claims(**extra: Any) -> dict[str, Any]:
    """Claims valid now for five more minutes, issued a minute ago."""
    now = int(time.time())
    return {"iss": "https://issuer.example", "sub": "alice", "iat": now - 60, "exp": now + 300,
            **extra}  # fmt: skip


def b64(data: bytes) -> str:
    """Unpadded base64url, as in a compact token."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """Bytes of unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tamper(token: str, **changes: Any) -> str:
    """The token with claims changed (default: sub becomes "mallory") and the old signature."""
    head, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims.update(changes or {"sub": "mallory"})
    return f"{head}.{b64(json.dumps(claims).encode())}.{signature}"
