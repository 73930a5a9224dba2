"""``/metrics``: scraped from real servers and read with prometheus-client's own parser; a
token request moves the counters; bearer protection; bounded client labels; database errors
and retries; several workers add up (multiprocess mode); both backends."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serverhelp import PG_ADMIN, Databases, RunningServer, ServeProcess, cli, running_server

from tessera.server import metrics

TOKEN = "metrics-" + "s3cr3t" * 4


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, token: str | None = TOKEN) -> Samples:
    """Every sample of a scrape by (name, sorted labels), parsed by prometheus-client."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases) -> Iterator[RunningServer]:
    with running_server(
        databases.new(backend), backend, metrics=True, metrics_token=TOKEN
    ) as running:
        yield running


def test_a_token_request_moves_the_counters(server: RunningServer) -> None:
    client = server.add_client(scope="read:docs")
    assert client.secret is not None
    before = scrape(server.url)
    issued = server.post_token(
        {"grant_type": "client_credentials"}, headers=basic(client.client_id, client.secret)
    )
    assert issued.status_code == 200, issued.text
    refused = server.post_token(
        {"grant_type": "client_credentials"}, headers=basic(client.client_id, "wrong")
    )
    assert refused.status_code == 401
    after = scrape(server.url)
    tokens = "tessera_tokens_issued_total"
    labels = {"grant": "client_credentials", "client": client.client_id}
    assert value(before, tokens, **labels) == 0
    assert value(after, tokens, **labels) == 1
    errors = "tessera_oauth_errors_total"
    route = {"route": "/token", "error": "invalid_client"}
    assert value(after, errors, **route) == value(before, errors, **route) + 1
    count = "tessera_http_request_duration_seconds_count"
    where = {"route": "/token", "method": "POST"}
    assert value(after, count, **where) == value(before, count, **where) + 2
    inf = {**where, "le": "+Inf"}
    assert value(after, "tessera_http_request_duration_seconds_bucket", **inf) == value(
        after, count, **where
    )
    requests = "tessera_http_requests_total"
    assert value(after, requests, route="/token", method="POST", status="200") >= 1
    assert value(after, requests, route="/token", method="POST", status="401") >= 1
    print(f"tokens_issued for the client: {value(before, tokens, **labels)} -> "
          f"{value(after, tokens, **labels)}")  # fmt: skip


def test_key_gauges_are_computed_at_scrape(server: RunningServer) -> None:
    samples = scrape(server.url)
    alg = server.settings.signing_alg
    age = value(samples, "tessera_signing_key_age_seconds", alg=alg)
    due = value(samples, "tessera_signing_key_next_rotation_seconds", alg=alg)
    assert 0 <= age < server.settings.rotation_period
    assert 0 < due <= server.settings.rotation_period
    server.clock.advance(3600)
    later = scrape(server.url)
    assert value(later, "tessera_signing_key_age_seconds", alg=alg) == age + 3600
    assert value(later, "tessera_signing_key_next_rotation_seconds", alg=alg) == due - 3600
    assert value(later, "tessera_jwks_keys") >= 1


def test_routes_are_templates_not_raw_paths(server: RunningServer) -> None:
    for n in range(5):
        assert server.http.get(f"/no-such-{n}").status_code == 404
    samples = scrape(server.url)
    routes = {dict(labels).get("route") for (_name, labels) in samples}
    assert "unmatched" in routes
    assert not any(route and route.startswith("/no-such") for route in routes)


def test_retries_are_counted(server: RunningServer) -> None:
    before = value(scrape(server.url), "tessera_database_retries_total", operation="refresh")
    metrics.database_retry("refresh")
    after = value(scrape(server.url), "tessera_database_retries_total", operation="refresh")
    assert after == before + 1


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", "Bearer"]
)
def test_metrics_need_the_bearer_token(server: RunningServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = server.http.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "tessera_" not in response.text


def test_metrics_are_off_by_default(databases: Databases) -> None:
    with running_server(databases.new("sqlite"), "sqlite") as server:
        assert server.http.get("/metrics").status_code == 404


def test_client_labels_are_bounded() -> None:
    labels = metrics._ClientLabels(2)
    assert [labels("a"), labels("b"), labels("c"), labels("a"), labels(None)] == [
        "a",
        "b",
        "other",
        "a",
        "unknown",
    ]


def test_database_errors_are_counted(databases: Databases) -> None:
    url = databases.new("postgresql")
    with running_server(url, "postgresql", metrics=True) as server:
        client = server.add_client(scope="read:docs")
        assert client.secret is not None
        before = scrape(server.url, token=None)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        answer = server.post_token(
            {"grant_type": "client_credentials"}, headers=basic(client.client_id, client.secret)
        )
        assert answer.status_code == 503
        after = scrape(server.url, token=None)
    name = "tessera_database_errors_total"
    assert sum(v for (n, _l), v in after.items() if n == name) == 1 + sum(
        v for (n, _l), v in before.items() if n == name
    )
    assert value(after, "tessera_oauth_errors_total", route="/token",
                 error="temporarily_unavailable") >= 1  # fmt: skip


def test_two_workers_add_up(databases: Databases, tmp_path: Path) -> None:
    database = databases.new("sqlite")
    env = {"TESSERA_KEK": "", "TESSERA_METRICS_TOKEN": TOKEN}
    added = cli(
        "clients", "add", "svc", "--scope", "read:docs", "--audience", "https://api.example",
        "--json", "--database", database, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    client = json.loads(added.stdout)
    server = ServeProcess(database, env, tmp_path, "--workers", "2", "--metrics")
    try:
        server.wait_ready()
        for _ in range(8):  # a new connection each: both workers get some
            answer = httpx.post(
                server.url + "/token",
                data={"grant_type": "client_credentials"},
                headers=basic(client["client_id"], client["client_secret"]),
            )
            assert answer.status_code == 200, answer.text
        labels = {"grant": "client_credentials", "client": client["client_id"]}
        seen = {
            value(scrape(server.url), "tessera_tokens_issued_total", **labels) for _ in range(6)
        }
    finally:
        server.stop()
    assert seen == {8.0}, "every scrape, whichever worker answers, sums both workers"
