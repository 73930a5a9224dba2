"""OpenID Connect provider: discovery, the ID token of the code flow (claims, nonce, at_hash,
typ, algorithm per client) and of the refresh grant, and the separation of ID tokens from
access tokens; on both backends."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import httpx
import pytest
from serverhelp import (
    Browser,
    Client,
    Databases,
    Pkce,
    RunningServer,
    User,
    auth_params,
    query_of,
    running_server,
)

import tessera
from tessera.resource import StaticKeys, Verifier
from tessera.server.storage import oidc_clients
from tessera.server.storage.oidc_clients import OidcClient

CALLBACK = "https://rp.example/cb"
OPENID_SCOPES = "openid profile email phone address offline_access"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def register(server: RunningServer, **registration: Any) -> Client:
    """An OpenID client (no API audience: its access token is for UserInfo)."""
    client = server.add_client(scope=OPENID_SCOPES, audiences=(), redirect_uris=(CALLBACK,))
    if registration:
        with server.db.write() as conn:
            oidc_clients.save(conn, OidcClient(client.client_id, **registration))
    return client


def sign_in(
    server: RunningServer, client: Client, user: User, pkce: Pkce, **params: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Authorize (sign in, allow); the request's parameters and the redirect's query."""
    request = auth_params(client, CALLBACK, pkce, scope=params.pop("scope", "openid"), **params)
    with Browser(server) as browser:
        location = browser.authorize(request, user)
    return request, query_of(location)


def exchange(server: RunningServer, client: Client, code: str, pkce: Pkce) -> httpx.Response:
    return server.post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        },
        auth=(client.client_id, client.secret or ""),
    )


def id_claims(server: RunningServer, token: str, client: Client, alg: str = "RS256") -> dict:
    keys = tessera.KeySet.from_jwks(server.http.get("/jwks.json").text)
    return tessera.decode(
        token,
        keys,
        algorithms=[alg],
        issuer=server.url,
        audience=client.client_id,
        typ="JWT",
        require=("exp", "iat", "sub", "aud", "auth_time"),
        now=server.clock(),
    )


@pytest.fixture(scope="module")
def user(server: RunningServer) -> User:
    return server.add_user()


# -- discovery ------------------------------------------------------------------------------


def test_openid_configuration_is_the_rfc_8414_document_plus_openid_members(
    server: RunningServer,
) -> None:
    response = server.http.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    oidc = response.json()
    oauth = server.http.get("/.well-known/oauth-authorization-server").json()
    assert {k: oidc[k] for k in oauth} == oauth  # every shared member agrees
    assert oidc["issuer"] == server.url
    assert oidc["userinfo_endpoint"] == server.url + "/userinfo"
    assert oidc["end_session_endpoint"] == server.url + "/logout"
    assert oidc["id_token_signing_alg_values_supported"][0] == "RS256"
    assert "ES256" in oidc["id_token_signing_alg_values_supported"]
    assert oidc["subject_types_supported"] == ["public", "pairwise"]
    assert {"sub", "iss", "auth_time", "nonce", "email", "name"} <= set(oidc["claims_supported"])
    assert {"openid", "profile", "email", "address", "phone"} <= set(oidc["scopes_supported"])
    assert oidc["response_types_supported"] == ["code"]
    assert oidc["request_parameter_supported"] is False
    assert oidc["request_uri_parameter_supported"] is False
    assert oidc["claims_parameter_supported"] is True
    assert oidc["backchannel_logout_supported"] is True


def test_openid_configuration_of_an_issuer_with_a_path(databases: Databases, backend: str) -> None:
    with running_server(databases.new(backend), backend, issuer_path="/realms/main") as srv:
        response = httpx.get(srv.url + "/.well-known/openid-configuration")
        assert response.status_code == 200
        assert response.json()["issuer"] == srv.url
        assert response.json()["token_endpoint"] == srv.url + "/token"
        root = httpx.get(srv.url.rsplit("/realms", 1)[0] + "/.well-known/openid-configuration")
        assert root.status_code == 404


# -- the ID token of the code flow ---------------------------------------------------------


def test_code_flow_with_openid_returns_an_id_token(server: RunningServer, user: User) -> None:
    client = register(server)
    pkce = Pkce.new()
    nonce = "n-0S6_WzA2Mj " + secrets.token_urlsafe(8) + " é"
    request, answer = sign_in(server, client, user, pkce, scope="openid", nonce=nonce)
    assert answer["state"] == request["state"]
    response = exchange(server, client, answer["code"], pkce)
    assert response.status_code == 200, response.text
    body = response.json()
    header = tessera.decode_unverified(body["id_token"])[0]
    assert header["typ"] == "JWT"
    assert header["alg"] == "RS256"
    claims = id_claims(server, body["id_token"], client)
    assert claims["iss"] == server.url
    assert claims["sub"] == user.user_id
    assert claims["aud"] == client.client_id
    assert claims["nonce"] == nonce  # echoed exactly
    assert claims["exp"] == claims["iat"] + server.settings.token_lifetime
    assert claims["iat"] == int(server.clock())
    assert claims["auth_time"] <= claims["iat"]
    assert claims["amr"] == ["pwd"]
    assert isinstance(claims["sid"], str)
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == _b64(digest[:16])
    assert "azp" not in claims  # one audience: azp is not needed
    access = tessera.decode_unverified(body["access_token"])[1]
    assert access["aud"] == server.url + "/userinfo"
    assert access["scope"] == "openid"


def test_without_nonce_the_id_token_has_none(server: RunningServer, user: User) -> None:
    client = register(server)
    pkce = Pkce.new()
    _request, answer = sign_in(server, client, user, pkce)
    claims = id_claims(
        server, exchange(server, client, answer["code"], pkce).json()["id_token"], client
    )
    assert "nonce" not in claims


def test_without_openid_scope_no_id_token(server: RunningServer, user: User) -> None:
    client = server.add_client(scope="read:docs openid", redirect_uris=(CALLBACK,))
    pkce = Pkce.new()
    _request, answer = sign_in(server, client, user, pkce, scope="read:docs", nonce="abc")
    body = exchange(server, client, answer["code"], pkce).json()
    assert "id_token" not in body
    assert body["scope"] == "read:docs"


def test_scope_claims_are_in_the_id_token(server: RunningServer) -> None:
    from tessera.server import accounts

    person = server.add_user()
    accounts.update_claims(
        server.db,
        person.username,
        {"email": "ada@example.org", "email_verified": True, "name": "Ada Lovelace"},
        now=server.clock(),
    )
    client = register(server)
    pkce = Pkce.new()
    _request, answer = sign_in(server, client, person, pkce, scope="openid email")
    claims = id_claims(
        server, exchange(server, client, answer["code"], pkce).json()["id_token"], client
    )
    assert claims["email"] == "ada@example.org"
    assert claims["email_verified"] is True
    assert "name" not in claims  # profile was not asked for


def test_client_registered_for_es256_gets_es256_id_tokens(
    server: RunningServer, user: User
) -> None:
    client = register(server, id_token_alg="ES256")
    pkce = Pkce.new()
    _request, answer = sign_in(server, client, user, pkce, nonce="x")
    token = exchange(server, client, answer["code"], pkce).json()["id_token"]
    assert tessera.decode_unverified(token)[0]["alg"] == "ES256"
    claims = id_claims(server, token, client, alg="ES256")
    assert claims["nonce"] == "x"


def test_refresh_with_openid_returns_a_new_id_token(server: RunningServer, user: User) -> None:
    client = register(server)
    pkce = Pkce.new()
    _request, answer = sign_in(
        server, client, user, pkce, scope="openid offline_access", nonce="first"
    )
    first = exchange(server, client, answer["code"], pkce).json()
    original = id_claims(server, first["id_token"], client)
    server.clock.advance(120)
    refreshed = server.post_token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(client.client_id, client.secret or ""),
    )
    assert refreshed.status_code == 200, refreshed.text
    claims = id_claims(server, refreshed.json()["id_token"], client)
    assert claims["sub"] == original["sub"]
    assert claims["auth_time"] == original["auth_time"]  # the original authentication
    assert claims["iat"] == original["iat"] + 120
    assert "nonce" not in claims
    digest = hashlib.sha256(refreshed.json()["access_token"].encode()).digest()
    assert claims["at_hash"] == _b64(digest[:16])
    narrowed = server.post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": refreshed.json()["refresh_token"],
            "scope": "offline_access",
        },
        auth=(client.client_id, client.secret or ""),
    )
    assert narrowed.status_code == 200
    assert "id_token" not in narrowed.json()  # openid was dropped


def test_an_id_token_never_passes_as_an_access_token(server: RunningServer, user: User) -> None:
    client = register(server)
    pkce = Pkce.new()
    _request, answer = sign_in(server, client, user, pkce)
    body = exchange(server, client, answer["code"], pkce).json()
    keys = tessera.KeySet.from_jwks(server.http.get("/jwks.json").text)
    verifier = Verifier(
        issuer=server.url,
        keys=StaticKeys(keys),
        audience=[client.client_id, server.url + "/userinfo"],
        clock=server.clock,
    )
    with pytest.raises(tessera.InvalidToken):
        verifier.verify(body["id_token"])
    assert verifier.verify(body["access_token"]).sub == user.user_id
    with pytest.raises(tessera.InvalidToken):  # the reverse: an access token is not an ID token
        tessera.decode(
            body["access_token"],
            keys,
            algorithms=["ES256", "RS256"],
            issuer=server.url,
            audience=server.url + "/userinfo",
            typ="JWT",
            now=server.clock(),
        )
    introspected = server.http.post(
        "/introspect",
        data={"token": body["id_token"]},
        auth=(client.client_id, client.secret or ""),
    )
    assert introspected.json() == {"active": False}
    userinfo = server.http.get("/userinfo", headers={"Authorization": f"Bearer {body['id_token']}"})
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]
