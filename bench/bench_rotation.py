"""Key rotation under verification load: what an emergency rotation costs the verifiers.

A real ``tessera serve`` (SQLite, one worker) issues access tokens to a client thread, which
keeps the newest one; four verifier threads check it, 250 times a second each (requests at a
steady pace), with ``Verifier.from_issuer`` (a blocking JWKSClient; the token cache off, so
every check is a full verification). Then the
operator runs ``tessera keys rotate --now`` several times, ``--gap`` seconds apart, the first
``--first`` seconds after the verifier's last JWKS fetch. Each cache policy gets the same run:

* ``old``: the policy before issue 15 (an unknown kid refetched at most once per 30 s);
* ``fixed-5s``: a 5 s unknown-kid cooldown, no backoff (a bench-only variant);
* ``default``: today's ``CachePolicy()`` (5 s, doubling while made-up kids find nothing,
  at most 10 fetches a minute);
* ``2s``: the default with a 2 s unknown-kid cooldown.

Per rotation it prints how long new tokens were refused (from the first token the server
signed with the new key to the first one that verified) and how many verifications failed;
per policy the JWKS fetches. ``--attack`` then sprays tokens naming made-up kids (what anyone
can send: no signature can be checked without the key) from two threads for ``--attack-for``
seconds, with one ``rotate --now`` halfway, and counts fetches per minute.

    .venv/bin/python bench/bench_rotation.py                 # ~4 min
    .venv/bin/python bench/bench_rotation.py --attack        # + ~1 min per policy
    .venv/bin/python bench/bench_rotation.py --policy old --policy default --rotations 3
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import tessera
from tessera.resource import CachePolicy, JWKSClient, Verifier

AUDIENCE = "https://api.example"
VERIFIER_THREADS = 4
RATE = 250.0  # verifications per second per thread: requests arrive at a steady pace


class _NoBackoff(CachePolicy):
    """A short unknown-kid cooldown that never grows (for comparison only)."""

    __slots__ = ()

    def kid_cooldown(self, misses: int) -> float:
        return min(self.cooldown, self.unknown_kid_cooldown)


POLICIES: dict[str, CachePolicy] = {
    "old": CachePolicy(unknown_kid_cooldown=30, max_fetches_per_minute=10_000),
    "fixed-5s": _NoBackoff(unknown_kid_cooldown=5, max_fetches_per_minute=10_000),
    "default": CachePolicy(),
    "2s": CachePolicy(unknown_kid_cooldown=2),
}


# -- the issuer ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Issuer:
    """``tessera serve`` in a subprocess, with one client, and its CLI for rotations."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tessera-rot-")))
    port: int = field(default_factory=free_port)
    client_id: str = ""
    secret: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return str(self.folder / "tessera.db")

    def env(self) -> dict[str, str]:
        kek = self.folder / "kek"
        if not kek.exists():
            kek.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        return {**os.environ, "TESSERA_KEK": kek.read_text()}

    def start(self) -> Issuer:
        from tessera.server import registry
        from tessera.server.config import database_url
        from tessera.server.storage import migrate
        from tessera.server.storage.database import Database

        db = Database(database_url(self.database))
        migrate.upgrade(db)
        created = registry.add_client(
            db, "bench", scope="read:docs", audiences=[AUDIENCE], now=time.time()
        )
        db.dispose()
        self.client_id, self.secret = created.record.client_id, created.secret or ""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tessera.server", "serve", "--database", self.database,
             "--port", str(self.port)],
            cwd=self.folder, env=self.env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("tessera serve did not start")

    def rotate_now(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "tessera.server", "keys", "rotate", "--now", "--json",
             "--database", self.database],
            cwd=self.folder, env=self.env(), check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- load -----------------------------------------------------------------------------------


@dataclass
class Load:
    """A minting thread keeps the newest token; verifier threads check it and keep score."""

    issuer: Issuer
    verifier: Verifier
    token: str = ""
    kid: str = ""
    first_signed: dict[str, float] = field(default_factory=dict)
    first_verified: dict[str, float] = field(default_factory=dict)
    failed: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _mint(self) -> None:
        with httpx.Client(auth=(self.issuer.client_id, self.issuer.secret)) as http:
            while not self.stop.is_set():
                reply = http.post(
                    self.issuer.url + "/token", data={"grant_type": "client_credentials"}
                )
                token = reply.json()["access_token"]
                kid = tessera.decode_unverified(token)[0]["kid"]
                with self.lock:
                    self.first_signed.setdefault(kid, time.monotonic())
                    self.token, self.kid = token, kid
                time.sleep(0.01)

    def _verify(self) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            due += 1 / RATE
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            token, kid = self.token, self.kid
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
        self.threads = [threading.Thread(target=self._mint, daemon=True)]
        self.threads[0].start()
        while not self.token:
            time.sleep(0.01)
        for _ in range(VERIFIER_THREADS):
            self.threads.append(threading.Thread(target=self._verify, daemon=True))
            self.threads[-1].start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def _spray(issuer: str, stop: threading.Event, verifier: Verifier, sent: list[int]) -> None:
    """Tokens for made-up kids: an attacker's key, the real issuer's name."""
    attacker = tessera.Key.generate("ES256")
    count = 0
    while not stop.is_set():
        claims = {"iss": issuer, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}
        forged = tessera.encode(
            claims, attacker, headers={"kid": secrets.token_hex(8)}, typ="at+jwt"
        )
        try:
            verifier.verify(forged)
        except tessera.TesseraError:
            count += 1
    sent.append(count)


# -- runs -------------------------------------------------------------------------------------


def _client(verifier: Verifier) -> JWKSClient:
    source = verifier._sources[verifier.issuers[0]]
    assert isinstance(source, JWKSClient)
    return source


def run_rotations(name: str, policy: CachePolicy, args: argparse.Namespace) -> dict[str, float]:
    issuer = Issuer().start()
    try:
        verifier = Verifier.from_issuer(
            issuer.url, audience=AUDIENCE, cache=policy, token_cache_size=0
        )
        load = Load(issuer, verifier).start()
        client = _client(verifier)
        time.sleep(1.0)  # warm: the first fetch is done
        base_fetches = client.fetches
        first = client._cache.attempted_at + args.first  # after the last fetch (monotonic)
        kids = []
        for index in range(args.rotations):
            time.sleep(max(0.0, first + index * args.gap - time.monotonic()))
            before = load.kid
            issuer.rotate_now()
            while load.kid == before:
                time.sleep(0.01)
            kids.append(load.kid)
        time.sleep(args.tail)  # the same length of run for every policy
        rows = []
        for index, kid in enumerate(kids):
            signed = load.first_signed[kid]
            if kid in load.first_verified:
                refused = f"refused for {load.first_verified[kid] - signed:5.2f} s"
            else:  # never verified: the next rotation replaced it first
                replaced = load.first_signed[kids[index + 1]] - signed
                refused = f"refused until replaced, {replaced:5.2f} s"
            rows.append((index + 1, refused, load.failed[kid]))
        time.sleep(1.0)
        load.finish()
        total = sum(load.outcomes.values())
        failures = total - load.outcomes["ok"]
        print(f"\n{name}: {policy_text(policy)}")
        for number, refused, failed in rows:
            print(f"  rotation {number}: new tokens {refused}, {failed:>5} failed")
        fetches = client.fetches - base_fetches
        print(
            f"  total: {failures} of {total} verifications failed ({100 * failures / total:.1f} %),"
            f" {fetches} JWKS fetches after warm-up; outcomes {dict(load.outcomes)}"
        )
        return {"failures": failures, "total": total, "fetches": fetches}
    finally:
        issuer.stop()


def run_attack(name: str, policy: CachePolicy, args: argparse.Namespace) -> None:
    issuer = Issuer().start()
    try:
        verifier = Verifier.from_issuer(
            issuer.url, audience=AUDIENCE, cache=policy, token_cache_size=0
        )
        load = Load(issuer, verifier).start()
        client = _client(verifier)
        time.sleep(1.0)
        start_fetches, started = client.fetches, time.monotonic()
        stop, sent = threading.Event(), list[int]()
        sprayers = [
            threading.Thread(target=_spray, args=(issuer.url, stop, verifier, sent), daemon=True)
            for _ in range(2)
        ]
        for thread in sprayers:
            thread.start()
        time.sleep(args.attack_for / 2)
        before = load.kid
        issuer.rotate_now()
        while load.kid == before:
            time.sleep(0.01)
        new_kid = load.kid
        deadline = started + args.attack_for
        time.sleep(max(0.0, deadline - time.monotonic()))
        stop.set()
        for thread in sprayers:
            thread.join(10)
        load.finish()
        elapsed = time.monotonic() - started
        fetches = client.fetches - start_fetches
        refused = load.first_verified.get(new_kid, float("inf")) - load.first_signed[new_kid]
        print(
            f"  {name:<9} {sum(sent):>8} forged tokens in {elapsed:4.0f} s -> {fetches:>3} fetches"
            f" ({60 * fetches / elapsed:4.1f}/min); rotation mid-attack: new tokens refused for"
            f" {refused:5.2f} s ({load.failed[new_kid]} failed)"
        )
    finally:
        issuer.stop()


def policy_text(policy: CachePolicy) -> str:
    backoff = "no backoff" if isinstance(policy, _NoBackoff) else "doubling on misses"
    if policy.unknown_kid_cooldown >= policy.cooldown:
        backoff = "= cooldown"
    return (
        f"unknown_kid_cooldown {policy.unknown_kid_cooldown:g} s ({backoff}), cooldown"
        f" {policy.cooldown:g} s, max {policy.max_fetches_per_minute} fetches/min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", action="append", choices=sorted(POLICIES))
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument("--first", type=float, default=0.0, help="s after the last fetch")
    parser.add_argument("--gap", type=float, default=13.0, help="s between rotations")
    parser.add_argument("--tail", type=float, default=32.0, help="s of load after the last")
    parser.add_argument("--attack", action="store_true", help="also spray made-up kids")
    parser.add_argument("--attack-for", type=float, default=60.0)
    args = parser.parse_args()
    names = args.policy or list(POLICIES)
    print(
        f"{VERIFIER_THREADS} verifier threads, token cache off; {args.rotations} x"
        f" `tessera keys rotate --now`, the first {args.first:g} s after a fetch, then every"
        f" {args.gap:g} s"
    )
    for name in names:
        run_rotations(name, POLICIES[name], args)
    if args.attack:
        print(f"\nmade-up kids from 2 threads for {args.attack_for:g} s, one rotate --now halfway:")
        for name in names:
            run_attack(name, POLICIES[name], args)


if __name__ == "__main__":
    main()
