"""Two ``tessera serve`` processes on one database share people's grants: a code issued by one
is redeemed on the other, and when both receive the same refresh token at once, exactly one
rotates it (the other sees a reuse). On both backends."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serverhelp import Browser, Client, Databases, Pkce, ServeProcess, User, auth_params, query_of

from tessera.server import accounts, registry
from tessera.server.storage.database import Database

ISSUER = "http://localhost:8080"  # the load balancer's address: both replicas are this issuer
CALLBACK = "http://127.0.0.1:9/callback"


@pytest.fixture(scope="module")
def replicas(
    databases: Databases, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, ServeProcess, Client, User]]:
    database = databases.new(backend)
    workdir: Path = tmp_path_factory.mktemp("people-replicas")
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {"TESSERA_KEK": kek}
    first = ServeProcess(database, env, workdir, "--issuer", ISSUER)
    second = ServeProcess(database, env, workdir, "--issuer", ISSUER)
    try:
        first.wait_ready()
        second.wait_ready()
        db = Database(database)
        try:
            created = registry.add_client(
                db,
                "spa",
                scope="read:docs offline_access",
                audiences=("https://api.example",),
                client_type="public",
                redirect_uris=(CALLBACK,),
                now=time.time(),
            )
            accounts.add_user(db, "alice", "correct horse battery", now=time.time())
        finally:
            db.dispose()
        client = Client(created.record.client_id, None, "spa")
        yield first, second, client, User("alice", "correct horse battery", "")
    finally:
        first.stop()
        second.stop()


def post_token(replica: ServeProcess, data: dict[str, str]) -> httpx.Response:
    return httpx.post(replica.url + "/token", data=data, timeout=30)


def race(data: dict[str, str], replicas: tuple[ServeProcess, ...]) -> list[httpx.Response]:
    """POST the same token request to every replica at the same instant."""
    barrier = threading.Barrier(len(replicas))
    results: dict[int, httpx.Response] = {}

    def run(index: int, replica: ServeProcess) -> None:
        with httpx.Client(timeout=30) as http:
            http.get(replica.url + "/healthz")  # connection open before the race
            barrier.wait()
            results[index] = http.post(replica.url + "/token", data=data)

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == len(replicas)
    return list(results.values())


def test_code_from_one_replica_is_redeemed_on_the_other_once(replicas: tuple) -> None:
    first, second, client, user = replicas
    pkce = Pkce.new()
    with Browser(first) as browser:
        location = browser.authorize(auth_params(client, CALLBACK, pkce), user)
    data = {
        "grant_type": "authorization_code",
        "client_id": client.client_id,
        "code": query_of(location)["code"],
        "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier,
    }
    assert post_token(second, data).status_code == 200
    replay = post_token(first, data)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_simultaneous_refresh_on_two_replicas_lets_exactly_one_through(replicas: tuple) -> None:
    first, second, client, user = replicas
    for _ in range(5):
        pkce = Pkce.new()
        with Browser(first) as browser:
            location = browser.authorize(auth_params(client, CALLBACK, pkce), user)
        tokens = post_token(
            second,
            {
                "grant_type": "authorization_code",
                "client_id": client.client_id,
                "code": query_of(location)["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": pkce.verifier,
            },
        ).json()
        data = {
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "refresh_token": tokens["refresh_token"],
        }
        results = race(data, (first, second))
        statuses = sorted(response.status_code for response in results)
        assert statuses == [200, 400], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 400)
        assert loser.json()["error"] == "invalid_grant"
