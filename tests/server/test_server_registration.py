"""Dynamic client registration (RFC 7591) and its management (RFC 7592) over real HTTP:
register, read, replace, delete with the registration access token; bad metadata answered
with the RFC 7591 error codes; the initial access token and the client bound when set;
native clients' loopback redirect URIs matching any port (RFC 8252 sec. 7.3)."""

from __future__ import annotations

import hashlib
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
from sqlalchemy import text

import tessera

API = "https://api.example"


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases) -> Iterator[RunningServer]:
    with running_server(
        databases.new(backend),
        backend,
        registration=True,
        dynamic_scopes=["read:docs", "offline_access"],
        default_audience=[API],
    ) as running:
        yield running


def register(server: RunningServer, document: Any, **kwargs: Any) -> httpx.Response:
    return server.http.post("/register", json=document, **kwargs)


def native(**extra: Any) -> dict[str, Any]:
    return {
        "client_name": "Example MCP client",
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "read:docs",
        **extra,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    return str(response.json()["error"])


def test_metadata_advertises_the_registration_endpoint(server: RunningServer) -> None:
    document = server.http.get("/.well-known/oauth-authorization-server").json()
    assert document["registration_endpoint"] == server.url + "/register"
    assert document["scopes_supported"] == [  # OpenID's, offline_access, + dynamic_scopes
        "openid",
        "profile",
        "email",
        "address",
        "phone",
        "offline_access",
        "read:docs",
    ]


def test_registered_native_client_signs_in_on_any_loopback_port(server: RunningServer) -> None:
    answer = register(server, native())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["cache-control"] == "no-store"
    assert body["token_endpoint_auth_method"] == "none"
    assert body["redirect_uris"] == ["http://127.0.0.1/callback"]
    assert body["registration_client_uri"] == f"{server.url}/register/{body['client_id']}"
    assert "client_secret" not in body
    with server.db.read() as conn:
        stored = conn.execute(
            text("SELECT registration_token_hash FROM clients WHERE client_id = :id"),
            {"id": body["client_id"]},
        ).scalar_one()
    assert stored == hashlib.sha256(body["registration_access_token"].encode()).hexdigest()
    user = server.add_user()
    pkce = Pkce.new()
    client = Client(body["client_id"], None, "dynamic")
    redirect = "http://127.0.0.1:53117/callback"
    with Browser(server) as browser:
        location = browser.authorize(auth_params(client, redirect, pkce, scope="read:docs"), user)
    code = query_of(location)["code"]
    token = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": client.client_id,
            "code_verifier": pkce.verifier,
        }
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "read:docs"
    assert "refresh_token" in token.json()


def test_loopback_only_clients_are_native_without_saying_so(server: RunningServer) -> None:
    document = native(redirect_uris=["http://localhost/cb", "com.example.app:/cb"])
    del document["application_type"]
    answer = register(server, document)
    assert answer.status_code == 201, answer.text
    assert answer.json()["application_type"] == "native"
    mixed = native(redirect_uris=["http://localhost/cb", "https://app.example/cb"])
    del mixed["application_type"]
    assert register(server, mixed).json()["application_type"] == "web"


def test_web_clients_loopback_redirects_match_exactly(server: RunningServer) -> None:
    body = register(
        server, native(application_type="web", redirect_uris=["http://127.0.0.1:5000/cb"])
    ).json()
    client = Client(body["client_id"], None, "web")
    with Browser(server) as browser:
        page = browser.open(auth_params(client, "http://127.0.0.1:6000/cb", Pkce.new()))
    assert page.status_code == 400
    assert "not registered" in page.text


def test_read_update_delete_with_the_registration_access_token(server: RunningServer) -> None:
    body = register(server, native()).json()
    uri = f"/register/{body['client_id']}"
    token = body["registration_access_token"]
    read = server.http.get(uri, headers=bearer(token))
    assert read.status_code == 200, read.text
    assert read.json()["client_id"] == body["client_id"]
    assert read.json()["client_name"] == "Example MCP client"
    assert "registration_access_token" not in read.json()
    replacement = native(client_id=body["client_id"], redirect_uris=["com.example.app:/cb"])
    updated = server.http.put(uri, json=replacement, headers=bearer(token))
    assert updated.status_code == 200, updated.text
    assert updated.json()["redirect_uris"] == ["com.example.app:/cb"]
    assert server.http.get(uri, headers=bearer(token)).json()["redirect_uris"] == [
        "com.example.app:/cb"
    ]
    deleted = server.http.delete(uri, headers=bearer(token))
    assert deleted.status_code == 204
    assert error_of(server.http.get(uri, headers=bearer(token)), 401) == "invalid_token"
    with Browser(server) as browser:
        page = browser.open(
            auth_params(Client(body["client_id"], None, "x"), "com.example.app:/cb", Pkce.new())
        )
    assert "not registered" in page.text


def test_wrong_missing_or_foreign_registration_tokens_are_invalid_token(
    server: RunningServer,
) -> None:
    first = register(server, native()).json()
    second = register(server, native()).json()
    uri = f"/register/{first['client_id']}"
    for headers in (
        {},
        bearer("wrong"),
        bearer(second["registration_access_token"]),
        {"Authorization": "Basic " + first["registration_access_token"]},
    ):
        answer = server.http.get(uri, headers=headers)
        assert error_of(answer, 401) == "invalid_token"
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        put = server.http.put(uri, json=native(client_id=first["client_id"]), headers=headers)
        assert error_of(put, 401) == "invalid_token"
        assert error_of(server.http.delete(uri, headers=headers), 401) == "invalid_token"
    unknown = server.http.get("/register/nope", headers=bearer(first["registration_access_token"]))
    assert error_of(unknown, 401) == "invalid_token"
    assert server.http.get(uri, headers=bearer(first["registration_access_token"])).is_success


def test_update_must_name_the_client_and_not_send_issued_fields(server: RunningServer) -> None:
    body = register(server, native()).json()
    uri = f"/register/{body['client_id']}"
    headers = bearer(body["registration_access_token"])
    assert error_of(server.http.put(uri, json=native(), headers=headers)) == "invalid_request"
    echoed = native(client_id=body["client_id"], registration_access_token="x")
    assert error_of(server.http.put(uri, json=echoed, headers=headers)) == "invalid_request"
    bad = native(client_id=body["client_id"], redirect_uris=["http://evil.example/cb"])
    assert error_of(server.http.put(uri, json=bad, headers=headers)) == "invalid_redirect_uri"
    assert server.http.get(uri, headers=headers).json()["redirect_uris"] == [
        "http://127.0.0.1/callback"
    ]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (native(redirect_uris=[]), "invalid_redirect_uri"),
        ({"client_name": "no redirects"}, "invalid_redirect_uri"),
        (native(redirect_uris=["https://app.example/cb#frag"]), "invalid_redirect_uri"),
        (native(redirect_uris=["http://app.example/cb"]), "invalid_redirect_uri"),
        (native(redirect_uris=[42]), "invalid_redirect_uri"),
        (native(redirect_uris="https://app.example/cb"), "invalid_redirect_uri"),
        (
            native(application_type="web", redirect_uris=["com.example.app:/cb"]),
            "invalid_redirect_uri",
        ),
        (native(redirect_uris=["https://user@app.example/cb"]), "invalid_redirect_uri"),
        (native(redirect_uris=["http://[::1/cb"]), "invalid_redirect_uri"),
        (native(redirect_uris=["http://[nothost]/cb"]), "invalid_redirect_uri"),
        (native(redirect_uris=["http://127.0.0.1:99999/cb"]), "invalid_redirect_uri"),
        (
            native(token_endpoint_auth_method="private_key_jwt", jwks_uri="https://[x/j"),
            "invalid_client_metadata",
        ),
        (native(token_endpoint_auth_method="client_secret_basic"), "invalid_client_metadata"),
        (native(grant_types=["client_credentials"]), "invalid_client_metadata"),
        (native(grant_types="authorization_code"), "invalid_client_metadata"),
        (native(response_types=["token"]), "invalid_client_metadata"),
        (native(application_type="desktop"), "invalid_client_metadata"),
        (native(client_name=""), "invalid_client_metadata"),
        (native(scope=17), "invalid_client_metadata"),
        (native(token_endpoint_auth_method="private_key_jwt"), "invalid_client_metadata"),
        (
            native(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [{"kty": "oct"}]}),
            "invalid_client_metadata",
        ),
        (native(jwks={"keys": []}), "invalid_client_metadata"),
        (native(client_id="chosen"), "invalid_client_metadata"),
        (native(software_statement="not a jwt"), "invalid_software_statement"),
        (native(software_statement=["x"]), "invalid_software_statement"),
        ([native()], "invalid_client_metadata"),
    ],
)
def test_bad_metadata_is_refused_with_its_rfc7591_error(
    server: RunningServer, document: Any, error: str
) -> None:
    assert error_of(register(server, document)) == error


def test_non_json_bodies_are_refused(server: RunningServer) -> None:
    headers = {"Content-Type": "application/json"}
    answer = server.http.post("/register", content=b"{nope", headers=headers)
    assert error_of(answer) == "invalid_client_metadata"
    form = server.http.post("/register", data={"redirect_uris": "https://a.example/cb"})
    assert error_of(form, 415) == "invalid_request"
    constant = server.http.post("/register", content=b'{"redirect_uris": NaN}', headers=headers)
    assert error_of(constant) == "invalid_client_metadata"
    big = server.http.post("/register", content=b" " * 20000, headers=headers)
    assert error_of(big, 413) == "invalid_request"


def test_a_well_formed_software_statement_is_accepted_and_ignored(server: RunningServer) -> None:
    statement = tessera.encode(
        {"software_id": "x", "scope": "admin"}, tessera.Key.generate("ES256")
    )
    answer = register(server, native(software_statement=statement))
    assert answer.status_code == 201, answer.text
    assert answer.json()["scope"] == "read:docs"


def test_scope_is_limited_to_the_dynamic_scopes(server: RunningServer) -> None:
    answer = register(server, native(scope="read:docs admin offline_access"))
    assert answer.json()["scope"] == "read:docs offline_access"
    assert register(server, native(scope=None)).json()["scope"] == "read:docs offline_access"


def test_private_key_jwt_client_with_inline_keys(server: RunningServer) -> None:
    key = tessera.Key.generate("ES256", kid="dyn-1")
    jwks = tessera.KeySet([key.public()]).to_jwks()
    answer = register(server, native(token_endpoint_auth_method="private_key_jwt", jwks=jwks))
    assert answer.status_code == 201, answer.text
    assert answer.json()["token_endpoint_auth_method"] == "private_key_jwt"
    client = Client(answer.json()["client_id"], None, "pkj", key)
    user = server.add_user()
    pkce = Pkce.new()
    redirect = "http://127.0.0.1:40001/callback"
    with Browser(server) as browser:
        code = query_of(browser.authorize(auth_params(client, redirect, pkce), user))["code"]
    token = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": pkce.verifier,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": server.assertion(client),
        }
    )
    assert token.status_code == 200, token.text


def test_no_registration_endpoint_unless_enabled(databases: Databases) -> None:
    with running_server(databases.new("sqlite"), "sqlite") as plain:
        assert plain.http.post("/register", json=native()).status_code == 404
        meta = plain.http.get("/.well-known/oauth-authorization-server").json()
        assert "registration_endpoint" not in meta


def test_initial_access_token_is_required_when_set(databases: Databases) -> None:
    initial = "initial-access-token-0123456789"
    with running_server(
        databases.new("sqlite"),
        "sqlite",
        registration=True,
        registration_initial_token=initial,
        dynamic_scopes=["read:docs"],
    ) as guarded:
        assert error_of(guarded.http.post("/register", json=native()), 401) == "invalid_token"
        wrong = guarded.http.post("/register", json=native(), headers=bearer(initial + "x"))
        assert error_of(wrong, 401) == "invalid_token"
        right = guarded.http.post("/register", json=native(), headers=bearer(initial))
        assert right.status_code == 201, right.text
        # The client's own registration token, not the initial one, manages it.
        uri = f"/register/{right.json()['client_id']}"
        assert error_of(guarded.http.get(uri, headers=bearer(initial)), 401) == "invalid_token"


def test_number_of_registered_clients_is_bounded(databases: Databases) -> None:
    with running_server(
        databases.new("sqlite"),
        "sqlite",
        registration=True,
        registration_max_clients=2,
        dynamic_scopes=["read:docs"],
    ) as bounded:
        bounded.add_client()  # clients added by an administrator do not count
        first = bounded.http.post("/register", json=native()).json()
        assert bounded.http.post("/register", json=native()).status_code == 201
        assert error_of(bounded.http.post("/register", json=native()), 403) == "invalid_request"
        uri = f"/register/{first['client_id']}"
        headers = bearer(first["registration_access_token"])
        assert bounded.http.delete(uri, headers=headers).status_code == 204
        assert bounded.http.post("/register", json=native()).status_code == 201


def test_broken_redirect_uris_at_authorize_show_the_error_page(server: RunningServer) -> None:
    body = register(server, native()).json()
    client = Client(body["client_id"], None, "native")
    with Browser(server) as browser:
        for redirect in ("http://[::1/callback", "http://127.0.0.1:99999/callback"):
            page = browser.open(auth_params(client, redirect, Pkce.new()))
            assert page.status_code == 400, page.text
            assert "not registered" in page.text
