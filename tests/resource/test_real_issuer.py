"""The demo API against the real Tessera authorization server, both on 127.0.0.1.

Tokens come from the server's token endpoint by client_credentials and are checked by the demo
API through discovery and the published JWKS; every rejection path of issue 6 is exercised
against that issuer. Time is injected (the server's clock, the API's cache clock) instead of
sleeping.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from resourcehelp import FakeClock, LiveServer

import tessera
from tessera.demo_api import create_app as create_demo_api
from tessera.resource import AsyncJWKSClient
from tessera.server import registry
from tessera.server.app import create_app as create_server
from tessera.server.config import load_settings
from tessera.server.kek import KEK
from tessera.server.storage import migrate
from tessera.server.storage.database import Database


class Recorder:
    """ASGI wrapper: counts requests per path and requests in flight; can hold JWKS replies."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: dict[str, int] = {}
        self.active = 0
        self.gate: threading.Event | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        self.paths[path] = self.paths.get(path, 0) + 1
        self.active += 1
        try:
            if path == "/jwks.json" and self.gate is not None:
                await asyncio.to_thread(self.gate.wait, 60)
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class RealIssuer:
    """``tessera serve``'s app on a free port, SQLite, a fresh KEK and an injectable clock."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.server = LiveServer()
        self.url = self.server.url
        database = f"sqlite:///{folder / f'issuer-{self.server.port}.db'}"
        self.settings = load_settings(os.devnull, env={}, database=database, port=self.server.port)
        assert self.settings.issuer == self.url
        self.db = Database(self.settings.database)
        migrate.upgrade(self.db)
        self.clock = clock
        app = create_server(
            self.settings, db=self.db, kek=KEK.generate(), clock=clock, maintenance=False
        )
        self.keys = app.state.context.keys
        self.recorder = Recorder(app)
        self.server.start(self.recorder, lifespan="on")
        self.http = httpx.Client(timeout=30)
        self.stopped = False

    @property
    def jwks_requests(self) -> int:
        return self.recorder.paths.get("/jwks.json", 0)

    def add_client(self, scope: str, audience: str) -> tuple[str, str]:
        created = registry.add_client(
            self.db,
            f"client-{len(registry.list_clients(self.db))}",
            scope=scope,
            audiences=[audience],
            now=self.clock(),
        )
        assert created.secret is not None
        return created.record.client_id, created.secret

    def token(self, client: tuple[str, str]) -> str:
        reply = self.http.post(
            self.url + "/token", data={"grant_type": "client_credentials"}, auth=client
        )
        assert reply.status_code == 200, reply.text
        token = reply.json()["access_token"]
        assert isinstance(token, str)
        return token

    def stop(self) -> None:
        """Stop serving (a test may do it early: the issuer goes down)."""
        if self.stopped:
            return
        self.stopped = True
        self.http.close()
        self.server.stop()
        self.db.dispose()


class Building:
    """The demo API trusting one issuer; its JWKS cache runs on a fake monotonic clock."""

    def __init__(self, issuer: str, clock: FakeClock) -> None:
        self.server = LiveServer()
        self.url = self.server.url
        self.clock = clock
        self.keys = AsyncJWKSClient.from_issuer(issuer, clock=clock)
        app = create_demo_api(issuer, self.url, keys=self.keys, token_cache_size=0)
        self.recorder = Recorder(app)
        self.server.start(self.recorder)

    def get(self, path: str, token: str | None = None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return httpx.get(self.url + path, headers=headers, timeout=30)

    def post(self, path: str, token: str) -> httpx.Response:
        return httpx.post(self.url + path, headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def make_issuer(tmp_path: Path) -> Iterator[Callable[..., RealIssuer]]:
    started: list[RealIssuer] = []

    def make(clock: Callable[[], float] = time.time) -> RealIssuer:
        issuer = RealIssuer(tmp_path, clock)
        started.append(issuer)
        return issuer

    yield make
    for issuer in started:
        issuer.stop()


@pytest.fixture
def make_building() -> Iterator[Callable[[str], Building]]:
    started: list[Building] = []

    def make(issuer: str) -> Building:
        building = Building(issuer, FakeClock())
        started.append(building)
        return building

    yield make
    for building in started:
        building.server.stop()


@pytest.fixture
def issuer(make_issuer: Callable[..., RealIssuer]) -> RealIssuer:
    return make_issuer()


@pytest.fixture
def building(issuer: RealIssuer, make_building: Callable[[str], Building]) -> Building:
    return make_building(issuer.url)


def _error(reply: httpx.Response) -> tuple[int, str, str]:
    body = reply.json()
    return reply.status_code, body["error"], body["error_description"]


def _claims(issuer: RealIssuer, building: Building, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": issuer.url,
        "sub": "someone",
        "aud": building.url,
        "client_id": "someone",
        "scope": "lab:enter",
        "iat": now,
        "exp": now + 300,
        "jti": f"jti-{now}",
    }
    claims.update(changes)
    return claims


# -- accepted ---------------------------------------------------------------------------------


def test_tokens_from_the_real_issuer_open_the_doors_their_scopes_allow(
    issuer: RealIssuer, building: Building
) -> None:
    lab = issuer.token(issuer.add_client("lab:enter", building.url))
    vault = issuer.token(issuer.add_client("vault:open", building.url))
    assert building.get("/lobby", lab).status_code == 200
    assert building.get("/lab", lab).status_code == 200
    assert building.post("/vault", vault).status_code == 200
    refused = building.post("/vault", lab)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert 'scope="vault:open"' in refused.headers["www-authenticate"]
    assert building.get("/lab", vault).status_code == 403


def test_me_echoes_the_claims_the_real_issuer_signed(
    issuer: RealIssuer, building: Building
) -> None:
    client = issuer.add_client("lab:enter vault:open", building.url)
    me = building.get("/me", issuer.token(client)).json()
    assert me["iss"] == issuer.url
    assert me["client_id"] == client[0]
    assert me["aud"] == [building.url]
    assert me["scopes"] == ["lab:enter", "vault:open"]


def test_the_api_finds_the_real_issuers_keys_by_discovery(
    issuer: RealIssuer, building: Building
) -> None:
    token = issuer.token(issuer.add_client("lab:enter", building.url))
    assert building.get("/lobby", token).status_code == 200
    assert building.keys.metadata is not None
    assert building.keys.metadata.jwks_uri == issuer.url + "/jwks.json"
    assert issuer.recorder.paths.get("/.well-known/oauth-authorization-server") == 1
    assert issuer.jwks_requests == 1


# -- refused: the request ---------------------------------------------------------------------


def test_no_authorization_header_is_401_with_a_challenge_naming_the_resource_metadata(
    building: Building,
) -> None:
    reply = building.get("/lobby")
    assert reply.status_code == 401
    challenge = reply.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert "error=" not in challenge  # RFC 6750 sec. 3.1: no error code without a token
    assert f'resource_metadata="{building.url}/.well-known/oauth-protected-resource"' in challenge


def test_another_scheme_is_treated_as_no_bearer_token(
    issuer: RealIssuer, building: Building
) -> None:
    token = issuer.token(issuer.add_client("lab:enter", building.url))
    reply = building.get("/lobby", authorization=f"Basic {token}")
    assert reply.status_code == 401
    assert "error=" not in reply.headers["www-authenticate"]


@pytest.mark.parametrize("value", ["Bearer not-a-jwt", "Bearer a.b.c", "Bearer e30.e30.AAAA"])
def test_malformed_token_is_401_invalid_token(building: Building, value: str) -> None:
    reply = building.get("/lobby", authorization=value)
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_token"


def test_bearer_with_more_than_one_word_is_400_invalid_request(building: Building) -> None:
    reply = building.get("/lobby", authorization="Bearer two tokens")
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"


# -- refused: the token -----------------------------------------------------------------------


def test_a_token_the_real_issuer_signed_an_hour_ago_is_expired(
    make_issuer: Callable[..., RealIssuer], make_building: Callable[[str], Building]
) -> None:
    past = make_issuer(clock=lambda: time.time() - 3600)  # its tokens live 600 s
    building = make_building(past.url)
    token = past.token(past.add_client("lab:enter", building.url))
    assert tessera.decode_unverified(token)[1]["exp"] < time.time()
    status, error, description = _error(building.get("/lobby", token))
    assert (status, error) == (401, "invalid_token")
    assert "expired" in description


def test_a_token_the_real_issuer_made_for_another_audience_is_refused(
    issuer: RealIssuer, building: Building
) -> None:
    token = issuer.token(issuer.add_client("lab:enter", "https://other-api.example"))
    status, error, description = _error(building.get("/lobby", token))
    assert (status, error) == (401, "invalid_token")
    assert "not meant for this resource" in description


def test_a_token_from_another_real_issuer_is_refused(
    issuer: RealIssuer, building: Building, make_issuer: Callable[..., RealIssuer]
) -> None:
    other = make_issuer()
    token = other.token(other.add_client("lab:enter", building.url))
    status, error, description = _error(building.get("/lobby", token))
    assert (status, error) == (401, "invalid_token")
    assert "issuer" in description
    assert other.jwks_requests == 0  # never fetch keys named by an untrusted token


@pytest.mark.parametrize("typ", ["JWT", None, "application/at+jwt+x"])
def test_a_token_signed_by_the_real_issuers_key_without_typ_at_jwt_is_refused(
    issuer: RealIssuer, building: Building, typ: str | None
) -> None:
    token = tessera.encode(_claims(issuer, building), issuer.keys.signing_key(), typ=typ)
    status, error, description = _error(building.get("/lobby", token))
    assert (status, error) == (401, "invalid_token")
    assert "typ" in description


def test_the_issuers_own_key_with_typ_at_jwt_is_accepted(
    issuer: RealIssuer, building: Building
) -> None:
    """The control for the typ test: only the header differs."""
    token = tessera.encode(_claims(issuer, building), issuer.keys.signing_key(), typ="at+jwt")
    assert building.get("/lobby", token).status_code == 200


def test_a_tampered_real_token_is_refused(issuer: RealIssuer, building: Building) -> None:
    token = issuer.token(issuer.add_client("lab:enter", building.url))
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    status, error, _ = _error(building.get("/lobby", f"{header}.{payload}.{flipped}"))
    assert (status, error) == (401, "invalid_token")


# -- keys: rotation and unknown kid -----------------------------------------------------------


def test_after_an_immediate_rotation_the_api_refreshes_once_and_accepts_old_and_new_tokens(
    issuer: RealIssuer, building: Building
) -> None:
    client = issuer.add_client("lab:enter", building.url)
    old = issuer.token(client)
    assert building.get("/lab", old).status_code == 200
    assert (building.keys.fetches, issuer.jwks_requests) == (1, 1)

    rotated = issuer.keys.rotate(immediately=True)
    new = issuer.token(client)
    old_kid = tessera.decode_unverified(old)[0]["kid"]
    assert tessera.decode_unverified(new)[0]["kid"] == rotated.kid != old_kid
    building.clock.advance(5)  # past the JWKS client's unknown-kid cooldown

    assert building.get("/lab", new).status_code == 200
    assert building.get("/lab", old).status_code == 200  # retired, still published
    assert building.get("/lab", new).status_code == 200
    assert (building.keys.fetches, issuer.jwks_requests) == (2, 2)


def test_a_new_kid_within_the_cooldown_is_refused_until_the_cooldown_ends(
    issuer: RealIssuer, building: Building
) -> None:
    """Why `tessera keys rotate` without --now publishes a key one cache period before use."""
    client = issuer.add_client("lab:enter", building.url)
    assert building.get("/lab", issuer.token(client)).status_code == 200
    issuer.keys.rotate(immediately=True)
    new = issuer.token(client)
    assert building.get("/lab", new).status_code == 401
    building.clock.advance(4.9)
    assert building.get("/lab", new).status_code == 401
    assert building.keys.fetches == 1
    building.clock.advance(0.1)  # unknown_kid_cooldown (5 s) since the last fetch
    assert building.get("/lab", new).status_code == 200
    assert building.keys.fetches == 2


def test_a_scheduled_rotation_publishes_the_new_key_before_it_signs(
    issuer: RealIssuer, building: Building
) -> None:
    client = issuer.add_client("lab:enter", building.url)
    assert building.get("/lab", issuer.token(client)).status_code == 200
    pending = issuer.keys.rotate()
    jwks = httpx.get(issuer.url + "/jwks.json").json()
    assert pending.kid in {key["kid"] for key in jwks["keys"]}
    assert tessera.decode_unverified(issuer.token(client))[0]["kid"] != pending.kid
    assert pending.activate_at >= pending.created_at + issuer.settings.jwks_max_age


def test_an_unknown_kid_refreshes_once_then_is_401_without_more_fetches(
    issuer: RealIssuer, building: Building
) -> None:
    warm = issuer.token(issuer.add_client("lab:enter", building.url))
    assert building.get("/lobby", warm).status_code == 200
    before = issuer.jwks_requests
    building.clock.advance(31)
    ghost = tessera.Key.generate("ES256", kid="ghost")
    token = tessera.encode(_claims(issuer, building), ghost, typ="at+jwt")
    for _ in range(3):
        status, error, _ = _error(building.get("/lobby", token))
        assert (status, error) == (401, "invalid_token")
    assert issuer.jwks_requests == before + 1


def test_a_thousand_concurrent_requests_with_a_new_kid_cause_one_jwks_fetch(
    issuer: RealIssuer, building: Building
) -> None:
    client = issuer.add_client("lab:enter", building.url)
    assert building.get("/lobby", issuer.token(client)).status_code == 200
    issuer.keys.rotate(immediately=True)
    token = issuer.token(client)
    building.clock.advance(31)
    issuer.recorder.gate = threading.Event()  # hold the JWKS reply until every request waits

    async def storm() -> list[int]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=0)
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(limits=limits, timeout=60) as http:
            tasks = [
                asyncio.create_task(http.get(building.url + "/lobby", headers=headers))
                for _ in range(1000)
            ]
            deadline = time.monotonic() + 60
            while building.recorder.active < 1000 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            waiting = building.recorder.active
            assert issuer.recorder.gate is not None
            issuer.recorder.gate.set()
            replies = await asyncio.gather(*tasks)
            assert waiting == 1000
            return [reply.status_code for reply in replies]

    try:
        statuses = asyncio.run(storm())
    finally:
        issuer.recorder.gate.set()
    assert statuses == [200] * 1000
    assert issuer.jwks_requests == 2  # the warm-up, then exactly one for the new kid


# -- the issuer is down -----------------------------------------------------------------------


def test_issuer_down_with_a_warm_cache_still_verifies_even_past_the_cache_lifetime(
    issuer: RealIssuer, building: Building
) -> None:
    token = issuer.token(issuer.add_client("lab:enter", building.url))
    assert building.get("/lab", token).status_code == 200
    issuer.stop()
    assert building.get("/lab", token).status_code == 200  # fresh cache: no fetch at all
    assert building.keys.fetches == 1
    building.clock.advance(issuer.settings.jwks_max_age + 1)  # expired: refresh fails
    assert building.get("/lab", token).status_code == 200  # stale-if-error
    assert building.get("/lab", token).status_code == 200
    assert building.keys.fetches == 2  # one failed attempt, then the cooldown


def test_issuer_down_with_a_cold_cache_is_503_with_retry_after(
    issuer: RealIssuer, make_building: Callable[[str], Building]
) -> None:
    building = make_building(issuer.url)
    token = issuer.token(issuer.add_client("lab:enter", building.url))
    issuer.stop()
    reply = building.get("/lab", token)
    assert reply.status_code == 503
    assert int(reply.headers["retry-after"]) >= 1
    assert "www-authenticate" not in reply.headers  # the token is not at fault
    assert reply.json()["error"] == "temporarily_unavailable"
