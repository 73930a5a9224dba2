"""Back-channel logout, both sides ours: a FastAPI app on real uvicorn with
``tessera.oidc.fastapi.SignIn(backchannel_logout_path=...)``, registered at a real server
with that ``backchannel_logout_uri``. Signing out (RP-initiated) makes the server POST a
logout token to the app, after which a kept copy of the session cookie is refused; a session
of the same person from another browser (another sid) stays; signing in again works. Both
backends; and once against ``tessera serve`` in its own process, set up with the CLI."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from serverhelp import RunningServer, ServeProcess, User, bound_socket, cli
from test_server_oidc_tessera_rp import person, serving, sign_in_at_tessera

from tessera.oidc.fastapi import SignIn
from tessera.oidc.fastapi import User as SignedIn
from tessera.oidc.logouts import MemoryLogoutStore
from tessera.server.storage import oidc_clients
from tessera.server.storage.oidc_clients import OidcClient


def sign_in_to_app(browser: httpx.Client, server: Any, base: str, user: Any) -> str:
    """Sign in to the app through Tessera; the app's session cookie value."""
    login = browser.get(base + "/auth/login")
    assert login.status_code == 303, login.text
    callback = sign_in_at_tessera(browser, server, login.headers["location"], user)
    done = browser.get(callback)
    assert done.status_code == 303, done.text
    value = browser.cookies.get("tessera_rp_session", domain="127.0.0.1")
    assert value
    return str(value)


def rp_app(issuer: str, client_id: str, secret: str, base: str, store: Any) -> FastAPI:
    """The relying party: SignIn with the back-channel route, and a page for signed-in people."""
    sign_in = SignIn(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        redirect_uri=base + "/auth/callback",
        post_logout_redirect_uri=base + "/",
        secret_key=secrets.token_urlsafe(32),
        backchannel_logout_path="/auth/backchannel-logout",
        logout_store=store,
    )
    app = FastAPI()
    sign_in.install(app)

    @app.get("/")
    async def home(signed_in: SignedIn = Depends(sign_in.user)) -> dict[str, Any]:  # noqa: B008
        return {"sub": signed_in.sub, "sid": signed_in.claims.get("sid")}

    return app


def test_a_back_channel_logout_from_tessera_ends_the_apps_session(
    server: RunningServer,
) -> None:
    user = person(server)
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = server.add_client(
        scope="openid profile email", audiences=(), redirect_uris=(base + "/auth/callback",)
    )
    with server.db.write() as conn:
        oidc_clients.save(
            conn,
            OidcClient(
                client.client_id,
                post_logout_redirect_uris=(base + "/",),
                backchannel_logout_uri=base + "/auth/backchannel-logout",
            ),
        )
    assert client.secret is not None
    store = MemoryLogoutStore()
    app = rp_app(server.url, client.client_id, client.secret, base, store)
    with (
        serving(app, sock),
        httpx.Client(timeout=10, follow_redirects=False) as first,
        httpx.Client(timeout=10, follow_redirects=False) as second,
        httpx.Client(timeout=10, follow_redirects=False) as copy,
    ):
        kept = sign_in_to_app(first, server, base, user)
        sign_in_to_app(second, server, base, user)  # another browser: another sid
        mine = first.get(base + "/").json()
        theirs = second.get(base + "/").json()
        assert mine["sub"] == theirs["sub"] == user.user_id
        assert mine["sid"]
        assert theirs["sid"]
        assert mine["sid"] != theirs["sid"]
        copy.cookies.set("tessera_rp_session", kept, domain="127.0.0.1")
        assert copy.get(base + "/").status_code == 200  # the copy works before the logout
        assert len(store) == 0

        out = first.get(base + "/auth/logout")  # RP-initiated: to Tessera's /logout
        assert out.status_code == 303
        assert out.headers["location"].startswith(server.url + "/logout?")
        ended = first.get(out.headers["location"])  # Tessera POSTs the logout token now
        assert ended.status_code == 303, ended.text
        assert ended.headers["location"] == base + "/"
        assert len(store) == 1

        refused = copy.get(base + "/")  # the cookie is still sent, but its session is over
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/auth/login")
        assert second.get(base + "/").json() == theirs  # another sid: still signed in

        sign_in_to_app(first, server, base, user)  # a new session after the logout is fine
        again = first.get(base + "/")
        assert again.status_code == 200, again.text
        assert again.json()["sid"] != mine["sid"]


def test_tessera_serve_set_up_by_the_cli_logs_the_app_out(tmp_path: Path) -> None:
    serve = ServeProcess("tessera.db", {"TESSERA_KEK": ""}, tmp_path)
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        serve.wait_ready()
        added = cli(
            "clients", "add", "bc-app", "--scope", "openid profile email",
            "--redirect-uri", base + "/auth/callback",
            "--post-logout-redirect-uri", base + "/",
            "--backchannel-logout-uri", base + "/auth/backchannel-logout",
            "--json", "--database", "tessera.db", cwd=tmp_path,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        view = json.loads(added.stdout)
        assert view["openid"]["backchannel_logout_uri"] == base + "/auth/backchannel-logout"
        password = "correct horse battery staple"
        made = cli(
            "users", "add", "ada", "--password-stdin", "--database", "tessera.db",
            cwd=tmp_path, stdin=password + "\n",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        user = User("ada", password, "")
        store = MemoryLogoutStore()
        app = rp_app(serve.url, view["client_id"], view["client_secret"], base, store)
        with (
            serving(app, sock),
            httpx.Client(timeout=10, follow_redirects=False) as browser,
            httpx.Client(timeout=10, follow_redirects=False) as copy,
        ):
            kept = sign_in_to_app(browser, serve, base, user)
            copy.cookies.set("tessera_rp_session", kept, domain="127.0.0.1")
            assert copy.get(base + "/").status_code == 200
            out = browser.get(base + "/auth/logout")
            ended = browser.get(out.headers["location"])
            assert ended.status_code == 303, ended.text
            assert len(store) == 1
            assert copy.get(base + "/").status_code == 303  # refused: logged out at Tessera
    finally:
        serve.stop()
