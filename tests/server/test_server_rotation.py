"""Key rotation: the lifecycle, replicas taking turns, and the zero-failure property for
verifiers that cache JWKS for its max-age. Time travels; nothing sleeps."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

import httpx
import pytest
from serverhelp import Databases, FakeClock, RunningServer, make_settings, running_server

import tessera
from tessera.server.errors import ServerConfigError
from tessera.server.kek import KEK
from tessera.server.keys import KeyManager, KeyState
from tessera.server.storage import migrate
from tessera.server.storage.database import Database

HOUR = 3600


@pytest.fixture
def db_url(databases: Databases, backend: str) -> str:
    return databases.new(backend)


@pytest.fixture
def manager(db_url: str) -> Iterator[KeyManager]:
    settings = make_settings(db_url, 8000, rotation_period=HOUR)
    db = Database(settings.database)
    migrate.upgrade(db)
    yield KeyManager(db, KEK.generate(), settings, clock=FakeClock())
    db.dispose()


def states(manager: KeyManager, alg: str = "ES256") -> list[str]:
    """The states of one ring's keys (the access tokens' by default)."""
    return [info.state.value for info in manager.list_keys() if info.alg == alg]


def advance(manager: KeyManager, seconds: float) -> None:
    clock = manager.clock
    assert isinstance(clock, FakeClock)
    clock.advance(seconds)


def test_first_maintenance_creates_one_active_key(manager: KeyManager) -> None:
    assert manager.list_keys() == []
    assert manager.maintain()[0].startswith("created signing key")
    assert states(manager) == ["active"]
    assert manager.maintain() == []
    assert manager.signing_key().alg == "ES256"


def test_rotation_walks_pending_active_retired_removed(manager: KeyManager) -> None:
    manager.maintain()
    first = manager.signing_key().kid
    info = manager.rotate()
    assert info.state is KeyState.PENDING
    assert info.activate_at - info.created_at == manager.settings.pending_period
    assert manager.signing_key().kid == first  # published, not signing yet
    advance(manager, manager.settings.pending_period)
    assert manager.signing_key().kid == info.kid
    assert states(manager) == ["retired", "active"]
    body, _ = manager.jwks()
    assert first in body.decode()  # a retired key stays published for its tokens
    advance(manager, manager.settings.retired_period - 1)
    manager.maintain()
    assert first in manager.jwks()[0].decode()
    advance(manager, 1)
    assert any("removed" in event for event in manager.maintain())
    assert first not in manager.jwks()[0].decode()
    assert states(manager) == ["active"]


def test_scheduled_rotation_starts_one_pending_period_before_due(manager: KeyManager) -> None:
    manager.maintain()
    period, pending = manager.settings.rotation_period, manager.settings.pending_period
    advance(manager, period - pending - 1)
    assert manager.maintain() == []
    advance(manager, 1)
    events = manager.maintain()
    assert any("scheduled rotation" in event for event in events)
    assert states(manager) == ["active", "pending"]
    advance(manager, pending)
    assert states(manager) == ["retired", "active"]


def test_second_rotation_while_one_is_pending_is_refused(manager: KeyManager) -> None:
    manager.maintain()
    manager.rotate()
    with pytest.raises(ServerConfigError, match="already scheduled"):
        manager.rotate()


def test_rotate_now_activates_at_once(manager: KeyManager) -> None:
    manager.maintain()
    old = manager.signing_key().kid
    new = manager.rotate(immediately=True)
    assert manager.signing_key().kid == new.kid != old
    by_kid = {i.kid: i.state for i in manager.list_keys() if i.alg == "ES256"}
    assert by_kid == {old: KeyState.RETIRED, new.kid: KeyState.ACTIVE}


def test_retire_signing_key_hands_over_to_the_next(manager: KeyManager) -> None:
    manager.maintain()
    old = manager.signing_key().kid or ""
    info = manager.retire(old)
    assert info.state is KeyState.RETIRED
    assert manager.signing_key().kid != old
    assert old in manager.jwks()[0].decode()


def test_retire_with_unpublish_drops_key_from_jwks(manager: KeyManager) -> None:
    manager.maintain()
    old = manager.signing_key().kid or ""
    manager.retire(old, unpublish=True)
    assert old not in manager.jwks()[0].decode()
    assert manager.signing_key().kid != old


def test_retire_unknown_kid_is_an_error(manager: KeyManager) -> None:
    manager.maintain()
    with pytest.raises(ServerConfigError, match="no key"):
        manager.retire("nope")


def test_wrong_kek_is_a_clear_error(manager: KeyManager) -> None:
    manager.maintain()
    other = KeyManager(manager.db, KEK.generate(), manager.settings, clock=manager.clock)
    with pytest.raises(ServerConfigError, match="key-encryption key"):
        other.signing_key()


def test_replicas_maintaining_at_once_create_one_key(db_url: str) -> None:
    settings = make_settings(db_url, 8000)
    dbs = [Database(settings.database) for _ in range(4)]
    migrate.upgrade(dbs[0])
    clock = FakeClock()
    kek = KEK.generate()
    managers = [KeyManager(db, kek, settings, clock=clock) for db in dbs]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda m: m.maintain(), managers))
    assert sorted(info.alg for info in managers[0].list_keys()) == ["ES256", "RS256"]
    assert len({m.signing_key().kid for m in managers}) == 1
    assert len({m.signing_key("RS256").kid for m in managers}) == 1
    for db in dbs:
        db.dispose()


def test_replica_sees_manual_rotation_within_cache_ttl(manager: KeyManager) -> None:
    manager.maintain()
    replica = KeyManager(manager.db, manager._kek, manager.settings, clock=manager.clock)
    before = replica.signing_key().kid
    manager.rotate(immediately=True)
    assert replica.signing_key().kid == before  # cached
    advance(manager, manager.settings.key_cache_ttl)
    assert replica.signing_key().kid != before


# -- the property: a caching verifier never fails across rotations ------------------------


class CachingVerifier:
    """A strict resource server: fetches JWKS, keeps it for max-age, never refetches early."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.keys: tessera.KeySet | None = None
        self.expires = 0.0
        self.fetches = 0

    def verify(self, token: str) -> dict:
        now = self.server.clock()
        if self.keys is None or now >= self.expires:
            response = self.server.http.get("/jwks.json")
            max_age = int(response.headers["cache-control"].split("max-age=")[1])
            self.keys = tessera.KeySet.from_jwks(response.text)
            self.expires = now + max_age
            self.fetches += 1
        return tessera.decode(
            token,
            self.keys,
            algorithms=["ES256"],
            issuer=self.server.url,
            audience="https://api.example",
            typ="at+jwt",
            now=now,
        )


def _token(server: RunningServer, client_auth: tuple[str, str]) -> str:
    response = server.post_token({"grant_type": "client_credentials"}, auth=client_auth)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _run_timeline(server: RunningServer, steps: int, step: int, rotate_at: set[int]) -> dict:
    client = server.add_client()
    auth = (client.client_id, client.secret or "")
    verifiers = [CachingVerifier(server) for _ in range(6)]
    live: list[tuple[str, int]] = []
    kids: set[str] = set()
    checked = failures = 0
    for index in range(steps):
        server.clock.advance(step)
        server.context.maintain()  # what the loop does every maintenance_interval
        if index in rotate_at:
            server.context.keys.rotate(immediately=rotate_at is _IMMEDIATE)
        token = _token(server, auth)
        claims = tessera.decode_unverified(token)
        kids.add(claims[0]["kid"])
        live.append((token, claims[1]["exp"]))
        live = [(t, exp) for t, exp in live if exp > server.clock()]
        # verifiers come alive at different moments, so their caches have different phases
        for number, verifier in enumerate(verifiers):
            if index < number * 7:
                continue
            for live_token, _ in live:
                checked += 1
                try:
                    verifier.verify(live_token)
                except tessera.InvalidToken:
                    failures += 1
    return {"checked": checked, "failures": failures, "kids": kids}


_IMMEDIATE: set[int] = {100}


def test_caching_verifier_never_fails_across_scheduled_and_manual_rotations(
    databases: Databases, backend: str
) -> None:
    with running_server(
        databases.new(backend),
        backend,
        rotation_period=HOUR,
        jwks_max_age=900,
        token_lifetime=600,
        clock=FakeClock(),
    ) as server:
        # four hours in one-minute steps: three scheduled rotations and a manual one
        result = _run_timeline(server, steps=240, step=60, rotate_at={150})
    assert result["failures"] == 0
    assert result["checked"] > 5000
    assert len(result["kids"]) >= 4


def test_immediate_rotation_would_break_a_strict_caching_verifier(
    databases: Databases, backend: str
) -> None:
    """Why keys are published before they sign: without it the property fails."""
    with running_server(
        databases.new(backend), backend, rotation_period=10 * HOUR, clock=FakeClock()
    ) as server:
        result = _run_timeline(server, steps=120, step=60, rotate_at=_IMMEDIATE)
    assert result["failures"] > 0


def test_jwks_max_age_never_exceeds_the_pending_period(server: RunningServer) -> None:
    response = httpx.get(server.url + "/jwks.json")
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    assert max_age <= server.settings.pending_period
