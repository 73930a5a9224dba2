"""The relying party's own rules, each failure its typed error: the authorization request
(random, bounded state/nonce/PKCE), the callback check, client authentication, token and
UserInfo replies of every bad shape, and the OIDC Core 12.2 rules for refreshed ID tokens."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oidchelp import CLIENT_ID, ISSUER, NOW, id_claims

import tessera
from tessera.errors import (
    ConfigurationError,
    InvalidAudienceError,
    InvalidSubjectError,
)
from tessera.oidc import (
    AsyncRelyingParty,
    AuthorizationError,
    AuthorizationRequest,
    AuthTimeError,
    IDTokenVerifier,
    InvalidNonceError,
    ProviderMetadata,
    RelyingParty,
    StateMismatchError,
    SubjectMismatchError,
    TokenEndpointError,
    UserInfoError,
)
from tessera.oidc.flow import MAX_STATE, client_auth, parse_token_reply

pytestmark = pytest.mark.anyio

KEY = tessera.Key.generate("ES256", kid="k")
CALLBACK = "https://app.example/callback"
Handler = Callable[[httpx.Request], httpx.Response]


def metadata(**overrides: Any) -> ProviderMetadata:
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth?tenant=a",
        "token_endpoint": ISSUER + "/token",
        "userinfo_endpoint": ISSUER + "/me",
        "jwks_uri": ISSUER + "/jwks",
        "end_session_endpoint": ISSUER + "/logout",
        "authorization_response_iss_parameter_supported": True,
    }
    document.update(overrides)
    return ProviderMetadata.from_document(
        {k: v for k, v in document.items() if v is not None}, ISSUER, ISSUER
    )


def rp(handler: Handler | None = None, **kwargs: Any) -> RelyingParty:
    provider = kwargs.pop("metadata", metadata())
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": "s3cret:with/chars",
        "redirect_uri": CALLBACK,
        "verifier": IDTokenVerifier(
            issuer=ISSUER, client_id=CLIENT_ID, keys=KEY.public(), clock=lambda: NOW
        ),
        "transport": httpx.MockTransport(handler) if handler else None,
        "clock": lambda: NOW,
    }
    options.update(kwargs)
    return RelyingParty(provider, **options)


def id_token(**overrides: Any) -> str:
    return tessera.encode(id_claims(**overrides), KEY)


def token_reply(pending: AuthorizationRequest | None = None, **overrides: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "access_token": "at-1",
        "token_type": "Bearer",
        "expires_in": 300,
        "refresh_token": "rt-1",
        "id_token": id_token(nonce=pending.nonce if pending else None),
    }
    reply.update(overrides)
    return {k: v for k, v in reply.items() if v is not None}


# -- the authorization request ------------------------------------------------------------------


def test_the_authorization_url_carries_pkce_s256_state_and_nonce() -> None:
    pending = rp().authorization_request(prompt="login", max_age=60, login_hint="al")
    parts = urlsplit(pending.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/auth"
    assert query["tenant"] == "a"  # the endpoint's own query is kept
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"] == "openid"
    assert query["state"] == pending.state
    assert query["nonce"] == pending.nonce
    assert (query["prompt"], query["max_age"], query["login_hint"]) == ("login", "60", "al")
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pending.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(pending.code_verifier) <= 128
    assert len(pending.state) >= 43
    assert len(pending.nonce) >= 43
    assert pending.state not in repr(pending)


def test_every_request_gets_fresh_random_values() -> None:
    client = rp()
    first, second = client.authorization_request(), client.authorization_request()
    assert first.state != second.state
    assert first.nonce != second.nonce
    assert first.code_verifier != second.code_verifier


@pytest.mark.parametrize(
    "kwargs",
    [
        {"params": {"state": "mine"}},
        {"params": {"nonce": "mine"}},
        {"params": {"redirect_uri": "https://evil.example"}},
        {"params": {"ui_locales": "x" * 3000}},
        {"scope": "profile"},
        {"max_age": -1},
        {"max_age": True},
    ],
)
def test_the_flow_parameters_cannot_be_overridden_or_oversized(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        rp().authorization_request(**kwargs)


def test_a_pending_request_survives_json_and_garbage_does_not_pass() -> None:
    pending = rp().authorization_request(max_age=5)
    assert AuthorizationRequest.from_json(pending.to_json()) == pending
    for garbage in (
        "",
        "[]",
        "{}",
        '{"state": 1}',
        json.dumps({**json.loads(pending.to_json()), "state": "x" * 600}),
    ):
        with pytest.raises(StateMismatchError):
            AuthorizationRequest.from_json(garbage)


# -- the callback --------------------------------------------------------------------------------


def test_the_callback_needs_the_pending_state_first() -> None:
    client = rp()
    pending = client.authorization_request()
    ok = {"state": pending.state, "code": "c", "iss": ISSUER}
    assert client.check_callback(pending, ok) == "c"
    assert client.check_callback(pending, {k: [v] for k, v in ok.items()}) == "c"
    for bad in (
        {"code": "c", "iss": ISSUER},
        {**ok, "state": pending.state[:-1]},
        {**ok, "state": "x" * (MAX_STATE + 1)},
        {**ok, "state": "", "error": "access_denied"},
    ):
        with pytest.raises(StateMismatchError):
            client.check_callback(pending, bad)


def test_the_callback_checks_iss_then_error_then_code() -> None:
    client = rp()
    pending = client.authorization_request()
    state = pending.state
    with pytest.raises(AuthorizationError) as caught:
        client.check_callback(pending, {"state": state, "code": "c", "iss": "https://evil.example"})
    assert caught.value.error == "invalid_issuer"
    with pytest.raises(AuthorizationError) as caught:
        client.check_callback(pending, {"state": state, "code": "c"})  # iss is advertised
    assert caught.value.error == "invalid_issuer"
    with pytest.raises(AuthorizationError) as caught:
        client.check_callback(
            pending,
            {
                "state": state,
                "iss": ISSUER,
                "error": "login_required",
                "error_description": "d" * 999,
            },
        )
    assert caught.value.error == "login_required"
    assert caught.value.description is not None
    assert len(caught.value.description) == 200
    for bad in ({"code": ""}, {"code": "c" * 5000}, {"code": ["a", "b"]}, {"code": 5}):
        with pytest.raises(AuthorizationError):
            client.check_callback(pending, {"state": state, "iss": ISSUER, **bad})


def test_without_iss_support_a_missing_iss_is_accepted() -> None:
    client = rp(metadata=metadata(authorization_response_iss_parameter_supported=None))
    pending = client.authorization_request()
    assert client.check_callback(pending, {"state": pending.state, "code": "c"}) == "c"


# -- client authentication and configuration ---------------------------------------------------


def test_client_secret_basic_form_encodes_before_base64() -> None:
    fields, headers = client_auth("client_secret_basic", "my app", "s3cret:with/chars")
    assert fields == {}
    decoded = base64.b64decode(headers["authorization"].removeprefix("Basic ")).decode()
    assert decoded == "my%20app:s3cret%3Awith%2Fchars"
    assert client_auth("client_secret_post", "a", "b") == (
        {"client_id": "a", "client_secret": "b"},
        {},
    )
    assert client_auth("none", "a", None) == ({"client_id": "a"}, {})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_id": ""},
        {"redirect_uri": "https://app.example/cb#frag"},
        {"auth_method": "private_key_jwt"},
        {"auth_method": "none"},  # with a secret
        {"client_secret": None, "auth_method": "client_secret_post"},
        {"scope": "profile"},
        {"metadata": metadata(token_endpoint=None)},
        {"verifier": IDTokenVerifier(issuer=ISSUER, client_id="other", keys=KEY.public())},
    ],
)
def test_inconsistent_settings_are_configuration_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        rp(**kwargs)


# -- token replies -------------------------------------------------------------------------------


def test_a_code_exchange_sends_the_verifier_and_verifies_the_id_token() -> None:
    seen: list[httpx.Request] = []
    client = rp()
    pending = client.authorization_request()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=token_reply(pending))

    client = rp(handler)
    tokens = client.callback(pending, {"state": pending.state, "code": "c-1", "iss": ISSUER})
    form = {k: v[0] for k, v in parse_qs(seen[0].content.decode()).items()}
    assert form == {
        "grant_type": "authorization_code",
        "code": "c-1",
        "redirect_uri": CALLBACK,
        "code_verifier": pending.code_verifier,
    }
    assert seen[0].headers["authorization"].startswith("Basic ")
    assert "cookie" not in seen[0].headers
    assert tokens.id_token is not None
    assert tokens.id_token.sub == "alice"
    assert tokens.expires_at == NOW + 300
    assert tokens.scope == ("openid",)
    assert "at-1" not in repr(tokens)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_grant", "error_description": "used"}, "invalid_grant"),
        (401, {"error": "invalid_client"}, "invalid_client"),
        (500, "oops", "invalid_response"),
        (200, "not json", "invalid_response"),
        (200, [1], "invalid_response"),
        (200, {"token_type": "Bearer"}, "invalid_response"),
        (200, {"access_token": "a", "token_type": "DPoP"}, "invalid_response"),
        (
            200,
            {"access_token": "a", "token_type": "Bearer", "expires_in": "soon"},
            "invalid_response",
        ),
        (200, {"access_token": "a", "token_type": "Bearer", "expires_in": -5}, "invalid_response"),
        (
            200,
            {"access_token": "a", "token_type": "Bearer", "refresh_token": 5},
            "invalid_response",
        ),
        (200, {"access_token": "a", "token_type": "bearer"}, "invalid_response"),  # no id_token
    ],
)
def test_bad_token_replies_are_token_endpoint_errors(status: int, body: Any, error: str) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    client = rp(lambda request: httpx.Response(status, content=content))
    pending = client.authorization_request()
    with pytest.raises(TokenEndpointError) as caught:
        client.exchange_code(pending, "c")
    assert caught.value.error == error
    assert caught.value.status == status


def test_an_oversized_token_reply_is_refused() -> None:
    client = rp(lambda request: httpx.Response(200, content=b"x" * 600_000))
    with pytest.raises(TokenEndpointError):
        client.exchange_code(client.authorization_request(), "c")


def test_an_unreachable_token_endpoint_is_a_token_endpoint_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = rp(handler)
    with pytest.raises(TokenEndpointError) as caught:
        client.exchange_code(client.authorization_request(), "c")
    assert caught.value.error == "unreachable"


def test_expires_in_as_text_is_read() -> None:
    data = parse_token_reply(
        200, "application/json", b'{"access_token":"a","token_type":"Bearer","expires_in":"60"}', 10
    )
    assert data["expires_at"] == 70


def test_a_wrong_nonce_in_the_exchange_is_refused() -> None:
    client = rp()
    pending = client.authorization_request()
    other = dataclasses.replace(pending, nonce="another")
    client = rp(lambda request: httpx.Response(200, json=token_reply(pending)))
    with pytest.raises(InvalidNonceError):
        client.exchange_code(other, "c")


# -- refresh (OIDC Core 12.2) -------------------------------------------------------------------


def signed_in(pending: AuthorizationRequest) -> Any:
    client = rp(lambda request: httpx.Response(200, json=token_reply(pending)))
    return client.exchange_code(pending, "c")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"sub": "mallory"}, InvalidSubjectError),
        ({"aud": [CLIENT_ID, "x"], "azp": CLIENT_ID}, InvalidAudienceError),
        ({"auth_time": NOW - 5}, AuthTimeError),
        ({"nonce": "another"}, InvalidNonceError),
    ],
)
def test_a_refreshed_id_token_must_be_about_the_same_sign_in(
    overrides: dict[str, Any], error: type[Exception]
) -> None:
    pending = rp().authorization_request()
    tokens = signed_in(pending)
    reply = token_reply(id_token=id_token(**{"nonce": None, **overrides}))
    verifier = IDTokenVerifier(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        keys=KEY.public(),
        clock=lambda: NOW,
        trusted_audiences=["x"],
    )
    client = rp(lambda request: httpx.Response(200, json=reply), verifier=verifier)
    with pytest.raises(error):
        client.refresh(tokens)


def test_a_refresh_keeps_the_original_nonce_or_none_and_the_old_refresh_token() -> None:
    pending = rp().authorization_request()
    tokens = signed_in(pending)
    for nonce in (None, pending.nonce):  # node-oidc-provider sends the original back
        reply = token_reply(id_token=id_token(nonce=nonce), refresh_token=None)
        client = rp(lambda request, reply=reply: httpx.Response(200, json=reply))
        refreshed = client.refresh(tokens)
        assert refreshed.refresh_token == "rt-1"
        assert refreshed.id_token is not None
        assert refreshed.id_token.sub == "alice"


def test_refresh_without_a_refresh_token_is_a_configuration_error() -> None:
    pending = rp().authorization_request()
    tokens = dataclasses.replace(signed_in(pending), refresh_token=None)
    with pytest.raises(ConfigurationError):
        rp().refresh(tokens)


# -- UserInfo ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body", "error"),
    [
        (200, {}, {"sub": "mallory"}, SubjectMismatchError),
        (200, {}, {"name": "no sub"}, SubjectMismatchError),
        (401, {"www-authenticate": 'Bearer error="invalid_token"'}, {}, UserInfoError),
        (200, {"content-type": "application/jwt"}, None, UserInfoError),
        (200, {}, [1, 2], UserInfoError),
    ],
)
def test_bad_userinfo_replies(
    status: int, headers: dict[str, str], body: Any, error: type[Exception]
) -> None:
    pending = rp().authorization_request()
    tokens = signed_in(pending)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer at-1"
        if body is None:
            return httpx.Response(status, headers=headers, content=b"e30.e30.")
        return httpx.Response(status, headers=headers, json=body)

    with pytest.raises(error):
        rp(handler).userinfo(tokens)


async def test_async_userinfo_checks_the_subject_too() -> None:
    pending = rp().authorization_request()
    tokens = signed_in(pending)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"sub": "mallory"}))
    verifier = IDTokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, keys=KEY.public())
    client = AsyncRelyingParty(
        metadata(),
        client_id=CLIENT_ID,
        redirect_uri=CALLBACK,
        verifier=verifier,
        transport=transport,
    )
    async with client:
        with pytest.raises(SubjectMismatchError):
            await client.userinfo(tokens)


# -- logout --------------------------------------------------------------------------------------


def test_the_logout_url_names_the_client_hint_and_return() -> None:
    pending = rp().authorization_request()
    tokens = signed_in(pending)
    url = rp().logout_url(tokens.id_token, post_logout_redirect_uri=CALLBACK, state="s")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(ISSUER + "/logout?")
    assert query == {
        "client_id": CLIENT_ID,
        "id_token_hint": tokens.id_token.token,
        "post_logout_redirect_uri": CALLBACK,
        "state": "s",
    }
    with pytest.raises(ConfigurationError):
        rp(metadata=metadata(end_session_endpoint=None)).logout_url()


# -- from_provider takes the constructor's options ----------------------------------------------


def provider_handler(pending: list[AuthorizationRequest]) -> Handler:
    """Discovery, the JWKS and a token endpoint answering with an ID token signed by KEY."""
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth",
        "token_endpoint": ISSUER + "/token",
        "jwks_uri": ISSUER + "/jwks",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=document)
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [KEY.public().to_jwk()]})
        if request.url.path == "/token":
            return httpx.Response(200, json=token_reply(pending[0]))
        return httpx.Response(404)

    return handler


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_from_provider_times_the_id_token_with_the_clock_given(asynchronous: bool) -> None:
    for now, expired in ((NOW + 10, False), (NOW + 301, True)):
        pending: list[AuthorizationRequest] = []
        options: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": "s3cret",
            "redirect_uri": CALLBACK,
            "clock": lambda now=now: now,
        }
        handler = provider_handler(pending)
        client: RelyingParty | AsyncRelyingParty
        if asynchronous:
            transport: Any = httpx.MockTransport(handler)
            client = await AsyncRelyingParty.from_provider(ISSUER, transport=transport, **options)
        else:
            client = RelyingParty.from_provider(
                ISSUER, transport=httpx.MockTransport(handler), **options
            )
        pending.append(client.authorization_request())
        try:
            if expired:
                with pytest.raises(tessera.ExpiredTokenError):
                    await _exchange(client, pending[0])
            else:
                tokens = await _exchange(client, pending[0])
                assert tokens.expires_at == now + 300  # the reply is timed by it too
        finally:
            await _close(client)


async def _exchange(client: RelyingParty | AsyncRelyingParty, pending: AuthorizationRequest) -> Any:
    if isinstance(client, AsyncRelyingParty):
        return await client.exchange_code(pending, "c-1")
    return client.exchange_code(pending, "c-1")


async def _close(client: RelyingParty | AsyncRelyingParty) -> None:
    if isinstance(client, AsyncRelyingParty):
        await client.aclose()
    else:
        client.close()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_from_provider_uses_the_verifier_given(asynchronous: bool) -> None:
    given = IDTokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, keys=KEY.public())
    handler = provider_handler([])
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "verifier": given,
    }
    client: RelyingParty | AsyncRelyingParty
    if asynchronous:
        transport: Any = httpx.MockTransport(handler)
        client = await AsyncRelyingParty.from_provider(ISSUER, transport=transport, **options)
    else:
        client = RelyingParty.from_provider(
            ISSUER, transport=httpx.MockTransport(handler), **options
        )
    assert client.verifier is given
    other = IDTokenVerifier(issuer=ISSUER, client_id="another-app", keys=KEY.public())
    with pytest.raises(ConfigurationError):
        RelyingParty.from_provider(
            ISSUER,
            client_id=CLIENT_ID,
            redirect_uri=CALLBACK,
            verifier=other,
            transport=httpx.MockTransport(handler),
        )
