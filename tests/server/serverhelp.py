"""Helpers for the server tests: databases on both backends, a time-travel clock, and real
uvicorn servers on 127.0.0.1 (in a thread, or ``tessera serve`` in a subprocess)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import tessera
from tessera.server import registry
from tessera.server.app import Context, create_app
from tessera.server.config import Settings, load_settings
from tessera.server.kek import KEK
from tessera.server.storage import migrate
from tessera.server.storage.database import Database

PG_HOST = os.environ.get("TESSERA_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:5432/postgres"
REQUIRE_SERVICES = os.environ.get("TESSERA_REQUIRE_SERVICES") == "1"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class FakeClock:
    """A clock that stands still until a test moves it: time travel instead of sleeping."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(time.time() if start is None else start))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_HOST}:5432 is unreachable: {exc}".strip()
    return None


class Databases:
    """Fresh databases on demand: SQLite files, PostgreSQL databases with random names."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.created: list[str] = []
        self._pg_checked: str | bool | None = False

    def new(self, backend: str) -> str:
        if backend == "sqlite":
            # 0600 like the file tessera creates: the commands warn about one others can read
            path = self.folder / f"tessera-{secrets.token_hex(4)}.db"
            path.touch(mode=0o600)
            return f"sqlite:///{path}"
        if self._pg_checked is False:
            self._pg_checked = postgres_unavailable()
        if isinstance(self._pg_checked, str):
            if REQUIRE_SERVICES:
                pytest.fail(f"{self._pg_checked} (TESSERA_REQUIRE_SERVICES=1)")
            pytest.skip(self._pg_checked)
        import psycopg

        name = f"tessera_test_{secrets.token_hex(6)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bound_socket() -> socket.socket:
    """A listening-ready socket on a free 127.0.0.1 port (handed to uvicorn: no race)."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with contextlib.closing(bound_socket()) as sock:
        return int(sock.getsockname()[1])


def make_settings(database: str, port: int, **overrides: Any) -> Settings:
    return load_settings(
        os.devnull,
        env={},
        database=database,
        port=port,
        issuer=overrides.pop("issuer", None),
        **overrides,
    )


@dataclass
class Client:
    """A registered client and its credentials."""

    client_id: str
    secret: str | None
    name: str
    key: tessera.Key | None = None


@dataclass
class User:
    """A person who can sign in."""

    username: str
    password: str
    user_id: str


@dataclass
class Pkce:
    """A PKCE verifier and its S256 challenge."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        import base64
        import hashlib

        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


_HIDDEN = re.compile(r'<input type=hidden name="([^"]*)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of the first form on a page."""
    import html

    form = page.split("</form>", 1)[0]
    return {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(form)}


@dataclass
class RunningServer:
    """A real server in a thread; ``http`` is an httpx client pointed at it."""

    settings: Settings
    db: Database
    clock: FakeClock
    context: Context
    http: httpx.Client
    backend: str
    names: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.settings.issuer

    @property
    def token_url(self) -> str:
        return self.settings.token_endpoint

    def add_client(
        self,
        *,
        scope: str = "read:docs write:docs",
        audiences: Sequence[str] = ("https://api.example",),
        key: tessera.Key | None = None,
        client_type: str = "confidential",
        redirect_uris: Sequence[str] = (),
        grant_types: Sequence[str] | None = None,
    ) -> Client:
        name = f"client-{secrets.token_hex(4)}"
        jwks = None
        if key is not None:
            jwks = tessera.KeySet([key.public()]).to_jwks()
            import json

            jwks = json.dumps(jwks)
        created = registry.add_client(
            self.db,
            name,
            scope=scope,
            audiences=audiences,
            jwks=jwks,
            client_type=client_type,
            redirect_uris=redirect_uris,
            grant_types=grant_types,
            now=self.clock(),
        )
        return Client(created.record.client_id, created.secret, name, key)

    def add_user(self, password: str = "correct horse battery") -> User:
        """A new user with a random name."""
        from tessera.server import accounts

        name = f"user-{secrets.token_hex(4)}"
        record = accounts.add_user(self.db, name, password, now=self.clock())
        return User(name, password, record.user_id)

    def assertion(
        self,
        client: Client,
        *,
        claims: dict[str, Any] | None = None,
        key: tessera.Key | None = None,
        headers: dict[str, Any] | None = None,
        typ: str | None = None,
    ) -> str:
        now = int(self.clock())
        body: dict[str, Any] = {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": self.token_url,
            "exp": now + 60,
            "iat": now,
            "jti": secrets.token_urlsafe(12),
        }
        body.update(claims or {})
        for name in [k for k, v in body.items() if v is None]:
            del body[name]
        signer = key or client.key
        assert signer is not None
        return tessera.encode(body, signer, headers=headers, typ=typ)

    def post_token(self, data: Any = None, **kwargs: Any) -> httpx.Response:
        """POST a form; ``data`` may be a dict or a list of pairs (repeated parameters)."""
        if isinstance(data, list):
            from urllib.parse import urlencode

            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                **kwargs.pop("headers", {}),
            }
            return self.http.post("/token", content=urlencode(data), headers=headers, **kwargs)
        return self.http.post("/token", data=data, **kwargs)


class Browser:
    """A person's browser, played with httpx: cookies kept, redirects not followed."""

    def __init__(self, server: RunningServer | ServeProcess) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, params: dict[str, str]) -> httpx.Response:
        """GET /authorize with ``params``."""
        return self.http.get("/authorize", params=params)

    def post(self, fields: dict[str, str], **extra: str) -> httpx.Response:
        """POST the authorize form."""
        return self.http.post("/authorize", data={**fields, **extra})

    def sign_in(self, params: dict[str, str], user: User) -> httpx.Response:
        """Open the request, sign in; the consent page."""
        page = self.open(params)
        assert page.status_code == 200, page.text
        signed = self.post(hidden_fields(page.text), username=user.username, password=user.password)
        assert signed.status_code == 303, signed.text
        consent = self.http.get(signed.headers["location"])
        assert consent.status_code == 200, consent.text
        assert "decision" in consent.text
        return consent

    def authorize(self, params: dict[str, str], user: User, decision: str = "allow") -> str:
        """Sign in and decide; the Location the browser is sent to."""
        consent = self.sign_in(params, user)
        answer = self.post(hidden_fields(consent.text), decision=decision)
        assert answer.status_code == 303, answer.text
        return str(answer.headers["location"])


def auth_params(
    client: Client, redirect_uri: str, pkce: Pkce, *, scope: str | None = None, **extra: str
) -> dict[str, str]:
    """The parameters of an authorization request with PKCE S256."""
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(12),
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    if scope is not None:
        params["scope"] = scope
    params.update(extra)
    return params


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect (each once)."""
    from urllib.parse import parse_qs, urlsplit

    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


@contextlib.contextmanager
def running_server(
    database: str,
    backend: str,
    *,
    clock: FakeClock | None = None,
    kek: KEK | None = None,
    issuer_path: str = "",
    **overrides: Any,
) -> Iterator[RunningServer]:
    """Migrate ``database``, start the app under uvicorn in a thread, stop it afterwards."""
    import uvicorn

    sock = bound_socket()
    port = int(sock.getsockname()[1])
    if issuer_path:
        overrides["issuer"] = f"http://127.0.0.1:{port}{issuer_path}"
    settings = make_settings(database, port, **overrides)
    db = Database(settings.database)
    migrate.upgrade(db)
    clock = clock or FakeClock()
    app = create_app(settings, db=db, kek=kek or KEK.generate(), clock=clock, maintenance=False)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    http = httpx.Client(base_url=settings.issuer, timeout=10)
    try:
        yield RunningServer(settings, db, clock, app.state.context, http, backend)
    finally:
        http.close()
        server.should_exit = True
        thread.join(10)
        sock.close()
        db.dispose()


# -- subprocesses ---------------------------------------------------------------------------


def cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> Any:
    """Run ``python -m tessera.server ARGS`` (``stdin`` as its input); the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "tessera.server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


class ServeProcess:
    """``tessera serve`` in a subprocess on a free port; stopped with SIGINT."""

    def __init__(self, database: str, env: dict[str, str], cwd: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tessera.server",
                "serve",
                "--database",
                database,
                "--port",
                str(self.port),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **env},
            cwd=cwd,
        )
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited:\n" + "".join(self.output))
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("serve did not become ready:\n" + "".join(self.output))

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
