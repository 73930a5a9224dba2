"""Clients and verifiers that are not ours: Authlib's OAuth2Client (httpx) gets tokens with
client_secret_basic and private_key_jwt; PyJWT's PyJWKClient verifies them from /jwks.json."""

from __future__ import annotations

import time
import warnings
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest
from joserfc.jwk import ECKey, RSAKey
from serverhelp import Databases, FakeClock, RunningServer, running_server

import tessera

with warnings.catch_warnings(record=True):
    # Authlib announces a future "httpx2" package and warns (forcing "always") when it runs
    # on httpx itself; recording swallows it.
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oauth2.rfc7523 import PrivateKeyJWT


def verify_with_pyjwt(server: RunningServer, token: str) -> dict:
    jwks_client = jwt.PyJWKClient(server.url + "/jwks.json")
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    return dict(
        jwt.decode(
            token,
            signing_key.key,
            algorithms=["ES256"],
            audience="https://api.example",
            issuer=server.url,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
    )


def test_authlib_client_secret_basic_and_pyjwt_verifies(server: RunningServer) -> None:
    registered = server.add_client()
    with OAuth2Client(
        registered.client_id,
        registered.secret,
        scope="read:docs",
        token_endpoint_auth_method="client_secret_basic",
    ) as client:
        token = client.fetch_token(server.token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read:docs"
    claims = verify_with_pyjwt(server, token["access_token"])
    assert claims["client_id"] == registered.client_id
    assert claims["scope"] == "read:docs"


def test_authlib_client_secret_post(server: RunningServer) -> None:
    registered = server.add_client()
    with OAuth2Client(
        registered.client_id,
        registered.secret,
        token_endpoint_auth_method="client_secret_post",
    ) as client:
        token = client.fetch_token(server.token_url, grant_type="client_credentials")
    verify_with_pyjwt(server, token["access_token"])


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_authlib_private_key_jwt_and_pyjwt_verifies(server: RunningServer, alg: str) -> None:
    key = tessera.Key.generate(alg)
    registered = server.add_client(key=key)
    pem = key.to_pem(private=True)
    private = ECKey.import_key(pem) if alg.startswith("ES") else RSAKey.import_key(pem)
    server.clock.now = max(server.clock.now, float(int(time.time())))  # Authlib's clock
    tokens = []
    # Authlib's defaults: assertions valid for an hour, a fresh jti for each request
    auth = PrivateKeyJWT(server.token_url, alg=alg)
    with OAuth2Client(registered.client_id, private, token_endpoint_auth_method=auth) as client:
        for _ in range(2):
            tokens.append(client.fetch_token(server.token_url, grant_type="client_credentials"))
    claims = verify_with_pyjwt(server, tokens[0]["access_token"])
    assert claims["sub"] == registered.client_id
    assert tokens[0]["access_token"] != tokens[1]["access_token"]


def test_authlib_default_private_key_jwt_is_single_use_for_its_hour(
    databases: Databases, backend: str
) -> None:
    clock = FakeClock()
    with running_server(databases.new(backend), backend, clock=clock) as served:
        key = tessera.Key.generate("RS256")
        registered = served.add_client(key=key)
        sent: list[bytes] = []

        def keep(request: httpx.Request) -> None:
            sent.append(request.read())

        auth = PrivateKeyJWT(served.token_url)  # every default: RS256, exp = now + 3600
        private = RSAKey.import_key(key.to_pem(private=True))
        with OAuth2Client(
            registered.client_id,
            private,
            token_endpoint_auth_method=auth,
            event_hooks={"request": [keep]},
        ) as client:
            token = client.fetch_token(served.token_url, grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        (body,) = sent
        assertion = dict(parse_qsl(body.decode()))["client_assertion"]
        lifetime = tessera.decode_unverified(assertion)[1]
        assert lifetime["exp"] - lifetime["iat"] == 3600
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        start = clock.now
        for elapsed in (0, 600, 3599):
            clock.now = start + elapsed
            served.context.maintain()  # purges used ids whose assertions expired
            replay = served.http.post("/token", content=body, headers=headers)
            assert replay.status_code == 401, (elapsed, replay.text)
            assert "already used" in replay.json()["error_description"]


def test_authlib_sees_oauth_errors(server: RunningServer) -> None:
    from authlib.integrations.base_client.errors import OAuthError

    with (
        OAuth2Client("nobody", "wrong", token_endpoint_auth_method="client_secret_basic") as c,
        pytest.raises(OAuthError) as caught,
    ):
        c.fetch_token(server.token_url, grant_type="client_credentials")
    assert caught.value.error == "invalid_client"
