"""/healthz answers without the database; /readyz names its checks (database, signing key,
migrations) and turns 503 when the database is gone or the schema is behind; both backends."""

from __future__ import annotations

import time

import psycopg
import pytest
from serverhelp import PG_ADMIN, Databases, RunningServer, running_server

from tessera.server.storage import migrate


def _downgrade(server: RunningServer, revision: str) -> None:
    from alembic import command

    config = migrate._config()
    with server.db.engine.begin() as conn:
        config.attributes["connection"] = conn  # type: ignore[attr-defined]
        command.downgrade(config, revision)  # type: ignore[arg-type]


def test_liveness_is_ok_and_not_cached(server: RunningServer) -> None:
    response = server.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_readiness_names_every_check_when_ready(server: RunningServer) -> None:
    response = server.http.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "signing_key", "migrations"}
    assert checks["database"] == {"ok": True}
    assert checks["signing_key"]["ok"] is True
    assert checks["signing_key"]["kid"] == server.context.keys.signing_key().kid
    head = migrate.head_revision()
    assert checks["migrations"] == {"ok": True, "current": head, "head": head}
    assert response.headers["cache-control"] == "no-store"


def test_readiness_fails_when_migrations_are_behind(databases: Databases, backend: str) -> None:
    with running_server(databases.new(backend), backend) as server:
        _downgrade(server, "0002")
        response = server.http.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["migrations"] == {
            "ok": False,
            "current": "0002",
            "head": migrate.head_revision(),
        }
        assert body["checks"]["database"]["ok"] is True
        assert server.http.get("/healthz").status_code == 200
        migrate.upgrade(server.db)
        assert server.http.get("/readyz").status_code == 200


def test_readiness_fails_fast_when_the_database_is_dropped(databases: Databases) -> None:
    url = databases.new("postgresql")
    name = url.rsplit("/", 1)[1]
    with running_server(url, "postgresql") as server:
        assert server.http.get("/readyz").status_code == 200
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        started = time.monotonic()
        response = server.http.get("/readyz")
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
        assert body["checks"]["migrations"]["ok"] is False
        assert elapsed < 6  # the 5 s connect timeout bounds it; a dropped database is instant
        assert server.http.get("/healthz").status_code == 200  # liveness needs no database
        print(f"readyz with the database dropped: 503 in {elapsed * 1000:.0f} ms")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_refuse_post(server: RunningServer, path: str) -> None:
    response = server.http.post(path)
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"
