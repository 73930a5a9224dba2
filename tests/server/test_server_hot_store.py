"""The token endpoint on PostgreSQL awaits its queries: a slow database holds the requests
that need it, not the worker; past the timeout they are 503 and the store recovers."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from serverhelp import Databases, running_server
from sqlalchemy import text

from tessera.server import registry
from tessera.server.storage.bounds import Bounds
from tessera.server.storage.hot import LISTENER_NAME, HotStore

GRANT = {"grant_type": "client_credentials"}


def _lock_clients(url: str, held: threading.Event, release: threading.Event) -> None:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        conn.execute("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")  # even reads wait
        held.set()
        release.wait(30)


@contextlib.contextmanager
def _clients_locked(srv: Any) -> Iterator[None]:
    """Hold an exclusive lock on the clients table (from another connection) for the block."""
    held, release = threading.Event(), threading.Event()
    locker = threading.Thread(
        target=_lock_clients, args=(srv.settings.database, held, release), daemon=True
    )
    locker.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        locker.join(10)


def test_token_request_waiting_on_the_database_does_not_stall_the_worker(
    databases: Databases,
) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        assert srv.context.hot_store is not None
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        replies: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: replies.append(srv.post_token(GRANT, auth=auth)), daemon=True
        )
        with _clients_locked(srv):
            waiting.start()
            time.sleep(0.3)  # the token request is now blocked on the table lock
            assert waiting.is_alive()
            started = time.monotonic()
            assert srv.http.get("/jwks.json").status_code == 200  # same worker, meanwhile
            assert time.monotonic() - started < 1.0
        waiting.join(10)
        assert [reply.status_code for reply in replies] == [200]


def test_database_slower_than_the_timeout_is_503_and_the_store_recovers(
    databases: Databases,
) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        url = srv.db.engine.url
        srv.context.hot_store = HotStore(url, bounds=Bounds(timeout=1.0))
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        assert srv.post_token(GRANT, auth=auth).status_code == 200
        with _clients_locked(srv):
            started = time.monotonic()
            reply = srv.post_token(GRANT, auth=auth)
            elapsed = time.monotonic() - started
        assert reply.status_code == 503
        assert reply.json()["error"] == "temporarily_unavailable"
        assert reply.headers["retry-after"] == "1"
        # PostgreSQL cancels the statement (statement_timeout) a little before the timeout
        assert Bounds(timeout=1.0).statement_timeout - 0.05 < elapsed < 3
        assert srv.post_token(GRANT, auth=auth).status_code == 200


def test_unreachable_database_is_503_without_waiting_long(databases: Databases) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        # Nothing listens on port 9: connecting fails at once.
        srv.context.hot_store = HotStore(srv.db.engine.url.set(port=9), bounds=Bounds(timeout=2))
        started = time.monotonic()
        reply = srv.post_token(GRANT, auth=auth)
        assert reply.status_code == 503
        assert reply.json() == {
            "error": "temporarily_unavailable",
            "error_description": "the server is temporarily unavailable",
        }
        assert time.monotonic() - started < 3


def test_sqlite_has_no_hot_store(databases: Databases) -> None:
    with running_server(databases.new("sqlite"), "sqlite") as srv:
        assert srv.context.hot_store is None
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        assert srv.post_token(GRANT, auth=auth).status_code == 200


def _until(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _listening(srv: Any) -> bool:
    return bool(srv.context.hot_store.listening)


def test_kept_client_record_answers_without_a_query(databases: Databases) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        assert _until(lambda: _listening(srv))
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        # The "client added" notification may arrive after this first request and empty the
        # cache: ask until the row is kept, as every request after the first would.
        assert _until(
            lambda: (
                srv.post_token(GRANT, auth=auth).status_code == 200
                and client.client_id in srv.context.hot_store._records
            )
        )
        with _clients_locked(srv):
            started = time.monotonic()
            assert srv.post_token(GRANT, auth=auth).status_code == 200  # table locked: no query
            assert time.monotonic() - started < 1.0


def test_rotated_secret_and_removed_client_stop_working_on_postgresql(
    databases: Databases,
) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        assert _until(lambda: _listening(srv))
        client = srv.add_client()
        old = (client.client_id, client.secret or "")
        assert srv.post_token(GRANT, auth=old).status_code == 200
        rotated = registry.rotate_secret(srv.db, client.client_id, now=srv.clock())
        assert _until(lambda: srv.post_token(GRANT, auth=old).status_code == 401, 2.0)
        new = (client.client_id, rotated.secret or "")
        assert srv.post_token(GRANT, auth=new).status_code == 200
        registry.remove_client(srv.db, client.client_id)
        assert _until(lambda: srv.post_token(GRANT, auth=new).status_code == 401, 2.0)


def test_change_made_by_hand_in_sql_is_noticed(databases: Databases) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        assert _until(lambda: _listening(srv))
        client = srv.add_client(scope="read:docs write:docs")
        auth = (client.client_id, client.secret or "")
        assert srv.post_token(GRANT, auth=auth).json()["scope"] == "read:docs write:docs"
        with srv.db.write() as conn:
            conn.execute(
                text("UPDATE clients SET scopes = 'read:docs' WHERE client_id = :id"),
                {"id": client.client_id},
            )
        assert _until(
            lambda: srv.post_token(GRANT, auth=auth).json().get("scope") == "read:docs", 2.0
        )


def test_records_are_not_kept_while_the_listener_is_down(databases: Databases) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        assert _until(lambda: _listening(srv))
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        assert srv.post_token(GRANT, auth=auth).status_code == 200  # kept
        _kill_listener(srv)
        assert _until(lambda: not _listening(srv))
        # A change while nobody listens is announced to no one: the records were dropped.
        with srv.db.write() as conn:
            conn.execute(
                text("UPDATE clients SET secret_hash = 'x' WHERE client_id = :id"),
                {"id": client.client_id},
            )
        assert srv.post_token(GRANT, auth=auth).status_code == 401
        assert _until(lambda: _listening(srv))  # reconnected with backoff


def test_disabled_trigger_means_no_records_are_kept(
    databases: Databases, caplog: pytest.LogCaptureFixture
) -> None:
    with running_server(databases.new("postgresql"), "postgresql") as srv:
        assert _until(lambda: _listening(srv))
        with srv.db.write() as conn:
            conn.execute(text("ALTER TABLE clients DISABLE TRIGGER tessera_clients_changed"))
        with caplog.at_level(logging.WARNING, logger="tessera.server"):
            _kill_listener(srv)  # it reconnects, finds the trigger disabled, and keeps nothing
            assert _until(lambda: "announces no changes" in caplog.text)
        assert not _listening(srv)
        client = srv.add_client()
        auth = (client.client_id, client.secret or "")
        assert srv.post_token(GRANT, auth=auth).status_code == 200
        with srv.db.write() as conn:  # unannounced, so it must be read on the next request
            conn.execute(
                text("UPDATE clients SET secret_hash = 'x' WHERE client_id = :id"),
                {"id": client.client_id},
            )
        assert srv.post_token(GRANT, auth=auth).status_code == 401
        with srv.db.write() as conn:
            conn.execute(text("ALTER TABLE clients ENABLE TRIGGER tessera_clients_changed"))
        assert _until(lambda: _listening(srv), 10.0)  # retried with backoff (at most 5 s)


def _kill_listener(srv: Any) -> None:
    with srv.db.autocommit() as conn:
        killed = conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = :db"
            ),
            {"name": LISTENER_NAME, "db": srv.db.engine.url.database},
        ).all()
    assert len(killed) == 1
