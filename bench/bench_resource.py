"""What token verification costs an API: the demo API's ``GET /lobby`` with and without auth.

Like is compared with like. Every server is the demo API built by ``create_app`` (same routes,
middleware, exception handlers, Verifier and AsyncJWKSClient), gets the *same request* (with
the same ``Authorization`` header) and sends the *same response body*; only the ``/lobby``
dependency differs:

* ``open``: ``/lobby`` without the ``Security`` dependency (the header is ignored);
* ``cached``: the demo API as shipped: verified tokens are remembered, so a client that reuses
  its token (the normal case) costs a lookup, not a signature check;
* ``every``: the token cache off (``token_cache_size=0``): the ES256/RS256 signature and the
  claims are checked on every request.

``floor`` (a reference, not a product mode) is ``open`` plus a ``Security`` dependency that
returns a fixed token and verifies nothing: what FastAPI itself charges for any dependency.

Two measurements: CPU time per request in-process (raw ASGI calls, no server, no sockets),
and requests/s under wrk against uvicorn (one worker, no access log). The overhead is
``1 - rps / open_rps``, each row against ``open`` given the same token (an RS256 token makes
a longer request); target < 20 %. Runs are interleaved round-robin, best of ``--rounds``.

    .venv/bin/python bench/bench_resource.py [--duration 6] [--rounds 3] [--in-process-only]

wrk is installed with apt-get when missing. The JWKS is served from a file by http.server.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ISSUER = "https://issuer.bench.example"
AUDIENCE = "bench-api"
SUB, CLIENT_ID = "alice", "bench"
TARGET_OVERHEAD = 0.20
MODES = ("open", "floor", "cached", "every")
IN_PROCESS_ROUNDS = 7


def ensure_wrk() -> str:
    """The wrk binary, installed with apt-get when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get", file=sys.stderr)
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(apt, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(apt, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install")
    return found


def mint_tokens() -> tuple[dict[str, Any], dict[str, str]]:
    """The issuer's public JWKS and one access token per algorithm (same claims)."""
    import tessera

    keys = {alg: tessera.Key.generate(alg, kid=f"bench-{alg}") for alg in ("ES256", "RS256")}
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": SUB,
        "aud": AUDIENCE,
        "client_id": CLIENT_ID,
        "iat": now,
        "exp": now + 3600,
        "scope": "lab:enter",
    }
    tokens = {alg: tessera.encode(claims, key, typ="at+jwt") for alg, key in keys.items()}
    return {"keys": [key.public().to_jwk() for key in keys.values()]}, tokens


# -- the apps under test --------------------------------------------------------------------------


def build_app(mode: str, keys: Any) -> Any:
    """The demo API for ``mode`` ("open", "floor", "cached", "every"); see the module docstring."""
    from typing import Annotated

    from fastapi import Security
    from fastapi.routing import APIRoute

    from tessera.demo_api import _door, create_app  # _door: the very body the demo sends
    from tessera.resource import AccessToken

    app = create_app(ISSUER, AUDIENCE, keys=keys, token_cache_size=0 if mode == "every" else 1024)
    if mode in ("cached", "every"):
        return app
    fixed = AccessToken.from_claims(
        {"iss": ISSUER, "sub": SUB, "client_id": CLIENT_ID, "exp": 0}, {"alg": "none"}
    )
    app.router.routes[:] = [
        r for r in app.router.routes if not (isinstance(r, APIRoute) and r.path == "/lobby")
    ]

    async def open_lobby() -> dict[str, Any]:
        return _door("lobby", fixed)

    async def no_check() -> AccessToken:
        return fixed

    async def floor_lobby(token: AccessToken) -> dict[str, Any]:
        return _door("lobby", token)

    # Real objects, not this module's postponed strings: FastAPI cannot resolve locals.
    floor_lobby.__annotations__ = {
        "token": Annotated[AccessToken, Security(no_check)],
        "return": dict[str, Any],
    }

    lobby: Callable[..., Any] = open_lobby if mode == "open" else floor_lobby
    app.add_api_route("/lobby", lobby, methods=["GET"])
    return app


# -- in-process: CPU time per request -------------------------------------------------------------


def asgi_scope(token: str) -> dict[str, Any]:
    """A fresh HTTP scope as uvicorn builds it for wrk's request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/lobby",
        "raw_path": b"/lobby",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8001"),
            (b"authorization", ("Bearer " + token).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8001),
        "state": {},
    }


async def call_many(app: Any, token: str, count: int) -> bytes:
    """Send ``count`` requests straight to the ASGI app; returns the last body."""
    body = b""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal body
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"in-process request answered {message['status']}")
        if message["type"] == "http.response.body":
            body = message["body"]

    for _ in range(count):
        await app(asgi_scope(token), receive, send)
    return body


def in_process(jwks: dict[str, Any], tokens: dict[str, str], rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` CPU microseconds per request, apps timed round-robin."""
    from tessera.resource import AsyncJWKSClient

    body = json.dumps(jwks).encode()
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=body))

    def keys() -> AsyncJWKSClient:
        return AsyncJWKSClient("https://issuer.bench.example/jwks", transport=transport)

    cases: list[tuple[str, Any, str, int]] = []
    for mode in MODES:
        for alg, token in tokens.items():
            if mode != "floor" or alg == "ES256":
                count = 300 if mode == "every" else 2000
                cases.append((f"{mode} {alg}", build_app(mode, keys()), token, count))
    best: dict[str, float] = {}

    async def run() -> None:
        bodies = {await call_many(app, token, 50) for _, app, token, _ in cases}  # warm up
        if len(bodies) != 1:
            raise SystemExit(f"the apps answer different bodies: {bodies}")
        for _ in range(rounds):
            for name, app, token, count in cases:
                start = time.thread_time()
                await call_many(app, token, count)
                micros = (time.thread_time() - start) / count * 1e6
                best[name] = min(best.get(name, float("inf")), micros)

    asyncio.run(run())
    return best


# -- wrk against uvicorn ------------------------------------------------------------------------


def serve(mode: str, jwks_url: str, port: int) -> None:
    import uvicorn

    from tessera.resource import AsyncJWKSClient

    app = build_app(mode, AsyncJWKSClient(jwks_url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_jwks_server(root: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/jwks.json"


def start_api(mode: str, jwks_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", mode, "--jwks", jwks_url, "--port", str(port)]
    child = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}/lobby"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url)
            return child, url
        except httpx.TransportError:
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit(f"{mode}: the API did not start") from None
            time.sleep(0.1)


def check_same_answers(servers: dict[str, str], tokens: dict[str, str]) -> None:
    """Every server answers every token 200 with the same body (and warms the caches)."""
    bodies = set()
    for mode, url in servers.items():
        for token in tokens.values():
            response = httpx.get(url, headers={"authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise SystemExit(f"{mode}: warm-up got {response.status_code}")
            bodies.add(response.content)
    if len(bodies) != 1:
        raise SystemExit(f"the servers answer different bodies: {bodies}")


def run_wrk(wrk: str, url: str, token: str, args: argparse.Namespace) -> float:
    header = f"Authorization: Bearer {token}"
    command = [wrk, "-H", header, "-t1", f"-c{args.connections}", f"-d{args.duration}s", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw error responses:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise SystemExit(f"cannot read wrk output:\n{output}")
    return float(match.group(1))


def under_wrk(
    jwks: dict[str, Any], tokens: dict[str, str], args: argparse.Namespace
) -> dict[str, float]:
    """Best-of-``rounds`` requests/s per server and token, runs interleaved round-robin."""
    wrk = ensure_wrk()
    runs = [(mode, alg) for mode in MODES for alg in tokens if mode != "floor" or alg == "ES256"]
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as root:
        Path(root, "jwks.json").write_text(json.dumps(jwks))
        jwks_server, jwks_url = start_jwks_server(Path(root))
        children: list[subprocess.Popen[bytes]] = []
        try:
            urls = {}
            for mode in MODES:
                child, urls[mode] = start_api(mode, jwks_url)
                children.append(child)
            check_same_answers(urls, tokens)
            for _ in range(args.rounds):
                for mode, alg in runs:
                    name = f"{mode} {alg}"
                    rps = run_wrk(wrk, urls[mode], tokens[alg], args)
                    best[name] = max(best.get(name, 0.0), rps)
                    if not args.json:
                        print(f"  {name:<16} {rps:>9.0f} req/s", file=sys.stderr)
        finally:
            for child in children:
                child.terminate()
                child.wait(10)
            jwks_server.shutdown()
    return best


# -- report ---------------------------------------------------------------------------------------

LABELS = {
    "open": "open (no dependency)",
    "floor": "FastAPI floor (no-op Security)",
    "cached": "protected, token cached",
    "every": "protected, verified every request",
}


def label(name: str) -> str:
    mode, _, alg = name.partition(" ")
    return LABELS[mode] + (f" {alg}" if alg else "")


def report(micros: dict[str, float], rps: dict[str, float], args: argparse.Namespace) -> None:
    def base(name: str) -> str:  # the open server given the same request (same token)
        return "open " + name.partition(" ")[2]

    cpu = {
        n: {"us": round(v, 1), "added_us": round(v - micros[base(n)], 1)} for n, v in micros.items()
    }
    wrk_rows = {
        n: {"rps": round(v), "overhead": round(1 - v / rps[base(n)], 4)} for n, v in rps.items()
    }
    if args.json:
        result = {"cpus": os.cpu_count(), "target_overhead": TARGET_OVERHEAD}
        print(json.dumps({**result, "in_process": cpu, "wrk": wrk_rows}))
        return
    print(f"\nIn-process CPU per GET /lobby (raw ASGI calls, best of {IN_PROCESS_ROUNDS})")
    print(f"{'app':<44}{'us/req':>8}{'added':>8}{'as share':>10}")
    for name, row in cpu.items():
        share = row["added_us"] / row["us"]
        print(f"{label(name):<44}{row['us']:>8.1f}{row['added_us']:>+8.1f}{share:>10.1%}")
    if wrk_rows:
        print(
            f"\nwrk -t1 -c{args.connections} -d{args.duration}s against uvicorn (1 worker), "
            f"best of {args.rounds}; the same request and response body for every server"
        )
        print(f"{'server':<44}{'req/s':>8}{'overhead':>10}")
        for name, row in wrk_rows.items():
            mark = ""
            if not name.startswith("open"):
                mark = "  ok" if row["overhead"] < TARGET_OVERHEAD else "  over target"
            print(f"{label(name):<44}{row['rps']:>8}{row['overhead']:>10.1%}{mark}")
        print(
            "\n'token cached': a client reusing its token (the usual case); "
            "'verified every request': the signature and claims checked each time."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="best of N interleaved rounds")
    parser.add_argument("--in-process-only", action="store_true", help="skip wrk")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--jwks", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.jwks, args.port)
        return
    jwks, tokens = mint_tokens()
    micros = in_process(jwks, tokens, IN_PROCESS_ROUNDS)
    rps = {} if args.in_process_only else under_wrk(jwks, tokens, args)
    report(micros, rps, args)


if __name__ == "__main__":
    main()
