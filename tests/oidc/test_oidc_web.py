"""The web helpers end to end against node-oidc-provider: the README's FastAPI example (run
as written, on real uvicorn) and a Flask app sign a person in, show who they are, refuse a
forged callback or session, and sign out at the provider. Plus the cookie and return_to rules."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from nodeprovider import NodeProvider, Person, node_provider, query_of, web_client
from oidchelp import LiveApp

from tessera.errors import ConfigurationError
from tessera.oidc._cookies import CookieSealer
from tessera.oidc.web import safe_return_to

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "web-secret-web-secret-web-secret-web-secret-01"
SESSION_SECRET = "session-secret-0123456789abcdef0123456789"
FLASK_URL = "http://localhost"


def readme_example() -> str:
    text = README.read_text()
    section = text.split("<!-- oidc-rp:begin -->", 1)[1].split("<!-- oidc-rp:end -->", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


@pytest.fixture(scope="module")
def fastapi_app() -> Iterator[LiveApp]:
    live = LiveApp()  # bound now, so the provider can register its callback
    yield live
    live.stop()


@pytest.fixture(scope="module")
def provider(fastapi_app: LiveApp) -> Iterator[NodeProvider]:
    clients = [
        web_client(
            "photos",
            fastapi_app.url + "/auth/callback",
            secret=SECRET,
            method="client_secret_basic",
            post_logout=fastapi_app.url + "/",
        ),
        web_client(
            "flask-photos",
            FLASK_URL + "/auth/callback",
            secret=SECRET,
            method="client_secret_post",
            alg="ES256",
            post_logout=FLASK_URL + "/",
        ),
    ]
    with node_provider(clients) as running:
        yield running


@pytest.fixture(scope="module")
def readme_app(provider: NodeProvider, fastapi_app: LiveApp) -> tuple[LiveApp, dict[str, Any]]:
    env = {
        "APP_URL": fastapi_app.url,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": "photos",
        "OIDC_CLIENT_SECRET": SECRET,
        "SESSION_SECRET": SESSION_SECRET,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        namespace: dict[str, Any] = {"__name__": "readme_example"}
        exec(compile(readme_example(), "README.md", "exec"), namespace)
    fastapi_app.start(namespace["app"])
    return fastapi_app, namespace


def test_the_readme_fastapi_example_signs_a_person_in_and_out(
    provider: NodeProvider, readme_app: tuple[LiveApp, dict[str, Any]]
) -> None:
    app, _ = readme_app
    person = Person(provider, login="dora")
    browser = person.http
    first = browser.get(app.url + "/photos?page=2")
    assert first.status_code == 404  # not a route of the example: no redirect for it
    home = browser.get(app.url + "/")
    assert home.status_code == 303
    assert home.headers["location"] == "/auth/login?return_to=%2F"
    login = browser.get(urljoin(app.url, home.headers["location"]))
    assert login.status_code == 303
    assert login.headers["location"].startswith(provider.issuer + "/auth?")
    set_cookie = login.headers["set-cookie"]
    assert "tessera_rp_session_login=" in set_cookie
    assert "httponly" in set_cookie.lower()
    assert "samesite=lax" in set_cookie.lower()
    callback = person.go(login.headers["location"])
    assert callback.startswith(app.url + "/auth/callback?")

    forged = browser.get(callback.replace("state=", "state=x"))
    assert forged.status_code == 400
    assert "another browser" in forged.text
    # the pending sign-in was single-use: start again
    login = browser.get(urljoin(app.url, home.headers["location"]))
    callback = person.go(login.headers["location"])
    done = browser.get(callback)
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    assert "tessera_rp_session=" in done.headers["set-cookie"]

    me = browser.get(app.url + "/")
    assert me.status_code == 200
    assert me.json() == {"sub": "dora", "name": "Person dora", "email": "dora@example.test"}

    replay = browser.get(callback)  # the same callback again: no pending sign-in any more
    assert replay.status_code == 400

    logout = browser.get(app.url + "/auth/logout")
    assert logout.status_code == 303
    end = logout.headers["location"]
    assert end.startswith(provider.issuer + "/session/end?")
    assert "id_token_hint" in parse_qs(urlsplit(end).query)
    assert person.log_out(end) == app.url + "/"
    assert browser.get(app.url + "/").status_code == 303  # signed out here too
    person.close()


def test_a_forged_session_cookie_is_no_session(
    readme_app: tuple[LiveApp, dict[str, Any]],
) -> None:
    app, namespace = readme_app
    import httpx

    forged = CookieSealer("another-secret-another-secret-another-1").seal(
        "session", {"sub": "admin", "iss": namespace["sign_in"].issuer, "claims": {}}, 4102444800
    )
    with httpx.Client() as browser:
        for value in (forged, "garbage", "x" * 5000):
            browser.cookies.set("tessera_rp_session", value)
            assert browser.get(app.url + "/").status_code == 303


def test_a_callback_without_a_pending_sign_in_or_with_an_error(
    provider: NodeProvider, readme_app: tuple[LiveApp, dict[str, Any]]
) -> None:
    app, _ = readme_app
    import httpx

    with httpx.Client() as browser:
        reply = browser.get(app.url + "/auth/callback?code=abc&state=def")
        assert reply.status_code == 400
        assert reply.headers["content-type"].startswith("text/plain")
        login = browser.get(app.url + "/auth/login?return_to=https://evil.example/")
        state = query_of(login.headers["location"])["state"]
        reply = browser.get(
            app.url + "/auth/callback",
            params={"state": state, "error": "access_denied", "iss": provider.issuer},
        )
        assert reply.status_code == 400
        assert "access_denied" in reply.text
        assert "tessera_rp_session_login=" in reply.headers["set-cookie"]  # deleted


def test_flask_sign_in_and_out(provider: NodeProvider) -> None:
    from flask import Flask

    from tessera.oidc.flask import SignIn

    app = Flask(__name__)
    sign_in = SignIn(
        app=app,
        issuer=provider.issuer,
        client_id="flask-photos",
        client_secret=SECRET,
        redirect_uri=FLASK_URL + "/auth/callback",
        post_logout_redirect_uri=FLASK_URL + "/",
        secret_key=SESSION_SECRET,
        scope="openid profile",
    )

    @app.get("/albums")
    @sign_in.login_required
    def albums() -> dict[str, Any]:
        user = sign_in.current_user()
        assert user is not None
        return {"sub": user.sub, "name": user.get("name"), "alg": user.claims.get("iss")}

    person = Person(provider, login="erin")
    with app.test_client() as browser:
        first = browser.get("/albums?year=2026")
        assert first.status_code == 303
        assert first.headers["location"] == "/auth/login?return_to=%2Falbums%3Fyear%3D2026"
        login = browser.get(first.headers["location"])
        callback = person.go(login.headers["location"])
        assert callback.startswith(FLASK_URL + "/auth/callback?")
        done = browser.get(callback.removeprefix(FLASK_URL))
        assert done.status_code == 303
        assert done.headers["location"] == "/albums?year=2026"
        page = browser.get("/albums?year=2026")
        assert page.status_code == 200
        assert page.json == {"sub": "erin", "name": "Person erin", "alg": provider.issuer}
        logout = browser.post("/auth/logout")
        assert logout.headers["location"].startswith(provider.issuer + "/session/end?")
        assert person.log_out(logout.headers["location"]) == FLASK_URL + "/"
        assert browser.get("/albums").status_code == 303
    sign_in.close()
    person.close()


# -- the rules behind it ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/photos?page=2", "/photos?page=2"),
        ("/", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/a\nb", "/"),
        ("/" + "a" * 2000, "/"),
        (None, "/"),
        (["/x"], "/"),
    ],
)
def test_return_to_is_only_ever_a_local_path(value: Any, expected: str) -> None:
    assert safe_return_to(value) == expected


def test_cookies_are_bound_to_their_purpose_and_expire() -> None:
    sealer = CookieSealer(SESSION_SECRET)
    value = sealer.seal("login", {"a": 1}, 1000)
    assert sealer.open("login", value, 999) == {"a": 1, "exp": 1000}
    assert sealer.open("login", value, 1000) is None
    assert sealer.open("session", value, 999) is None
    assert CookieSealer(SESSION_SECRET + "x").open("login", value, 999) is None
    with pytest.raises(ConfigurationError):
        CookieSealer("short")


def test_web_settings_are_checked() -> None:
    from tessera.oidc.web import SignIn

    base: dict[str, Any] = {
        "issuer": "https://login.example",
        "client_id": "c",
        "redirect_uri": "https://app.example/auth/callback",
        "secret_key": SESSION_SECRET,
    }
    assert SignIn(**base).secure
    for bad in (
        {"redirect_uri": "/auth/callback"},
        {"secret_key": "short"},
        {"session_lifetime": 10},
        {"login_path": "https://evil.example/login"},
        {"cookie_name": "bad name;"},
    ):
        with pytest.raises(ConfigurationError):
            SignIn(**{**base, **bad})


def test_a_session_too_big_for_a_cookie_gives_up_the_extras_first() -> None:
    from oidchelp import CLIENT_ID, ISSUER, NOW, id_claims

    import tessera
    from tessera.oidc import IDTokenVerifier
    from tessera.oidc.flow import make_tokens
    from tessera.oidc.web import SignIn

    key = tessera.Key.generate("ES256")
    verifier = IDTokenVerifier(
        issuer=ISSUER, client_id=CLIENT_ID, keys=key.public(), clock=lambda: NOW
    )
    web = SignIn(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        redirect_uri="https://app.example/auth/callback",
        secret_key=SESSION_SECRET,
        clock=lambda: NOW,
    )

    def session(groups: int, userinfo: dict[str, Any]) -> Any:
        token = verifier.verify(tessera.encode(id_claims(groups=["g" * 40] * groups), key))
        reply = web._session(make_tokens({"access_token": "a"}, token, "openid"), userinfo, "/")
        assert len(reply.cookies[0].value) <= 4000
        user = web.session_user({"tessera_rp_session": reply.cookies[0].value})
        assert user is not None
        assert user.sub == "alice"
        return user

    small = session(2, {"name": "x"})
    assert small.id_token is not None  # everything fits
    no_hint = session(30, {"name": "x"})
    assert no_hint.id_token is None  # the logout hint goes first
    assert no_hint.get("name") == "x"
    assert "groups" in no_hint.claims
    no_userinfo = session(30, {"bio": "b" * 3000})
    assert no_userinfo.userinfo == {}  # then UserInfo
    assert "groups" in no_userinfo.claims
    trimmed = session(80, {})
    assert "groups" not in trimmed.claims  # then the optional claims
    assert trimmed.claims["iss"] == ISSUER


def test_a_provider_without_userinfo_still_signs_in_and_bad_input_is_never_a_500() -> None:
    import httpx
    from oidchelp import CLIENT_ID, ISSUER, id_claims

    import tessera
    from tessera.oidc import IDTokenVerifier, ProviderMetadata, RelyingParty
    from tessera.oidc.web import SignIn

    key = tessera.Key.generate("ES256")
    pending_nonce: list[str] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        claims = id_claims(nonce=pending_nonce[0], iat=None, exp=None)
        now = int(time.time())
        token = tessera.encode({**claims, "iat": now, "exp": now + 60, "auth_time": now}, key)
        return httpx.Response(
            200, json={"access_token": "a", "token_type": "Bearer", "id_token": token}
        )

    metadata = ProviderMetadata.from_document(
        {
            "issuer": ISSUER,
            "authorization_endpoint": ISSUER + "/auth",
            "token_endpoint": ISSUER + "/token",
            "jwks_uri": ISSUER + "/jwks",
        },
        ISSUER,
        ISSUER,
    )
    rp = RelyingParty(
        metadata,
        client_id=CLIENT_ID,
        client_secret="s",
        redirect_uri="https://app.example/auth/callback",
        verifier=IDTokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, keys=key.public()),
        transport=httpx.MockTransport(token_endpoint),
    )
    web = SignIn(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        redirect_uri="https://app.example/auth/callback",
        secret_key=SESSION_SECRET,
        relying_party=rp,
    )
    started = web.login({"return_to": "/albums"})
    assert started.status == 303
    assert started.cookies[0].secure
    sent = query_of(str(started.location))
    pending_nonce.append(sent["nonce"])
    cookies = {started.cookies[0].name: started.cookies[0].value}
    for query in (
        {"state": sent["state"] * 20, "code": "c"},
        {"state": [sent["state"], "x"], "code": "c"},
        {"state": sent["state"], "code": "c" * 10_000},
        {"state": sent["state"], "error": "x" * 10_000},
    ):
        failed = web.callback(query, cookies)  # type: ignore[arg-type]
        assert failed.status == 400
    done = web.callback({"state": sent["state"], "code": "c"}, cookies)
    assert done.status == 303
    assert done.location == "/albums"
    user = web.session_user({done.cookies[0].name: done.cookies[0].value})
    assert user is not None
    assert user.sub == "alice"
    assert user.userinfo == {}
    out = web.logout({done.cookies[0].name: done.cookies[0].value})
    assert (out.status, out.location) == (303, "/")  # no end_session_endpoint: home
    assert all(cookie.max_age == 0 for cookie in out.cookies)
    web.close()


@pytest.mark.anyio
async def test_the_sign_in_clock_also_times_the_id_token_checks() -> None:
    from oidchelp import ProviderStandIn

    from tessera.errors import ExpiredTokenError
    from tessera.oidc.web import AsyncSignIn, SignIn

    provider = ProviderStandIn().start()
    late = time.time() + 3600  # an hour ahead: every fresh ID token looks expired
    options: dict[str, Any] = {
        "issuer": provider.issuer,
        "client_id": "photo-app",
        "redirect_uri": "https://app.example/auth/callback",
        "secret_key": SESSION_SECRET,
    }
    try:
        on_time = SignIn(**options).relying_party().verifier
        assert on_time.verify(provider.id_token()).sub == "alice"
        blocking = SignIn(**options, clock=lambda: late)
        with pytest.raises(ExpiredTokenError):
            blocking.relying_party().verifier.verify(provider.id_token())
        asynchronous = AsyncSignIn(**options, clock=lambda: late)
        rp = await asynchronous.relying_party()
        with pytest.raises(ExpiredTokenError):
            await rp.verifier.averify(provider.id_token())
        await asynchronous.aclose()
        blocking.close()
    finally:
        provider.stop()
