"""Sign in with Tessera, both sides ours: ``tessera.oidc`` (the RelyingParty, and the FastAPI
SignIn helper on real uvicorn) against ``tessera serve``: discovery, code + PKCE + nonce, the
ID token verified, UserInfo claims by scope, refresh keeping sub and auth_time, RP-initiated
logout, and prompt=none afterwards refused with login_required. On both backends."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI
from serverhelp import Pkce, RunningServer, User, bound_socket, hidden_fields, query_of

from tessera.oidc import AuthorizationError, RelyingParty
from tessera.oidc.fastapi import SignIn
from tessera.oidc.fastapi import User as SignedIn
from tessera.server import accounts
from tessera.server.storage import oidc_clients
from tessera.server.storage.oidc_clients import OidcClient


def person(server: RunningServer) -> User:
    user = server.add_user()
    accounts.update_claims(
        server.db, user.username, {"email": "ada@example.org", "name": "Ada"}, now=server.clock()
    )
    return user


def register(server: RunningServer, base: str) -> tuple[str, str]:
    client = server.add_client(
        scope="openid profile email offline_access",
        audiences=(),
        redirect_uris=(base + "/auth/callback",),
    )
    with server.db.write() as conn:
        oidc_clients.save(
            conn, OidcClient(client.client_id, post_logout_redirect_uris=(base + "/",))
        )
    assert client.secret is not None
    return client.client_id, client.secret


def sign_in_at_tessera(browser: httpx.Client, server: RunningServer, url: str, user: User) -> str:
    """The person's part: sign in and consent on Tessera's pages; the app URL reached."""
    page = browser.get(url)
    assert page.status_code == 200, page.text
    signed = browser.post(
        server.url + "/authorize",
        data={**hidden_fields(page.text), "username": user.username, "password": user.password},
    )
    assert signed.status_code == 303, signed.text
    consent = browser.get(server.url + signed.headers["location"])
    allowed = browser.post(
        server.url + "/authorize", data={**hidden_fields(consent.text), "decision": "allow"}
    )
    assert allowed.status_code == 303, allowed.text
    return str(allowed.headers["location"])


def test_relying_party_signs_in_refreshes_and_signs_out(server: RunningServer) -> None:
    user = person(server)
    base = "http://127.0.0.1:9"
    client_id, secret = register(server, base)
    with (
        RelyingParty.from_provider(
            server.url,
            client_id=client_id,
            client_secret=secret,
            redirect_uri=base + "/auth/callback",
            scope="openid profile email offline_access",
        ) as rp,
        httpx.Client(timeout=10, follow_redirects=False) as browser,
    ):
        pending = rp.authorization_request(max_age=3600)
        landed = sign_in_at_tessera(browser, server, pending.url, user)
        tokens = rp.callback(pending, query_of(landed))
        id_token = tokens.id_token
        assert id_token is not None
        assert id_token.sub == user.user_id
        assert id_token.nonce == pending.nonce
        assert id_token.auth_time is not None
        assert rp.userinfo(tokens)["email"] == "ada@example.org"
        refreshed = rp.refresh(tokens)
        assert refreshed.id_token is not None
        assert refreshed.id_token.auth_time == id_token.auth_time
        out = browser.get(
            rp.logout_url(refreshed.id_token, post_logout_redirect_uri=base + "/", state="s")
        )
        assert out.status_code == 303, out.text
        assert out.headers["location"].startswith(base + "/")
        assert query_of(out.headers["location"])["state"] == "s"
        silent = rp.authorization_request(prompt="none")
        answer = browser.get(silent.url)
        with pytest.raises(AuthorizationError) as refused:
            rp.callback(silent, query_of(answer.headers["location"]))
        assert refused.value.error == "login_required"


@contextlib.contextmanager
def serving(app: Any, sock: Any) -> Iterator[None]:
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


def test_the_fastapi_helper_signs_a_person_in_with_tessera(server: RunningServer) -> None:
    user = person(server)
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client_id, secret = register(server, base)
    sign_in = SignIn(
        issuer=server.url,
        client_id=client_id,
        client_secret=secret,
        redirect_uri=base + "/auth/callback",
        post_logout_redirect_uri=base + "/",
        secret_key=secrets.token_urlsafe(32),
    )
    app = FastAPI()
    sign_in.install(app)

    @app.get("/")
    async def home(signed_in: SignedIn = Depends(sign_in.user)) -> dict[str, Any]:  # noqa: B008
        return {"sub": signed_in.sub, "name": signed_in.get("name")}

    with serving(app, sock), httpx.Client(timeout=10, follow_redirects=False) as browser:
        first = browser.get(base + "/")
        assert first.status_code == 303
        login = browser.get(base + first.headers["location"])
        assert login.headers["location"].startswith(server.url + "/authorize?")
        callback = sign_in_at_tessera(browser, server, login.headers["location"], user)
        assert callback.startswith(base + "/auth/callback?")
        done = browser.get(callback)
        assert done.status_code == 303, done.text
        assert browser.get(base + "/").json() == {"sub": user.user_id, "name": "Ada"}
        out = browser.get(base + "/auth/logout")
        ended = browser.get(out.headers["location"])
        assert ended.status_code == 303, ended.text
        assert ended.headers["location"].startswith(base + "/")
        assert browser.get(base + "/").status_code == 303


def test_the_apps_sign_in_keeps_the_servers_session_on_the_same_host(
    server: RunningServer,
) -> None:
    """Browsers keep cookies per host, not per port: an app and tessera serve both on
    127.0.0.1 write into one cookie jar. With the helper's default cookie name, signing in to
    the app keeps the person's session at Tessera (prompt=none then gets a code, no
    login_required) and the app keeps its own session."""
    user = person(server)
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client_id, secret = register(server, base)
    sign_in = SignIn(
        issuer=server.url,
        client_id=client_id,
        client_secret=secret,
        redirect_uri=base + "/auth/callback",
        secret_key=secrets.token_urlsafe(32),
    )
    app = FastAPI()
    sign_in.install(app)

    @app.get("/")
    async def home(signed_in: SignedIn = Depends(sign_in.user)) -> dict[str, Any]:  # noqa: B008
        return {"sub": signed_in.sub}

    with serving(app, sock), httpx.Client(timeout=10, follow_redirects=False) as browser:
        login = browser.get(base + "/auth/login")
        callback = sign_in_at_tessera(browser, server, login.headers["location"], user)
        assert browser.get(callback).status_code == 303
        kept = {(cookie.name, cookie.domain) for cookie in browser.cookies.jar}
        assert ("tessera_session", "127.0.0.1") in kept  # tessera serve's, on plain http
        assert (sign_in.cookie_name, "127.0.0.1") in kept
        pkce = Pkce.new()
        again = browser.get(
            server.url + "/authorize",
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": base + "/auth/callback",
                "scope": "openid profile email",
                "state": "s",
                "nonce": "n",
                "prompt": "none",
                "code_challenge": pkce.challenge,
                "code_challenge_method": "S256",
            },
        )
        assert again.status_code == 303, again.text
        answer = query_of(again.headers["location"])
        assert "error" not in answer, answer
        assert answer["code"]
        assert browser.get(base + "/").json() == {"sub": user.user_id}
    assert sign_in.cookie_name == "tessera_rp_session"
