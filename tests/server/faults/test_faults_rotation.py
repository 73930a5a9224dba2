"""Fault tests: key rotation under verification load, and the issuer stopped.

A real ``tessera serve`` issues tokens to a minting thread; verifier threads check the newest
one at a steady pace (``Verifier.from_issuer``, the token cache off: every check is a full
verification against the JWKS client's cache); the operator runs the real CLI. The figures
are printed in the terminal summary; the counts are asserted, the timings only reported (a
busy 2-core box stretches them).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from serverhelp import Databases, ServeProcess, cli

import tessera
from tessera.resource import CachePolicy, JWKSClient, Verifier

pytestmark = pytest.mark.faults

AUDIENCE = "https://api.example"
THREADS = 4
RATE = 100.0  # verifications per second per thread
PER_SECOND = THREADS * RATE


@dataclass
class Issuer:
    """``tessera serve`` plus the CLI an operator would use against the same database."""

    database: str
    folder: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    kek: str = field(
        default_factory=lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    )
    client_id: str = ""
    secret: str = ""
    process: ServeProcess | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"TESSERA_KEK": self.kek, **self.extra_env}

    def run(self, *args: str) -> str:
        done = cli(*args, "--database", self.database, env=self.env, cwd=self.folder)
        assert done.returncode == 0, done.stderr
        return str(done.stdout)

    def start(self) -> Issuer:
        self.process = ServeProcess(self.database, self.env, self.folder)
        self.process.wait_ready()
        added = json.loads(
            self.run(
                "clients", "add", "loader", "--scope", "read", "--audience", AUDIENCE, "--json"
            )
        )
        self.client_id, self.secret = added["client_id"], added["client_secret"]
        return self

    @property
    def url(self) -> str:
        assert self.process is not None
        return self.process.url

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class Load:
    """The newest token, checked by THREADS verifier threads; outcomes and times per kid."""

    issuer: Issuer
    verifier: Verifier
    mint: bool = True
    tokens: list[str] = field(default_factory=list)
    token: str = ""
    kid: str = ""
    first_signed: dict[str, float] = field(default_factory=dict)
    first_verified: dict[str, float] = field(default_factory=dict)
    failed: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _minter(self) -> None:
        with httpx.Client(auth=(self.issuer.client_id, self.issuer.secret), timeout=10) as http:
            while not self.stop.is_set():
                reply = http.post(
                    self.issuer.url + "/token", data={"grant_type": "client_credentials"}
                )
                token = reply.json()["access_token"]
                kid = tessera.decode_unverified(token)[0]["kid"]
                with self.lock:
                    self.first_signed.setdefault(kid, time.monotonic())
                    self.token, self.kid = token, kid
                    self.tokens.append(token)
                self.stop.wait(0.02)

    def _checker(self, index: int) -> None:
        due = time.monotonic()
        turn = index
        while not self.stop.is_set():
            due += 1 / RATE
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if self.mint:
                token, kid = self.token, self.kid
            else:  # the issuer is gone: cycle through the tokens it issued before
                turn += 1
                token = self.tokens[turn % len(self.tokens)]
                kid = tessera.decode_unverified(token)[0]["kid"]
            try:
                self.verifier.verify(token)
            except tessera.TesseraError as exc:
                with self.lock:
                    self.failed[kid] += 1
                    self.outcomes[type(exc).__name__] += 1
                continue
            with self.lock:
                self.outcomes["ok"] += 1
                self.first_verified.setdefault(kid, time.monotonic())

    def start(self) -> Load:
        if self.mint:
            self.threads.append(threading.Thread(target=self._minter, daemon=True))
            self.threads[0].start()
            deadline = time.monotonic() + 30
            while not self.token and time.monotonic() < deadline:
                time.sleep(0.01)
            assert self.token, "no token issued"
        for index in range(THREADS):
            self.threads.append(threading.Thread(target=self._checker, args=(index,), daemon=True))
            self.threads[-1].start()
        return self

    def new_kid(self, before: str, timeout: float = 30) -> str:
        """The kid the server signs with once it no longer signs with ``before``."""
        deadline = time.monotonic() + timeout
        while self.kid == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.kid != before, "the server never signed with a new key"
        return self.kid

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def jwks_client(verifier: Verifier) -> JWKSClient:
    source = verifier._sources[verifier.issuers[0]]
    assert isinstance(source, JWKSClient)
    return source


@pytest.fixture
def issuer(databases: Databases, backend: str, tmp_path: Path) -> Iterator[Issuer]:
    running = Issuer(databases.new(backend), tmp_path).start()
    yield running
    running.stop()


@pytest.fixture
def fast_jwks_issuer(databases: Databases, backend: str, tmp_path: Path) -> Iterator[Issuer]:
    """An issuer whose JWKS max-age is 1 s, so a scheduled key signs 31 s after publication."""
    running = Issuer(databases.new(backend), tmp_path, {"TESSERA_JWKS_MAX_AGE": "1"}).start()
    yield running
    running.stop()


def test_rotate_now_under_load_refuses_new_tokens_no_longer_than_the_unknown_kid_cooldown(
    issuer: Issuer, figures: Callable[[str], None]
) -> None:
    policy = CachePolicy()  # the default: unknown_kid_cooldown 5 s
    verifier = Verifier.from_issuer(issuer.url, audience=AUDIENCE, token_cache_size=0)
    client = jwks_client(verifier)
    load = Load(issuer, verifier).start()
    try:
        time.sleep(0.5)
        warm_fetches = client.fetches
        assert warm_fetches == 1
        kids = []
        for number in range(3):
            if number:
                time.sleep(6)
            before = load.kid
            issuer.run("keys", "rotate", "--now", "--json")  # right after a fetch, then 6 s on
            kids.append(load.new_kid(before))
        deadline = time.monotonic() + 3 * policy.unknown_kid_cooldown
        while kids[-1] not in load.first_verified and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)
    finally:
        load.finish()
    fetches = client.fetches - warm_fetches
    figures(
        f"rotate --now x3 under {PER_SECOND:.0f} verifications/s:"
        f" {load.total} verifications, outcomes {dict(load.outcomes)}, {fetches} JWKS fetches"
    )
    for number, kid in enumerate(kids, 1):
        refused = load.first_verified.get(kid, float("nan")) - load.first_signed[kid]
        figures(
            f"rotation {number}: new tokens refused for {refused:.2f} s,"
            f" {load.failed[kid]} verifications failed"
        )
    assert all(kid in load.first_verified for kid in kids)  # every new key came into use
    assert set(load.outcomes) <= {"ok", "KeyNotFoundError"}  # never a 503 or another error
    for kid in kids:  # refused for at most the unknown-kid cooldown's worth of requests
        assert load.failed[kid] <= PER_SECOND * policy.unknown_kid_cooldown
    assert fetches <= len(kids) + 1  # one fetch per rotation (single flight), no flood
    assert load.outcomes["ok"] > 0


def test_default_rotation_under_load_fails_no_verification(
    fast_jwks_issuer: Issuer, figures: Callable[[str], None]
) -> None:
    issuer = fast_jwks_issuer
    policy = CachePolicy(min_ttl=1)  # honour the issuer's max-age=1
    verifier = Verifier.from_issuer(issuer.url, audience=AUDIENCE, cache=policy, token_cache_size=0)
    client = jwks_client(verifier)
    load = Load(issuer, verifier).start()
    started = time.monotonic()
    try:
        before = load.kid
        issuer.run("keys", "rotate", "--json")  # published now, signs in 1 + 30 s
        new = load.new_kid(before, timeout=60)
        time.sleep(3)
    finally:
        load.finish()
    elapsed = time.monotonic() - started
    figures(
        f"scheduled rotation under {PER_SECOND:.0f} verifications/s:"
        f" {load.total} verifications in {elapsed:.0f} s, outcomes {dict(load.outcomes)},"
        f" {client.fetches} JWKS fetches (max-age 1 s; expired keys are refreshed at most once"
        f" per {policy.cooldown:g} s cooldown); the new key signed"
        f" {load.first_signed[new] - started:.1f} s after the rotation"
    )
    assert load.outcomes == Counter({"ok": load.total})  # 0 failures
    assert new in load.first_verified
    assert client.fetches <= policy.max_fetches_per_minute * (elapsed / 60 + 1)


def test_issuer_down_verification_from_cached_keys_fails_nothing(
    fast_jwks_issuer: Issuer, figures: Callable[[str], None]
) -> None:
    issuer = fast_jwks_issuer
    policy = CachePolicy(min_ttl=1, cooldown=2)  # keys expire 1 s after a fetch; retry every 2 s
    verifier = Verifier.from_issuer(issuer.url, audience=AUDIENCE, cache=policy, token_cache_size=0)
    client = jwks_client(verifier)
    minting = Load(issuer, verifier).start()
    time.sleep(1)
    minting.finish()
    assert minting.outcomes == Counter({"ok": minting.total})
    tokens = minting.tokens[-50:]
    issuer.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(issuer.url + "/jwks.json", timeout=2)
    before, failures_before = client.fetches, client.fetch_failures
    load = Load(issuer, verifier, mint=False, tokens=tokens).start()
    time.sleep(8)
    load.finish()
    attempts = client.fetches - before
    figures(
        f"issuer stopped: {load.total} verifications of {len(tokens)} tokens in 8 s"
        f" from keys that expired meanwhile, outcomes {dict(load.outcomes)}; {attempts} JWKS"
        f" fetches attempted, {client.fetch_failures - failures_before} failed"
        f" (then one per {policy.cooldown:g} s cooldown)"
    )
    assert load.total > 0
    assert load.outcomes == Counter({"ok": load.total})  # 0 failures: stale-if-error
    assert 2 <= attempts <= 1 + 8 / policy.cooldown  # it kept trying, and did not hammer
    assert client.fetch_failures - failures_before == attempts
