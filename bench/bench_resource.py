"""What token verification costs an API: wrk against the demo API's ``GET /lobby``.

Three servers, each uvicorn with one worker (no access log), are compared on the same route:
``open`` (the same handler without auth), ``protected`` (the demo API: Security dependency,
Verifier, AsyncJWKSClient; verified tokens remembered, as a client reuses its token) and
``protected-every`` (token cache off: every request checks the ES256/RS256 signature). The
overhead is ``1 - protected_rps / open_rps``; the target is below 20 %.

    .venv/bin/python bench/bench_resource.py [--duration 10] [--connections 32] [--rounds 2]

wrk is installed with apt-get when missing. The JWKS is served from a file by http.server.
"""

from __future__ import annotations

import argparse
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
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ISSUER = "https://issuer.bench.example"
AUDIENCE = "bench-api"
TARGET_OVERHEAD = 0.20


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


# -- server mode (run in a child process) ------------------------------------------------------


def open_app() -> Any:
    """The lobby without a lock: the same answer, no token."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/lobby")
    async def lobby() -> dict[str, Any]:
        return {"door": "lobby", "granted": True, "sub": None, "client_id": None}

    return app


def serve(mode: str, jwks_url: str, port: int) -> None:
    import uvicorn

    from tessera.demo_api import create_app
    from tessera.resource import AsyncJWKSClient

    if mode == "open":
        app = open_app()
    else:
        keys = AsyncJWKSClient(jwks_url)
        cache = 0 if mode == "protected-every" else 1024
        app = create_app(ISSUER, AUDIENCE, keys=keys, token_cache_size=cache)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- driver ------------------------------------------------------------------------------------


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


def start_api(mode: str, jwks_url: str, tokens: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", mode, "--jwks", jwks_url, "--port", str(port)]
    child = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}/lobby"
    deadline = time.monotonic() + 30
    while True:
        try:
            for token in tokens or [""]:
                headers = {"authorization": f"Bearer {token}"} if token else {}
                response = httpx.get(url, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"{mode}: warm-up got {response.status_code}")
            return child, url
        except httpx.TransportError:
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit(f"{mode}: the API did not start") from None
            time.sleep(0.1)


def run_wrk(wrk: str, url: str, token: str | None, args: argparse.Namespace) -> float:
    command = [wrk, "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw error responses:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise SystemExit(f"cannot read wrk output:\n{output}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="best of N interleaved rounds")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--jwks", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.jwks, args.port)
        return

    import tessera

    wrk = ensure_wrk()
    keys = {alg: tessera.Key.generate(alg, kid=f"bench-{alg}") for alg in ("ES256", "RS256")}
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": AUDIENCE,
        "client_id": "bench",
        "iat": now,
        "exp": now + 3600,
        "scope": "lab:enter",
    }
    tokens = {alg: tessera.encode(claims, key, typ="at+jwt") for alg, key in keys.items()}
    with tempfile.TemporaryDirectory() as root:
        jwks = {"keys": [key.public().to_jwk() for key in keys.values()]}
        Path(root, "jwks.json").write_text(json.dumps(jwks))
        jwks_server, jwks_url = start_jwks_server(Path(root))
        runs: list[tuple[str, str | None]] = [("open", None)]
        runs += [(mode, alg) for mode in ("protected", "protected-every") for alg in tokens]
        best: dict[str, float] = {}
        servers = {}
        try:
            for mode in ("open", "protected", "protected-every"):
                warm = [] if mode == "open" else list(tokens.values())
                servers[mode] = start_api(mode, jwks_url, warm)
            for _ in range(args.rounds):
                for mode, alg in runs:
                    name = mode if alg is None else f"{mode} {alg}"
                    token = tokens[alg] if alg else None
                    rps = run_wrk(wrk, servers[mode][1], token, args)
                    best[name] = max(best.get(name, 0.0), rps)
                    if not args.json:
                        print(f"  {name:<24} {rps:>9.0f} req/s", file=sys.stderr)
        finally:
            for child, _ in servers.values():
                child.terminate()
                child.wait(10)
            jwks_server.shutdown()
    report(best, args)


def report(best: dict[str, float], args: argparse.Namespace) -> None:
    baseline = best["open"]
    rows = {
        name: {"rps": round(rps), "overhead": round(1 - rps / baseline, 4)}
        for name, rps in best.items()
    }
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "target_overhead": TARGET_OVERHEAD, **rows}))
        return
    print(f"\nGET /lobby, wrk -t1 -c{args.connections} -d{args.duration}s, best of {args.rounds}")
    print(f"{'server':<26}{'req/s':>9}{'overhead':>10}")
    for name, row in rows.items():
        mark = ""
        if name != "open":
            mark = "  ok" if row["overhead"] < TARGET_OVERHEAD else "  over target"
        print(f"{name:<26}{row['rps']:>9}{row['overhead']:>9.1%}{mark}")
    print(
        "\nprotected: verified tokens remembered (a client reuses its token); "
        "protected-every: the signature checked on every request."
    )


if __name__ == "__main__":
    main()
