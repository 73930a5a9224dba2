"""CORS for browser-based clients (a single-page app, the MCP Inspector): only the endpoints
they call answer the ``allowed_origins``, with the methods and headers each needs and never
with credentials; the sign-in pages, introspection, the debugger and metrics never do. Checked
with raw preflights over HTTP and with fetch() in Chromium from an allowed and another origin."""

from __future__ import annotations

import http.server
import os
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverhelp import Databases, RunningServer, bound_socket, running_server

INSPECTOR = "http://localhost:6274"  # the MCP Inspector's origin
CHROMIUM = Path(os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium"))
CALLBACK = "http://127.0.0.1:6274/oauth/callback"


@pytest.fixture(scope="module")
def page_server() -> Iterator[int]:
    """A blank page on 127.0.0.1 (and localhost): the browser app's own origin."""

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>app</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    sock = bound_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    httpd = socketserver.TCPServer(("127.0.0.1", port), Blank)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases, page_server: int) -> Iterator[RunningServer]:
    origins = [INSPECTOR, f"http://127.0.0.1:{page_server}/"]  # a trailing slash is forgiven
    with running_server(
        databases.new(backend),
        backend,
        allowed_origins=origins,
        registration=True,
        dynamic_scopes=["mcp:tools"],
        default_audience=["https://mcp.example/mcp"],
        metrics=True,
    ) as running:
        yield running


def preflight(
    server: RunningServer, path: str, method: str, headers: str = "", origin: str = INSPECTOR
) -> httpx.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return server.http.options(path, headers=asked)


def allowed(response: httpx.Response, origin: str = INSPECTOR) -> None:
    assert response.headers.get("access-control-allow-origin") == origin, response.headers
    assert "access-control-allow-credentials" not in response.headers


def not_cors(response: httpx.Response) -> None:
    assert not any(name.startswith("access-control-") for name in response.headers), (
        response.headers
    )


@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/jwks.json"],
)
def test_public_documents_answer_an_allowed_origin(server: RunningServer, path: str) -> None:
    response = server.http.get(path, headers={"Origin": INSPECTOR})
    assert response.status_code == 200
    allowed(response)
    assert "Origin" in response.headers.get("vary", "")
    evil = server.http.get(path, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/token", "POST", "content-type, authorization"),
        ("/revoke", "POST", "authorization"),
        ("/register", "POST", "content-type"),
        ("/register/some-client", "PUT", "authorization, content-type"),
        ("/register/some-client", "DELETE", "authorization"),
        ("/userinfo", "GET", "authorization"),
    ],
)
def test_preflights_of_browser_endpoints_are_granted_narrowly(
    server: RunningServer, path: str, method: str, headers: str
) -> None:
    granted = preflight(server, path, method, headers)
    assert granted.status_code == 200, granted.text
    allowed(granted)
    assert method in granted.headers["access-control-allow-methods"]
    assert int(granted.headers["access-control-max-age"]) == 600
    refused = preflight(server, path, method, headers, origin="https://evil.example")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    cookie = preflight(server, path, method, "cookie")  # not a header these take
    assert cookie.status_code == 400


@pytest.mark.parametrize(
    ("path", "method"),
    [("/token", "DELETE"), ("/token", "GET"), ("/register", "PUT"), ("/jwks.json", "POST")],
)
def test_preflights_for_methods_an_endpoint_lacks_are_refused(
    server: RunningServer, path: str, method: str
) -> None:
    assert preflight(server, path, method).status_code == 400


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/authorize", "GET"),
        ("/authorize", "POST"),
        ("/logout", "POST"),
        ("/introspect", "POST"),
        ("/debugger/", "GET"),
        ("/metrics", "GET"),
        ("/healthz", "GET"),
    ],
)
def test_other_endpoints_send_no_cors_headers(
    server: RunningServer, path: str, method: str
) -> None:
    not_cors(preflight(server, path, method, "content-type"))
    not_cors(server.http.request(method, path, headers={"Origin": INSPECTOR}))


def test_token_errors_are_readable_with_their_challenge(server: RunningServer) -> None:
    response = server.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=("nobody", "wrong"),
        headers={"Origin": INSPECTOR},
    )
    assert response.status_code == 401
    allowed(response)
    assert "WWW-Authenticate" in response.headers["access-control-expose-headers"]


def test_a_page_on_an_allowed_origin_discovers_registers_and_reaches_the_token_endpoint(
    server: RunningServer, page_server: int
) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM}: run scripts/install-test-tools.sh")
    script = """async ({issuer, callback}) => {
        const outcome = async (promise) => {
            try { const r = await promise; return [r.status, await r.text()]; }
            catch (e) { return ["blocked", String(e)]; }
        };
        const meta = await outcome(fetch(issuer + "/.well-known/oauth-authorization-server"));
        const registered = await outcome(fetch(issuer + "/register", {
            method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({redirect_uris: [callback], token_endpoint_auth_method: "none",
                                  client_name: "browser app", scope: "mcp:tools"})}));
        const clientId = registered[0] === 201 ? JSON.parse(registered[1]).client_id : "x";
        const token = await outcome(fetch(issuer + "/token", {method: "POST",
            body: new URLSearchParams({grant_type: "authorization_code", code: "not-a-code",
              redirect_uri: callback, code_verifier: "v".repeat(43), client_id: clientId})}));
        const basic = await fetch(issuer + "/token", {method: "POST",
            headers: {Authorization: "Basic " + btoa("nobody:wrong")},
            body: new URLSearchParams({grant_type: "client_credentials"})});
        const introspect = await outcome(fetch(issuer + "/introspect", {method: "POST",
            body: new URLSearchParams({token: "x"})}));
        return {meta, registered, token, introspect,
                challenge: basic.headers.get("WWW-Authenticate")};
    }"""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{page_server}/")
            seen = page.evaluate(script, {"issuer": server.url, "callback": CALLBACK})
            page.goto(f"http://localhost:{page_server}/")  # same server, an origin not allowed
            elsewhere = page.evaluate(
                """async (issuer) => { try { await fetch(issuer + "/jwks.json"); return "read"; }
                   catch (e) { return "blocked"; } }""",
                server.url,
            )
        finally:
            browser.close()
    assert seen["meta"][0] == 200
    assert '"registration_endpoint"' in seen["meta"][1]
    assert seen["registered"][0] == 201, seen["registered"]
    assert seen["token"][0] == 400
    assert '"invalid_grant"' in seen["token"][1]
    assert seen["challenge"].startswith("Basic")
    assert seen["introspect"][0] == "blocked"
    assert elsewhere == "blocked"


def _unavailable(reason: str) -> None:
    if os.environ.get("TESSERA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
    pytest.skip(reason)
