"""The authorization code flow in Debian's Chromium (headless, driven by Playwright): a person
signs in on the real page and consents, a tiny local app receives the code, the code is
exchanged with PKCE, the access token verifies, the refresh token rotates, and reusing the old
one is refused and kills the grant. On both backends.

Screenshots of the pages go to ``artifacts/server/``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from serverhelp import Pkce, RunningServer

import tessera

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "server"
CHROMIUM = Path(os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_browser() -> None:
    """Skip (or, with TESSERA_REQUIRE_SERVICES=1, fail) when Playwright or Chromium is missing."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "the playwright package is not installed"
    if reason is None and not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM}: run scripts/install-test-tools.sh"
    if reason is not None:
        if os.environ.get("TESSERA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


class App:
    """The client application's redirect endpoint: records every query it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/callback":  # not /favicon.ico
                    query = parse_qs(parts.query)
                    outer.received.append({k: v[0] for k, v in query.items()})
                body = b"<!doctype html><title>app</title><p id=done>signed in</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.callback = f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"

    @contextlib.contextmanager
    def running(self) -> Iterator[App]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join(5)


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    with App().running() as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def test_person_signs_in_in_chromium_and_the_app_gets_tokens(
    server: RunningServer, app: App, chromium: Any
) -> None:
    client = server.add_client(
        scope="read:docs write:docs offline_access", redirect_uris=(app.callback,)
    )
    user = server.add_user()
    pkce = Pkce.new()
    state = "st-" + pkce.verifier[:10]
    url = (
        server.url
        + "/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": app.callback,
                "scope": "read:docs offline_access",
                "state": state,
                "code_challenge": pkce.challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    context = chromium.new_context(viewport={"width": 420, "height": 760})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(url)
        assert page.title() == "Sign in"
        assert client.name in page.inner_text("main")
        page.screenshot(path=str(ARTIFACTS / f"signin-{server.backend}.png"))
        page.fill("#username", user.username)
        page.fill("#password", "not the password")
        page.click("#signin")
        assert "Wrong user name or password" in page.inner_text("#error")
        page.fill("#password", user.password)
        page.click("#signin")
        page.wait_for_selector("#allow")
        text = page.inner_text("main")
        assert "Read your docs" in text
        assert "Stay connected while you are away" in text
        page.screenshot(path=str(ARTIFACTS / f"consent-{server.backend}.png"))
        page.click("#allow")
        page.wait_for_url(app.callback + "?**")
        assert page.inner_text("#done") == "signed in"
        cookies = {c["name"]: c for c in context.cookies(server.url)}
        assert cookies["tessera_session"]["httpOnly"] is True
        assert cookies["tessera_session"]["sameSite"] == "Lax"
    finally:
        context.close()
    # The wrong password is answered 400: Chromium logs that; anything else (a CSP violation,
    # a script error) is a problem.
    assert [p for p in problems if "status of 400" not in p] == []

    received = app.received[-1]
    assert received["state"] == state
    assert received["iss"] == server.url
    auth = "Basic " + base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    exchanged = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": received["code"],
            "redirect_uri": app.callback,
            "code_verifier": pkce.verifier,
        },
        headers={"Authorization": auth},
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    keys = tessera.KeySet.from_jwks(server.http.get("/jwks.json").text)
    claims = tessera.decode(
        tokens["access_token"],
        keys,
        algorithms=["ES256"],
        issuer=server.url,
        audience="https://api.example",
        typ="at+jwt",
        now=server.clock(),
    )
    assert claims["sub"] == user.user_id
    assert claims["scope"] == "read:docs offline_access"

    def use(refresh_token: str) -> Any:
        return server.post_token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            headers={"Authorization": auth},
        )

    rotated = use(tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    reused = use(tokens["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    killed = use(new["refresh_token"])  # the family is gone with the reuse
    assert killed.status_code == 400
    assert killed.json()["error"] == "invalid_grant"


def test_unregistered_redirect_shows_the_error_page_in_chromium(
    server: RunningServer, app: App, chromium: Any
) -> None:
    client = server.add_client(redirect_uris=(app.callback,))
    seen = len(app.received)
    url = (
        server.url
        + "/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": app.callback + "/evil",
                "code_challenge": Pkce.new().challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    context = chromium.new_context()
    try:
        page = context.new_page()
        response = page.goto(url)
        assert response.status == 400
        assert "not registered" in page.inner_text("#error")
        assert page.url == url
    finally:
        context.close()
    assert len(app.received) == seen
