"""The relying party against panva's node-oidc-provider (an OpenID-certified provider nobody
here wrote), driven over HTTP: discovery, code + PKCE + nonce, the ID token verified, UserInfo,
refresh, code reuse refused, RP-initiated logout, the back-channel logout token verified, and
prompt=none afterwards answered with login_required. Once blocking, once with asyncio, and
with each client authentication method and ID token algorithm (RS256, ES256, EdDSA)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from nodeprovider import BackChannel, NodeProvider, Person, node_provider, query_of, web_client

from tessera.oidc import (
    AsyncRelyingParty,
    AuthorizationError,
    InvalidNonceError,
    RelyingParty,
    StateMismatchError,
    TokenEndpointError,
)

pytestmark = pytest.mark.anyio

SECRET = "rp-secret-rp-secret-rp-secret-rp-secret-0001"
CALLBACK = "http://127.0.0.1:9/callback"
AFTER_LOGOUT = "http://127.0.0.1:9/signed-out"
SCOPE = "openid profile email"


@pytest.fixture(scope="module")
def backchannel() -> Iterator[BackChannel]:
    with BackChannel().running() as running:
        yield running


@pytest.fixture(scope="module")
def provider(backchannel: BackChannel) -> Iterator[NodeProvider]:
    clients = [
        web_client(
            "rp-basic",
            CALLBACK,
            secret=SECRET,
            method="client_secret_basic",
            post_logout=AFTER_LOGOUT,
            backchannel=backchannel.url,
        ),
        web_client(
            "rp-async",
            CALLBACK,
            secret=SECRET,
            method="client_secret_basic",
            post_logout=AFTER_LOGOUT,
            backchannel=backchannel.url,
        ),
        web_client("rp-post", CALLBACK, secret=SECRET, method="client_secret_post", alg="ES256"),
        web_client("rp-public", CALLBACK, secret=None, method="none", alg="EdDSA"),
    ]
    with node_provider(clients) as running:
        yield running


def test_sync_sign_in_userinfo_refresh_and_logout(
    provider: NodeProvider, backchannel: BackChannel
) -> None:
    backchannel.received.clear()
    backchannel.tokens.clear()
    with RelyingParty.from_provider(
        provider.issuer,
        client_id="rp-basic",
        client_secret=SECRET,
        redirect_uri=CALLBACK,
        scope=SCOPE,
    ) as rp:
        assert rp.metadata.authorization_response_iss_parameter_supported
        person = Person(provider, login="alice")
        pending = rp.authorization_request(max_age=600)
        landed = person.go(pending.url)
        assert landed.startswith(CALLBACK + "?")
        query = query_of(landed)
        assert query["iss"] == provider.issuer  # RFC 9207, checked by callback()
        tokens = rp.callback(pending, query)
        id_token = tokens.id_token
        assert id_token is not None
        assert (id_token.iss, id_token.sub, id_token.aud) == (
            provider.issuer,
            "alice",
            ("rp-basic",),
        )
        assert id_token.nonce == pending.nonce
        assert id_token.alg == "RS256"
        assert id_token.auth_time is not None
        assert id_token.sid is not None
        assert tokens.refresh_token is not None

        claims = rp.userinfo(tokens)
        assert claims == {
            "sub": "alice",
            "name": "Person alice",
            "email": "alice@example.test",
            "email_verified": True,
        }

        refreshed = rp.refresh(tokens)
        assert refreshed.access_token != tokens.access_token
        assert refreshed.id_token is not None
        assert refreshed.id_token.sub == "alice"
        assert refreshed.id_token.auth_time == id_token.auth_time
        assert rp.userinfo(refreshed)["sub"] == "alice"

        logout = rp.logout_url(
            refreshed.id_token, post_logout_redirect_uri=AFTER_LOGOUT, state="bye-1"
        )
        back = person.log_out(logout)
        assert back.startswith(AFTER_LOGOUT)
        assert query_of(back)["state"] == "bye-1"
        assert backchannel.received.wait(10), [
            x for x in provider.output if "WARN" not in x and "NOTICE" not in x
        ]
        logout_token = rp.verifier.verify_logout_token(backchannel.tokens[0], require_typ=True)
        assert logout_token.sub == "alice"
        assert logout_token.sid == id_token.sid

        silent = rp.authorization_request(prompt="none")
        with pytest.raises(AuthorizationError) as refused:
            rp.callback(silent, query_of(person.go(silent.url)))
        assert refused.value.error == "login_required"
        person.close()


async def test_async_sign_in_userinfo_refresh_and_logout(
    provider: NodeProvider, backchannel: BackChannel
) -> None:
    backchannel.received.clear()
    backchannel.tokens.clear()
    rp = await AsyncRelyingParty.from_provider(
        provider.issuer,
        client_id="rp-async",
        client_secret=SECRET,
        redirect_uri=CALLBACK,
        scope=SCOPE,
    )
    async with rp:
        person = Person(provider, login="bob")
        pending = rp.authorization_request()
        tokens = await rp.callback(pending, query_of(person.go(pending.url)))
        assert tokens.id_token is not None
        assert tokens.id_token.sub == "bob"
        assert (await rp.userinfo(tokens))["name"] == "Person bob"
        refreshed = await rp.refresh(tokens)
        assert refreshed.id_token is not None
        assert refreshed.id_token.sub == "bob"
        back = person.log_out(
            rp.logout_url(refreshed.id_token, post_logout_redirect_uri=AFTER_LOGOUT, state="s2")
        )
        assert query_of(back)["state"] == "s2"
        assert backchannel.received.wait(10), [
            x for x in provider.output if "WARN" not in x and "NOTICE" not in x
        ]
        logout_token = await rp.verifier.averify_logout_token(backchannel.tokens[0])
        assert logout_token.sub == "bob"
        person.close()


@pytest.mark.parametrize(
    ("client_id", "secret", "alg"),
    [("rp-post", SECRET, "ES256"), ("rp-public", None, "EdDSA")],
)
def test_client_auth_methods_and_id_token_algorithms(
    provider: NodeProvider, client_id: str, secret: str | None, alg: str
) -> None:
    with RelyingParty.from_provider(
        provider.issuer,
        client_id=client_id,
        client_secret=secret,
        auth_method="client_secret_post" if secret else None,
        redirect_uri=CALLBACK,
        scope=SCOPE,
    ) as rp:
        person = Person(provider, login="carol")
        pending = rp.authorization_request()
        tokens = rp.callback(pending, query_of(person.go(pending.url)))
        assert tokens.id_token is not None
        assert tokens.id_token.alg == alg
        assert rp.userinfo(tokens)["email"] == "carol@example.test"
        person.close()


def test_a_forged_state_or_nonce_is_refused(provider: NodeProvider) -> None:
    with RelyingParty.from_provider(
        provider.issuer, client_id="rp-basic", client_secret=SECRET, redirect_uri=CALLBACK
    ) as rp:
        person = Person(provider)
        pending = rp.authorization_request()
        query = query_of(person.go(pending.url))
        with pytest.raises(StateMismatchError):
            rp.callback(pending, {**query, "state": query["state"] + "x"})
        with pytest.raises(StateMismatchError):
            rp.callback(rp.authorization_request(), query)  # another browser's sign-in
        with pytest.raises(AuthorizationError):
            rp.callback(pending, {**query, "iss": "http://127.0.0.1:1"})  # mix-up
        with pytest.raises(InvalidNonceError):
            rp.callback(dataclasses.replace(pending, nonce="another-nonce"), query)
        person.close()


def test_a_wrong_client_secret_is_invalid_client(provider: NodeProvider) -> None:
    with RelyingParty.from_provider(
        provider.issuer, client_id="rp-basic", client_secret="wrong", redirect_uri=CALLBACK
    ) as rp:
        person = Person(provider)
        pending = rp.authorization_request()
        with pytest.raises(TokenEndpointError) as refused:
            rp.callback(pending, query_of(person.go(pending.url)))
        assert refused.value.error == "invalid_client"
        assert refused.value.status == 401
        person.close()


def test_reusing_a_code_is_invalid_grant(provider: NodeProvider) -> None:
    with RelyingParty.from_provider(
        provider.issuer, client_id="rp-basic", client_secret=SECRET, redirect_uri=CALLBACK
    ) as rp:
        person = Person(provider)
        pending = rp.authorization_request()
        query = query_of(person.go(pending.url))
        assert rp.callback(pending, query).id_token is not None
        with pytest.raises(TokenEndpointError) as reused:
            rp.callback(pending, query)
        assert reused.value.error == "invalid_grant"
        assert reused.value.status == 400
        person.close()
