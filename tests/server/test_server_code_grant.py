"""POST /token with authorization codes (RFC 6749 sec. 4.1.3, RFC 7636) and refresh tokens
(RFC 6749 sec. 6, rotation and reuse detection per RFC 9700 sec. 4.14), on both backends."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass

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
    cli,
    query_of,
    running_server,
)

import tessera
from tessera.server.kek import KEK

CALLBACK = "https://app.example/callback"
PUBLIC_CALLBACK = "http://127.0.0.1:8765/callback"


@pytest.fixture(scope="module")
def kek() -> KEK:
    """One key-encryption key for the server and its replica."""
    return KEK.generate()


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases, kek: KEK) -> Iterator[RunningServer]:
    with running_server(databases.new(backend), backend, kek=kek) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client(
        scope="read:docs write:docs offline_access",
        redirect_uris=(CALLBACK,),
        grant_types=("authorization_code",),
    )


@pytest.fixture(scope="module")
def public(server: RunningServer) -> Client:
    return server.add_client(
        scope="read:docs", client_type="public", redirect_uris=(PUBLIC_CALLBACK,)
    )


@pytest.fixture(scope="module")
def user(server: RunningServer) -> User:
    return server.add_user()


def basic(client: Client) -> dict[str, str]:
    raw = f"{client.client_id}:{client.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class Issued:
    code: str
    pkce: Pkce
    redirect_uri: str


def get_code(
    server: RunningServer, client: Client, user: User, redirect_uri: str, scope: str | None
) -> Issued:
    pkce = Pkce.new()
    with Browser(server) as browser:
        location = browser.authorize(auth_params(client, redirect_uri, pkce, scope=scope), user)
    return Issued(query_of(location)["code"], pkce, redirect_uri)


def exchange(
    server: RunningServer, client: Client, issued: Issued, **change: str | None
) -> httpx.Response:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.redirect_uri,
        "code_verifier": issued.pkce.verifier,
    }
    headers = {}
    if client.secret is not None:
        headers = basic(client)
    else:
        form["client_id"] = client.client_id
    form.update(change)
    data = {k: v for k, v in form.items() if v is not None}
    return server.post_token(data, headers=headers)


def refresh(server: RunningServer, client: Client, token: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    if client.secret is not None:
        return server.post_token(data, headers=basic(client))
    return server.post_token({**data, "client_id": client.client_id})


def introspect(server: RunningServer, by: Client, token: str) -> dict:
    response = server.http.post("/introspect", data={"token": token}, headers=basic(by))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


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


def error_of(response: httpx.Response, error: str, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    return str(body["error_description"])


@pytest.fixture(scope="module")
def auditor(server: RunningServer) -> Client:
    """A confidential client that introspects (a resource server)."""
    return server.add_client()


def test_code_exchange_issues_tokens_for_the_user(
    server: RunningServer, client: Client, user: User
) -> None:
    issued = get_code(server, client, user, CALLBACK, "read:docs offline_access")
    response = exchange(server, client, issued)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read:docs offline_access"
    assert body["refresh_token"].startswith("rt.")
    claims = verify(server, body["access_token"])
    assert claims["sub"] == user.user_id
    assert claims["client_id"] == client.client_id
    assert claims["scope"] == "read:docs offline_access"


def test_no_refresh_token_without_offline_access_or_the_grant(
    server: RunningServer, client: Client, user: User
) -> None:
    response = exchange(server, client, get_code(server, client, user, CALLBACK, "read:docs"))
    assert response.status_code == 200
    assert "refresh_token" not in response.json()


def test_public_client_exchanges_with_pkce_alone(
    server: RunningServer, public: Client, user: User
) -> None:
    response = exchange(server, public, get_code(server, public, user, PUBLIC_CALLBACK, None))
    assert response.status_code == 200, response.text
    assert "refresh_token" in response.json()  # the client may use the refresh_token grant


def test_confidential_client_must_authenticate(
    server: RunningServer, client: Client, user: User
) -> None:
    issued = get_code(server, client, user, CALLBACK, None)
    response = server.post_token(
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "code": issued.code,
            "redirect_uri": CALLBACK,
            "code_verifier": issued.pkce.verifier,
        }
    )
    error_of(response, "invalid_client", 401)
    assert exchange(server, client, issued).status_code == 200  # not burnt


def test_wrong_verifier_is_refused_and_does_not_burn_the_code(
    server: RunningServer, client: Client, user: User
) -> None:
    issued = get_code(server, client, user, CALLBACK, None)
    error_of(exchange(server, client, issued, code_verifier=Pkce.new().verifier), "invalid_grant")
    error_of(exchange(server, client, issued, code_verifier="short"), "invalid_grant")
    error_of(exchange(server, client, issued, code_verifier=issued.pkce.challenge), "invalid_grant")
    assert exchange(server, client, issued).status_code == 200


def test_missing_verifier_is_invalid_request(
    server: RunningServer, client: Client, user: User
) -> None:
    issued = get_code(server, client, user, CALLBACK, None)
    error_of(exchange(server, client, issued, code_verifier=None), "invalid_request")


def test_code_replay_fails_and_revokes_what_the_first_use_issued(
    server: RunningServer, client: Client, user: User, auditor: Client
) -> None:
    issued = get_code(server, client, user, CALLBACK, "read:docs offline_access")
    first = exchange(server, client, issued).json()
    assert introspect(server, auditor, first["access_token"])["active"] is True
    assert "already used" in error_of(exchange(server, client, issued), "invalid_grant")
    assert introspect(server, auditor, first["access_token"]) == {"active": False}
    error_of(refresh(server, client, first["refresh_token"]), "invalid_grant")


def test_code_is_bound_to_its_client(
    server: RunningServer, client: Client, user: User, public: Client
) -> None:
    other = server.add_client(redirect_uris=(CALLBACK,))
    issued = get_code(server, client, user, CALLBACK, None)
    error_of(exchange(server, other, issued), "invalid_grant")
    error_of(exchange(server, public, issued), "invalid_grant")
    assert exchange(server, client, issued).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri", [None, CALLBACK + "/", CALLBACK + "?x=1", "https://evil.example/callback"]
)
def test_code_is_bound_to_its_redirect_uri(
    server: RunningServer, client: Client, user: User, redirect_uri: str | None
) -> None:
    issued = get_code(server, client, user, CALLBACK, None)
    error_of(exchange(server, client, issued, redirect_uri=redirect_uri), "invalid_grant")


def test_code_expires_after_60_seconds(server: RunningServer, client: Client, user: User) -> None:
    issued = get_code(server, client, user, CALLBACK, None)
    server.clock.advance(61)
    error_of(exchange(server, client, issued), "invalid_grant")


def test_unknown_code_is_invalid_grant(server: RunningServer, client: Client, user: User) -> None:
    issued = get_code(server, client, user, CALLBACK, None)
    error_of(exchange(server, client, issued, code="x" * 43), "invalid_grant")
    error_of(exchange(server, client, issued, code="' OR 1=1 --"), "invalid_grant")
    error_of(exchange(server, client, issued, code="x" * 5000), "invalid_grant")
    error_of(exchange(server, client, issued, code=None), "invalid_request")


def test_refresh_rotates_and_reuse_revokes_the_family(
    server: RunningServer, client: Client, user: User, auditor: Client
) -> None:
    first = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    second = refresh(server, client, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert verify(server, rotated["access_token"])["sub"] == user.user_id
    third = refresh(server, client, rotated["refresh_token"]).json()
    # the first token again: a reuse
    assert "already used" in error_of(
        refresh(server, client, first["refresh_token"]), "invalid_grant"
    )
    error_of(refresh(server, client, third["refresh_token"]), "invalid_grant")
    for body in (first, rotated, third):
        assert introspect(server, auditor, body["access_token"]) == {"active": False}


def test_refresh_may_narrow_but_not_widen_scope(
    server: RunningServer, client: Client, user: User
) -> None:
    body = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    error_of(refresh(server, client, body["refresh_token"], scope="write:docs"), "invalid_scope")
    narrowed = refresh(server, client, body["refresh_token"], scope="read:docs")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "read:docs"


def _update_client(server: RunningServer, client: Client, *args: str) -> None:
    """``tessera clients update`` on the server's database, as an operator runs it."""
    result = cli("clients", "update", client.name, *args, "--database", server.settings.database)
    assert result.returncode == 0, result.stderr


def test_refresh_after_clients_update_carries_only_what_is_still_registered(
    server: RunningServer, user: User
) -> None:
    reports = "https://reports.example"
    web = server.add_client(
        scope="read:docs write:docs offline_access",
        audiences=("https://api.example", reports),
        redirect_uris=(CALLBACK,),
        grant_types=("authorization_code",),
    )
    scope = "read:docs write:docs offline_access"
    body = exchange(server, web, get_code(server, web, user, CALLBACK, scope)).json()
    assert body["scope"] == scope
    _update_client(server, web, "--remove-scope", "write:docs", "--remove-audience", reports)
    narrowed = refresh(server, web, body["refresh_token"])
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "read:docs offline_access"
    claims = verify(server, narrowed.json()["access_token"])
    assert claims["scope"] == "read:docs offline_access"
    assert claims["aud"] == "https://api.example"
    # An explicit request is narrowed too, and refused when none of it is left.
    asked = refresh(server, web, narrowed.json()["refresh_token"], scope="read:docs write:docs")
    assert asked.status_code == 200, asked.text
    assert asked.json()["scope"] == "read:docs"
    latest = asked.json()["refresh_token"]
    error_of(refresh(server, web, latest, scope="write:docs"), "invalid_scope")


def test_refresh_is_invalid_scope_when_none_of_the_grant_is_registered_and_the_token_stays(
    server: RunningServer, user: User
) -> None:
    web = server.add_client(
        scope="read:docs offline_access",
        redirect_uris=(CALLBACK,),
        grant_types=("authorization_code",),
    )
    body = exchange(
        server, web, get_code(server, web, user, CALLBACK, "read:docs offline_access")
    ).json()
    _update_client(server, web, "--scope", "admin:docs")
    error_of(refresh(server, web, body["refresh_token"]), "invalid_scope")
    error_of(refresh(server, web, body["refresh_token"]), "invalid_scope")  # not a reuse
    # RFC 6749 sec. 5.2: a request error, not a stolen token: the grant is not revoked, the
    # refresh token is not consumed, and it works again once the scope is registered again.
    _update_client(server, web, "--scope", "read:docs")
    again = refresh(server, web, body["refresh_token"])
    assert again.status_code == 200, again.text
    assert again.json()["scope"] == "read:docs"
    assert verify(server, again.json()["access_token"])["scope"] == "read:docs"


def test_refresh_is_invalid_target_when_none_of_the_grants_audiences_is_registered(
    server: RunningServer, user: User
) -> None:
    web = server.add_client(
        scope="read:docs offline_access",
        redirect_uris=(CALLBACK,),
        grant_types=("authorization_code",),
    )
    body = exchange(server, web, get_code(server, web, user, CALLBACK, None)).json()
    _update_client(server, web, "--audience", "https://elsewhere.example")
    error_of(refresh(server, web, body["refresh_token"]), "invalid_target")
    _update_client(server, web, "--add-audience", "https://api.example")
    again = refresh(server, web, body["refresh_token"])
    assert again.status_code == 200, again.text
    assert verify(server, again.json()["access_token"])["aud"] == "https://api.example"


def test_refresh_token_from_another_client_is_refused(
    server: RunningServer, client: Client, user: User, public: Client
) -> None:
    body = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    other = server.add_client(redirect_uris=(CALLBACK,), grant_types=("authorization_code",))
    error_of(refresh(server, other, body["refresh_token"]), "invalid_grant")
    error_of(refresh(server, public, body["refresh_token"]), "invalid_grant")
    assert refresh(server, client, body["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", ["rt.nope", "nope", "", "rt." + "x" * 5000, "' OR 1=1 --"])
def test_unknown_refresh_tokens_are_refused(
    server: RunningServer, client: Client, token: str
) -> None:
    response = refresh(server, client, token)
    error_of(response, "invalid_request" if token == "" else "invalid_grant")


def test_public_client_refresh_rotates(server: RunningServer, public: Client, user: User) -> None:
    body = exchange(server, public, get_code(server, public, user, PUBLIC_CALLBACK, None)).json()
    rotated = refresh(server, public, body["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    error_of(refresh(server, public, body["refresh_token"]), "invalid_grant")


def test_refresh_token_expires(server: RunningServer, public: Client, user: User) -> None:
    body = exchange(server, public, get_code(server, public, user, PUBLIC_CALLBACK, None)).json()
    server.clock.advance(server.settings.refresh_token_lifetime + 1)
    try:
        error_of(refresh(server, public, body["refresh_token"]), "invalid_grant")
    finally:
        server.clock.advance(-(server.settings.refresh_token_lifetime + 1))


# -- introspection and revocation -----------------------------------------------------------


def test_introspection_reports_access_and_refresh_tokens(
    server: RunningServer, client: Client, user: User, auditor: Client
) -> None:
    body = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    info = introspect(server, auditor, body["access_token"])
    assert info["active"] is True
    assert info["sub"] == user.user_id
    assert info["client_id"] == client.client_id
    assert info["scope"] == "read:docs offline_access"
    assert info["iss"] == server.url
    assert {"exp", "iat", "jti", "aud"} <= set(info)
    mine = introspect(server, client, body["refresh_token"])
    assert mine["active"] is True
    assert mine["token_type"] == "refresh_token"
    assert mine["sub"] == user.user_id
    # another client learns nothing about this client's refresh token
    assert introspect(server, auditor, body["refresh_token"]) == {"active": False}
    for junk in ("nope", "a.b.c", "rt.x", "' OR 1=1 --"):
        assert introspect(server, auditor, junk) == {"active": False}


def test_introspection_of_expired_or_foreign_tokens_is_inactive(
    server: RunningServer, auditor: Client
) -> None:
    foreign = tessera.encode(
        {
            "iss": server.url,
            "sub": "x",
            "aud": "a",
            "exp": 2**40,
            "iat": 0,
            "jti": "j",
            "client_id": "c",
        },
        tessera.Key.generate("ES256"),
        typ="at+jwt",
    )
    assert introspect(server, auditor, foreign) == {"active": False}
    token = server.post_token({"grant_type": "client_credentials"}, headers=basic(auditor)).json()[
        "access_token"
    ]
    assert introspect(server, auditor, token)["active"] is True
    server.clock.advance(server.settings.token_lifetime + 1)
    try:
        assert introspect(server, auditor, token) == {"active": False}
    finally:
        server.clock.advance(-(server.settings.token_lifetime + 1))


def test_introspection_requires_client_authentication(
    server: RunningServer, public: Client
) -> None:
    response = server.http.post("/introspect", data={"token": "x"})
    error_of(response, "invalid_client", 401)
    assert "www-authenticate" in response.headers
    response = server.http.post("/introspect", data={"token": "x", "client_id": public.client_id})
    error_of(response, "invalid_client", 401)
    wrong = Client(public.client_id, "wrong", "x")
    error_of(
        server.http.post("/introspect", data={"token": "x"}, headers=basic(wrong)),
        "invalid_client",
        401,
    )


def test_introspection_errors(server: RunningServer, auditor: Client) -> None:
    error_of(server.http.post("/introspect", data={}, headers=basic(auditor)), "invalid_request")
    error_of(
        server.http.post("/introspect?token=x", data={"token": "x"}, headers=basic(auditor)),
        "invalid_request",
    )
    error_of(
        server.http.post("/introspect", json={"token": "x"}, headers=basic(auditor)),
        "invalid_request",
    )


@pytest.mark.parametrize("hint", ["id_token", "urn:x:unknown", "refresh_token", "access_token"])
def test_introspection_ignores_the_token_type_hint(
    server: RunningServer, client: Client, user: User, auditor: Client, hint: str
) -> None:
    body = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    for token in (body["access_token"], body["refresh_token"]):
        data = {"token": token, "token_type_hint": hint}
        owner = auditor if token == body["access_token"] else client
        response = server.http.post("/introspect", data=data, headers=basic(owner))
        assert response.status_code == 200, response.text
        assert response.json()["active"] is True, (hint, response.json())
    unknown = server.http.post(
        "/introspect", data={"token": "x", "token_type_hint": hint}, headers=basic(auditor)
    )
    assert unknown.json() == {"active": False}


def test_revoking_an_access_token_by_jti_shows_in_introspection(
    server: RunningServer, client: Client, user: User, auditor: Client
) -> None:
    body = exchange(server, client, get_code(server, client, user, CALLBACK, None)).json()
    response = server.http.post(
        "/revoke", data={"token": body["access_token"]}, headers=basic(client)
    )
    assert response.status_code == 200
    assert response.content == b""
    assert introspect(server, auditor, body["access_token"]) == {"active": False}


def test_revoking_a_client_credentials_token(server: RunningServer, auditor: Client) -> None:
    token = server.post_token({"grant_type": "client_credentials"}, headers=basic(auditor)).json()[
        "access_token"
    ]
    data = {"token": token, "token_type_hint": "access_token"}
    assert server.http.post("/revoke", data=data, headers=basic(auditor)).status_code == 200
    assert server.http.post("/revoke", data=data, headers=basic(auditor)).status_code == 200
    assert introspect(server, auditor, token) == {"active": False}


def test_revoking_a_refresh_token_revokes_its_grant(
    server: RunningServer, public: Client, user: User, auditor: Client
) -> None:
    body = exchange(server, public, get_code(server, public, user, PUBLIC_CALLBACK, None)).json()
    response = server.http.post(
        "/revoke", data={"token": body["refresh_token"], "client_id": public.client_id}
    )
    assert response.status_code == 200
    error_of(refresh(server, public, body["refresh_token"]), "invalid_grant")
    assert introspect(server, auditor, body["access_token"]) == {"active": False}


def test_revoking_another_clients_token_does_nothing(
    server: RunningServer, client: Client, user: User, auditor: Client
) -> None:
    body = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    for token in (body["access_token"], body["refresh_token"], "unknown"):
        assert (
            server.http.post("/revoke", data={"token": token}, headers=basic(auditor)).status_code
            == 200
        )
    assert introspect(server, auditor, body["access_token"])["active"] is True
    assert refresh(server, client, body["refresh_token"]).status_code == 200


def test_revocation_errors(server: RunningServer, auditor: Client) -> None:
    error_of(server.http.post("/revoke", data={}, headers=basic(auditor)), "invalid_request")
    error_of(server.http.post("/revoke", data={"token": "x"}), "invalid_client", 401)


@pytest.mark.parametrize("hint", ["bogus", "id_token", "refresh_token", "access_token"])
def test_revocation_ignores_the_token_type_hint(
    server: RunningServer, client: Client, user: User, auditor: Client, hint: str
) -> None:
    """RFC 7009 sec. 2.1: a wrong or unknown hint does not stop the search for the token."""
    unknown = {"token": "x", "token_type_hint": hint}
    response = server.http.post("/revoke", data=unknown, headers=basic(auditor))
    assert response.status_code == 200, response.text
    body = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    data = {"token": body["access_token"], "token_type_hint": hint}
    assert server.http.post("/revoke", data=data, headers=basic(client)).status_code == 200
    assert introspect(server, auditor, body["access_token"]) == {"active": False}
    other = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    data = {"token": other["refresh_token"], "token_type_hint": hint}
    assert server.http.post("/revoke", data=data, headers=basic(client)).status_code == 200
    error_of(refresh(server, client, other["refresh_token"]), "invalid_grant")


# -- two replicas ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replica(server: RunningServer, kek: KEK) -> Iterator[RunningServer]:
    """A second server on the same database, with the same clock and key-encryption key."""
    with running_server(
        server.settings.database, server.backend, clock=server.clock, kek=kek
    ) as other:
        yield other


def _race(
    requests: list[tuple[RunningServer, dict[str, str], dict[str, str]]],
) -> list[httpx.Response]:
    barrier = threading.Barrier(len(requests))
    results: list[httpx.Response | None] = [None] * len(requests)

    def run(index: int) -> None:
        target, data, headers = requests[index]
        with httpx.Client(base_url=target.url, timeout=30) as http:
            barrier.wait()
            results[index] = http.post("/token", data=data, headers=headers)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


@pytest.mark.parametrize("attempt", range(5))
def test_concurrent_refresh_on_two_replicas_exactly_one_succeeds(
    server: RunningServer,
    replica: RunningServer,
    client: Client,
    user: User,
    attempt: int,
) -> None:
    body = exchange(
        server, client, get_code(server, client, user, CALLBACK, "read:docs offline_access")
    ).json()
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    results = _race([(server, data, basic(client)), (replica, data, basic(client))])
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 400)
    assert loser.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_code_exchange_on_two_replicas_exactly_one_succeeds(
    server: RunningServer,
    replica: RunningServer,
    client: Client,
    user: User,
    attempt: int,
) -> None:
    issued = get_code(server, client, user, CALLBACK, None)
    data = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": CALLBACK,
        "code_verifier": issued.pkce.verifier,
    }
    results = _race([(server, data, basic(client)), (replica, data, basic(client))])
    assert sorted(r.status_code for r in results) == [200, 400], [r.text for r in results]


def test_replicas_share_grants(
    server: RunningServer, replica: RunningServer, public: Client, user: User
) -> None:
    issued = get_code(server, public, user, PUBLIC_CALLBACK, None)
    body = exchange(replica, public, issued).json()
    assert refresh(replica, public, body["refresh_token"]).status_code == 200
    error_of(refresh(server, public, body["refresh_token"]), "invalid_grant")


def test_removed_user_gets_no_more_tokens(server: RunningServer, public: Client) -> None:
    from tessera.server import accounts

    person = server.add_user()
    body = exchange(server, public, get_code(server, public, person, PUBLIC_CALLBACK, None)).json()
    pending = get_code(server, public, person, PUBLIC_CALLBACK, None)
    accounts.remove_user(server.db, person.username)
    error_of(refresh(server, public, body["refresh_token"]), "invalid_grant")
    error_of(exchange(server, public, pending), "invalid_grant")
