"""Clients and verifiers that are not ours: Authlib's OAuth2Client (httpx) gets tokens with
client_secret_basic and private_key_jwt; PyJWT's PyJWKClient verifies them from /jwks.json."""

from __future__ import annotations

import time
import warnings

import jwt
import pytest
from joserfc.jwk import ECKey, RSAKey
from serverhelp import RunningServer

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
    tokens = []
    for _ in range(2):
        # Authlib's default assertion lives an hour (we accept at most 300 s), so pass exp;
        # a fresh PrivateKeyJWT each time because Authlib stores its jti in the claims dict.
        auth = PrivateKeyJWT(server.token_url, alg=alg, claims={"exp": int(time.time()) + 60})
        with OAuth2Client(registered.client_id, private, token_endpoint_auth_method=auth) as client:
            tokens.append(client.fetch_token(server.token_url, grant_type="client_credentials"))
    claims = verify_with_pyjwt(server, tokens[0]["access_token"])
    assert claims["sub"] == registered.client_id
    assert tokens[0]["access_token"] != tokens[1]["access_token"]


def test_authlib_sees_oauth_errors(server: RunningServer) -> None:
    from authlib.integrations.base_client.errors import OAuthError

    with (
        OAuth2Client("nobody", "wrong", token_endpoint_auth_method="client_secret_basic") as c,
        pytest.raises(OAuthError) as caught,
    ):
        c.fetch_token(server.token_url, grant_type="client_credentials")
    assert caught.value.error == "invalid_client"
