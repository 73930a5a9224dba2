"""The web helpers' back-channel logout receiver (OpenID Back-Channel Logout 1.0 sec. 2.5-2.8):
a Starlette app on real uvicorn discovers a provider stand-in (configuration and JWKS over
HTTP) and is POSTed logout tokens. A good one is 200 and ends the sessions of its sid (or,
without one, of its sub) that started before it; every bad one is 400 invalid_request, never
a 500, and changes nothing. Plus the Flask route, the store's bounds and the settings."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from oidchelp import CLIENT_ID, LiveApp, ProviderStandIn, id_claims, logout_claims
from starlette.applications import Starlette

import tessera
from tessera.errors import ConfigurationError
from tessera.jose import jws
from tessera.oidc.flow import make_tokens
from tessera.oidc.logouts import LogoutStore, MemoryLogoutStore
from tessera.oidc.starlette import SignIn
from tessera.oidc.web import SignIn as BlockingSignIn

SECRET = "session-secret-0123456789abcdef0123456789"
PATH = "/auth/backchannel-logout"
FORM = "application/x-www-form-urlencoded"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderStandIn]:
    running = ProviderStandIn().start()
    yield running
    running.stop()


class Receiver:
    """The app (its SignIn, store and clock) and how to reach it."""

    def __init__(self, provider: ProviderStandIn) -> None:
        self.provider = provider
        self.clock = Clock()
        self.store = MemoryLogoutStore(max_entries=1000)
        self.sign_in = SignIn(
            issuer=provider.issuer,
            client_id=CLIENT_ID,
            redirect_uri="https://app.example/auth/callback",
            secret_key=SECRET,
            backchannel_logout_path=PATH,
            logout_store=self.store,
            clock=self.clock,
        )
        self.live = LiveApp(Starlette(routes=self.sign_in.routes)).start()
        self.http = httpx.Client(base_url=self.live.url, timeout=10)

    def token(self, typ: str | None = "logout+jwt", key: Any = None, **overrides: Any) -> str:
        claims = logout_claims(self.provider.issuer, self.clock(), **overrides)
        headers = {"typ": typ} if typ is not None else {}
        key = key or self.provider.signing_key  # raw JWS: encode would refuse bad claims
        return jws.sign(json.dumps(claims).encode(), key, headers={"kid": key.kid, **headers})

    def post(self, token: str) -> httpx.Response:
        return self.http.post(PATH, data={"logout_token": token})

    async def session(self, sid: str | None = "session-1", sub: str = "alice") -> dict[str, str]:
        """A session cookie for ``sub``/``sid``, started now."""
        rp = await self.sign_in.relying_party()
        claims = id_claims(self.provider.issuer, self.clock(), sid=sid, sub=sub)
        id_token = await rp.verifier.averify(tessera.encode(claims, self.provider.signing_key))
        reply = self.sign_in._session(
            make_tokens({"access_token": "a"}, id_token, "openid"), {}, "/"
        )
        return {self.sign_in.cookie_name: reply.cookies[0].value}


@pytest.fixture
def receiver(provider: ProviderStandIn) -> Iterator[Receiver]:
    running = Receiver(provider)
    yield running
    running.http.close()
    running.live.stop()


def refused(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid_request"
    return str(body["error_description"])


@pytest.mark.anyio
async def test_a_logout_token_ends_the_sessions_of_its_sid(receiver: Receiver) -> None:
    web = receiver.sign_in
    mine = await receiver.session(sid="session-1")
    other_sid = await receiver.session(sid="session-2")
    other_person = await receiver.session(sid="session-9", sub="bob")
    assert web.session_user(mine) is not None
    receiver.clock.now += 1
    answer = receiver.post(receiver.token(sid="session-1"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert web.session_user(mine) is None
    assert web.session_user(other_sid) is not None  # only the session the sid names
    assert web.session_user(other_person) is not None
    receiver.clock.now += 1
    fresh = await receiver.session(sid="session-1")  # signed in again after the logout
    assert web.session_user(fresh) is not None


@pytest.mark.anyio
async def test_a_logout_token_with_only_a_sub_ends_all_that_persons_sessions(
    receiver: Receiver,
) -> None:
    web = receiver.sign_in
    first = await receiver.session(sid="a")
    second = await receiver.session(sid=None)
    bob = await receiver.session(sid="b", sub="bob")
    receiver.clock.now += 1
    answer = receiver.post(receiver.token(sid=None, jti="sub-only"))
    assert answer.status_code == 200, answer.text
    assert web.session_user(first) is None
    assert web.session_user(second) is None
    assert web.session_user(bob) is not None


@pytest.mark.anyio
async def test_a_replayed_logout_token_is_refused(receiver: Receiver) -> None:
    token = receiver.token(jti="once")
    assert receiver.post(token).status_code == 200
    receiver.clock.now += 5
    later = await receiver.session()  # started after the first logout
    assert "already used" in refused(receiver.post(token))
    assert receiver.sign_in.session_user(later) is not None  # the replay moved nothing


@pytest.mark.parametrize(
    ("typ", "overrides", "reason"),
    [
        ("logout+jwt", {"iss": "https://elsewhere.example"}, "invalid_issuer"),
        ("logout+jwt", {"aud": "another-app"}, "invalid_audience"),
        ("logout+jwt", {"iat": None}, "missing_claim"),
        ("logout+jwt", {"iat": "yesterday"}, ""),
        ("logout+jwt", {"iat_offset": -3600}, ""),
        ("logout+jwt", {"iat_offset": 3600}, ""),
        ("logout+jwt", {"exp_offset": -60}, "expired"),
        ("logout+jwt", {"jti": None}, "missing_claim"),
        ("logout+jwt", {"jti": 5}, "invalid_claim"),
        ("logout+jwt", {"events": None}, "invalid_logout_token"),
        ("logout+jwt", {"events": {"http://schemas.openid.net/event/other": {}}}, "invalid"),
        ("logout+jwt", {"events": {"http://schemas.openid.net/event/backchannel-logout": 1}}, ""),
        ("logout+jwt", {"sid": None, "sub": None}, "invalid_logout_token"),
        ("logout+jwt", {"sid": 7}, ""),
        ("logout+jwt", {"nonce": "n"}, "invalid_logout_token"),
        ("at+jwt", {}, "invalid_type"),
        ("id_token+jwt", {}, "invalid_type"),
    ],
)
def test_a_bad_logout_token_is_refused(
    receiver: Receiver, typ: str, overrides: dict[str, Any], reason: str
) -> None:
    now = receiver.clock()
    if "iat_offset" in overrides:
        overrides = {"iat": int(now + overrides.pop("iat_offset"))}
    if "exp_offset" in overrides:
        overrides = {"exp": int(now + overrides.pop("exp_offset"))}
    description = refused(receiver.post(receiver.token(typ, **overrides)))
    assert reason in description
    assert len(receiver.store) == 0


def test_a_logout_token_signed_by_another_key_or_unsigned_is_refused(
    receiver: Receiver,
) -> None:
    stranger = tessera.Key.generate("ES256", kid="k1")  # the provider's kid, not its key
    assert "bad_signature" in refused(receiver.post(receiver.token(key=stranger)))
    hmac = tessera.Key.from_secret(b"s" * 32, alg="HS256")
    refused(receiver.post(receiver.token(key=hmac)))
    claims = logout_claims(receiver.provider.issuer, receiver.clock())
    header = _b64(b'{"alg":"none","typ":"logout+jwt"}')
    refused(receiver.post(f"{header}.{_b64(json.dumps(claims).encode())}."))
    id_token = tessera.encode(
        id_claims(receiver.provider.issuer, receiver.clock()), receiver.provider.signing_key
    )
    refused(receiver.post(id_token))  # an ID token is no logout token
    assert len(receiver.store) == 0


@pytest.mark.parametrize(
    ("content", "headers", "words"),
    [
        (b'{"logout_token": "x"}', {"content-type": "application/json"}, FORM),
        (b"logout_token=a.b.c", {}, FORM),
        (b"", {"content-type": FORM}, "exactly one logout_token"),
        (b"other=1", {"content-type": FORM}, "exactly one logout_token"),
        (b"logout_token=", {"content-type": FORM}, "exactly one logout_token"),
        (b"logout_token=a&logout_token=b", {"content-type": FORM}, "exactly one"),
        (b"logout_token=\xff\xfe", {"content-type": FORM}, "not a form"),
        (b"logout_token=" + b"a" * 20000, {"content-type": FORM}, "too large"),
        (b"logout_token=not-a-jwt", {"content-type": FORM}, "refused"),
        (b"logout_token=%C3%A9.%C3%A9.%C3%A9", {"content-type": FORM}, "refused"),
        (b"&&&=", {"content-type": FORM}, "not a form"),
    ],
)
def test_a_request_that_is_no_logout_form_is_refused(
    receiver: Receiver, content: bytes, headers: dict[str, str], words: str
) -> None:
    response = receiver.http.post(PATH, content=content, headers=headers)
    assert words in refused(response)


def test_only_post_reaches_the_receiver(receiver: Receiver) -> None:
    assert receiver.http.get(PATH).status_code == 405


def test_the_blocking_helper_and_flask_take_logout_tokens(provider: ProviderStandIn) -> None:
    from flask import Flask

    from tessera.oidc.flask import SignIn as FlaskSignIn

    app = Flask("bc")
    clock = Clock()
    web = FlaskSignIn(
        app=app,
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        redirect_uri="https://app.example/auth/callback",
        secret_key=SECRET,
        backchannel_logout_path=PATH,
        clock=clock,
    )
    rp = web.relying_party()
    claims = id_claims(provider.issuer, clock(), sid="s-1")
    id_token = rp.verifier.verify(tessera.encode(claims, provider.signing_key))
    cookie = web._session(make_tokens({"access_token": "a"}, id_token, "openid"), {}, "/")
    session = {web.cookie_name: cookie.cookies[0].value}
    assert web.session_user(session) is not None
    clock.now += 1
    token = tessera.encode(
        logout_claims(provider.issuer, clock(), sid="s-1", jti="flask-1"),
        provider.signing_key,
        typ="logout+jwt",
    )
    client = app.test_client()
    bad = client.post(PATH, data={"logout_token": token + "x"})
    assert bad.status_code == 400
    assert bad.headers["cache-control"] == "no-store"
    assert bad.get_json()["error"] == "invalid_request"
    assert web.session_user(session) is not None
    good = client.post(PATH, data={"logout_token": token})
    assert good.status_code == 200, good.text
    assert web.session_user(session) is None
    assert client.post(PATH, data={"logout_token": token}).status_code == 400  # replay
    web.close()


def test_without_the_setting_there_is_no_receiver(provider: ProviderStandIn) -> None:
    web = BlockingSignIn(
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        redirect_uri="https://app.example/auth/callback",
        secret_key=SECRET,
    )
    assert web.logout_store is None
    reply = web.backchannel_logout(FORM, b"logout_token=a.b.c")
    assert reply.status == 400
    assert "not configured" in reply.body
    paths = [route.path for route in SignIn(**_options(provider)).routes]
    assert PATH not in paths


def _options(provider: ProviderStandIn) -> dict[str, Any]:
    return {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "redirect_uri": "https://app.example/auth/callback",
        "secret_key": SECRET,
    }


@pytest.mark.parametrize(
    "options",
    [
        {"backchannel_logout_path": "https://evil.example/bc"},
        {"backchannel_logout_path": "//evil.example/bc"},
        {"backchannel_logout_path": "/auth/login"},
        {"backchannel_logout_path": "/bc?x=1"},
        {"logout_store": {}},
    ],
)
def test_backchannel_settings_are_checked(provider: ProviderStandIn, options: Any) -> None:
    with pytest.raises(ConfigurationError):
        BlockingSignIn(**_options(provider), **options)


def test_the_memory_store_is_bounded_and_forgets_what_expired() -> None:
    store = MemoryLogoutStore(max_entries=3)
    assert isinstance(store, LogoutStore)
    for n in range(5):
        assert store.first_use("iss", f"j{n}", until=100.0, now=0.0)
        store.record_logout("iss", "sid", f"s{n}", at=float(n), until=100.0)
    assert len(store) == 3
    assert store.logged_out_at("iss", "sid", "s0", now=1.0) is None  # the oldest went first
    assert store.logged_out_at("iss", "sid", "s4", now=1.0) == 4.0
    assert not store.first_use("iss", "j4", until=100.0, now=1.0)
    assert store.logged_out_at("iss", "sid", "s4", now=100.0) is None  # expired
    assert store.first_use("iss", "j4", until=200.0, now=150.0)  # its lifetime is over
    store.record_logout("iss", "sub", "alice", at=10.0, until=300.0)
    store.record_logout("iss", "sub", "alice", at=5.0, until=250.0)
    assert store.logged_out_at("iss", "sub", "alice", now=160.0) == 10.0  # the latest kept
    with pytest.raises(ConfigurationError):
        MemoryLogoutStore(max_entries=0)


def test_sessions_from_before_the_start_time_field_use_the_lifetime() -> None:
    store = MemoryLogoutStore()
    clock = Clock()
    key = tessera.Key.generate("ES256")
    from tessera.oidc import IDTokenVerifier

    verifier = IDTokenVerifier(
        issuer="https://login.example", client_id=CLIENT_ID, keys=key.public(), clock=clock
    )
    web = BlockingSignIn(
        issuer="https://login.example",
        client_id=CLIENT_ID,
        redirect_uri="https://app.example/auth/callback",
        secret_key=SECRET,
        logout_store=store,
        clock=clock,
    )
    id_token = verifier.verify(tessera.encode(id_claims(now=clock(), sid="old"), key))
    sealer = web._sealer
    payload = {"sub": "alice", "iss": "https://login.example", "claims": dict(id_token.claims)}
    old = sealer.seal("session", payload, clock() + web.session_lifetime)  # no "at"
    cookies = {web.cookie_name: old}
    assert web.session_user(cookies) is not None
    clock.now += 1
    store.record_logout("https://login.example", "sid", "old", clock(), clock() + 60)
    assert web.session_user(cookies) is None
