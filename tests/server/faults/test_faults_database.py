"""PostgreSQL cut off or stalled (through a TCP proxy) while ``tessera serve --workers 2``
answers token requests (client credentials, refresh rotations) at load.

The faults: a *cut* resets every connection and each new one; a *stall of new connections*
resets the open ones and then accepts new ones without ever answering (the database restarted
behind something that still accepts); a *stall* silences every connection, open and new (a
frozen host, a network dropping every packet), and delivers what was held once it ends.

During each fault every answer is 503 ``temporarily_unavailable`` with ``Retry-After``; every
answer of the run comes within 2 s; after the proxy forwards again, both kinds succeed within
1 s and no 503 follows (no connection left broken in a pool); every access token answered 200
introspects active (but those of a grant revoked as a reuse: when a reset connection hid a
COMMIT, the client's retry of that refresh token is a reuse, and the grant's tokens go), and
every refresh token answered 200 and not used since is still stored (it introspects active and
rotates once). The figures are printed in the terminal summary."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from proxyhelp import Answer, Load, TcpProxy
from serverhelp import (
    PG_HOST,
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

from tessera.server import accounts, registry
from tessera.server.config import Settings
from tessera.server.storage import migrate
from tessera.server.storage.database import Database
from tessera.server.storage.hot import HEARTBEAT

pytestmark = pytest.mark.faults

ISSUER = "http://localhost:8080"
CALLBACK = "http://127.0.0.1:9/callback"
SCOPE = "read:docs offline_access"
WARM, CUT, STALL, AFTER = 1.5, 4.0, 7.0, 3.0
"""Seconds of load before the fault, of a cut, of a stall, and after the restore."""
SETTLE = 0.25
"""Requests sent this soon after the fault began may still have been answered from memory."""
BOUND = 2.0
"""Every answer comes within this many seconds (503 when the database does not answer)."""
KEPT = HEARTBEAT + Settings().database_timeout + 0.2
"""While the database is silent, a worker keeps client records (and answers client_credentials
from them, no database needed) until its listener's heartbeat goes unanswered: at most this
long after the stall began."""


@dataclass
class Chain:
    """One grant's refresh token as the client holds it."""

    token: str
    answered: list[str] = field(default_factory=list)
    """Every refresh token the server answered 200 with, oldest first."""
    unanswered_since: float | None = None
    """When the current token was first sent without a 200 (503) since."""
    dead: bool = False
    """A 503 hid a commit and the retry was taken as a reuse: the grant is revoked."""
    access: list[str] = field(default_factory=list)
    """Every access token a rotation of this chain was answered 200 with."""


@dataclass
class Site:
    serve: ServeProcess
    proxy: TcpProxy
    web: Client
    batch: Client
    chains: list[Chain]


def _code(browser: Browser, client: Client) -> tuple[str, Pkce]:
    pkce = Pkce.new()
    consent = browser.open(auth_params(client, CALLBACK, pkce, scope=SCOPE))
    assert consent.status_code == 200, consent.text
    answer = browser.post(hidden_fields(consent.text), decision="allow")
    assert answer.status_code == 303, answer.text
    return query_of(answer.headers["location"])["code"], pkce


@pytest.fixture(scope="module")
def site(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    direct = databases.new("postgresql")
    db = Database(direct)
    try:
        migrate.upgrade(db)
        now = time.time()
        common = {"scope": SCOPE, "audiences": ("https://api.example",), "now": now}
        web = registry.add_client(db, "web", redirect_uris=(CALLBACK,), **common)
        batch = registry.add_client(db, "batch", **common)
        accounts.add_user(db, "alice", "correct horse battery", now=now)
    finally:
        db.dispose()
    proxy = TcpProxy((PG_HOST, 5432))
    through_proxy = direct.replace(f"{PG_HOST}:5432", f"127.0.0.1:{proxy.port}")
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    workdir: Path = tmp_path_factory.mktemp("database-cut")
    serve = ServeProcess(
        through_proxy, {"TESSERA_KEK": kek}, workdir, "--workers", "2", "--issuer", ISSUER
    )
    try:
        serve.wait_ready()
        web_client = Client(web.record.client_id, web.secret, "web")
        batch_client = Client(batch.record.client_id, batch.secret, "batch")
        chains = []
        with Browser(serve) as browser:
            pkce = Pkce.new()
            user = User("alice", "correct horse battery", "")
            browser.sign_in(auth_params(web_client, CALLBACK, pkce, scope=SCOPE), user)
            for _ in range(24):
                code, pkce = _code(browser, web_client)
                response = httpx.post(
                    serve.url + "/token",
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": CALLBACK,
                        "code_verifier": pkce.verifier,
                    },
                    auth=(web_client.client_id, web_client.secret or ""),
                )
                assert response.status_code == 200, response.text
                chains.append(Chain(response.json()["refresh_token"]))
        yield Site(serve, proxy, web_client, batch_client, chains)
    finally:
        serve.stop()
        proxy.close()


def _client_credentials(
    batch: Client, issued: list[str]
) -> Callable[[httpx.Client], httpx.Response]:
    def step(http: httpx.Client) -> httpx.Response:
        response = http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=(batch.client_id, batch.secret or ""),
        )
        if response.status_code == 200:
            issued.append(response.json()["access_token"])
        return response

    return step


def _refresh(
    web: Client, spare: list[Chain], issued: list[str], lost: list[float]
) -> Callable[[httpx.Client], httpx.Response]:
    """Rotates one chain; a 503 keeps the token for the next try, as a client would. If that
    try finds the token used, the 503 hid a commit (the connection broke after COMMIT was
    sent): the grant is revoked as a reuse, and the thread takes a spare chain."""
    chain = spare.pop()

    def step(http: httpx.Client) -> httpx.Response:
        nonlocal chain
        sent = time.monotonic()
        response = http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": chain.token},
            auth=(web.client_id, web.secret or ""),
        )
        if response.status_code == 200:
            body = response.json()
            chain.token = body["refresh_token"]
            chain.answered.append(chain.token)
            chain.unanswered_since = None
            chain.access.append(body["access_token"])
            issued.append(body["access_token"])
        elif response.status_code == 503:
            chain.unanswered_since = chain.unanswered_since or sent
        elif chain.unanswered_since is not None:
            lost.append(chain.unanswered_since)
            chain.dead = True
            chain = spare.pop()
        return response

    return step


def _introspect(url: str, client: Client, tokens: list[str]) -> Counter[bool]:
    """Introspect ``tokens`` on four threads: how many were active."""
    outcome: Counter[bool] = Counter()
    lock = threading.Lock()
    parts = [tokens[i::4] for i in range(4)]

    def run(part: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            for token in part:
                response = http.post(
                    "/introspect",
                    data={"token": token},
                    auth=(client.client_id, client.secret or ""),
                )
                assert response.status_code == 200, response.text
                with lock:
                    outcome[bool(response.json()["active"])] += 1

    threads = [threading.Thread(target=run, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcome


@dataclass
class Run:
    """One load run with a fault in its middle."""

    answers: list[Answer]
    failures: list[str]
    access: list[str]
    """Every access token answered 200."""
    lost: list[float]
    """When each refresh token whose 503 hid a commit was first sent."""
    began: float
    ended: float

    @property
    def length(self) -> float:
        return self.ended - self.began

    @property
    def during(self) -> list[Answer]:
        return [
            a for a in self.answers if a.sent >= self.began + SETTLE and a.answered <= self.ended
        ]

    @property
    def after(self) -> list[Answer]:
        return [a for a in self.answers if a.sent >= self.ended]

    @property
    def recovery(self) -> dict[str, float]:
        """Seconds from the restore to each kind's first 200."""
        return {
            kind: min(
                (a.answered for a in self.after if a.kind == kind and a.status == 200),
                default=1e9,
            )
            - self.ended
            for kind in ("client_credentials", "refresh_token")
        }


def _run(site: Site, fault: Callable[[], None], length: float) -> Run:
    """Token load for WARM s, ``fault()`` for ``length`` s, then AFTER s with the proxy
    restored."""
    access: list[str] = []
    lost: list[float] = []
    spare = [chain for chain in site.chains if not chain.dead]
    load = Load(site.serve.url)
    for _ in range(3):
        load.add("client_credentials", _client_credentials(site.batch, access))
    for _ in range(3):
        load.add("refresh_token", _refresh(site.web, spare, access, lost))
    load.start()
    time.sleep(WARM)
    began = time.monotonic()
    fault()
    time.sleep(length)
    ended = time.monotonic()
    site.proxy.restore()
    time.sleep(AFTER)
    load.stop()
    return Run(list(load.answers), list(load.failures), access, lost, began, ended)


def _check(
    site: Site,
    run: Run,
    fault: str,
    figures: Callable[[str], None],
    kept: Callable[[Answer], bool] = lambda _answer: False,
) -> None:
    """Print the run's figures and assert what every database fault must give: during it only
    503 with Retry-After (except the ``kept`` answers, 200 from memory)."""
    answers, during = run.answers, run.during
    slowest = max(answers, key=lambda a: a.seconds)
    slowest_during = max((a.seconds for a in during), default=0.0)
    late_503 = [a for a in run.after if a.status == 503 and a.sent >= run.ended + 1]
    statuses = Counter((a.status, a.error) for a in answers)
    figures(
        f"{len(answers)} answers {dict(statuses)}; during the {run.length:.0f} s {fault} "
        f"{dict(Counter((a.status, bool(a.retry_after)) for a in during))} (status, "
        f"Retry-After), slowest {slowest_during * 1000:.0f} ms; slowest of the run "
        f"{slowest.seconds * 1000:.0f} ms ({slowest.kind} {slowest.status}); recovery after "
        "restore: "
        + ", ".join(f"{kind} {seconds * 1000:.0f} ms" for kind, seconds in run.recovery.items())
        + f"; commits hidden by a 503 (grant then revoked as reuse): {len(run.lost)}"
    )

    assert not run.failures, run.failures[:5]
    assert during, f"no request was answered during the {fault}"
    assert all((a.status == 503 and a.retry_after) or kept(a) for a in during), _odd(during, 503)
    assert slowest.seconds < BOUND, slowest
    assert all(a.status in (200, 503) or a.error == "invalid_grant" for a in answers)
    # invalid_grant only where a 503 hid a commit: the token's first 503 came as the fault began
    assert all(run.began - 1 <= first <= run.began + SETTLE for first in run.lost), (
        run.lost,
        run.began,
    )
    assert all(0 < seconds < 1.0 for seconds in run.recovery.values()), run.recovery
    assert not late_503, late_503[:3]

    # A reuse revokes the grant's access tokens too (RFC 9700 sec. 4.14.2): those of a chain
    # whose commit a 503 hid must be inactive, every other one answered 200 active.
    revoked = {token for chain in site.chains if chain.dead for token in chain.access}
    kept_tokens = [token for token in run.access if token not in revoked]
    lost_tokens = [token for token in run.access if token in revoked]
    active = _introspect(site.serve.url, site.batch, kept_tokens)
    inactive = _introspect(site.serve.url, site.batch, lost_tokens)
    live = [chain for chain in site.chains if chain.answered and not chain.dead]
    figures(
        f"{len(run.access)} access tokens answered 200: {active[True]} of {len(kept_tokens)} "
        f"active, {inactive[False]} of {len(lost_tokens)} from grants revoked as reuse inactive; "
        f"{len(live)} live refresh chains, {sum(len(c.answered) for c in live)} rotations"
    )
    assert active == Counter({True: len(kept_tokens)})
    assert inactive == Counter({False: len(lost_tokens)})
    # The newest refresh token of each chain was stored: it introspects active, rotates once.
    assert _introspect(site.serve.url, site.web, [c.token for c in live]) == Counter(
        {True: len(live)}
    )
    for chain in live:
        response = httpx.post(
            site.serve.url + "/token",
            data={"grant_type": "refresh_token", "refresh_token": chain.token},
            auth=(site.web.client_id, site.web.secret or ""),
        )
        assert response.status_code == 200, response.text
        chain.token = response.json()["refresh_token"]
        chain.answered.append(chain.token)


def test_database_cut_during_token_load(site: Site, figures: Callable[[str], None]) -> None:
    _check(site, _run(site, site.proxy.cut, CUT), "cut", figures)


def test_database_stalled_for_new_connections_during_token_load(
    site: Site, figures: Callable[[str], None]
) -> None:
    """The open connections reset (the listener's too: no client record is kept), new ones
    accepted and never answered: each request waits database_timeout, then 503."""
    held = site.proxy.held
    run = _run(site, lambda: site.proxy.stall(reset_open=True), STALL)
    figures(f"{site.proxy.held - held} connections accepted and left unanswered until the restore")
    _check(site, run, "stall of new connections", figures)


def test_database_stalled_mid_load(site: Site, figures: Callable[[str], None]) -> None:
    """Every connection goes silent: refresh rotations (transactions) get 503 after
    database_timeout; client_credentials of the kept client are answered from memory until
    the listener's heartbeat goes unanswered (KEPT), then 503 too."""
    held = site.proxy.held
    run = _run(site, site.proxy.stall, STALL)

    def kept(answer: Answer) -> bool:
        return (
            answer.kind == "client_credentials"
            and answer.status == 200
            and answer.sent < run.began + KEPT
        )

    from_memory = [a for a in run.during if kept(a)]
    late = [a for a in run.during if a.kind == "client_credentials" and a.sent >= run.began + KEPT]
    figures(
        f"{site.proxy.held - held} connections accepted and left unanswered until the restore; "
        f"client_credentials answered 200 from kept client records: {len(from_memory)}, the "
        f"last sent {max((a.sent for a in from_memory), default=run.began) - run.began:.2f} s "
        f"into the stall; sent after {KEPT:.1f} s: {dict(Counter(a.status for a in late))}"
    )
    _check(site, run, "stall of every connection", figures, kept)
    assert late, "no client_credentials request was answered after the records were dropped"


def _odd(answers: list[Answer], status: int) -> list[tuple[str, int, str | None, float]]:
    return [
        (a.kind, a.status, a.retry_after, round(a.seconds, 3))
        for a in answers
        if a.status != status
    ][:5]
