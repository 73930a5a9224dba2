"""Logs: every response carries a request id (a sane incoming ``X-Request-ID`` kept, anything
else replaced); ``tessera serve --log-format json`` writes JSON lines with the request's
route, status, latency, client, grant and outcome; and real flows logged at DEBUG never put
a secret, password, code or token into any line; both backends."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serverhelp import (
    ASSERTION_TYPE,
    Browser,
    Databases,
    Pkce,
    RunningServer,
    ServeProcess,
    auth_params,
    cli,
    query_of,
    running_server,
)

import tessera
from tessera.server.kek import KEK
from tessera.server.logs import JsonFormatter, request_id_from

CALLBACK = "https://app.example/callback"
_CLIENT_SIDE = ("httpx", "httpcore")
_GENERATED = re.compile(r"^[0-9a-f]{32}$")


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.mark.parametrize("value", ["abc-123", "Root=1-5f84c7a1-abc.def:ghi@host/x+y", "a" * 128])
def test_a_sane_request_id_is_echoed(server: RunningServer, value: str) -> None:
    response = server.http.get("/healthz", headers={"X-Request-ID": value})
    assert response.headers["x-request-id"] == value


@pytest.mark.parametrize(
    "value", ["a" * 129, "two words", "semi;colon", 'quo"te', "tab\there", "{json}", ""]
)
def test_an_unsafe_request_id_is_replaced(server: RunningServer, value: str) -> None:
    response = server.http.get("/healthz", headers={"X-Request-ID": value})
    assert _GENERATED.match(response.headers["x-request-id"])


def test_non_ascii_request_id_is_replaced() -> None:
    assert _GENERATED.match(request_id_from("é".encode()))
    assert _GENERATED.match(request_id_from(b"\xff\xfe"))
    assert _GENERATED.match(request_id_from(None))


def test_every_response_gets_a_fresh_id_and_errors_too(server: RunningServer) -> None:
    first = server.http.get("/healthz").headers["x-request-id"]
    second = server.http.post("/token", data={"grant_type": "password"})
    assert second.status_code == 400
    assert _GENERATED.match(first)
    assert _GENERATED.match(second.headers["x-request-id"])
    assert first != second.headers["x-request-id"]
    assert server.http.get("/nope").headers["x-request-id"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def test_serve_json_logs_carry_the_request_fields(databases: Databases, workdir: Path) -> None:
    database = databases.new("sqlite")
    env = {"TESSERA_KEK": ""}
    added = cli(
        "clients", "add", "svc", "--scope", "read:docs", "--audience", "https://api.example",
        "--json", "--database", database, env=env, cwd=workdir,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    client = json.loads(added.stdout)
    server = ServeProcess(database, env, workdir, "--log-format", "json", "--access-log")
    try:
        server.wait_ready()
        answer = httpx.post(
            server.url + "/token",
            data={"grant_type": "client_credentials", "scope": "read:docs"},
            headers={
                **basic(client["client_id"], client["client_secret"]),
                "X-Request-ID": "op-42",
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-request-id"] == "op-42"
        refused = httpx.post(
            server.url + "/token",
            data={"grant_type": "client_credentials"},
            headers=basic(client["client_id"], "wrong-" + client["client_secret"]),
        )
        assert refused.status_code == 401
        refused_id = refused.headers["x-request-id"]
    finally:
        server.stop()
    lines = [line for line in server.output if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records, "".join(server.output)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = {r["request_id"]: r for r in records if r["logger"] == "tessera.server.access"}
    issued = access["op-42"]
    assert issued["route"] == "/token"
    assert issued["method"] == "POST"
    assert issued["status"] == 200
    assert issued["client_id"] == client["client_id"]
    assert issued["grant"] == "client_credentials"
    assert issued["outcome"] == "ok"
    assert isinstance(issued["latency_ms"], float)
    failed = access[refused_id]
    assert failed["status"] == 401
    assert failed["outcome"] == "invalid_client"
    assert "client_id" not in failed  # not authenticated: the presented id is not trusted
    assert any(r["logger"].startswith("uvicorn") for r in records)  # uvicorn's lines too
    assert client["client_secret"] not in "".join(server.output)


class _Capture(logging.Handler):
    """Keeps every record formatted twice: as JSON and as the text format."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.skipped = 0
        self._json = JsonFormatter()
        self._text = logging.Formatter("%(levelname)s %(name)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_CLIENT_SIDE):
            self.skipped += 1  # the test's own HTTP client, not the server
            return
        self.lines.append(self._json.format(record))
        self.lines.append(self._text.format(record))
        if record.exc_info:
            self.lines.append(self._text.formatException(record.exc_info))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    handler = _Capture()
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "tessera", "sqlalchemy"]
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in ("", "uvicorn", "uvicorn.access"):
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in ("", "uvicorn", "uvicorn.access"):
            logging.getLogger(name).removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_no_secret_reaches_any_log_line(
    databases: Databases, backend: str, captured: _Capture
) -> None:
    kek_bytes = secrets.token_bytes(32)
    kek_text = base64.urlsafe_b64encode(kek_bytes).rstrip(b"=").decode()
    initial = "initial-" + secrets.token_urlsafe(24)
    found: dict[str, str] = {"kek": kek_text, "kek hex": kek_bytes.hex()}
    with running_server(
        databases.new(backend),
        backend,
        kek=KEK(kek_bytes),
        registration=True,
        registration_initial_token=initial,
        dynamic_scopes=["read:docs", "offline_access"],
        default_audience=["https://api.example"],
    ) as server:
        found["registration initial token"] = initial
        service = server.add_client(scope="read:docs")
        assert service.secret is not None
        found["client secret"] = service.secret
        issued = server.post_token(
            {"grant_type": "client_credentials"}, headers=basic(service.client_id, service.secret)
        )
        assert issued.status_code == 200, issued.text
        found["client_credentials token"] = issued.json()["access_token"]
        wrong = "wrong-" + secrets.token_urlsafe(16)
        found["wrong client secret"] = wrong
        assert (
            server.post_token(
                {"grant_type": "client_credentials"}, headers=basic(service.client_id, wrong)
            ).status_code
            == 401
        )
        assert server.post_token(  # the secret in the form, as client_secret_post
            {"grant_type": "client_credentials", "client_id": service.client_id,
             "client_secret": wrong}
        ).status_code == 401  # fmt: skip

        key = tessera.Key.generate("ES256", kid="k1")
        signer = server.add_client(scope="read:docs", key=key)
        assertion = server.assertion(signer)
        found["client assertion"] = assertion
        by_key = server.post_token(
            {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
             "client_assertion": assertion}
        )  # fmt: skip
        assert by_key.status_code == 200, by_key.text
        replayed = server.post_token(
            {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
             "client_assertion": assertion}
        )  # fmt: skip
        assert replayed.status_code == 401

        web = server.add_client(scope="read:docs offline_access", redirect_uris=(CALLBACK,))
        assert web.secret is not None
        found["web client secret"] = web.secret
        user = server.add_user(password="pw-" + secrets.token_urlsafe(16))
        found["user password"] = user.password
        pkce = Pkce.new()
        found["pkce verifier"] = pkce.verifier
        with Browser(server) as browser:
            page = browser.open(auth_params(web, CALLBACK, pkce, scope="read:docs offline_access"))
            from serverhelp import hidden_fields

            bad = "bad-" + secrets.token_urlsafe(12)
            found["wrong password"] = bad
            failed = browser.post(hidden_fields(page.text), username=user.username, password=bad)
            assert failed.status_code in (200, 400, 401, 403), failed.text
            location = browser.authorize(
                auth_params(web, CALLBACK, pkce, scope="read:docs offline_access"), user
            )
        code = query_of(location)["code"]
        found["authorization code"] = code
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        }
        tokens = server.post_token(exchange, headers=basic(web.client_id, web.secret))
        assert tokens.status_code == 200, tokens.text
        found["code access token"] = tokens.json()["access_token"]
        found["refresh token"] = tokens.json()["refresh_token"]
        replay = server.post_token(exchange, headers=basic(web.client_id, web.secret))
        assert replay.status_code == 400
        # the first exchange's grant was revoked by the replay: start again for a live one
        pkce2 = Pkce.new()
        found["pkce verifier 2"] = pkce2.verifier
        with Browser(server) as browser:
            location = browser.authorize(
                auth_params(web, CALLBACK, pkce2, scope="read:docs offline_access"), user
            )
        code2 = query_of(location)["code"]
        found["authorization code 2"] = code2
        fresh = server.post_token(
            {**exchange, "code": code2, "code_verifier": pkce2.verifier},
            headers=basic(web.client_id, web.secret),
        )
        assert fresh.status_code == 200, fresh.text
        refresh = fresh.json()["refresh_token"]
        found["refresh token 2"] = refresh
        rotated = server.post_token(
            {"grant_type": "refresh_token", "refresh_token": refresh},
            headers=basic(web.client_id, web.secret),
        )
        assert rotated.status_code == 200, rotated.text
        found["rotated access token"] = rotated.json()["access_token"]
        found["rotated refresh token"] = rotated.json()["refresh_token"]
        assert (
            server.post_token(  # reuse of a rotated refresh token: refused, family revoked
                {"grant_type": "refresh_token", "refresh_token": refresh},
                headers=basic(web.client_id, web.secret),
            ).status_code
            == 400
        )

        seen = server.http.post(
            "/introspect",
            data={"token": found["client_credentials token"]},
            headers=basic(web.client_id, web.secret),
        )
        assert seen.status_code == 200
        assert seen.json()["active"] is True
        revoked = server.http.post(
            "/revoke",
            data={"token": found["rotated refresh token"]},
            headers=basic(web.client_id, web.secret),
        )
        assert revoked.status_code == 200

        registered = server.http.post(
            "/register",
            json={
                "client_name": "logged",
                "application_type": "native",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "none",
                "scope": "read:docs",
            },
            headers={"Authorization": f"Bearer {initial}"},
        )
        assert registered.status_code == 201, registered.text
        found["registration access token"] = registered.json()["registration_access_token"]
        uri = f"/register/{registered.json()['client_id']}"
        bogus = "bogus-" + secrets.token_urlsafe(16)
        found["bogus registration token"] = bogus
        assert server.http.get(uri, headers={"Authorization": f"Bearer {bogus}"}).status_code == 401
        assert (
            server.http.get(
                uri, headers={"Authorization": f"Bearer {found['registration access token']}"}
            ).status_code
            == 200
        )

    for name, value in list(found.items()):
        if value.count(".") == 2:  # a JWT: its signature alone must not appear either
            found[name + " signature"] = value.rsplit(".", 1)[1]
    lines = captured.lines
    access = [line for line in lines if '"logger":"tessera.server.access"' in line]
    assert len(access) >= 20, f"only {len(access)} access lines were captured"
    assert any('"outcome":"invalid_client"' in line for line in access)
    assert any('"grant":"refresh_token"' in line for line in access)
    leaks = {name for name, value in found.items() for line in lines if value in line}
    assert not leaks, f"in the logs: {sorted(leaks)}"
    print(f"{backend}: {len(lines) // 2} log records, {len(found)} secrets, none logged")
