"""Parallel uses of one credential against ``tessera serve --workers 2``, on both backends:
20 rounds of 20 identical requests sent at one instant. Exactly one request wins each round;
every loser is told it lost (``invalid_grant`` for a code or refresh token, ``invalid_client``
for a replayed client assertion), never ``temporarily_unavailable``: losing a race is not an
outage. The counts are printed in the terminal summary."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from serverhelp import (
    ASSERTION_TYPE,
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
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

import tessera
from tessera.server import accounts, registry
from tessera.server.errors import Contention
from tessera.server.storage.database import Database

CALLBACK = "http://127.0.0.1:9/callback"
PARALLEL = 20
ROUNDS = 20
SCOPE = "read:docs offline_access"

Outcome = tuple[int, str | None]
"""(HTTP status, OAuth ``error`` or None)."""


@dataclass
class Site:
    """A running ``tessera serve`` with a public client, a private_key_jwt client that may use
    codes, one that may use client credentials, and a person signed in at a browser."""

    serve: ServeProcess
    public: str
    signed: str
    machine: str
    key: tessera.Key
    browser: Browser
    racers: Racers

    @property
    def token_url(self) -> str:
        return self.serve.url + "/token"

    def code(self, client_id: str) -> tuple[str, Pkce]:
        """A fresh authorization code for ``client_id`` (the person consents again)."""
        pkce = Pkce.new()
        consent = self.browser.open(auth_params(_client(client_id), CALLBACK, pkce, scope=SCOPE))
        assert consent.status_code == 200, consent.text
        answer = self.browser.post(hidden_fields(consent.text), decision="allow")
        assert answer.status_code == 303, answer.text
        return query_of(answer.headers["location"])["code"], pkce

    def assertion(self, client_id: str) -> str:
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": self.token_url,
            "exp": now + 60,
            "iat": now,
            "jti": secrets.token_urlsafe(12),
        }
        return tessera.encode(claims, self.key)

    def redeem(self, client_id: str, code: str, pkce: Pkce, **extra: str) -> dict[str, str]:
        data = {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
            **extra,
        }
        response = httpx.post(self.token_url, data=data, timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())


def _client(client_id: str) -> Client:
    return Client(client_id, None, "")


class Racers:
    """``PARALLEL`` threads, each with its own kept-alive connection, that send one request
    together when released by a barrier."""

    def __init__(self, url: str) -> None:
        self.clients = [httpx.Client(base_url=url, timeout=30) for _ in range(PARALLEL)]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def race(self, data: dict[str, str]) -> tuple[list[Outcome], float]:
        """Send ``data`` to /token from every thread at once: the outcomes and the slowest
        answer's time in seconds."""
        barrier = threading.Barrier(PARALLEL)
        outcomes: list[Outcome | None] = [None] * PARALLEL
        seconds = [0.0] * PARALLEL

        def run(index: int) -> None:
            http = self.clients[index]
            http.get("/healthz")  # the connection is open before the race
            barrier.wait()
            started = time.perf_counter()
            response = http.post("/token", data=data)
            seconds[index] = time.perf_counter() - started
            error = response.json().get("error") if response.status_code != 200 else None
            outcomes[index] = (response.status_code, error)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(outcome is not None for outcome in outcomes), "a racer did not finish"
        return [o for o in outcomes if o is not None], max(seconds)


@pytest.fixture(scope="module")
def site(
    backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    database = databases.new(backend)
    workdir: Path = tmp_path_factory.mktemp("races")
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    serve = ServeProcess(database, {"TESSERA_KEK": kek}, workdir, "--workers", "2")
    key = tessera.Key.generate("ES256")
    jwks = tessera.KeySet([key.public()]).to_jwks()
    try:
        serve.wait_ready()
        db = Database(database)
        try:
            now = time.time()
            common = {"scope": SCOPE, "audiences": ("https://api.example",), "now": now}
            public = registry.add_client(
                db, "spa", client_type="public", redirect_uris=(CALLBACK,), **common
            )
            signed = registry.add_client(
                db, "web", jwks=json.dumps(jwks), redirect_uris=(CALLBACK,), **common
            )
            machine = registry.add_client(db, "batch", jwks=json.dumps(jwks), **common)
            accounts.add_user(db, "alice", "correct horse battery", now=now)
        finally:
            db.dispose()
        browser = Browser(serve)
        racers = Racers(serve.url)
        try:
            user = User("alice", "correct horse battery", "")
            pkce = Pkce.new()
            browser.sign_in(
                auth_params(_client(public.record.client_id), CALLBACK, pkce, scope=SCOPE),
                user,
            )
            yield Site(
                serve,
                public.record.client_id,
                signed.record.client_id,
                machine.record.client_id,
                key,
                browser,
                racers,
            )
        finally:
            racers.close()
            browser.close()
    finally:
        serve.stop()


def run_rounds(
    site: Site,
    request_for_round: Callable[[], dict[str, str]],
    loser: Outcome,
    figures: Callable[[str], None],
) -> None:
    """``ROUNDS`` races; each must have exactly one 200 and ``PARALLEL - 1`` ``loser``."""
    tally: Counter[Outcome] = Counter()
    outages_logged = _outages(site)
    slowest = 0.0
    bad_rounds = []
    for number in range(ROUNDS):
        outcomes, seconds = site.racers.race(request_for_round())
        slowest = max(slowest, seconds)
        tally.update(outcomes)
        counts = Counter(outcomes)
        if counts != Counter({(200, None): 1, loser: PARALLEL - 1}):
            bad_rounds.append((number, dict(counts)))
    summary = ", ".join(
        f"{status} {error or ''}".strip() + f" x{n}"
        for (status, error), n in sorted(
            tally.items(), key=lambda item: (item[0][0], item[0][1] or "")
        )
    )
    figures(f"{ROUNDS}x{PARALLEL}: {summary}; slowest answer {slowest * 1000:.0f} ms")
    assert not bad_rounds, bad_rounds
    assert _outages(site) == outages_logged, "a race was logged as a database outage"
    assert tally == Counter({(200, None): ROUNDS, loser: ROUNDS * (PARALLEL - 1)})


def _outages(site: Site) -> int:
    return sum("database unavailable" in line for line in list(site.serve.output))


def test_parallel_refresh_with_one_token_has_one_winner_and_invalid_grant_losers(
    site: Site, figures: Callable[[str], None]
) -> None:
    def request() -> dict[str, str]:
        code, pkce = site.code(site.public)
        tokens = site.redeem(site.public, code, pkce)
        return {
            "grant_type": "refresh_token",
            "client_id": site.public,
            "refresh_token": tokens["refresh_token"],
        }

    run_rounds(site, request, (400, "invalid_grant"), figures)


def test_parallel_redemption_of_one_code_has_one_winner_and_invalid_grant_losers(
    site: Site, figures: Callable[[str], None]
) -> None:
    def request() -> dict[str, str]:
        code, pkce = site.code(site.public)
        return {
            "grant_type": "authorization_code",
            "client_id": site.public,
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        }

    run_rounds(site, request, (400, "invalid_grant"), figures)


def test_parallel_reuse_of_one_client_assertion_has_one_winner_and_invalid_client_losers(
    site: Site, figures: Callable[[str], None]
) -> None:
    def request() -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": site.assertion(site.machine),
        }

    run_rounds(site, request, (401, "invalid_client"), figures)


def test_parallel_refresh_with_one_client_assertion_has_one_winner_and_invalid_client_losers(
    site: Site, figures: Callable[[str], None]
) -> None:
    """The assertion is checked first: every loser is a replay, and its refusal leaves the
    refresh token unconsumed (the winner's answer is the only rotation)."""

    def request() -> dict[str, str]:
        code, pkce = site.code(site.signed)
        tokens = site.redeem(
            site.signed,
            code,
            pkce,
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=site.assertion(site.signed),
        )
        return {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": site.assertion(site.signed),
        }

    run_rounds(site, request, (401, "invalid_client"), figures)


# -- the retry itself, with real lost races -------------------------------------------------


def _retries(operation: str) -> float:
    from tessera.server.metrics import DATABASE_RETRIES

    for metric in DATABASE_RETRIES.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels == {"operation": operation}:
                return sample.value
    return 0.0


def test_transaction_chosen_as_deadlock_victim_is_retried_and_counted(
    databases: Databases,
) -> None:
    db = Database(databases.new("postgresql"))
    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE pair (id int PRIMARY KEY, n int)"))
            conn.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
        both_hold_one = threading.Barrier(2)
        attempts: list[int] = []

        def other() -> None:
            with db.write() as conn:
                conn.execute(text("SET LOCAL deadlock_timeout = '20s'"))  # never the victim
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = 1"))
                both_hold_one.wait()
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = 2"))

        def work(conn: Connection) -> str:
            attempts.append(1)
            conn.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            conn.execute(text("UPDATE pair SET n = n + 10 WHERE id = 2"))
            if len(attempts) == 1:
                both_hold_one.wait()
            conn.execute(text("UPDATE pair SET n = n + 10 WHERE id = 1"))
            return "done"

        before = _retries("test-deadlock")
        thread = threading.Thread(target=other)
        thread.start()
        result = db.transaction(work, operation="test-deadlock")
        thread.join(30)
        assert result == "done"
        assert len(attempts) == 2  # deadlocked once, then succeeded
        assert _retries("test-deadlock") == before + 1
        with db.read() as conn:
            assert conn.execute(text("SELECT n FROM pair ORDER BY id")).scalars().all() == [11, 11]
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("sqlstate", "retried"),
    [("40001", True), ("40P01", True), ("55P03", True), ("23505", False), ("57014", False)],
)
def test_only_lost_races_are_retried_and_the_last_loss_is_contention(
    databases: Databases, sqlstate: str, retried: bool
) -> None:
    db = Database(databases.new("postgresql"))
    attempts: list[int] = []

    def work(conn: Connection) -> None:
        attempts.append(1)
        conn.execute(text(f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '{sqlstate}'; END $$"))

    try:
        if retried:
            with pytest.raises(Contention):
                db.transaction(work, operation="test-raise")
            assert len(attempts) == 3
        else:
            with pytest.raises(DBAPIError):
                db.transaction(work, operation="test-raise")
            assert len(attempts) == 1
    finally:
        db.dispose()


def test_sqlite_snapshot_conflict_is_retried_but_a_busy_timeout_is_not(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "busy.db"
    db = Database(f"sqlite:///{path}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (n int)"))
    other = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    attempts: list[int] = []

    def snapshot_conflict(conn: Connection) -> None:
        attempts.append(1)
        conn.exec_driver_sql("BEGIN")
        conn.execute(text("SELECT count(*) FROM t")).all()  # a read snapshot is open
        if len(attempts) == 1:
            other.execute("INSERT INTO t VALUES (1)")  # another writer commits meanwhile
        conn.execute(text("INSERT INTO t VALUES (2)"))  # SQLITE_BUSY_SNAPSHOT on attempt 1

    try:
        db.transaction(snapshot_conflict, operation="test-sqlite")
        assert len(attempts) == 2
        attempts.clear()
        other.execute("BEGIN IMMEDIATE")  # holds the write lock past the busy timeout
        fast = Database(f"sqlite:///{path}")

        def held(conn: Connection) -> None:
            attempts.append(1)
            conn.exec_driver_sql("PRAGMA busy_timeout = 50")
            conn.execute(text("INSERT INTO t VALUES (3)"))

        with pytest.raises(DBAPIError):
            fast.transaction(held, operation="test-sqlite")
        assert len(attempts) == 1
        other.execute("ROLLBACK")
        fast.dispose()
    finally:
        other.close()
        db.dispose()
