"""A second relying party nobody here wrote: Authlib's Starlette OpenID client. A small web
app registers Tessera by its discovery URL; a person's browser goes to the app's /login,
signs in and consents, and the app's callback lets Authlib exchange the code (PKCE S256,
state, nonce; the ID token verified by Authlib with the JWKS, at_hash included), read
UserInfo, refresh (a new ID token, parsed by Authlib again) and send the browser to the
end-session endpoint. The browser is httpx over the real forms, and Debian's Chromium
(Playwright) for the pages themselves: sign-in, consent, and the sign-out confirmation.
On both backends."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from serverhelp import REQUIRE_SERVICES, RunningServer, User, bound_socket, hidden_fields, query_of
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tessera.server import accounts
from tessera.server.storage import oidc_clients
from tessera.server.storage.oidc_clients import OidcClient


@contextlib.contextmanager
def serving(app: Starlette, sock: Any) -> Iterator[None]:
    """``app`` under uvicorn on ``sock`` (bound to 127.0.0.1) until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the app stopped"
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def relying_party(issuer: str, client_id: str, secret: str, base: str) -> Starlette:
    """The web app: Authlib does every OpenID step; it reports what it got as JSON."""
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        "tessera",
        client_id=client_id,
        client_secret=secret,
        server_metadata_url=issuer + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email offline_access"},
        code_challenge_method="S256",
    )
    remote: Any = oauth.create_client("tessera")

    async def login(request: Request) -> Response:
        return await remote.authorize_redirect(request, base + "/callback")  # type: ignore[no-any-return]

    async def callback(request: Request) -> Response:
        token = await remote.authorize_access_token(request)
        userinfo = await remote.userinfo(token=token)
        refreshed = await remote.fetch_access_token(
            grant_type="refresh_token", refresh_token=token["refresh_token"]
        )
        refreshed_claims = await remote.parse_id_token(refreshed, nonce=None)
        request.session["id_token"] = refreshed["id_token"]
        return JSONResponse(
            {
                "id_token_claims": dict(token["userinfo"]),
                "userinfo": dict(userinfo),
                "refreshed_claims": dict(refreshed_claims),
            }
        )

    async def logout(request: Request) -> Response:
        metadata = await remote.load_server_metadata()
        query = {
            "id_token_hint": request.session.pop("id_token"),
            "post_logout_redirect_uri": base + "/bye",
            "state": "authlib-bye",
        }
        return RedirectResponse(metadata["end_session_endpoint"] + "?" + urlencode(query))

    async def bye(request: Request) -> Response:
        return JSONResponse({"signed_out": request.query_params.get("state")})

    return Starlette(
        routes=[
            Route("/login", login),
            Route("/callback", callback),
            Route("/logout", logout),
            Route("/bye", bye),
        ],
        middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32))],
    )


def person(server: RunningServer) -> User:
    user = server.add_user()
    accounts.update_claims(
        server.db,
        user.username,
        {"email": "alan@example.org", "name": "Alan Turing"},
        now=server.clock(),
    )
    return user


@contextlib.contextmanager
def web_app(server: RunningServer) -> Iterator[str]:
    """The Authlib app, registered as a client, running; its base URL."""
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = server.add_client(
        scope="openid profile email offline_access",
        audiences=(),
        redirect_uris=(url + "/callback",),
    )
    with server.db.write() as conn:
        oidc_clients.save(
            conn, OidcClient(client.client_id, post_logout_redirect_uris=(url + "/bye",))
        )
    app = relying_party(server.url, client.client_id, client.secret or "", url)
    with serving(app, sock):
        yield url


def test_authlib_openid_client_signs_in_refreshes_and_signs_out(server: RunningServer) -> None:
    user = person(server)
    with web_app(server) as url, httpx.Client(timeout=10, follow_redirects=False) as browser:
        start = browser.get(url + "/login")
        assert start.status_code == 302, start.text
        authorize = start.headers["location"]
        assert authorize.startswith(server.url + "/authorize?")
        sent = query_of(authorize)
        assert sent["code_challenge_method"] == "S256"
        assert "nonce" in sent
        page = browser.get(authorize)
        signed = browser.post(
            server.url + "/authorize",
            data={**hidden_fields(page.text), "username": user.username, "password": user.password},
        )
        consent = browser.get(server.url + signed.headers["location"])
        allowed = browser.post(
            server.url + "/authorize", data={**hidden_fields(consent.text), "decision": "allow"}
        )
        assert allowed.status_code == 303
        result = browser.get(allowed.headers["location"])
        assert result.status_code == 200, result.text
        seen = result.json()
        claims = seen["id_token_claims"]
        assert claims["sub"] == user.user_id
        assert claims["nonce"] == sent["nonce"]
        assert claims["email"] == "alan@example.org"
        assert seen["userinfo"]["name"] == "Alan Turing"
        assert seen["userinfo"]["sub"] == user.user_id
        assert seen["refreshed_claims"]["auth_time"] == claims["auth_time"]
        out = browser.get(url + "/logout")
        assert out.status_code == 307
        ended = browser.get(out.headers["location"])
        assert ended.status_code == 303, ended.text
        assert browser.get(ended.headers["location"]).json() == {"signed_out": "authlib-bye"}
        again = browser.get(
            authorize.replace("response_type=code", "response_type=code&prompt=none")
        )
        assert "error=login_required" in again.headers["location"]


CHROMIUM = Path(os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "server"


def test_chromium_signs_in_to_the_authlib_app_and_out_again(server: RunningServer) -> None:
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed"
    if reason is None and not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM}: run scripts/install-test-tools.sh"
    if reason is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    user = person(server)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with web_app(server) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            page = browser.new_context(viewport={"width": 420, "height": 760}).new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(  # any failed load but the favicon the browser asks the app for
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.goto(url + "/login")
            assert page.title() == "Sign in"
            page.fill("#username", user.username)
            page.fill("#password", user.password)
            page.click("#signin")
            page.wait_for_selector("#allow")
            words = page.inner_text("main")
            assert "Know who you are" in words
            assert "See your email address" in words
            page.screenshot(path=str(ARTIFACTS / f"oidc-consent-{server.backend}.png"))
            page.click("#allow")
            page.wait_for_url(url + "/callback?**")
            seen = json.loads(page.inner_text("body"))
            assert seen["id_token_claims"]["sub"] == user.user_id
            assert seen["userinfo"]["email"] == "alan@example.org"
            # Without an id_token_hint the person is asked before being signed out.
            page.goto(server.url + "/logout?" + urlencode({"client_id": client_of(server, url)}))
            assert page.title() == "Sign out"
            page.screenshot(path=str(ARTIFACTS / f"oidc-logout-{server.backend}.png"))
            page.click("#logout")
            page.wait_for_selector("#signed-out")
            page.goto(url + "/login")
            assert page.title() == "Sign in"  # the session is gone
        finally:
            browser.close()
    assert problems == []


def client_of(server: RunningServer, url: str) -> str:
    """The client id registered for the app at ``url``."""
    from tessera.server import registry

    for record in registry.list_clients(server.db):
        if url + "/callback" in record.redirect_uris:
            return record.client_id
    raise AssertionError("the app is not registered")
