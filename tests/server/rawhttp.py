"""HTTP/1.1 over raw sockets, for requests an HTTP client library would trim or refuse to
send (oversized or trickled heads, huge bodies)."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

__all__ = ["RawResponse", "get", "read_response", "send"]


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    """From the start of sending to the end of the response."""

    def error(self) -> dict[str, str]:
        """The JSON error body."""
        assert self.headers["content-type"] == "application/json", self.headers
        return dict(json.loads(self.body))


def read_response(sock: socket.socket, started: float) -> RawResponse:
    """One response (with Content-Length) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside the body"
        body += chunk
    status = int(lines[0].split()[1])
    return RawResponse(status, headers, body[:length], time.perf_counter() - started)


def send(port: int, request: bytes) -> RawResponse:
    """Send ``request`` to 127.0.0.1:``port`` on a new connection; the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(request)
        return read_response(sock, started)


def get(path: str = "/healthz", fields: list[tuple[str, str]] | None = None) -> bytes:
    """A GET request with ``fields`` besides Host."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in fields or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
