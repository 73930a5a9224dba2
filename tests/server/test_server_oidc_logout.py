"""RP-initiated logout, back-channel logout and pairwise subjects: the session ends (with a
matching id_token_hint at once, otherwise after the person confirms), the browser returns to
a registered URI with state, the session's grants are revoked (offline ones kept), clients
get a logout token they can verify; bad requests get an error page, never a redirect or a
500. On both backends."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from serverhelp import (
    Browser,
    Client,
    Pkce,
    RunningServer,
    User,
    auth_params,
    cli,
    hidden_fields,
    query_of,
)

import tessera
from tessera.oidc import IDTokenVerifier
from tessera.resource import StaticKeys
from tessera.server.storage import oidc_clients
from tessera.server.storage.oidc_clients import OidcClient

CALLBACK = "https://rp.example/cb"
AFTER = "https://rp.example/signed-out"


class Receiver:
    """A client's back-channel logout endpoint: records each form it is POSTed."""

    def __init__(self) -> None:
        self.forms: list[dict[str, list[str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                outer.forms.append(parse_qs(self.rfile.read(length).decode()))
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/backchannel"

    @contextlib.contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join(5)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


def register(server: RunningServer, **registration: Any) -> Client:
    client = server.add_client(
        scope="openid profile offline_access", audiences=(), redirect_uris=(CALLBACK,)
    )
    registration.setdefault("post_logout_redirect_uris", (AFTER,))
    with server.db.write() as conn:
        oidc_clients.save(conn, OidcClient(client.client_id, **registration))
    return client


def sign_in(
    server: RunningServer, browser: Browser, client: Client, user: User, scope: str = "openid"
) -> dict[str, Any]:
    """Sign in and consent in ``browser``; the token response."""
    pkce = Pkce.new()
    request = auth_params(client, CALLBACK, pkce, scope=scope)
    page = browser.open(request)
    if "decision" not in page.text:  # not signed in yet in this browser
        signed = browser.post(
            hidden_fields(page.text), username=user.username, password=user.password
        )
        page = browser.http.get(signed.headers["location"])
    answer = browser.post(hidden_fields(page.text), decision="allow")
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    response = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        },
        auth=(client.client_id, client.secret or ""),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def signed_in(server: RunningServer, browser: Browser, client: Client) -> bool:
    answer = browser.open(auth_params(client, CALLBACK, Pkce.new(), scope="openid", prompt="none"))
    return "code" in query_of(answer.headers["location"])


def refresh(server: RunningServer, client: Client, token: str) -> int:
    return server.post_token(
        {"grant_type": "refresh_token", "refresh_token": token},
        auth=(client.client_id, client.secret or ""),
    ).status_code


def test_logout_with_the_id_token_hint_ends_the_session_at_once(server: RunningServer) -> None:
    client = register(server)
    user = server.add_user()
    with Browser(server) as browser:
        online = sign_in(server, browser, client, user, "openid")
        offline = sign_in(server, browser, client, user, "openid offline_access")
        assert signed_in(server, browser, client)
        response = browser.http.get(
            "/logout",
            params={
                "id_token_hint": online["id_token"],
                "post_logout_redirect_uri": AFTER,
                "state": "bye 1",
            },
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == AFTER + "?state=bye+1"
        assert "max-age=0" in response.headers["set-cookie"].lower()
        assert not signed_in(server, browser, client)  # login_required now
    assert refresh(server, client, online.get("refresh_token", "rt.none")) == 400
    assert refresh(server, client, offline["refresh_token"]) == 200  # offline outlives it


def test_logout_without_a_hint_asks_the_person_first(server: RunningServer) -> None:
    client = register(server)
    user = server.add_user()
    with Browser(server) as browser:
        sign_in(server, browser, client, user)
        page = browser.http.get(
            "/logout",
            params={"client_id": client.client_id, "post_logout_redirect_uri": AFTER, "state": "s"},
        )
        assert page.status_code == 200
        assert "Sign out?" in page.text
        assert signed_in(server, browser, client)  # a link alone signs nobody out
        fields = hidden_fields(page.text)
        forged = browser.http.post("/logout", data={**fields, "csrf_token": "forged"})
        assert forged.status_code == 403
        assert signed_in(server, browser, client)
        confirmed = browser.http.post("/logout", data=fields)
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == AFTER + "?state=s"
        assert not signed_in(server, browser, client)


def test_logout_of_an_other_persons_hint_asks_first(server: RunningServer) -> None:
    client = register(server)
    with Browser(server) as other:
        hint = sign_in(server, other, client, server.add_user())["id_token"]
    with Browser(server) as browser:
        sign_in(server, browser, client, server.add_user())
        page = browser.http.get("/logout", params={"id_token_hint": hint})
        assert page.status_code == 200
        assert "Sign out?" in page.text


def test_expired_hint_still_identifies(server: RunningServer) -> None:
    client = register(server)
    user = server.add_user()
    with Browser(server) as browser:
        hint = sign_in(server, browser, client, user)["id_token"]
        server.clock.advance(server.settings.token_lifetime + 5)
        response = browser.http.get("/logout", params={"id_token_hint": hint})
        assert response.status_code == 200
        assert "You are signed out" in response.text
        assert not signed_in(server, browser, client)


def test_without_a_session_the_browser_still_returns(server: RunningServer) -> None:
    client = register(server)
    with Browser(server) as browser:
        response = browser.http.get(
            "/logout",
            params={"client_id": client.client_id, "post_logout_redirect_uri": AFTER, "state": "x"},
        )
    assert response.status_code == 303
    assert response.headers["location"] == AFTER + "?state=x"


@pytest.mark.parametrize(
    "params",
    [
        {"post_logout_redirect_uri": AFTER},  # no client named
        {"client_id": "CLIENT", "post_logout_redirect_uri": "https://evil.example/"},
        {"client_id": "CLIENT", "post_logout_redirect_uri": AFTER + "/"},
        {"client_id": "no-such-client"},
        {"client_id": "CLIENT", "state": "s" * 1025},
        {"id_token_hint": "not.a.token"},
        {"id_token_hint": "FORGED"},
        {"client_id": "OTHER", "id_token_hint": "HINT"},
    ],
)
def test_bad_logout_requests_get_an_error_page(
    server: RunningServer, params: dict[str, str]
) -> None:
    client = register(server)
    other = register(server)
    user = server.add_user()
    forged = tessera.encode(
        {"iss": server.url, "sub": user.user_id, "aud": client.client_id, "iat": 1, "exp": 2},
        tessera.Key.generate("RS256"),
        typ="JWT",
    )
    with Browser(server) as browser:
        hint = sign_in(server, browser, client, user)["id_token"]
        replace = {"CLIENT": client.client_id, "OTHER": other.client_id, "FORGED": forged}
        replace["HINT"] = hint
        sent = {k: replace.get(v, v) for k, v in params.items()}
        response = browser.http.get("/logout", params=sent)
        assert response.status_code == 400, response.text
        assert "location" not in response.headers
        assert signed_in(server, browser, client)  # nothing ended


def test_repeated_and_malformed_logout_requests(server: RunningServer) -> None:
    client = register(server)
    with Browser(server) as browser:
        repeated = browser.http.get(
            "/logout", params=[("client_id", client.client_id), ("client_id", client.client_id)]
        )
        assert repeated.status_code == 400
        assert browser.http.get("/logout?state=%ff").status_code == 400
        assert browser.http.get("/logout?state=a%00b").status_code == 400
        assert browser.http.get("/logout?state=" + "a" * 13000).status_code == 414
        wrong_type = browser.http.post("/logout", content=b"{}", headers={"Content-Type": "a/b"})
        assert wrong_type.status_code == 415
        posted = browser.http.post(
            "/logout", data={"client_id": client.client_id, "post_logout_redirect_uri": AFTER}
        )
        assert posted.status_code == 303  # POST carries the parameters as well as GET


def test_back_channel_logout_token_reaches_the_client(
    server: RunningServer, receiver: Receiver
) -> None:
    client = register(server, backchannel_logout_uri=receiver.uri)
    quiet = register(server)  # no back-channel URI: not told
    user = server.add_user()
    receiver.forms.clear()
    with Browser(server) as browser:
        body = sign_in(server, browser, client, user)
        sign_in(server, browser, quiet, user)
        response = browser.http.get("/logout", params={"id_token_hint": body["id_token"]})
        assert response.status_code == 200
    assert len(receiver.forms) == 1
    token = receiver.forms[0]["logout_token"][0]
    keys = tessera.KeySet.from_jwks(server.http.get("/jwks.json").text)
    verifier = IDTokenVerifier(
        issuer=server.url, client_id=client.client_id, keys=StaticKeys(keys), clock=server.clock
    )
    logout = verifier.verify_logout_token(token, require_typ=True)
    id_claims = tessera.decode_unverified(body["id_token"])[1]
    claims = tessera.decode_unverified(token)[1]
    assert claims["sub"] == id_claims["sub"] == user.user_id
    assert claims["sid"] == id_claims["sid"]
    assert "nonce" not in claims
    assert logout is not None
    with pytest.raises(tessera.InvalidToken):  # a logout token is no ID token
        verifier.verify(token)


def test_pairwise_subjects_per_sector(server: RunningServer) -> None:
    user = server.add_user()
    first = register(server, subject_type="pairwise", sector_identifier="apps.example")
    second = register(server, subject_type="pairwise", sector_identifier="apps.example")
    elsewhere = register(server, subject_type="pairwise")  # sector: rp.example
    public = register(server)
    subs = {}
    with Browser(server) as browser:
        for name, client in (("a", first), ("b", second), ("c", elsewhere), ("p", public)):
            body = sign_in(server, browser, client, user)
            subs[name] = tessera.decode_unverified(body["id_token"])[1]["sub"]
            info = server.http.get(
                "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
            )
            assert info.json()["sub"] == subs[name]
        hint = sign_in(server, browser, first, user)["id_token"]
        again = browser.open(
            auth_params(
                first, CALLBACK, Pkce.new(), scope="openid", prompt="none", id_token_hint=hint
            )
        )
        assert "code" in query_of(again.headers["location"])  # the pairwise hint matches
    assert subs["a"] == subs["b"] != subs["c"]
    assert subs["p"] == user.user_id
    assert user.user_id not in (subs["a"], subs["c"])
    discovery = server.http.get("/.well-known/openid-configuration").json()
    assert "pairwise" in discovery["subject_types_supported"]


def test_clients_cli_registers_openid_settings(server: RunningServer, tmp_path: Path) -> None:
    if server.backend != "sqlite":
        pytest.skip("the CLI is exercised once")
    db = server.settings.database
    env = {"TESSERA_KEK_FILE": str(tmp_path / "kek")}
    added = cli(
        "clients", "add", "oidc-cli-app", "--scope", "openid profile",
        "--redirect-uri", CALLBACK, "--post-logout-redirect-uri", AFTER,
        "--backchannel-logout-uri", "https://rp.example/bc", "--subject-type", "pairwise",
        "--id-token-alg", "ES256", "--json", "--database", db, env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "warning" not in added.stderr  # an OpenID client needs no API audience
    view = json.loads(added.stdout)
    assert view["openid"] == {
        "id_token_signed_response_alg": "ES256",
        "subject_type": "pairwise",
        "post_logout_redirect_uris": [AFTER],
        "backchannel_logout_uri": "https://rp.example/bc",
    }
    shown = cli("clients", "show", view["client_id"], "--json", "--database", db, env=env)
    assert json.loads(shown.stdout)["openid"] == view["openid"]
    for bad in (
        ["--post-logout-redirect-uri", "http://rp.example/after"],
        ["--backchannel-logout-uri", "https://rp.example/bc#frag"],
        ["--id-token-alg", "HS256"],
        ["--sector-identifier", "apps.example"],  # without pairwise
    ):
        refused = cli(
            "clients", "add", "oidc-bad", "--scope", "openid", "--redirect-uri", CALLBACK,
            *bad, "--database", db, env=env,
        )  # fmt: skip
        assert refused.returncode == 2, bad
    listed = cli("clients", "list", "--json", "--database", db, env=env)
    assert "oidc-bad" not in listed.stdout  # refused before the client was created


def test_a_pairwise_client_sees_one_sub_in_every_token_and_never_the_user_id(
    server: RunningServer,
) -> None:
    user = server.add_user()
    client = register(server, subject_type="pairwise", sector_identifier="apps.example")
    auth = (client.client_id, client.secret or "")
    with Browser(server) as browser:
        body = sign_in(server, browser, client, user, scope="openid profile offline_access")
    refreshed = server.post_token(
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}, auth=auth
    )
    assert refreshed.status_code == 200, refreshed.text
    subs = set()
    for response in (body, refreshed.json()):
        for name in ("access_token", "id_token"):
            claims = tessera.decode_unverified(response[name])[1]
            assert user.user_id not in json.dumps(claims), name  # no public sub anywhere
            subs.add(claims["sub"])
        info = server.http.get(
            "/userinfo", headers={"Authorization": f"Bearer {response['access_token']}"}
        )
        assert info.status_code == 200, info.text
        subs.add(info.json()["sub"])
        seen = server.http.post(
            "/introspect", data={"token": response["access_token"]}, auth=auth
        ).json()
        assert seen["active"] is True
        subs.add(seen["sub"])
    live = refreshed.json()["refresh_token"]  # the first one was rotated away
    seen = server.http.post("/introspect", data={"token": live}, auth=auth).json()
    assert seen["active"] is True
    subs.add(seen["sub"])
    assert len(subs) == 1
    assert user.user_id not in subs
