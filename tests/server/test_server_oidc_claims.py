"""The ``claims`` request parameter (OIDC Core sec. 5.5) and ``acr``/``amr``: claims asked for
by name for the ID token or UserInfo (only those the client may have, named on the consent
page, kept through refresh), ``acr_values`` and an essential ``acr`` (met, or
``unmet_authentication_requirements``), a ``sub`` value honoured, every malformed ``claims``
an ``invalid_request`` at the redirect URI. On both backends."""

from __future__ import annotations

import json
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
from tessera.server import accounts
from tessera.server.oidc.claims_request import ACR_PASSWORD, ACR_PROTECTED_PASSWORD, acr_value

CALLBACK = "https://rp.example/cb"


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client(
        scope="openid profile email offline_access", audiences=(), redirect_uris=(CALLBACK,)
    )


@pytest.fixture(scope="module")
def person(server: RunningServer) -> User:
    user = server.add_user()
    accounts.update_claims(
        server.db,
        user.username,
        {"email": "ada@example.org", "name": "Ada Lovelace", "phone_number": "+44 20 7946 0000"},
        now=server.clock(),
    )
    return user


def redeem(server: RunningServer, client: Client, location: str, pkce: Pkce) -> dict[str, Any]:
    response = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        },
        auth=(client.client_id, client.secret or ""),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def flow(
    server: RunningServer, client: Client, user: User, scope: str = "openid", **extra: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Sign in and allow; the token response, the ID token's claims and UserInfo."""
    pkce = Pkce.new()
    with Browser(server) as browser:
        location = browser.authorize(
            auth_params(client, CALLBACK, pkce, scope=scope, **extra), user
        )
    body = redeem(server, client, location, pkce)
    info = server.http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200, info.text
    return body, tessera.decode_unverified(body["id_token"])[1], dict(info.json())


def refused(server: RunningServer, client: Client, **extra: str) -> dict[str, str]:
    """The error an authorization request with ``extra`` is sent back with (no sign-in)."""
    params = auth_params(client, CALLBACK, Pkce.new(), scope="openid", **extra)
    with Browser(server) as browser:
        answer = browser.open(params)
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(CALLBACK + "?")
    query = query_of(answer.headers["location"])
    assert query["state"] == params["state"]
    assert query["iss"] == server.url
    return query


def test_discovery_advertises_the_claims_parameter_and_the_acr_value(
    server: RunningServer,
) -> None:
    document = server.http.get("/.well-known/openid-configuration").json()
    assert document["claims_parameter_supported"] is True
    assert document["acr_values_supported"] == [ACR_PASSWORD]  # http on loopback
    assert {"acr", "amr"} <= set(document["claims_supported"])


def test_the_acr_value_says_whether_the_password_travelled_over_tls() -> None:
    assert acr_value("https://login.example") == ACR_PROTECTED_PASSWORD
    assert acr_value("http://127.0.0.1:8000") == ACR_PASSWORD


def test_claims_asked_for_userinfo_come_from_userinfo_only(
    server: RunningServer, client: Client, person: User
) -> None:
    asked = {"userinfo": {"email": None, "name": {"essential": True}}}
    _body, id_claims, info = flow(server, client, person, claims=json.dumps(asked))
    assert info["email"] == "ada@example.org"
    assert info["name"] == "Ada Lovelace"
    assert info["sub"] == id_claims["sub"]
    assert "email" not in id_claims
    assert "name" not in id_claims


def test_claims_asked_for_the_id_token_come_in_the_id_token_and_again_after_refresh(
    server: RunningServer, client: Client, person: User
) -> None:
    asked = {"id_token": {"email": {"essential": True}, "auth_time": {"essential": True}}}
    body, id_claims, info = flow(
        server, client, person, scope="openid offline_access", claims=json.dumps(asked)
    )
    assert id_claims["email"] == "ada@example.org"
    assert "auth_time" in id_claims
    assert "email" not in info
    refreshed = server.post_token(
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(client.client_id, client.secret or ""),
    )
    assert refreshed.status_code == 200, refreshed.text
    again = tessera.decode_unverified(refreshed.json()["id_token"])[1]
    assert again["email"] == "ada@example.org"


def test_a_claim_whose_scope_the_client_may_not_ask_for_is_not_released(
    server: RunningServer, client: Client, person: User
) -> None:
    asked = {"userinfo": {"phone_number": None}, "id_token": {"phone_number": None}}
    _body, id_claims, info = flow(server, client, person, claims=json.dumps(asked))
    assert "phone_number" not in info  # the client may not ask for scope phone
    assert "phone_number" not in id_claims


def test_unknown_claims_and_members_are_ignored(
    server: RunningServer, client: Client, person: User
) -> None:
    asked = {"userinfo": {"shoe_size": None}, "id_token": None, "vendor": {"x": 1}}
    _body, id_claims, info = flow(server, client, person, claims=json.dumps(asked))
    assert set(info) == {"sub"}
    assert "shoe_size" not in id_claims


def test_the_consent_page_names_the_claims_asked_for_beyond_the_scopes(
    server: RunningServer, client: Client, person: User
) -> None:
    asked = {"userinfo": {"name": None, "email": None}, "id_token": {"acr": None}}
    params = auth_params(
        client, CALLBACK, Pkce.new(), scope="openid email", claims=json.dumps(asked)
    )
    with Browser(server) as browser:
        consent = browser.sign_in(params, person)
    assert "See these details of your profile: name <code>claims</code>" in consent.text
    assert "See your email address <code>email</code>" in consent.text


def test_prompt_none_with_claims_not_yet_granted_is_consent_required(
    server: RunningServer, client: Client
) -> None:
    user = server.add_user()
    asked = json.dumps({"userinfo": {"email": None}})
    with Browser(server) as browser:
        first = Pkce.new()
        browser.authorize(auth_params(client, CALLBACK, first, scope="openid"), user)
        silent = browser.open(
            auth_params(client, CALLBACK, Pkce.new(), scope="openid", prompt="none", claims=asked)
        )
        assert query_of(silent.headers["location"])["error"] == "consent_required"
        page = browser.open(auth_params(client, CALLBACK, Pkce.new(), scope="openid", claims=asked))
        allowed = browser.post(hidden_fields(page.text), decision="allow")
        assert "code" in query_of(allowed.headers["location"])
        again = browser.open(
            auth_params(client, CALLBACK, Pkce.new(), scope="openid", prompt="none", claims=asked)
        )
        assert "code" in query_of(again.headers["location"])


def test_acr_values_puts_the_acr_claim_in_the_id_token(
    server: RunningServer, client: Client, person: User
) -> None:
    _body, asked, _info = flow(server, client, person, acr_values="urn:other " + ACR_PASSWORD)
    assert asked["acr"] == ACR_PASSWORD
    assert asked["amr"] == ["pwd"]
    _body, plain, _info = flow(server, client, person)
    assert "acr" not in plain  # only when asked for
    assert plain["amr"] == ["pwd"]  # RFC 8176: the password sign-in


def test_a_voluntary_acr_the_server_cannot_meet_still_gets_the_class_it_met(
    server: RunningServer, client: Client, person: User
) -> None:
    _body, claims, _info = flow(server, client, person, acr_values="urn:mace:incommon:iap:gold")
    assert claims["acr"] == ACR_PASSWORD
    asked = {"id_token": {"acr": {"values": ["urn:other"]}}}
    _body, claims, _info = flow(server, client, person, claims=json.dumps(asked))
    assert claims["acr"] == ACR_PASSWORD


@pytest.mark.parametrize(
    "acr",
    [{"essential": True, "values": ["urn:other", ACR_PASSWORD]}, {"essential": True}],
)
def test_an_essential_acr_the_server_meets_is_in_the_id_token(
    server: RunningServer, client: Client, person: User, acr: dict[str, Any]
) -> None:
    _body, claims, _info = flow(
        server, client, person, claims=json.dumps({"id_token": {"acr": acr}})
    )
    assert claims["acr"] == ACR_PASSWORD


@pytest.mark.parametrize(
    "acr",
    [
        {"essential": True, "values": ["urn:mace:incommon:iap:gold"]},
        {"essential": True, "value": ACR_PROTECTED_PASSWORD},  # no TLS here
    ],
)
def test_an_essential_acr_the_server_cannot_meet_is_unmet_authentication_requirements(
    server: RunningServer, client: Client, acr: dict[str, Any]
) -> None:
    query = refused(server, client, claims=json.dumps({"id_token": {"acr": acr}}))
    assert query["error"] == "unmet_authentication_requirements"


def test_acr_asked_for_userinfo_comes_from_userinfo(
    server: RunningServer, client: Client, person: User
) -> None:
    _body, claims, info = flow(
        server, client, person, claims=json.dumps({"userinfo": {"acr": None}})
    )
    assert info["acr"] == ACR_PASSWORD
    assert "acr" not in claims


def test_a_sub_value_is_answered_only_for_that_person(
    server: RunningServer, client: Client, person: User
) -> None:
    other = server.add_user()
    named = json.dumps({"id_token": {"sub": {"value": person.user_id}}})
    with Browser(server) as browser:
        browser.authorize(auth_params(client, CALLBACK, Pkce.new(), scope="openid"), person)
        pkce = Pkce.new()
        silent = browser.open(
            auth_params(client, CALLBACK, pkce, scope="openid", prompt="none", claims=named)
        )
        body = redeem(server, client, silent.headers["location"], pkce)
        assert tessera.decode_unverified(body["id_token"])[1]["sub"] == person.user_id
        someone = json.dumps({"id_token": {"sub": {"value": other.user_id}}})
        silent = browser.open(
            auth_params(client, CALLBACK, Pkce.new(), scope="openid", prompt="none", claims=someone)
        )
        assert query_of(silent.headers["location"])["error"] == "login_required"
        page = browser.open(
            auth_params(client, CALLBACK, Pkce.new(), scope="openid", claims=someone)
        )
        assert "password" in page.text  # the signed-in person is not the one named: sign in
    with Browser(server) as browser:
        page = browser.open(auth_params(client, CALLBACK, Pkce.new(), scope="openid", claims=named))
        wrong = browser.post(
            hidden_fields(page.text), username=other.username, password=other.password
        )
        assert wrong.status_code == 303
        assert query_of(wrong.headers["location"])["error"] == "access_denied"


@pytest.mark.parametrize(
    "claims",
    [
        "not json",
        "[]",
        '"userinfo"',
        '{"userinfo": []}',
        '{"id_token": "email"}',
        '{"userinfo": {"email": "yes"}}',
        '{"userinfo": {"email": {"essential": "true"}}}',
        '{"id_token": {"acr": {"essential": true, "values": "urn:x"}}}',
        '{"id_token": {"acr": {"values": []}}}',
        '{"id_token": {"acr": {"value": 1}}}',
        '{"id_token": {"sub": {"value": 42}}}',
        '{"userinfo": {"": null}}',
        '{"userinfo": {"email": NaN}}',
        '{"userinfo": {"x": ' + "[" * 1200 + "]" * 1200 + "}}",  # deeper than json recurses
        json.dumps({"userinfo": {f"c{i}": None for i in range(65)}}),
        json.dumps({"userinfo": {"email": {"value": "x" * 5000}}}),
    ],
)
def test_a_malformed_claims_parameter_is_invalid_request(
    server: RunningServer, client: Client, claims: str
) -> None:
    assert refused(server, client, claims=claims)["error"] == "invalid_request"


def test_claims_without_openid_are_ignored(server: RunningServer, person: User) -> None:
    plain = server.add_client(
        scope="read:docs email", audiences=("https://api.example",), redirect_uris=(CALLBACK,)
    )
    pkce = Pkce.new()
    asked = json.dumps({"userinfo": {"email": None}, "id_token": {"acr": {"essential": True}}})
    with Browser(server) as browser:
        location = browser.authorize(
            auth_params(plain, CALLBACK, pkce, scope="read:docs", claims=asked), person
        )
    body = redeem(server, plain, location, pkce)
    assert "id_token" not in body
