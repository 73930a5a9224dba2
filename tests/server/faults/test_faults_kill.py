"""``kill -9`` of ``tessera serve`` while clients rotate refresh tokens, five times, on SQLite
and PostgreSQL. After each kill the database is intact (SQLite ``PRAGMA integrity_check``,
PostgreSQL's amcheck on the token tables' indexes), and no rotation is half-stored: every grant
has exactly one unused refresh token; after the restart, the newest refresh token each client
was answered with works exactly once, unless the request in flight at the kill consumed it (its
answer lost), in which case its grant is revoked when the client presents it again.
The figures are printed in the terminal summary."""

from __future__ import annotations

import base64
import os
import random
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverhelp import (
    Browser,
    Client,
    Databases,
    Pkce,
    ServeProcess,
    User,
    auth_params,
    hidden_fields,
    query_of,
)
from sqlalchemy import text

from tessera.server import accounts, registry
from tessera.server.grants.issuance import hash_token
from tessera.server.storage import migrate
from tessera.server.storage.database import Database

pytestmark = pytest.mark.faults

ISSUER = "http://localhost:8080"  # the same issuer across restarts
CALLBACK = "http://127.0.0.1:9/callback"
SCOPE = "read:docs offline_access"
KILLS = 5
CHAINS = 6
USER = User("alice", "correct horse battery", "")


@dataclass
class Chain:
    """A client's refresh token for one grant."""

    token: str
    family_id: str = ""
    rotations: int = 0
    in_flight: bool = False
    """A rotation of ``token`` was sent and not answered when the server died."""


@dataclass
class Site:
    database: str
    env: dict[str, str]
    workdir: Path
    web: Client


@pytest.fixture(scope="module")
def site(backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Site:
    database = databases.new(backend)
    db = Database(database)
    try:
        migrate.upgrade(db)
        now = time.time()
        web = registry.add_client(
            db,
            "web",
            scope=SCOPE,
            audiences=("https://api.example",),
            redirect_uris=(CALLBACK,),
            now=now,
        )
        accounts.add_user(db, USER.username, USER.password, now=now)
    finally:
        db.dispose()
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return Site(
        database,
        {"TESSERA_KEK": kek},
        tmp_path_factory.mktemp("kill"),
        Client(web.record.client_id, web.secret, "web"),
    )


def start(site: Site) -> ServeProcess:
    serve = ServeProcess(site.database, site.env, site.workdir, "--issuer", ISSUER)
    serve.wait_ready()
    return serve


def refresh(url: str, web: Client, token: str, http: httpx.Client | None = None) -> httpx.Response:
    post = http.post if http is not None else httpx.post
    return post(
        url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(web.client_id, web.secret or ""),
        timeout=10,
    )


def new_chains(serve: ServeProcess, web: Client) -> list[Chain]:
    chains = []
    with Browser(serve) as browser:
        browser.sign_in(auth_params(web, CALLBACK, Pkce.new(), scope=SCOPE), USER)
        for _ in range(CHAINS):
            pkce = Pkce.new()
            consent = browser.open(auth_params(web, CALLBACK, pkce, scope=SCOPE))
            answer = browser.post(hidden_fields(consent.text), decision="allow")
            code = query_of(answer.headers["location"])["code"]
            response = httpx.post(
                serve.url + "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": CALLBACK,
                    "code_verifier": pkce.verifier,
                },
                auth=(web.client_id, web.secret or ""),
            )
            assert response.status_code == 200, response.text
            chains.append(Chain(response.json()["refresh_token"]))
    return chains


def rotate_until_killed(serve: ServeProcess, web: Client, chains: list[Chain]) -> None:
    """Each chain rotates on its own thread; the server is killed at a random moment."""
    failures: list[str] = []

    def run(chain: Chain) -> None:
        with httpx.Client(timeout=10) as http:
            while True:
                chain.in_flight = True
                try:
                    response = refresh(serve.url, web, chain.token, http)
                except httpx.TransportError:
                    return  # the server died with this rotation unanswered (in_flight)
                chain.in_flight = False
                if response.status_code != 200:
                    failures.append(response.text)
                    return
                chain.token = response.json()["refresh_token"]
                chain.rotations += 1

    threads = [threading.Thread(target=run, args=(chain,)) for chain in chains]
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(0.4, 1.2))
    os.kill(serve.proc.pid, signal.SIGKILL)
    serve.proc.wait(10)
    for thread in threads:
        thread.join(20)
    serve.stop()
    assert not failures, failures


def integrity(db: Database) -> str:
    """The database's own check of its storage: "ok" when intact."""
    with db.read() as conn:
        if db.is_sqlite:
            return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
    with db.write() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
        indexes = conn.execute(
            text(
                "SELECT c.oid::regclass::text FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
                "JOIN pg_am a ON a.oid = c.relam "
                "WHERE a.amname = 'btree' AND t.relname IN "
                "('refresh_tokens', 'token_families', 'access_tokens', 'codes')"
            )
        ).scalars()
        for name in indexes:  # raises on a corrupt index or heap tuple it misses
            conn.execute(
                text("SELECT bt_index_check(CAST(:name AS regclass), true)"), {"name": name}
            )
    return "ok"


def unused_per_family(db: Database) -> dict[str, int]:
    """For every grant that is not revoked: how many of its refresh tokens are unused."""
    with db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT f.family_id, count(r.token_hash) FILTER (WHERE NOT r.used) "
                "FROM token_families f LEFT JOIN refresh_tokens r USING (family_id) "
                "WHERE NOT f.revoked GROUP BY f.family_id"
            )
        ).all()
    return {str(family): int(count) for family, count in rows}


def stored(db: Database, token: str) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(
            text(
                "SELECT r.family_id, r.used, f.revoked FROM refresh_tokens r "
                "JOIN token_families f USING (family_id) WHERE r.token_hash = :hash"
            ),
            {"hash": hash_token(token)},
        ).one()
    return {"family_id": row[0], "used": bool(row[1]), "revoked": bool(row[2])}


def test_kill_during_refresh_rotations_leaves_no_half_stored_rotation(
    site: Site, backend: str, figures: Callable[[str], None]
) -> None:
    db = Database(site.database)
    outcomes: Counter[str] = Counter()
    rotations = in_flight = 0
    restarts: list[float] = []
    serve = start(site)
    try:
        for _ in range(KILLS):
            chains = new_chains(serve, site.web)
            for chain in chains:
                chain.family_id = stored(db, chain.token)["family_id"]
            rotate_until_killed(serve, site.web, chains)
            rotations += sum(chain.rotations for chain in chains)
            in_flight += sum(chain.in_flight for chain in chains)

            assert integrity(db) == "ok"
            unused = unused_per_family(db)
            for chain in chains:
                # Never half-stored: the grant has exactly one unused refresh token, the
                # client's own or the one whose answer the kill lost.
                assert unused[chain.family_id] == 1, (chain, unused[chain.family_id])
                row = stored(db, chain.token)
                assert not row["used"] or chain.in_flight, chain

            began = time.monotonic()
            serve = start(site)
            restarts.append(time.monotonic() - began)
            assert integrity(db) == "ok"
            for chain in chains:
                first = refresh(serve.url, site.web, chain.token)
                if first.status_code == 200:
                    again = refresh(serve.url, site.web, chain.token)
                    assert again.status_code == 400, again.text
                    assert again.json()["error"] == "invalid_grant"
                    outcomes["worked once"] += 1
                else:
                    assert first.status_code == 400, first.text
                    assert first.json()["error"] == "invalid_grant"
                    assert chain.in_flight, chain  # only the lost answer may have used it
                    outcomes["used by the lost answer, grant revoked"] += 1
                assert stored(db, chain.token)["revoked"]  # the replay revoked the grant
    finally:
        serve.stop()
        db.dispose()
    figures(
        f"{backend}: {KILLS} kills x {CHAINS} chains, {rotations} rotations answered, "
        f"{in_flight} in flight at the kills; newest tokens: {dict(outcomes)}; "
        f"integrity ok after every kill; restart {max(restarts):.1f} s at most"
    )
    assert sum(outcomes.values()) == KILLS * CHAINS
