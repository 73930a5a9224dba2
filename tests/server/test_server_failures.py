"""Outages and bugs: a database failure is 503 temporarily_unavailable, a bug is a bare 500
server_error; neither leaks a detail, and the server recovers."""

from __future__ import annotations

import logging

import pytest
from serverhelp import Databases, running_server
from sqlalchemy import text

GRANT = {"grant_type": "client_credentials"}


def test_unexpected_exception_is_a_500_without_detail(
    databases: Databases, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_server(databases.new(backend), backend) as srv:
        client = srv.add_client()

        def broken(*_args: object) -> dict[str, object]:
            raise RuntimeError("internal detail that must not leak")

        async def broken_async(*_args: object) -> dict[str, object]:
            return broken()

        srv.context.token_endpoint.handle = broken  # type: ignore[method-assign]
        srv.context.token_endpoint.handle_async = broken_async  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR, logger="tessera.server"):
            response = srv.post_token(GRANT, auth=(client.client_id, client.secret or ""))
        assert response.status_code == 500
        assert response.json() == {
            "error": "server_error",
            "error_description": "the server encountered an unexpected error",
        }
        assert "internal detail" not in response.text
        assert "internal detail" in caplog.text  # logged for the operator


def test_sqlite_operational_error_is_503_and_the_server_recovers(databases: Databases) -> None:
    # SQLite reports a failing database (locked, missing table, I/O) as OperationalError
    with running_server(databases.new("sqlite"), "sqlite") as srv:
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        with srv.db.write() as conn:
            conn.execute(text("ALTER TABLE clients RENAME TO clients_away"))
        response = srv.post_token(GRANT, auth=auth)
        assert response.status_code == 503
        assert response.json()["error"] == "temporarily_unavailable"
        assert response.headers["retry-after"] == "1"
        with srv.db.write() as conn:
            conn.execute(text("ALTER TABLE clients_away RENAME TO clients"))
        assert srv.post_token(GRANT, auth=auth).status_code == 200


def test_postgresql_connection_killed_is_503_then_recovers(databases: Databases) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        assert srv.post_token(GRANT, auth=auth).status_code == 200
        name = srv.db.engine.url.database
        with srv.db.autocommit() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        statuses = [srv.post_token(GRANT, auth=auth).status_code for _ in range(3)]
        assert statuses[0] in (200, 503)
        assert statuses[1:] == [200, 200]
