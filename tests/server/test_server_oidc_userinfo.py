"""UserInfo (OIDC Core sec. 5.3): GET and POST with a bearer access token carrying openid,
claims by scope from the person's record (set with ``tessera users update``), RFC 6750
refusals with their challenges; and the users CLI for claims. On both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverhelp import Browser, Client, Pkce, RunningServer, User, auth_params, cli, query_of

from tessera.server import accounts

CALLBACK = "https://rp.example/cb"


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client(
        scope="openid profile email phone address offline_access read:docs",
        audiences=(),
        redirect_uris=(CALLBACK,),
    )


@pytest.fixture(scope="module")
def person(server: RunningServer) -> User:
    user = server.add_user()
    accounts.update_claims(
        server.db,
        user.username,
        {
            "email": "ada@example.org",
            "email_verified": "true",
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "phone_number": "+44 20 7946 0000",
            "address": "12 St James's Square, London",
            "locale": "en-GB",
        },
        now=server.clock(),
    )
    return user


def tokens(server: RunningServer, client: Client, user: User, scope: str) -> dict[str, Any]:
    pkce = Pkce.new()
    with Browser(server) as browser:
        location = browser.authorize(auth_params(client, CALLBACK, pkce, scope=scope), user)
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


def userinfo(server: RunningServer, token: str) -> httpx.Response:
    return server.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", set()),
        ("openid email", {"email", "email_verified"}),
        (
            "openid profile",
            {"name", "given_name", "locale", "preferred_username", "updated_at"},
        ),
        ("openid phone", {"phone_number"}),
        ("openid address", {"address"}),
    ],
)
def test_claims_by_scope(
    server: RunningServer, client: Client, person: User, scope: str, expected: set[str]
) -> None:
    response = userinfo(server, tokens(server, client, person, scope)["access_token"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    claims = response.json()
    assert claims.pop("sub") == person.user_id
    assert set(claims) == expected
    if "email" in expected:
        assert claims["email"] == "ada@example.org"
        assert claims["email_verified"] is True
    if "address" in expected:
        assert claims["address"] == {"formatted": "12 St James's Square, London"}
    if "preferred_username" in expected:
        assert claims["preferred_username"] == person.username


def test_userinfo_sub_equals_the_id_token_sub(
    server: RunningServer, client: Client, person: User
) -> None:
    import tessera

    body = tokens(server, client, person, "openid")
    sub = tessera.decode_unverified(body["id_token"])[1]["sub"]
    assert userinfo(server, body["access_token"]).json()["sub"] == sub


def test_post_with_header_and_with_form_field(
    server: RunningServer, client: Client, person: User
) -> None:
    token = tokens(server, client, person, "openid email")["access_token"]
    by_header = server.http.post("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert by_header.status_code == 200
    by_form = server.http.post("/userinfo", data={"access_token": token})
    assert by_form.status_code == 200
    assert by_form.json() == by_header.json()
    both = server.http.post(
        "/userinfo", data={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"


def test_missing_token_is_a_bare_challenge(server: RunningServer) -> None:
    response = server.http.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tessera"'


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Bearer a.b.c", "Bearer " + "x" * 9000, "Bearer e30.e30.e30"],
)
def test_bad_tokens_are_invalid_token(server: RunningServer, authorization: str) -> None:
    response = server.http.get("/userinfo", headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer a b", "Basic Zm9vOmJhcg=="])
def test_malformed_authorization_is_refused(server: RunningServer, authorization: str) -> None:
    response = server.http.get("/userinfo", headers={"Authorization": authorization})
    assert response.status_code in (400, 401), response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_token_in_the_query_is_refused(server: RunningServer, client: Client, person: User) -> None:
    token = tokens(server, client, person, "openid")["access_token"]
    response = server.http.get("/userinfo", params={"access_token": token})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_without_openid_is_insufficient_scope(server: RunningServer, person: User) -> None:
    api_client = server.add_client(
        scope="openid read:docs", audiences=("https://api.example",), redirect_uris=(CALLBACK,)
    )
    token = tokens(server, api_client, person, "read:docs")["access_token"]
    response = userinfo(server, token)
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="openid"' in challenge


def test_expired_and_revoked_tokens_are_invalid_token(
    server: RunningServer, client: Client, person: User
) -> None:
    body = tokens(server, client, person, "openid offline_access")
    revoked = server.http.post(
        "/revoke",
        data={"token": body["access_token"]},
        auth=(client.client_id, client.secret or ""),
    )
    assert revoked.status_code == 200
    assert userinfo(server, body["access_token"]).status_code == 401
    fresh = tokens(server, client, person, "openid")["access_token"]
    server.clock.advance(server.settings.token_lifetime + 1)
    try:
        assert userinfo(server, fresh).status_code == 401
    finally:
        server.clock.advance(-(server.settings.token_lifetime + 1))


def test_a_removed_person_has_no_userinfo(server: RunningServer, client: Client) -> None:
    user = server.add_user()
    token = tokens(server, client, user, "openid")["access_token"]
    accounts.remove_user(server.db, user.username)
    response = userinfo(server, token)
    assert response.status_code == 401


def test_bad_claim_values_are_refused(server: RunningServer, person: User) -> None:
    from tessera.server.errors import AdminError

    for bad in (
        {"email": "not-an-address"},
        {"email_verified": "maybe"},
        {"favourite_colour": "blue"},
        {"name": "x" * 501},
        {"name": "a\x00b"},
        {"birthdate": "yesterday"},
        {"preferred_username": "other"},
    ):
        with pytest.raises(AdminError):
            accounts.update_claims(server.db, person.username, bad, now=server.clock())


def test_users_cli_sets_shows_and_unsets_claims(server: RunningServer, tmp_path: Path) -> None:
    if server.backend != "sqlite":
        pytest.skip("the CLI is exercised once")
    db = server.settings.database
    env = {"TESSERA_KEK_FILE": str(tmp_path / "kek")}
    name = "cli-" + server.add_user().username
    added = cli(
        "users",
        "add",
        name,
        "--password-stdin",
        "--email",
        "c@example.org",
        "--json",
        "--database",
        db,
        env=env,
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["claims"] == {"email": "c@example.org"}
    updated = cli(
        "users",
        "update",
        name,
        "--email-verified",
        "--name",
        "C. Example",
        "--claim",
        "locale=fr-FR",
        "--json",
        "--database",
        db,
        env=env,
    )
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["claims"] == {
        "email": "c@example.org",
        "email_verified": True,
        "name": "C. Example",
        "locale": "fr-FR",
    }
    unset = cli("users", "update", name, "--unset", "locale", "--database", db, env=env)
    assert unset.returncode == 0, unset.stderr
    shown = cli("users", "show", name, "--json", "--database", db, env=env)
    assert "locale" not in json.loads(shown.stdout)["claims"]
    bad = cli("users", "update", name, "--email", "nope", "--database", db, env=env)
    assert bad.returncode == 2
    assert "not an email address" in bad.stderr
    nothing = cli("users", "update", name, "--database", db, env=env)
    assert nothing.returncode == 2
