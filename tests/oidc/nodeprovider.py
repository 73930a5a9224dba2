"""panva's node-oidc-provider (npm registry, run with node) as the OpenID provider nobody here
wrote, and a person driving its sign-in, consent and logout pages over plain HTTP.

The package is installed into ``tests/oidc/node/node_modules`` on first use. Without node/npm
the tests skip with the reason, or fail with TESSERA_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from oidchelp import free_socket

NODE_DIR = Path(__file__).resolve().parent / "node"


def _unavailable(reason: str) -> None:
    if os.environ.get("TESSERA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def ensure_installed() -> None:
    """npm-install oidc-provider next to provider.mjs unless it is there."""
    if not shutil.which("node") or not shutil.which("npm"):
        _unavailable("node/npm not found: node-oidc-provider cannot run")
    if (NODE_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--silent"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        _unavailable(f"npm install oidc-provider failed: {result.stderr[-500:]}")


@dataclass
class NodeProvider:
    """A running node-oidc-provider: its issuer URL and its process output."""

    issuer: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)


@contextmanager
def node_provider(clients: list[dict[str, Any]]) -> Iterator[NodeProvider]:
    """Start provider.mjs on a free port with ``clients``; stop it afterwards."""
    ensure_installed()
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()  # node binds it next; a race with another binder only fails this start
    env = {**os.environ, "PORT": str(port), "CLIENTS": json.dumps(clients)}
    process = subprocess.Popen(
        ["node", "provider.mjs"],
        cwd=NODE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = NodeProvider(f"http://127.0.0.1:{port}", process)
    started = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.output.append(line.rstrip())
            if line.startswith("listening "):
                started.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not started.wait(30):
            raise RuntimeError("node-oidc-provider did not start: " + "\n".join(running.output))
        yield running
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()


# -- a person in front of the provider's pages ---------------------------------------------------


@dataclass
class Form:
    action: str
    fields: dict[str, str]
    id: str | None


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), {}, values.get("id")))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1].fields[values.get("name", "")] = values.get("value", "")


def forms_of(page: str) -> list[Form]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class Person:
    """A browser without JavaScript: keeps the provider's cookies, follows the provider's own
    redirects, fills its login and consent forms, and stops at a redirect to the app."""

    def __init__(self, provider: NodeProvider, login: str = "alice") -> None:
        self.provider = provider
        self.login = login
        self.http = httpx.Client(follow_redirects=False, timeout=10)
        self.pages: list[str] = []

    def close(self) -> None:
        self.http.close()

    def _follow(self, response: httpx.Response) -> httpx.Response | str:
        """Follow redirects within the provider; a redirect elsewhere returns its Location."""
        for _ in range(20):
            if response.status_code not in (302, 303):
                return response
            location = urljoin(str(response.url), response.headers["location"])
            if not location.startswith(self.provider.issuer + "/"):
                return location
            response = self.http.get(location)
        raise AssertionError("too many redirects")

    def go(self, url: str) -> str:
        """Open ``url`` and get through sign-in and consent; returns where the app is reached."""
        result = self._follow(self.http.get(url))
        for _ in range(5):
            if isinstance(result, str):
                return result
            page = result.text
            self.pages.append(page)
            assert result.status_code == 200, page[:500]
            form = forms_of(page)[0]
            data = dict(form.fields)
            if data.get("prompt") == "login":
                data.update(login=self.login, password="any")
            action = urljoin(str(result.url), form.action)
            result = self._follow(self.http.post(action, data=data))
        raise AssertionError("the provider kept asking")

    def log_out(self, url: str) -> str:
        """Open the RP-initiated logout URL and confirm; returns where the app is reached."""
        result = self._follow(self.http.get(url))
        assert not isinstance(result, str)
        assert result.status_code == 200
        form = next(f for f in forms_of(result.text) if f.id == "op.logoutForm")
        data = {**form.fields, "logout": "yes"}
        final = self._follow(self.http.post(urljoin(str(result.url), form.action), data=data))
        assert isinstance(final, str), "the logout did not redirect back to the app"
        return final


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class BackChannel:
    """The app's back-channel logout endpoint: records every logout_token POSTed to it."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.received = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                outer.tokens.extend(form.get("logout_token", []))
                outer.received.set()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/backchannel"

    @contextmanager
    def running(self) -> Iterator[BackChannel]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join(5)


def web_client(
    client_id: str,
    redirect_uri: str,
    *,
    secret: str | None,
    method: str,
    alg: str = "RS256",
    post_logout: str | None = None,
    backchannel: str | None = None,
) -> Mapping[str, Any]:
    """A client registration for provider.mjs."""
    client: dict[str, Any] = {
        "client_id": client_id,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "id_token_signed_response_alg": alg,
    }
    if secret is not None:
        client["client_secret"] = secret
    if post_logout is not None:
        client["post_logout_redirect_uris"] = [post_logout]
    if backchannel is not None:
        client["backchannel_logout_uri"] = backchannel
        client["backchannel_logout_session_required"] = True
    return client
