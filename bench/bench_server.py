"""Token endpoint under load: ``tessera serve`` against panva's node-oidc-provider, with wrk.

Both issue RFC 9068 JWT access tokens (ES256) for client_credentials with
client_secret_basic. Tessera runs on SQLite and on PostgreSQL with 1 and 2 uvicorn workers;
node-oidc-provider (from the npm registry, in-memory storage) with 1 and 2 cluster workers.
wrk (Debian's package) posts the same form with the same Basic credentials to each.

The second table is the OpenID code exchange: ``grant_type=authorization_code`` with PKCE
for ``scope=openid read:docs``, answered with an ES256 access token and an RS256 ID token
(nonce, at_hash). Every request redeems its own code: both servers get the same number of
codes (each with its own grant, as consent leaves them) made before the run, and wrk's
threads walk through them. node-oidc-provider runs one process for it (its storage is
in-process memory, which cluster workers would not share).

``--grant userinfo``, ``register`` or ``endpoints`` (both) time instead ``GET /userinfo`` with
a bearer access token for openid profile email, and ``POST /register`` (RFC 7591, open
registration), against node-oidc-provider's (``endpoints.mjs``, one process).

    python bench/bench_server.py                    # the full table (about 2 minutes)
    python bench/bench_server.py --duration 5 --only tessera-postgresql

Installs what it needs: wrk with apt-get, node-oidc-provider with npm. Needs PostgreSQL at
127.0.0.1:5432 (user postgres, trust auth) for the PostgreSQL rows; it creates and drops its
own database. Targets (issue 4): >= 1,500 tokens/s with 2 workers on PostgreSQL, p99 < 25 ms,
and ahead of node-oidc-provider.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

import tessera

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node-oidc-provider"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AUDIENCE = "https://api.example"
REDIRECT = "http://127.0.0.1/cb"
NONCE = "bench-nonce"
TARGET_RPS, TARGET_P99_MS = 1500, 25.0


@dataclass
class Result:
    target: str
    backend: str
    workers: int
    tokens_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


# -- tools ----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get)...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or "wrk"


def ensure_node() -> bool:
    if not shutil.which("node") or not shutil.which("npm"):
        print("node/npm not found: skipping node-oidc-provider", flush=True)
        return False
    if not (NODE_DIR / "node_modules" / "oidc-provider").exists():
        print("installing node-oidc-provider (npm)...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--silent"],
            cwd=NODE_DIR,
            check=True,
        )
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- wrk ------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def run_wrk(
    wrk: str, url: str, client_id: str, secret: str, *, duration: int, connections: int
) -> tuple[float, float, float, int, int]:
    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.body = "grant_type=client_credentials"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Authorization"] = "Basic {auth}"\n'
        )
    try:
        base = [wrk, "-t2", f"-c{connections}", "-s", script.name]
        subprocess.run([*base, "-d2s", url], check=True, capture_output=True)  # warm up
        out = subprocess.run(
            [*base, f"-d{duration}s", "--latency", url], check=True, capture_output=True, text=True
        ).stdout
    finally:
        os.unlink(script.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return (
        float(rps.group(1)) if rps else 0.0,
        _ms(out, "50%"),
        _ms(out, "99%"),
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


def check_token(token_url: str, jwks_url: str, client_id: str, secret: str) -> None:
    """Before loading a target, prove it issues RFC 9068 tokens that verify."""
    response = httpx.post(
        token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    response.raise_for_status()
    token = response.json()["access_token"]
    keys = tessera.KeySet.from_jwks(httpx.get(jwks_url).text)
    tessera.decode(token, keys, algorithms=["ES256"], audience=AUDIENCE, typ="at+jwt")


# -- targets --------------------------------------------------------------------------------


def _pg_database() -> str | None:
    import psycopg

    name = f"tessera_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL unavailable ({exc}): skipping its rows", flush=True)
        return None
    return name


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_tessera(wrk: str, backend: str, workers: int, args: argparse.Namespace) -> Result | None:
    from tessera.server import registry
    from tessera.server.config import database_url
    from tessera.server.storage import migrate
    from tessera.server.storage.database import Database

    folder = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    pg_name = None
    if backend == "postgresql":
        pg_name = _pg_database()
        if pg_name is None:
            return None
        url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
    else:
        url = str(folder / "tessera.db")
    db = Database(database_url(url))
    migrate.upgrade(db)
    created = registry.add_client(
        db, "bench", scope="read:docs", audiences=[AUDIENCE], now=time.time()
    )
    db.dispose()
    client_id, secret = created.record.client_id, created.secret or ""
    port = free_port()
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tessera.server", "serve", "--database", url,
            "--port", str(port), "--workers", str(workers),
        ],
        cwd=folder,
        env={**os.environ, "TESSERA_KEK": kek},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz", proc)
        check_token(base + "/token", base + "/jwks.json", client_id, secret)
        measured = run_wrk(
            wrk, base + "/token", client_id, secret,
            duration=args.duration, connections=args.connections,
        )  # fmt: skip
    finally:
        stop(proc)
        if pg_name:
            _drop_pg(pg_name)
        shutil.rmtree(folder, ignore_errors=True)
    return Result("tessera", backend, workers, *measured)


def bench_node(wrk: str, workers: int, args: argparse.Namespace) -> Result:
    port = free_port()
    client_id, secret = "bench", secrets.token_urlsafe(32)
    proc = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "PORT": str(port),
            "WORKERS": str(workers),
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "AUDIENCE": AUDIENCE,
            "NODE_ENV": "production",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/.well-known/openid-configuration", proc)
        jwks_uri = httpx.get(base + "/.well-known/openid-configuration").json()["jwks_uri"]
        check_token(base + "/token", jwks_uri, client_id, secret)
        measured = run_wrk(
            wrk, base + "/token", client_id, secret,
            duration=args.duration, connections=args.connections,
        )  # fmt: skip
    finally:
        stop(proc)
    return Result("node-oidc-provider", "memory", workers, *measured)


# -- the OpenID code exchange ---------------------------------------------------------------

_CODE_SCRIPT = """
local codes, index, step, counter = {}, 0, 1, 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args)
  for line in io.lines(args[1]) do codes[#codes + 1] = line end
  index, step = tid, tonumber(args[2])
end
function request()
  local code = codes[index + 1] or "exhausted"
  index = index + step
  return wrk.format("POST", nil, nil, "grant_type=authorization_code&code=" .. code ..
    "&redirect_uri=%s&code_verifier=%s")
end
"""


def _pkce() -> tuple[str, str]:
    import hashlib

    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def run_wrk_codes(
    wrk: str, url: str, client_id: str, secret: str, codes: list[str], verifier: str,
    *, duration: int, connections: int,
) -> tuple[float, float, float, int, int]:  # fmt: skip
    """wrk with each request redeeming the next code (two threads, interleaved); a short
    warm-up on codes of its own first."""
    from urllib.parse import quote

    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    warm, main = codes[:1000], codes[1000:]
    folder = Path(tempfile.mkdtemp(prefix="tessera-codes-"))
    try:
        script = folder / "codes.lua"
        script.write_text(
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Authorization"] = "Basic {auth}"\n'
            + _CODE_SCRIPT
            % (quote(REDIRECT, safe=""), verifier)
        )
        (folder / "warm.txt").write_text("\n".join(warm) + "\n")
        (folder / "main.txt").write_text("\n".join(main) + "\n")
        base = [wrk, "-t2", f"-c{connections}", "-s", str(script)]
        subprocess.run(
            [*base, "-d1s", url, "--", str(folder / "warm.txt"), "2"],
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [*base, f"-d{duration}s", "--latency", url, "--", str(folder / "main.txt"), "2"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return (
        float(rps.group(1)) if rps else 0.0,
        _ms(out, "50%"),
        _ms(out, "99%"),
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


def check_code(
    token_url: str, jwks_url: str, client_id: str, secret: str, code: str, verifier: str
) -> None:
    """Before loading a target, prove its code exchange returns an access token and an RS256
    ID token (aud = the client, our nonce; at_hash when present: OIDC Core makes it optional
    at the token endpoint, and node-oidc-provider leaves it out) that verify."""
    import hashlib

    response = httpx.post(
        token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
    )
    response.raise_for_status()
    body = response.json()
    keys = tessera.KeySet.from_jwks(httpx.get(jwks_url).text)
    tessera.decode(
        body["access_token"], keys, algorithms=["ES256"], audience=AUDIENCE, typ="at+jwt"
    )
    claims = tessera.decode(body["id_token"], keys, algorithms=["RS256"], audience=client_id)
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["nonce"] == NONCE
    if "at_hash" in claims:
        assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _code_count(args: argparse.Namespace) -> int:
    return int(1001 + args.duration * args.max_code_rate)


def seed_tessera_codes(url: str, count: int, challenge: str) -> tuple[str, str, list[str]]:
    """A web client, a person and ``count`` codes for them, as consent leaves them."""
    import dataclasses

    from tessera.server import accounts, registry
    from tessera.server.authorize import issue_code, validate
    from tessera.server.config import database_url, load_settings
    from tessera.server.storage import migrate
    from tessera.server.storage.database import Database

    settings = load_settings(os.devnull, env={}, database=url)
    db = Database(database_url(url))
    try:
        migrate.upgrade(db)
        created = registry.add_client(
            db, "bench-web", scope="openid read:docs", audiences=[AUDIENCE],
            redirect_uris=[REDIRECT], grant_types=["authorization_code"], now=time.time(),
        )  # fmt: skip
        person = accounts.add_user(db, "person", secrets.token_urlsafe(16), now=time.time())
        params = {
            "response_type": ["code"],
            "client_id": [created.record.client_id],
            "redirect_uri": [REDIRECT],
            "scope": ["openid read:docs"],
            "code_challenge": [challenge],
            "code_challenge_method": ["S256"],
            "nonce": [NONCE],
        }
        lasting = dataclasses.replace(settings, code_lifetime=900)
        now = time.time()
        with db.write() as conn:
            request = validate(conn, params, settings)
            codes = [
                issue_code(
                    conn, request, user_id=person.user_id, auth_time=now, settings=lasting, now=now
                )
                for _ in range(count)
            ]
    finally:
        db.dispose()
    return created.record.client_id, created.secret or "", codes


def bench_tessera_codes(
    wrk: str, backend: str, workers: int, args: argparse.Namespace
) -> Result | None:
    folder = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    pg_name = None
    if backend == "postgresql":
        pg_name = _pg_database()
        if pg_name is None:
            return None
        url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
    else:
        url = str(folder / "tessera.db")
    verifier, challenge = _pkce()
    client_id, secret, codes = seed_tessera_codes(url, _code_count(args), challenge)
    port = free_port()
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tessera.server", "serve", "--database", url,
            "--port", str(port), "--workers", str(workers),
        ],
        cwd=folder,
        env={**os.environ, "TESSERA_KEK": kek},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz", proc)
        check_code(base + "/token", base + "/jwks.json", client_id, secret, codes[0], verifier)
        measured = run_wrk_codes(
            wrk, base + "/token", client_id, secret, codes[1:], verifier,
            duration=args.duration, connections=args.connections,
        )  # fmt: skip
    finally:
        stop(proc)
        if pg_name:
            _drop_pg(pg_name)
        shutil.rmtree(folder, ignore_errors=True)
    return Result("tessera", backend, workers, *measured)


def bench_node_codes(wrk: str, args: argparse.Namespace) -> Result:
    port = free_port()
    client_id, secret = "bench-web", secrets.token_urlsafe(32)
    verifier, challenge = _pkce()
    folder = Path(tempfile.mkdtemp(prefix="node-codes-"))
    codes_file = folder / "codes.txt"
    proc = subprocess.Popen(
        ["node", "codes.mjs"],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "PORT": str(port),
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "AUDIENCE": AUDIENCE,
            "REDIRECT_URI": REDIRECT,
            "CODE_CHALLENGE": challenge,
            "CODES": str(_code_count(args)),
            "CODES_FILE": str(codes_file),
            "NODE_ENV": "production",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/.well-known/openid-configuration", proc, timeout=180)
        codes = codes_file.read_text().split()
        jwks_uri = httpx.get(base + "/.well-known/openid-configuration").json()["jwks_uri"]
        check_code(base + "/token", jwks_uri, client_id, secret, codes[0], verifier)
        measured = run_wrk_codes(
            wrk, base + "/token", client_id, secret, codes[1:], verifier,
            duration=args.duration, connections=args.connections,
        )  # fmt: skip
    finally:
        stop(proc)
        shutil.rmtree(folder, ignore_errors=True)
    return Result("node-oidc-provider", "memory", 1, *measured)


# -- UserInfo and dynamic client registration -----------------------------------------------

PERSON = {
    "name": "Jane Doe",
    "given_name": "Jane",
    "family_name": "Doe",
    "preferred_username": "jane",
    "locale": "en-GB",
    "email": "jane.doe@example.com",
    "email_verified": True,
}
"""The person's claims on both servers: what UserInfo must answer for openid profile email
(with ``updated_at``; Tessera's ``preferred_username`` is the user name)."""
REGISTRATION = {
    "redirect_uris": ["https://app.example/cb"],
    "client_name": "Bench App",
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code"],
    "response_types": ["code"],
}
"""RFC 7591 sec. 3.1: a public web client, the metadata every POST /register sends."""
ENDPOINT_GRANTS = ("userinfo", "register")


def _wrk_figures(out: str) -> tuple[float, float, float, int, int]:
    """Requests/s, p50 and p99 (ms), non-2xx answers and socket errors from wrk's report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return (
        float(rps.group(1)) if rps else 0.0,
        _ms(out, "50%"),
        _ms(out, "99%"),
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


def _endpoint_script(grant: str, access_token: str) -> str:
    """wrk's Lua for one endpoint: a GET with the bearer token, or a POST of the metadata."""
    if grant == "userinfo":
        return f'wrk.headers["Authorization"] = "Bearer {access_token}"\n'
    body = json.dumps(json.dumps(REGISTRATION, separators=(",", ":")))  # a Lua string literal
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = {body}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )


def run_wrk_endpoint(
    wrk: str, url: str, grant: str, access_token: str, *, duration: int, connections: int
) -> tuple[float, float, float, int, int]:
    """wrk on ``url`` for ``grant`` (userinfo or register), after a 2 s warm-up."""
    folder = Path(tempfile.mkdtemp(prefix="tessera-endpoint-"))
    try:
        script = folder / f"{grant}.lua"
        script.write_text(_endpoint_script(grant, access_token))
        base = [wrk, "-t2", f"-c{connections}", "-s", str(script)]
        subprocess.run([*base, "-d2s", url], check=True, capture_output=True)
        out = subprocess.run(
            [*base, f"-d{duration}s", "--latency", url], check=True, capture_output=True, text=True
        ).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _wrk_figures(out)


def check_endpoint(grant: str, url: str, access_token: str, subject: str) -> None:
    """Before loading a target, prove the endpoint answers as it should: UserInfo the person's
    claims exactly (with its sub), registration 201 with a client_id and our metadata."""
    if grant == "userinfo":
        response = httpx.get(url, headers={"Authorization": f"Bearer {access_token}"})
        response.raise_for_status()
        got = response.json()
        assert isinstance(got.pop("updated_at"), int), got  # both servers add it
        assert got == {**PERSON, "sub": subject}, got
        refused = httpx.get(url, headers={"Authorization": "Bearer " + access_token[:-2] + "xx"})
        assert refused.status_code == 401, refused.status_code
        return
    response = httpx.post(url, json=REGISTRATION)
    assert response.status_code == 201, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body.get("client_id"), str), body
    assert body["client_id"], body
    assert body["redirect_uris"] == REGISTRATION["redirect_uris"], body
    assert body["token_endpoint_auth_method"] == "none", body


def seed_tessera_userinfo(url: str, challenge: str) -> tuple[str, str, str, str]:
    """A web client with openid profile email, a person with PERSON's claims, and one code
    for them (redeemed for the access token once the server runs): client_id, secret, code,
    the person's username."""
    from tessera.server import accounts, registry
    from tessera.server.authorize import issue_code, validate
    from tessera.server.config import database_url, load_settings
    from tessera.server.storage import migrate
    from tessera.server.storage.database import Database

    settings = load_settings(os.devnull, env={}, database=url)
    db = Database(database_url(url))
    try:
        migrate.upgrade(db)
        created = registry.add_client(
            db, "bench-rp", scope="openid profile email", audiences=[AUDIENCE],
            redirect_uris=[REDIRECT], grant_types=["authorization_code"], now=time.time(),
        )  # fmt: skip
        person = accounts.add_user(db, "jane", secrets.token_urlsafe(16), now=time.time())
        stored = {k: v for k, v in PERSON.items() if k != "preferred_username"}  # = username
        accounts.update_claims(db, "jane", stored, now=time.time())
        params = {
            "response_type": ["code"],
            "client_id": [created.record.client_id],
            "redirect_uri": [REDIRECT],
            "scope": ["openid profile email"],
            "code_challenge": [challenge],
            "code_challenge_method": ["S256"],
            "nonce": [NONCE],
        }
        now = time.time()
        with db.write() as conn:
            request = validate(conn, params, settings)
            code = issue_code(
                conn, request, user_id=person.user_id, auth_time=now, settings=settings, now=now
            )
    finally:
        db.dispose()
    return created.record.client_id, created.secret or "", code, person.username


def _redeem(token_url: str, client_id: str, secret: str, code: str, verifier: str) -> str:
    """The access token for ``code`` (the RP's code exchange, once)."""
    response = httpx.post(
        token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def bench_tessera_endpoint(
    wrk: str, grant: str, backend: str, workers: int, args: argparse.Namespace
) -> Result | None:
    """``tessera serve`` with open registration; UserInfo with a code-flow access token."""
    folder = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    pg_name = None
    if backend == "postgresql":
        pg_name = _pg_database()
        if pg_name is None:
            return None
        url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
    else:
        url = str(folder / "tessera.db")
    verifier, challenge = _pkce()
    client_id, secret, code, _ = seed_tessera_userinfo(url, challenge)
    port = free_port()
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {
        **os.environ,
        "TESSERA_KEK": kek,
        "TESSERA_REGISTRATION": "true",
        "TESSERA_REGISTRATION_MAX_CLIENTS": "100000000",
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tessera.server", "serve", "--database", url,
            "--port", str(port), "--workers", str(workers),
        ],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz", proc)
        meta = httpx.get(base + "/.well-known/openid-configuration").json()
        endpoint = meta["userinfo_endpoint" if grant == "userinfo" else "registration_endpoint"]
        access_token = _redeem(meta["token_endpoint"], client_id, secret, code, verifier)
        subject = str(tessera.decode_unverified(access_token)[1]["sub"])
        check_endpoint(grant, endpoint, access_token, subject)
        measured = run_wrk_endpoint(
            wrk, endpoint, grant, access_token,
            duration=args.duration, connections=args.connections,
        )  # fmt: skip
    finally:
        stop(proc)
        if pg_name:
            _drop_pg(pg_name)
        shutil.rmtree(folder, ignore_errors=True)
    return Result("tessera", backend, workers, *measured)


def bench_node_endpoint(wrk: str, grant: str, args: argparse.Namespace) -> Result:
    """node-oidc-provider (bench/node-oidc-provider/endpoints.mjs), one process."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="node-endpoint-"))
    token_file = folder / "token.txt"
    proc = subprocess.Popen(
        ["node", "endpoints.mjs"],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "PORT": str(port),
            "CLIENT_SECRET": secrets.token_urlsafe(32),
            "REDIRECT_URI": REDIRECT,
            "PERSON_CLAIMS": json.dumps(PERSON),
            "TOKEN_FILE": str(token_file),
            "NODE_ENV": "production",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/.well-known/openid-configuration", proc)
        meta = httpx.get(base + "/.well-known/openid-configuration").json()
        endpoint = meta["userinfo_endpoint" if grant == "userinfo" else "registration_endpoint"]
        access_token = token_file.read_text().strip()
        check_endpoint(grant, endpoint, access_token, "person-1")
        measured = run_wrk_endpoint(
            wrk, endpoint, grant, access_token,
            duration=args.duration, connections=args.connections,
        )  # fmt: skip
    finally:
        stop(proc)
        shutil.rmtree(folder, ignore_errors=True)
    return Result("node-oidc-provider", "memory", 1, *measured)


def endpoint_table(grant: str, results: list[Result], args: argparse.Namespace) -> str:
    """One table for UserInfo or registration, with Tessera's rows against node's."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    what = (
        "GET /userinfo, Bearer access token for openid profile email (7 claims + sub)"
        if grant == "userinfo"
        else "POST /register (RFC 7591, open registration), a public web client's metadata"
    )
    lines = [
        f"{what}, wrk -t2 -c{args.connections} -d{args.duration}s, load average {load}",
        "",
        f"{'server':<20} {'storage':<11} {'workers':>7} {'requests/s':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7}",
    ]
    for r in results:
        lines.append(
            f"{r.target:<20} {r.backend:<11} {r.workers:>7} {r.tokens_per_s:>10,.0f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.non_2xx + r.socket_errors:>7}"
        )
    node = next((r for r in results if r.target != "tessera"), None)
    if node and node.tokens_per_s:
        ratios = [
            f"{r.backend} {r.workers}: {r.tokens_per_s / node.tokens_per_s:.2f}x"
            for r in results
            if r.target == "tessera"
        ]
        lines.append("tessera / node-oidc-provider: " + ", ".join(ratios))
    return "\n".join(lines)


def run_endpoints(
    wrk: str, grants: list[str], wanted: set[str], node: bool, args: argparse.Namespace
) -> dict[str, list[Result]]:
    """Every target for each of ``grants`` (userinfo, register), Tessera first, then node."""
    found: dict[str, list[Result]] = {}
    for grant in grants:
        found[grant] = []
        for backend, workers in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
            if f"tessera-{backend}" not in wanted:
                continue
            print(f"{grant}: tessera {backend} {workers} worker(s)...", flush=True)
            result = bench_tessera_endpoint(wrk, grant, backend, workers, args)
            if result:
                found[grant].append(result)
        if node:
            print(f"{grant}: node-oidc-provider 1 process...", flush=True)
            found[grant].append(bench_node_endpoint(wrk, grant, args))
    return found


# -- report ---------------------------------------------------------------------------------


def code_table(results: list[Result], args: argparse.Namespace) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "POST /token authorization_code + PKCE, scope openid (ES256 access token + RS256 ID "
        f"token), one code per request, wrk -t2 -c{args.connections} -d{args.duration}s, "
        f"load average {load}",
        "",
        f"{'server':<20} {'storage':<11} {'workers':>7} {'tokens/s':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7}",
    ]
    for r in results:
        lines.append(
            f"{r.target:<20} {r.backend:<11} {r.workers:>7} {r.tokens_per_s:>10,.0f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.non_2xx + r.socket_errors:>7}"
        )
    lines.append("(errors would include codes running out: raise --max-code-rate)")
    return "\n".join(lines)


def table(results: list[Result], args: argparse.Namespace) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"POST /token client_credentials, wrk -t2 -c{args.connections} -d{args.duration}s, "
        f"{os.cpu_count()} CPUs (wrk, server and database share them), load average {load}",
        "",
        f"{'server':<20} {'storage':<11} {'workers':>7} {'tokens/s':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7}",
    ]
    for r in results:
        lines.append(
            f"{r.target:<20} {r.backend:<11} {r.workers:>7} {r.tokens_per_s:>10,.0f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.non_2xx + r.socket_errors:>7}"
        )
    pg2 = next(
        (
            r
            for r in results
            if r.target == "tessera" and r.backend == "postgresql" and r.workers == 2
        ),
        None,
    )
    node2 = next((r for r in results if r.target != "tessera" and r.workers == 2), None)
    if pg2:
        lines.append("")
        lines.append(
            f"target: >= {TARGET_RPS} tokens/s with 2 workers on PostgreSQL: "
            f"{'met' if pg2.tokens_per_s >= TARGET_RPS else 'NOT met'} ({pg2.tokens_per_s:,.0f})"
        )
        lines.append(
            f"target: p99 < {TARGET_P99_MS:g} ms: "
            f"{'met' if pg2.p99_ms < TARGET_P99_MS else 'NOT met'} ({pg2.p99_ms:.2f} ms)"
        )
        if node2:
            ratio = pg2.tokens_per_s / node2.tokens_per_s if node2.tokens_per_s else float("inf")
            lines.append(f"tessera (PostgreSQL, 2 workers) / node-oidc-provider (2): {ratio:.2f}x")
    return "\n".join(lines)


def main_endpoints(wrk: str, wanted: set[str], node: bool, args: argparse.Namespace) -> int:
    """``--grant userinfo|register|endpoints``: those tables only (and their JSON)."""
    grants = list(ENDPOINT_GRANTS) if args.grant == "endpoints" else [args.grant]
    found = run_endpoints(wrk, grants, wanted, node, args)
    for grant, results in found.items():
        print()
        print(endpoint_table(grant, results, args))
    if args.json:
        document = {grant: [asdict(r) for r in results] for grant, results in found.items()}
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--only",
        choices=["tessera-sqlite", "tessera-postgresql", "node"],
        action="append",
        help="run only these targets (repeatable)",
    )
    parser.add_argument(
        "--grant",
        choices=["client_credentials", "authorization_code", "both", *ENDPOINT_GRANTS, "endpoints"],
        default="both",
        help="which table: client_credentials, the OpenID code exchange, or both (default); "
        "userinfo (GET /userinfo), register (POST /register) or endpoints (those two)",
    )
    parser.add_argument(
        "--max-code-rate",
        type=int,
        default=3000,
        help="codes made per second of --duration for the code exchange (default 3000)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    wanted = set(args.only or ["tessera-sqlite", "tessera-postgresql", "node"])
    wrk = ensure_wrk()
    results: list[Result] = []
    code_results: list[Result] = []
    node = "node" in wanted and ensure_node()
    if args.grant in (*ENDPOINT_GRANTS, "endpoints"):
        return main_endpoints(wrk, wanted, node, args)
    if args.grant in ("authorization_code", "both"):
        for backend, workers in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
            if f"tessera-{backend}" not in wanted:
                continue
            print(f"code exchange: tessera {backend} {workers} worker(s)...", flush=True)
            result = bench_tessera_codes(wrk, backend, workers, args)
            if result:
                code_results.append(result)
        if node:
            print("code exchange: node-oidc-provider 1 process...", flush=True)
            code_results.append(bench_node_codes(wrk, args))
    for backend in ("sqlite", "postgresql"):
        if args.grant == "authorization_code":
            break
        if f"tessera-{backend}" not in wanted:
            continue
        for workers in (1, 2):
            print(f"tessera {backend} {workers} worker(s)...", flush=True)
            result = bench_tessera(wrk, backend, workers, args)
            if result:
                results.append(result)
    if node and args.grant != "authorization_code":
        for workers in (1, 2):
            print(f"node-oidc-provider {workers} worker(s)...", flush=True)
            results.append(bench_node(wrk, workers, args))
    if results:
        print()
        print(table(results, args))
    if code_results:
        print()
        print(code_table(code_results, args))
    if args.json:
        document = {
            "client_credentials": [asdict(r) for r in results],
            "authorization_code_openid": [asdict(r) for r in code_results],
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
