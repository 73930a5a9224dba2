"""OpenID Dynamic Client Registration 1.0 members at /register: a self-registered client
gets ID tokens with its id_token_signed_response_alg, pairwise subjects, and its
post_logout_redirect_uris at /logout; bad members are invalid_client_metadata. Both
backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from serverhelp import (
    Browser,
    Client,
    Databases,
    Pkce,
    RunningServer,
    auth_params,
    query_of,
    running_server,
)

import tessera

CALLBACK = "https://rp.example/cb"
AFTER = "https://rp.example/bye"


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases) -> Iterator[RunningServer]:
    with running_server(
        databases.new(backend),
        backend,
        registration=True,
        dynamic_scopes=["openid", "profile", "offline_access"],
    ) as running:
        yield running


def document(**extra: Any) -> dict[str, Any]:
    return {
        "client_name": "An OpenID app",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile",
        **extra,
    }


def register(server: RunningServer, body: dict[str, Any]) -> httpx.Response:
    return server.http.post("/register", json=body)


def id_token(server: RunningServer, client_id: str, browser: Browser) -> str:
    pkce = Pkce.new()
    params = auth_params(Client(client_id, None, "self-registered"), CALLBACK, pkce, scope="openid")
    location = browser.authorize(params, server.add_user())
    response = server.post_token(
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": query_of(location)["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        }
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id_token"])


def test_registered_openid_members_take_effect(server: RunningServer) -> None:
    created = register(
        server,
        document(
            id_token_signed_response_alg="ES256",
            subject_type="pairwise",
            post_logout_redirect_uris=[AFTER],
            backchannel_logout_uri="https://rp.example/bc",
        ),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["post_logout_redirect_uris"] == [AFTER]
    client_id = body["client_id"]
    with Browser(server) as browser:
        token = id_token(server, client_id, browser)
        header, claims = tessera.decode_unverified(token)
        assert header["alg"] == "ES256"
        assert len(claims["sub"]) == 43  # pairwise: a hash, not the user id
        out = browser.http.get(
            "/logout",
            params={"id_token_hint": token, "post_logout_redirect_uri": AFTER, "state": "s"},
        )
        assert out.status_code == 303
        assert out.headers["location"] == AFTER + "?state=s"


def test_a_plain_registration_gets_the_defaults(server: RunningServer) -> None:
    created = register(server, document())
    assert created.status_code == 201, created.text
    with Browser(server) as browser:
        token = id_token(server, created.json()["client_id"], browser)
    assert tessera.decode_unverified(token)[0]["alg"] == "RS256"


@pytest.mark.parametrize(
    "bad",
    [
        {"id_token_signed_response_alg": "HS256"},
        {"id_token_signed_response_alg": "none"},
        {"id_token_signed_response_alg": 5},
        {"subject_type": "secret"},
        {"post_logout_redirect_uris": "https://rp.example/bye"},
        {"post_logout_redirect_uris": ["http://rp.example/bye"]},
        {"post_logout_redirect_uris": ["https://rp.example/bye#x"]},
        {"backchannel_logout_uri": "ftp://rp.example/bc"},
        {"backchannel_logout_uri": ["https://rp.example/bc"]},
        {"backchannel_logout_session_required": "yes"},
        {"sector_identifier_uri": "http://rp.example/sector.json"},
    ],
)
def test_bad_openid_members_are_invalid_client_metadata(
    server: RunningServer, bad: dict[str, Any]
) -> None:
    response = register(server, document(**bad))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"
