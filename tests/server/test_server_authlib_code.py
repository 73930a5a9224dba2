"""A client that is not ours: Authlib's ``OAuth2Client`` (httpx) runs the authorization code
flow with PKCE S256 (it builds the URL, a person signs in by posting the real forms, the
redirect is followed, the code exchanged) and refreshes, as a confidential and as a public
client, on both backends."""

from __future__ import annotations

import warnings

import httpx
import pytest
from serverhelp import RunningServer, User, hidden_fields

import tessera

with warnings.catch_warnings(record=True):
    # Authlib announces a future "httpx2" package and warns when it runs on httpx itself.
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

CALLBACK = "https://app.example/callback"


def sign_in_and_allow(server: RunningServer, url: str, user: User) -> str:
    """Play the person's browser with httpx: the forms, their CSRF token, the cookie."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        assert "session" in " ".join(browser.cookies.keys())
        signed = browser.post(
            server.url + "/authorize",
            data={**hidden_fields(page.text), "username": user.username, "password": user.password},
        )
        assert signed.status_code == 303, signed.text
        consent = browser.get(server.url + signed.headers["location"])
        assert consent.status_code == 200, consent.text
        allowed = browser.post(
            server.url + "/authorize", data={**hidden_fields(consent.text), "decision": "allow"}
        )
        assert allowed.status_code == 303, allowed.text
        return str(allowed.headers["location"])


def verify(server: RunningServer, token: str) -> dict:
    keys = tessera.KeySet.from_jwks(server.http.get("/jwks.json").text)
    return tessera.decode(
        token,
        keys,
        algorithms=["ES256"],
        issuer=server.url,
        audience="https://api.example",
        typ="at+jwt",
        now=server.clock(),
    )


def test_authlib_code_flow_with_pkce_and_refresh(server: RunningServer) -> None:
    registered = server.add_client(
        scope="read:docs write:docs offline_access", redirect_uris=(CALLBACK,)
    )
    user = server.add_user()
    verifier = generate_token(64)
    with OAuth2Client(
        registered.client_id,
        registered.secret,
        scope="read:docs offline_access",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    ) as oauth:
        url, state = oauth.create_authorization_url(
            server.url + "/authorize", code_verifier=verifier
        )
        assert "code_challenge=" in url
        location = sign_in_and_allow(server, url, user)
        assert f"state={state}" in location
        token = oauth.fetch_token(
            server.token_url, authorization_response=location, code_verifier=verifier
        )
        assert verify(server, token["access_token"])["sub"] == user.user_id
        refreshed = oauth.refresh_token(server.token_url, refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert verify(server, refreshed["access_token"])["scope"] == "read:docs offline_access"


def test_authlib_public_client_code_flow(server: RunningServer) -> None:
    callback = "http://127.0.0.1:8123/cb"
    registered = server.add_client(
        scope="read:docs", client_type="public", redirect_uris=(callback,)
    )
    user = server.add_user()
    verifier = generate_token(48)
    with OAuth2Client(
        registered.client_id,
        redirect_uri=callback,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    ) as oauth:
        url, _state = oauth.create_authorization_url(
            server.url + "/authorize", code_verifier=verifier
        )
        location = sign_in_and_allow(server, url, user)
        token = oauth.fetch_token(
            server.token_url, authorization_response=location, code_verifier=verifier
        )
        assert token["scope"] == "read:docs"
        refreshed = oauth.refresh_token(server.token_url, refresh_token=token["refresh_token"])
    assert verify(server, refreshed["access_token"])["client_id"] == registered.client_id


def test_authlib_without_the_verifier_is_refused(server: RunningServer) -> None:
    registered = server.add_client(scope="read:docs", redirect_uris=(CALLBACK,))
    user = server.add_user()
    verifier = generate_token(48)
    with OAuth2Client(
        registered.client_id,
        registered.secret,
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    ) as oauth:
        url, _state = oauth.create_authorization_url(
            server.url + "/authorize", code_verifier=verifier
        )
        location = sign_in_and_allow(server, url, user)
        with pytest.raises(OAuthError) as refused:
            oauth.fetch_token(server.token_url, authorization_response=location)
    assert refused.value.error == "invalid_request"
