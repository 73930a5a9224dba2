"""The demo API ("secured building") and the issuer stand-in as real servers on 127.0.0.1:
tokens from the issuer accepted, and every rejection path of issue 6 answered per RFC 6750."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from resourcehelp import AUDIENCE, FakeClock, IssuerStandIn, LiveServer

import tessera
from tessera.demo_api import create_app
from tessera.resource import AsyncJWKSClient

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "attacks" / "attack-tokens.json"


class InFlight:
    """ASGI wrapper counting HTTP requests currently inside the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.active = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


@dataclass
class Building:
    url: str
    keys: AsyncJWKSClient
    issuer: IssuerStandIn
    clock: FakeClock
    counter: InFlight

    def get(self, path: str, token: str | None = None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return httpx.get(self.url + path, headers=headers, timeout=30)

    def post(self, path: str, token: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"}
        return httpx.post(self.url + path, headers=headers, timeout=30)


@pytest.fixture
def building(
    issuer: IssuerStandIn, clock: FakeClock, live_server: Callable[..., LiveServer]
) -> Building:
    keys = AsyncJWKSClient.from_issuer(issuer.issuer, clock=clock)
    api = live_server()
    counter = InFlight(create_app(issuer.issuer, AUDIENCE, resource=api.url, keys=keys))
    api.start(counter)
    return Building(api.url, keys, issuer, clock, counter)


def challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer k="v", ...`` header."""
    value = response.headers["www-authenticate"]
    assert value.startswith("Bearer")
    params = {}
    for part in value[len("Bearer") :].split('",'):
        name, _, quoted = part.strip().partition("=")
        params[name] = quoted.strip().strip('"')
    return params


# -- doors ---------------------------------------------------------------------------------------


def test_lobby_admits_any_valid_token_from_the_issuer(building: Building) -> None:
    response = building.get("/lobby", building.issuer.mint(scope=None))
    assert response.status_code == 200
    assert response.json() == {
        "door": "lobby",
        "granted": True,
        "sub": "alice",
        "client_id": "badge-reader",
    }


def test_lab_admits_a_token_with_lab_enter(building: Building) -> None:
    response = building.get("/lab", building.issuer.mint(scope="lab:enter"))
    assert response.status_code == 200
    assert response.json()["door"] == "lab"


def test_lab_refuses_a_token_without_lab_enter_with_403_insufficient_scope(
    building: Building,
) -> None:
    response = building.get("/lab", building.issuer.mint(scope="vault:open"))
    assert response.status_code == 403
    params = challenge(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "lab:enter"
    assert params["realm"] == "secured-building"
    assert params["resource_metadata"] == building.url + "/.well-known/oauth-protected-resource"
    assert response.json()["error"] == "insufficient_scope"


def test_vault_opens_only_with_vault_open(building: Building) -> None:
    assert building.post("/vault", building.issuer.mint(scope="vault:open")).status_code == 200
    refused = building.post("/vault", building.issuer.mint(scope="lab:enter"))
    assert refused.status_code == 403
    assert challenge(refused)["scope"] == "vault:open"


def test_me_echoes_the_verified_claims(building: Building) -> None:
    token = building.issuer.mint(scope="lab:enter vault:open", department="research")
    body = building.get("/me", token).json()
    assert body["sub"] == "alice"
    assert body["iss"] == building.issuer.issuer
    assert body["scopes"] == ["lab:enter", "vault:open"]
    assert body["aud"] == [AUDIENCE]
    assert body["claims"]["department"] == "research"


# -- every rejection path ---------------------------------------------------------------------


def test_refuses_a_request_without_authorization_with_a_bare_401_challenge(
    building: Building,
) -> None:
    response = building.get("/lobby")
    assert response.status_code == 401
    params = challenge(response)
    assert "error" not in params  # RFC 6750 sec. 3.1: no error code without credentials
    assert params["realm"] == "secured-building"
    assert params["resource_metadata"].endswith("/.well-known/oauth-protected-resource")
    assert response.json()["error"] == "unauthorized"


def test_refuses_another_authorization_scheme_with_401(building: Building) -> None:
    response = building.get("/lobby", authorization="Basic YWxpY2U6c2VjcmV0")
    assert response.status_code == 401
    assert "error" not in challenge(response)


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer a=b", "Bearer a b", "Bearer tok,en", "Bearer tök"]
)
def test_refuses_a_malformed_authorization_header_with_400_invalid_request(
    building: Building, header: str
) -> None:
    response = httpx.get(
        building.url + "/lobby", headers=[(b"authorization", header.encode("utf-8"))]
    )
    assert response.status_code == 400
    assert challenge(response)["error"] == "invalid_request"


def test_refuses_two_authorization_headers_with_400(building: Building) -> None:
    token = building.issuer.mint()
    headers = [("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}")]
    response = httpx.get(building.url + "/lobby", headers=headers)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "token", ["abc", "abc.def", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", "x" * 70000]
)
def test_refuses_a_malformed_token_with_401_invalid_token(building: Building, token: str) -> None:
    response = building.get("/lobby", token)
    assert response.status_code == 401
    params = challenge(response)
    assert params["error"] == "invalid_token"
    assert params["error_description"] == "the token is malformed"


def test_refuses_an_expired_token(building: Building) -> None:
    token = building.issuer.mint(exp=int(time.time()) - 10, iat=int(time.time()) - 400)
    response = building.get("/lobby", token)
    assert response.status_code == 401
    assert challenge(response)["error_description"] == "the token has expired"


def test_refuses_a_token_for_another_audience(building: Building) -> None:
    response = building.get("/lobby", building.issuer.mint(aud="another-api"))
    assert response.status_code == 401
    assert challenge(response)["error_description"] == "the token is not meant for this resource"


def test_refuses_a_token_from_another_issuer_even_when_signed_by_a_trusted_key(
    building: Building,
) -> None:
    response = building.get("/lobby", building.issuer.mint(iss="https://evil.example"))
    assert response.status_code == 401
    assert challenge(response)["error_description"] == "the token's issuer is not trusted here"
    assert building.issuer.jwks_requests == 0  # refused before any key lookup


@pytest.mark.parametrize("typ", ["JWT", None, "dpop+jwt"])
def test_refuses_a_token_whose_typ_is_not_at_jwt(building: Building, typ: str | None) -> None:
    response = building.get("/lobby", building.issuer.mint(typ=typ))
    assert response.status_code == 401
    assert "wrong typ" in challenge(response)["error_description"]


def test_accepts_the_application_at_jwt_media_type(building: Building) -> None:
    assert building.get("/lobby", building.issuer.mint(typ="application/at+jwt")).status_code == 200


def test_unknown_kid_refreshes_the_jwks_exactly_once_then_401(building: Building) -> None:
    issuer = building.issuer
    assert building.get("/lobby", issuer.mint()).status_code == 200
    assert issuer.jwks_requests == 1
    building.clock.advance(5)  # past the unknown-kid cooldown
    stranger = tessera.Key.generate("ES256", kid="ghost")
    for _ in range(5):
        response = building.get("/lobby", issuer.mint(key=stranger))
        assert response.status_code == 401
        assert challenge(response)["error_description"] == (
            "no signing key of the issuer matches the token"
        )
    assert issuer.jwks_requests == 2  # one refresh, then the (now longer) cooldown holds


def test_a_rotated_key_is_fetched_once_and_old_and_new_tokens_verify(building: Building) -> None:
    issuer = building.issuer
    old = issuer.mint()
    assert building.get("/lobby", old).status_code == 200
    issuer.rotate("key-2")
    building.clock.advance(31)
    new = issuer.mint()
    assert building.get("/lobby", new).status_code == 200
    assert building.get("/lobby", old).status_code == 200
    assert issuer.jwks_requests == 2


def test_issuer_down_with_a_warm_cache_still_verifies(building: Building) -> None:
    issuer = building.issuer
    token = issuer.mint()
    assert building.get("/lobby", token).status_code == 200
    issuer.stop()
    building.clock.advance(3600)  # keys expired: the refresh fails, the cached keys serve on
    for _ in range(3):
        assert building.get("/lobby", issuer.mint(jti="another")).status_code == 200
    assert building.keys.fetches == 2


def test_issuer_down_with_a_cold_cache_answers_503_with_retry_after(
    issuer: IssuerStandIn, clock: FakeClock, live_server: Callable[..., LiveServer]
) -> None:
    token = issuer.mint()
    issuer.stop()
    keys = AsyncJWKSClient.from_issuer(issuer.issuer, clock=clock)
    api = live_server(create_app(issuer.issuer, AUDIENCE, keys=keys))
    for _ in range(3):
        response = httpx.get(api.url + "/lobby", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert "www-authenticate" not in response.headers
        assert response.json()["error"] == "temporarily_unavailable"
    assert keys.fetches == 1  # later requests wait for the cooldown instead of hammering


def test_a_thousand_concurrent_requests_with_a_new_kid_cause_one_jwks_fetch(
    building: Building,
) -> None:
    issuer = building.issuer
    assert building.get("/lobby", issuer.mint()).status_code == 200
    issuer.rotate("key-2")
    building.clock.advance(31)
    token = issuer.mint()
    issuer.gate = threading.Event()  # hold the JWKS reply until every request is waiting

    async def storm() -> list[int]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=0)
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            tasks = [
                asyncio.create_task(client.get(building.url + "/lobby", headers=headers))
                for _ in range(1000)
            ]
            deadline = time.monotonic() + 60
            while building.counter.active < 1000 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            waiting = building.counter.active
            assert issuer.gate is not None
            issuer.gate.set()
            responses = await asyncio.gather(*tasks)
            assert waiting == 1000
            return [r.status_code for r in responses]

    statuses = asyncio.run(storm())
    assert statuses == [200] * 1000
    assert issuer.jwks_requests == 2  # the warm-up, then exactly one for the new kid


def test_no_attack_token_ever_gets_a_500(building: Building) -> None:
    cases = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    with httpx.Client(timeout=30) as client:
        for case in cases:
            token = case.get("token")
            if not isinstance(token, str) or not (token.isascii() and token.isprintable()):
                continue  # JSON serialisations, or text no HTTP client can send as a header
            headers = {"authorization": f"Bearer {token}"}
            status = client.get(building.url + "/lobby", headers=headers).status_code
            assert status in (400, 401), case["id"]


# -- documentation: OpenAPI and RFC 9728 -------------------------------------------------------


def test_openapi_shows_the_oauth2_scheme_and_the_scopes_of_each_route(building: Building) -> None:
    spec = httpx.get(building.url + "/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["OAuth2"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == building.issuer.issuer + "/token"
    assert set(flow["scopes"]) == {"lab:enter", "vault:open"}
    paths = spec["paths"]
    assert paths["/lobby"]["get"]["security"] == [{"OAuth2": []}]
    assert paths["/lab"]["get"]["security"] == [{"OAuth2": ["lab:enter"]}]
    assert paths["/vault"]["post"]["security"] == [{"OAuth2": ["vault:open"]}]
    assert "/.well-known/oauth-protected-resource" not in paths


def test_serves_protected_resource_metadata_named_in_challenges(building: Building) -> None:
    response = httpx.get(building.url + "/.well-known/oauth-protected-resource")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "resource": building.url,
        "authorization_servers": [building.issuer.issuer],
        "scopes_supported": ["lab:enter", "vault:open"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Tessera demo: the secured building",
    }
    url = challenge(building.get("/lobby"))["resource_metadata"]
    assert httpx.get(url).json()["resource"] == building.url


def test_demo_api_runs_as_a_command(issuer: IssuerStandIn) -> None:
    probe = LiveServer()
    port = probe.port
    probe.sock.close()  # free the port for the child process
    command = [
        sys.executable, "-m", "tessera.demo_api",
        "--issuer", issuer.issuer, "--audience", AUDIENCE, "--port", str(port),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, env=env) as child:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.get(
                        f"http://127.0.0.1:{port}/lobby",
                        headers={"authorization": f"Bearer {issuer.mint()}"},
                    )
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or child.poll() is not None:
                        raise
                    time.sleep(0.05)  # waiting for the child to listen
            assert response.status_code == 200
            assert response.json()["door"] == "lobby"
        finally:
            child.terminate()
