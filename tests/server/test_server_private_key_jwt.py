"""private_key_jwt client authentication (RFC 7523 sec. 2.2/3 with the RFC 7523bis audience)."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest
from serverhelp import ASSERTION_TYPE, Client, Databases, FakeClock, RunningServer, running_server

import tessera

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def keys() -> dict[str, tessera.Key]:
    return {alg: tessera.Key.generate(alg) for alg in ("ES256", "RS256", "PS256", "EdDSA")}


@pytest.fixture(scope="module")
def jwt_client(server: RunningServer, keys: dict[str, tessera.Key]) -> Client:
    return server.add_client(key=keys["ES256"])


def send(server: RunningServer, assertion: str, **extra: str) -> httpx.Response:
    data = {
        **GRANT,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }
    return server.post_token(data)


def rejected(response: httpx.Response, error: str = "invalid_client") -> str:
    status = 401 if error == "invalid_client" else 400
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")
    return str(response.json()["error_description"])


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "EdDSA"])
def test_issues_token_for_signed_assertion(
    server: RunningServer, keys: dict[str, tessera.Key], alg: str
) -> None:
    client = server.add_client(key=keys[alg])
    response = send(server, server.assertion(client))
    assert response.status_code == 200, response.text
    claims = tessera.decode_unverified(response.json()["access_token"])[1]
    assert claims["sub"] == claims["client_id"] == client.client_id


def test_accepts_issuer_as_audience(server: RunningServer, jwt_client: Client) -> None:
    response = send(server, server.assertion(jwt_client, claims={"aud": server.url}))
    assert response.status_code == 200, response.text


def test_accepts_explicit_client_authentication_type(
    server: RunningServer, jwt_client: Client
) -> None:
    assertion = server.assertion(jwt_client, typ="client-authentication+jwt")
    assert send(server, assertion).status_code == 200


def test_accepts_matching_client_id_parameter(server: RunningServer, jwt_client: Client) -> None:
    response = send(server, server.assertion(jwt_client), client_id=jwt_client.client_id)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "aud",
    [
        "https://elsewhere.example/token",
        "ISSUER/",
        "TOKEN?x=1",
        ["TOKEN"],  # RFC 7523bis: one string, not an array
        ["ISSUER", "https://other.example"],
    ],
)
def test_rejects_audience_that_is_not_exactly_issuer_or_token_endpoint(
    server: RunningServer, jwt_client: Client, aud: object
) -> None:
    def fill(value: str) -> str:
        return value.replace("ISSUER", server.url).replace("TOKEN", server.token_url)

    aud = [fill(a) for a in aud] if isinstance(aud, list) else fill(str(aud))
    description = rejected(send(server, server.assertion(jwt_client, claims={"aud": aud})))
    assert "aud" in description


def test_rejects_missing_audience(server: RunningServer, jwt_client: Client) -> None:
    rejected(send(server, server.assertion(jwt_client, claims={"aud": None})))


def test_rejects_expired_assertion(server: RunningServer, jwt_client: Client) -> None:
    now = int(server.clock())
    claims = {"exp": now - 60, "iat": now - 120}
    assert "expired" in rejected(send(server, server.assertion(jwt_client, claims=claims)))


def test_rejects_assertion_living_longer_than_the_bound(
    server: RunningServer, jwt_client: Client
) -> None:
    claims = {"exp": int(server.clock()) + 3600 + 6}  # an hour, plus more than 5 s of skew
    description = rejected(send(server, server.assertion(jwt_client, claims=claims)))
    assert "expire within 3600 seconds (assertion_max_lifetime)" in description


def test_accepts_an_hour_long_assertion_from_a_clock_a_little_ahead(
    server: RunningServer, jwt_client: Client
) -> None:
    now = int(server.clock())
    claims = {"iat": now + 5, "exp": now + 3600 + 5}  # Authlib's hour, its clock 5 s ahead
    response = send(server, server.assertion(jwt_client, claims=claims))
    assert response.status_code == 200, response.text


def test_a_shorter_assertion_max_lifetime_is_enforced(
    databases: Databases, keys: dict[str, tessera.Key]
) -> None:
    with running_server(databases.new("sqlite"), "sqlite", assertion_max_lifetime="5m") as strict:
        client = strict.add_client(key=keys["ES256"])
        now = int(strict.clock())
        assert send(strict, strict.assertion(client, claims={"exp": now + 300})).status_code == 200
        long_lived = strict.assertion(client, claims={"exp": now + 3600})
        assert "within 300 seconds" in rejected(send(strict, long_lived))


def test_a_used_jti_is_refused_until_its_assertion_expires(
    databases: Databases, backend: str, keys: dict[str, tessera.Key]
) -> None:
    clock = FakeClock()
    with running_server(databases.new(backend), backend, clock=clock) as served:
        client = served.add_client(key=keys["ES256"])
        assertion = served.assertion(client, claims={"exp": int(clock()) + 3600})
        assert send(served, assertion).status_code == 200
        start = clock.now
        # up to exp + the 5 s leeway the assertion still verifies; maintenance purges used ids
        for elapsed in (10, 300, 3000, 3600 + 4):
            clock.now = start + elapsed
            served.context.maintain()
            assert "already used" in rejected(send(served, assertion)), elapsed
        clock.now = start + 3600 + 6
        served.context.maintain()
        assert "expired" in rejected(send(served, assertion))


@pytest.mark.parametrize("claim", ["jti", "exp", "iss", "sub"])
def test_rejects_assertion_missing_required_claim(
    server: RunningServer, jwt_client: Client, claim: str
) -> None:
    rejected(send(server, server.assertion(jwt_client, claims={claim: None})))


def test_rejects_issuer_different_from_subject(server: RunningServer, jwt_client: Client) -> None:
    other = server.add_client(key=tessera.Key.generate("ES256"))
    claims = {"iss": other.client_id}
    assert "iss and sub" in rejected(send(server, server.assertion(jwt_client, claims=claims)))


def test_rejects_client_id_parameter_that_differs(
    server: RunningServer, jwt_client: Client
) -> None:
    rejected(send(server, server.assertion(jwt_client), client_id="someone-else"))


def test_rejects_replayed_assertion(server: RunningServer, jwt_client: Client) -> None:
    assertion = server.assertion(jwt_client)
    assert send(server, assertion).status_code == 200
    assert "already used" in rejected(send(server, assertion))


def test_same_jti_from_two_clients_is_not_a_replay(
    server: RunningServer, keys: dict[str, tessera.Key]
) -> None:
    first = server.add_client(key=keys["ES256"])
    second = server.add_client(key=keys["ES256"])
    claims = {"jti": "shared-jti"}
    assert send(server, server.assertion(first, claims=claims)).status_code == 200
    assert send(server, server.assertion(second, claims=claims)).status_code == 200


def test_concurrent_replays_let_exactly_one_through(
    server: RunningServer, jwt_client: Client
) -> None:
    assertion = server.assertion(jwt_client)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: send(server, assertion).status_code, range(16)))
    assert statuses.count(200) == 1
    assert statuses.count(401) == 15


def test_rejects_assertion_signed_by_another_key(server: RunningServer, jwt_client: Client) -> None:
    intruder = tessera.Key.generate("ES256", kid=jwt_client.key.kid if jwt_client.key else None)
    description = rejected(send(server, server.assertion(jwt_client, key=intruder)))
    assert "signature" in description


def test_rejects_hmac_assertion_even_with_public_key_as_secret(
    server: RunningServer, jwt_client: Client
) -> None:
    assert jwt_client.key is not None
    secret = tessera.Key.from_secret(b"k" * 32, "HS256", kid=jwt_client.key.kid)
    rejected(send(server, server.assertion(jwt_client, key=secret)))


def test_rejects_assertion_with_access_token_type(
    server: RunningServer, jwt_client: Client
) -> None:
    rejected(send(server, server.assertion(jwt_client, typ="at+jwt")))


def test_rejects_tampered_assertion(server: RunningServer, jwt_client: Client) -> None:
    assertion = server.assertion(jwt_client)
    head, body, sig = assertion.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}AAAA"
    rejected(send(server, tampered))


@pytest.mark.parametrize(
    "assertion", ["", "x", "a.b.c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.", "." * 5000]
)
def test_rejects_malformed_assertion(server: RunningServer, assertion: str) -> None:
    response = (
        send(server, assertion)
        if assertion
        else server.post_token({**GRANT, "client_assertion_type": ASSERTION_TYPE})
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "invalid_request")


def test_rejects_unknown_assertion_type(server: RunningServer, jwt_client: Client) -> None:
    data = {
        **GRANT,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "client_assertion": server.assertion(jwt_client),
    }
    rejected(server.post_token(data))


def test_rejects_assertion_without_its_type(server: RunningServer, jwt_client: Client) -> None:
    data = {**GRANT, "client_assertion": server.assertion(jwt_client)}
    rejected(server.post_token(data), "invalid_request")


def test_rejects_assertion_for_unknown_client(server: RunningServer) -> None:
    ghost = Client("ghost-client", None, "ghost", tessera.Key.generate("ES256"))
    rejected(send(server, server.assertion(ghost)))


def test_secret_client_cannot_use_an_assertion(server: RunningServer) -> None:
    secret_client = server.add_client()
    secret_client.key = tessera.Key.generate("ES256")
    rejected(send(server, server.assertion(secret_client)))


def test_jwt_client_cannot_use_a_secret(server: RunningServer, jwt_client: Client) -> None:
    data = {**GRANT, "client_id": jwt_client.client_id, "client_secret": "anything"}
    rejected(server.post_token(data))


def test_rejects_assertion_plus_secret(server: RunningServer, jwt_client: Client) -> None:
    data = {
        **GRANT,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": server.assertion(jwt_client),
        "client_secret": "x",
        "client_id": jwt_client.client_id,
    }
    rejected(server.post_token(data), "invalid_request")


def test_rejects_overlong_jti(server: RunningServer, jwt_client: Client) -> None:
    rejected(send(server, server.assertion(jwt_client, claims={"jti": "j" * 256})))
