"""``tessera debugger``: the page on a free 127.0.0.1 port, opened in the browser.

``add_command(subparsers)`` plugs the command into the main ``tessera`` parser;
``python -m tessera.debugger`` runs it standalone. Only loopback is ever bound, requests
must name a loopback host (DNS rebinding cannot reach the page), and nothing is logged.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ["add_command", "build_local_app", "main", "run"]

HOST = "127.0.0.1"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
_DESCRIPTION = """\
Serve the token debugger on this machine: paste a token to see its header, claims and
timeline; verify it with a secret, PEM, JWK or JWKS; lint it; encode new tokens. The page
loads nothing from elsewhere and tokens are never logged or stored.
"""


def _configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="port on 127.0.0.1 (default: a free one)",
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="print the URL instead of opening a browser",
    )
    return parser


def _handler(args: argparse.Namespace, out: Any = None) -> int:
    """The command handler, callable as ``handler(args)`` or the CLI's ``handler(args, out)``."""
    return run(args)


def add_command(subparsers: Any) -> argparse.ArgumentParser:
    """Define ``debugger`` on the main parser's subparsers; ``args.handler`` runs it."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "debugger",
        help="open the token debugger page in the browser (local only)",
        description=_DESCRIPTION,
    )
    _configure(parser)
    parser.set_defaults(handler=_handler)
    return parser


def build_local_app() -> ASGIApp:
    """The debugger for one's own machine: private JWKS URLs allowed, loopback Host only."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from tessera.debugger._app import create_app

    return TrustedHostMiddleware(create_app(allow_private_fetch=True), allowed_hosts=LOCAL_HOSTS)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit status (2 when the port is unavailable)."""
    try:
        import uvicorn
    except ModuleNotFoundError:
        from tessera._install import install_hint

        sys.stderr.write(f"tessera: the debugger needs: {install_hint('server')}\n")
        return 2
    port = int(args.port)
    if not 0 <= port <= 65535:
        sys.stderr.write(f"tessera: invalid port {port}\n")
        return 2
    try:
        sock = _bind(port)
    except OSError as exc:
        sys.stderr.write(f"tessera: cannot listen on {HOST}:{port}: {exc.strerror or exc}\n")
        return 2
    url = f"http://{HOST}:{sock.getsockname()[1]}/"
    # The socket already listens, so the browser's first request waits in the backlog.
    print(f"Tessera debugger at {url}  (Ctrl+C to stop)", flush=True)
    if not args.no_browser:
        import webbrowser

        if not webbrowser.open(url):
            print("no browser found: open the URL above", flush=True)
    config = uvicorn.Config(
        build_local_app(),
        log_level="warning",
        access_log=False,  # request lines carry no tokens, but say nothing anyway
        lifespan="off",
        ws="none",
        server_header=False,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tessera.debugger [--port N] [--no-browser]``."""
    parser = _configure(
        argparse.ArgumentParser(prog="python -m tessera.debugger", description=_DESCRIPTION)
    )
    return run(parser.parse_args(argv))
