"""Two ``tessera serve`` processes on one PostgreSQL behave as one server."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from serverhelp import ASSERTION_TYPE, Databases, ServeProcess, cli

import tessera

GRANT = {"grant_type": "client_credentials"}
ISSUER = "http://localhost:8080"  # the load balancer's address: both replicas are this issuer


@pytest.fixture(scope="module")
def replicas(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, ServeProcess, str, dict[str, str]]]:
    database = databases.new("postgresql")
    workdir = tmp_path_factory.mktemp("replicas")
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {"TESSERA_KEK": kek, "TESSERA_KEY_CACHE_TTL": "0.5"}
    first = ServeProcess(database, env, workdir, "--issuer", ISSUER)
    second = ServeProcess(database, env, workdir, "--issuer", ISSUER)
    try:
        first.wait_ready()
        second.wait_ready()
        yield first, second, database, env
    finally:
        first.stop()
        second.stop()


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    """Poll another process until ``check`` holds (replicas re-read keys every 0.5 s)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the replicas did not converge"
        time.sleep(0.1)


def jwks(server: ServeProcess) -> dict:
    return dict(httpx.get(server.url + "/jwks.json").json())


def test_replicas_publish_the_same_jwks(replicas: tuple) -> None:
    first, second, _, _ = replicas
    assert jwks(first) == jwks(second)
    assert sorted(key["alg"] for key in jwks(first)["keys"]) == ["ES256", "RS256"]


def test_client_added_once_works_on_both(replicas: tuple) -> None:
    first, second, database, env = replicas
    out = cli(
        "clients",
        "add",
        "shared",
        "--scope",
        "read:docs",
        "--audience",
        "https://api.example",
        "--json",
        "--database",
        database,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    auth = (created["client_id"], created["client_secret"])
    tokens = []
    for server in (first, second):
        response = httpx.post(server.url + "/token", data=GRANT, auth=auth)
        assert response.status_code == 200, response.text
        tokens.append(response.json()["access_token"])
    # a token from one replica verifies with the other's JWKS (same issuer, same keys)
    keyset = tessera.KeySet.from_jwks(jwks(second))
    claims = tessera.decode(tokens[0], keyset, audience="https://api.example", typ="at+jwt")
    assert claims["iss"] == ISSUER
    assert tessera.decode_unverified(tokens[1])[1]["iss"] == ISSUER


def test_rotation_through_one_is_seen_by_the_other(replicas: tuple) -> None:
    first, second, database, env = replicas
    before = {k["kid"] for k in jwks(second)["keys"]}
    out = cli("keys", "rotate", "--json", "--database", database, env=env)
    assert out.returncode == 0, out.stderr
    new_kid = json.loads(out.stdout)["kid"]
    eventually(lambda: new_kid in {k["kid"] for k in jwks(first)["keys"]})
    eventually(lambda: new_kid in {k["kid"] for k in jwks(second)["keys"]})
    assert before < {k["kid"] for k in jwks(second)["keys"]}
    assert jwks(first) == jwks(second)


def test_private_key_jwt_replay_is_caught_across_replicas(replicas: tuple, tmp_path: Path) -> None:
    first, second, database, env = replicas
    key = tessera.Key.generate("ES256")
    jwks_file = tmp_path / "client.jwks"
    jwks_file.write_text(json.dumps(tessera.KeySet([key.public()]).to_jwks()))
    out = cli(
        "clients",
        "add",
        "jwt-shared",
        "--scope",
        "read:docs",
        "--audience",
        "https://api.example",
        "--jwks",
        str(jwks_file),
        "--json",
        "--database",
        database,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    client_id = json.loads(out.stdout)["client_id"]
    now = int(time.time())
    assertion = tessera.encode(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": ISSUER + "/token",
            "exp": now + 60,
            "iat": now,
            "jti": secrets.token_urlsafe(12),
        },
        key,
    )
    data = {**GRANT, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    assert httpx.post(first.url + "/token", data=data).status_code == 200
    replay = httpx.post(second.url + "/token", data=data)
    assert replay.status_code == 401
    assert "already used" in replay.json()["error_description"]
