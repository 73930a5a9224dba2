"""The OpenID "Basic OP" plan items not covered elsewhere (see tests/server/oidc/README.md):
parameters a provider must accept and ignore, scope order, the authorization request by POST,
client_secret_post, max_age that is not exceeded, code reuse with openid, an unregistered
redirect URI; on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from serverhelp import (
    Browser,
    Client,
    Pkce,
    RunningServer,
    User,
    auth_params,
    hidden_fields,
    query_of,
)

import tessera

CALLBACK = "https://rp.example/cb"


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client(
        scope="openid profile email phone address offline_access",
        audiences=(),
        redirect_uris=(CALLBACK,),
    )


@pytest.fixture(scope="module")
def user(server: RunningServer) -> User:
    return server.add_user()


def code_flow(
    server: RunningServer, client: Client, user: User, *, auth: str = "basic", **extra: str
) -> dict[str, Any]:
    """Sign in and allow with ``extra`` request parameters; the token response."""
    pkce = Pkce.new()
    scope = extra.pop("scope", "openid")
    with Browser(server) as browser:
        location = browser.authorize(
            auth_params(client, CALLBACK, pkce, scope=scope, **extra), user
        )
    form = {
        "grant_type": "authorization_code",
        "code": query_of(location)["code"],
        "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier,
    }
    if auth == "post":
        response = server.post_token(
            {**form, "client_id": client.client_id, "client_secret": client.secret or ""}
        )
    else:
        response = server.post_token(form, auth=(client.client_id, client.secret or ""))
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    "extra",
    [
        {"display": "page"},
        {"display": "popup"},
        {"ui_locales": "se en-GB"},
        {"claims_locales": "se en"},
        {"acr_values": "1 2"},
        {"claims": '{"id_token":{"email":{"essential":true}}}'},  # see test_server_oidc_claims
        {"vendor_extension": "ignored"},  # an unknown parameter
        {"max_age": "10000"},
        {"login_hint": "someone"},
    ],
)
def test_accepted_parameters_do_not_break_the_flow(
    server: RunningServer, client: Client, user: User, extra: dict[str, str]
) -> None:
    body = code_flow(server, client, user, **extra)
    claims = tessera.decode_unverified(body["id_token"])[1]
    assert claims["sub"] == user.user_id
    assert "auth_time" in claims


def test_scope_order_does_not_matter(server: RunningServer, client: Client, user: User) -> None:
    body = code_flow(server, client, user, scope="email openid profile")
    claims = tessera.decode_unverified(body["id_token"])[1]
    assert claims["sub"] == user.user_id
    assert body["scope"] == "email openid profile"


def test_client_secret_post(server: RunningServer, client: Client, user: User) -> None:
    assert "id_token" in code_flow(server, client, user, auth="post")


def test_authorization_request_by_post(server: RunningServer, client: Client, user: User) -> None:
    pkce = Pkce.new()
    sent = auth_params(client, CALLBACK, pkce, scope="openid", nonce="posted")
    with Browser(server) as browser:
        page = browser.http.post("/authorize", data=sent)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        signed = browser.post(
            hidden_fields(page.text), username=user.username, password=user.password
        )
        consent = browser.http.get(signed.headers["location"])
        answer = browser.post(hidden_fields(consent.text), decision="allow")
        query = query_of(answer.headers["location"])
        refused = browser.http.post("/authorize", data={**sent, "prompt": "bogus"})
        assert refused.status_code == 303
        assert query_of(refused.headers["location"])["error"] == "invalid_request"
    response = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        },
        auth=(client.client_id, client.secret or ""),
    )
    assert tessera.decode_unverified(response.json()["id_token"])[1]["nonce"] == "posted"


def test_code_reuse_is_refused_and_revokes(
    server: RunningServer, client: Client, user: User
) -> None:
    pkce = Pkce.new()
    with Browser(server) as browser:
        location = browser.authorize(
            auth_params(client, CALLBACK, pkce, scope="openid offline_access"), user
        )
    form = {
        "grant_type": "authorization_code",
        "code": query_of(location)["code"],
        "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier,
    }
    auth = (client.client_id, client.secret or "")
    first = server.post_token(form, auth=auth)
    assert first.status_code == 200
    server.clock.advance(30)
    again = server.post_token(form, auth=auth)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    info = server.http.get(
        "/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert info.status_code == 401  # the tokens of the reused code are revoked


def test_unregistered_redirect_uri_is_never_followed(server: RunningServer, client: Client) -> None:
    sent = auth_params(client, "https://evil.example/cb", Pkce.new(), scope="openid")
    with Browser(server) as browser:
        response = browser.open(sent)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_missing_response_type_is_an_error_at_the_client(
    server: RunningServer, client: Client
) -> None:
    sent = auth_params(client, CALLBACK, Pkce.new(), scope="openid")
    del sent["response_type"]
    with Browser(server) as browser:
        response = browser.open(sent)
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_request"
    assert query["state"] == sent["state"]


def test_id_token_signature_verifies_with_the_published_rs256_key(
    server: RunningServer, client: Client, user: User
) -> None:
    body = code_flow(server, client, user)
    header = tessera.decode_unverified(body["id_token"])[0]
    jwks = server.http.get("/jwks.json").json()["keys"]
    published = next(key for key in jwks if key["kid"] == header["kid"])
    assert published["alg"] == "RS256"
    assert published["use"] == "sig"
    assert published["kty"] == "RSA"
    tessera.decode(
        body["id_token"],
        tessera.Key.from_jwk(published),
        algorithms=["RS256"],
        audience=client.client_id,
        now=server.clock(),
    )
