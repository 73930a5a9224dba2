"""Run the app under uvicorn on a socket we bind ourselves (one or several worker processes).

Why bind here: asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is
``IPPROTO_TCP``, and uvicorn's own multi-worker socket is created with ``proto=0``. Without
NODELAY every keep-alive response waits ~40 ms for a delayed ACK (Nagle), which caps a
worker at a few hundred tokens per second.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.server.config import Settings

__all__ = ["bind", "http_protocol", "run"]


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``proto=IPPROTO_TCP``, inheritable by workers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def http_protocol(settings: Settings) -> Any:
    """uvicorn's ``http`` option: httptools with the request head bounded by ``settings``
    (``max_header_size``, ``max_header_line``, ``header_timeout``; see
    :mod:`tessera.server._headlimits`)."""
    from tessera.server._headlimits import HeadLimits, protocol

    total = settings.max_header_size
    line = min(settings.max_header_line, total)
    return protocol(HeadLimits(total=total, line=line, timeout=settings.header_timeout))


def run(app: Any, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (an ASGI app, or an import string with ``factory=True`` for workers)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    sock = bind(host, port)
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
