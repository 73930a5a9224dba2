"""Every database wait of a serving process is bounded (tessera.server.storage.bounds), shown
on the storage layer itself: a lock wait past ``lock_timeout`` is a lost race, a statement past
``statement_timeout`` an outage that keeps its connection, a database gone silent (a TCP proxy
that stops forwarding) fails the call by ``database_timeout`` and leaves no broken connection
in the pool, a session left in a transaction is ended by the server, and the commands'
database (no bounds) keeps PostgreSQL's defaults."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from proxyhelp import TcpProxy
from serverhelp import PG_HOST, Databases
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tessera.server.errors import Contention, TemporarilyUnavailable
from tessera.server.storage import migrate
from tessera.server.storage.bounds import Bounds
from tessera.server.storage.database import Database, lost_race
from tessera.server.storage.hot import HotStore
from tessera.server.storage.schema import clients, key_lock

pytestmark = pytest.mark.faults

BOUNDS = Bounds(timeout=1.5, lock_timeout=0.3, idle_timeout=2.0)


@pytest.fixture(scope="module")
def pg_url(databases: Databases) -> str:
    url = databases.new("postgresql")
    db = Database(url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()
    return url


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy((PG_HOST, 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def proxied(pg_url: str, proxy: TcpProxy) -> Iterator[Database]:
    """A bounded database whose connections go through ``proxy``."""
    db = Database(pg_url.replace(f"{PG_HOST}:5432", f"127.0.0.1:{proxy.port}"), bounds=BOUNDS)
    yield db
    db.dispose()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _timed(call: object) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()  # type: ignore[operator]
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def _version(conn: object) -> int:
    return int(conn.execute(select(key_lock.c.version)).scalar_one())  # type: ignore[attr-defined]


def test_lock_held_past_lock_timeout_is_a_lost_race(pg_url: str) -> None:
    db = Database(pg_url, bounds=BOUNDS)
    holder = psycopg.connect(_libpq(pg_url))
    try:
        holder.execute("SELECT version FROM key_lock FOR UPDATE")  # held, transaction open

        def bump(conn: object) -> None:
            conn.execute(update(key_lock).values(version=key_lock.c.version + 1))  # type: ignore[attr-defined]

        seconds, error = _timed(lambda: db.transaction(bump, operation="test"))
        assert isinstance(error, Contention), error
        assert error.kind == "lock_not_available"
        # three attempts of one 0.3 s lock wait each, within database_timeout
        assert 3 * BOUNDS.lock_timeout <= seconds < BOUNDS.timeout, seconds
    finally:
        holder.close()
        db.dispose()


def test_statement_past_statement_timeout_is_an_outage_and_keeps_its_connection(
    pg_url: str,
) -> None:
    db = Database(pg_url, bounds=BOUNDS)
    connects: list[object] = []
    try:
        with db.read() as conn:
            assert _version(conn) >= 0
        from sqlalchemy import event

        event.listen(db.engine, "connect", lambda *_: connects.append(1))
        seconds, error = _timed(
            lambda: db.transaction(
                lambda conn: conn.execute(text("SELECT pg_sleep(5)")), operation="test"
            )
        )
        assert isinstance(error, OperationalError), error
        assert getattr(error.orig, "sqlstate", None) == "57014"  # query_canceled
        assert lost_race(error) is None  # an outage (503), not a race
        assert not error.connection_invalidated
        assert BOUNDS.statement_timeout <= seconds < BOUNDS.timeout, seconds
        with db.read() as conn:  # the same connection serves on
            assert _version(conn) >= 0
        assert connects == []
    finally:
        db.dispose()


def test_silent_database_fails_a_statement_by_database_timeout_and_the_pool_recovers(
    proxied: Database, proxy: TcpProxy
) -> None:
    with proxied.read() as conn:
        assert _version(conn) >= 0
    proxy.stall()
    try:

        def read() -> None:
            with proxied.read() as conn:
                _version(conn)

        seconds, error = _timed(read)  # the pooled connection: its statement goes unanswered
        assert isinstance(error, PoolTimeout), error
        assert BOUNDS.timeout <= seconds < BOUNDS.timeout + 0.2, seconds
        seconds, error = _timed(read)  # a new connection: accepted, never answered
        assert isinstance(error, OperationalError), error
        assert "database_timeout" in str(error)
        assert seconds < BOUNDS.timeout + 0.2, seconds
    finally:
        proxy.restore()
    seconds, error = _timed(read)
    assert error is None, error
    assert seconds < 1.0, seconds


def test_session_left_in_a_transaction_by_a_silent_network_is_ended_by_the_server(
    pg_url: str, proxied: Database, proxy: TcpProxy
) -> None:
    """The server never hears of the client's giving up (the network is silent), yet the row
    lock its transaction took is released within idle_timeout."""

    def stranded() -> None:
        with proxied.write() as conn:
            conn.execute(update(key_lock).values(version=key_lock.c.version + 1))
            proxy.stall()
            _version(conn)

    try:
        _, error = _timed(stranded)
        assert isinstance(error, PoolTimeout), error
        with psycopg.connect(_libpq(pg_url), autocommit=True) as direct:
            started = time.monotonic()
            while True:  # still stalled: only the server's own timeout can end that session
                try:
                    with direct.transaction():
                        direct.execute("SELECT version FROM key_lock FOR UPDATE NOWAIT")
                    break
                except psycopg.errors.LockNotAvailable:
                    assert time.monotonic() - started < BOUNDS.idle_timeout + 1, "lock kept"
                    time.sleep(0.1)
    finally:
        proxy.restore()


def test_connection_accepted_and_never_answered_fails_by_database_timeout(
    proxied: Database, proxy: TcpProxy
) -> None:
    def write() -> None:
        with proxied.write() as conn:
            _version(conn)

    proxy.stall(reset_open=True)
    try:
        seconds, error = _timed(write)
        assert isinstance(error, OperationalError), error
        assert seconds < BOUNDS.timeout + 0.2, seconds
    finally:
        proxy.restore()
    with proxied.write() as conn:
        assert _version(conn) >= 0


def test_hot_store_query_to_a_silent_database_is_503_by_database_timeout(
    pg_url: str, proxy: TcpProxy
) -> None:
    url = make_url(pg_url.replace(f"{PG_HOST}:5432", f"127.0.0.1:{proxy.port}"))

    async def run() -> list[float]:
        store = HotStore(url, bounds=BOUNDS)
        try:
            assert await store.find_client("nobody") is None
            proxy.stall()
            times = []
            for _ in range(2):  # the idle connection, then a new one
                started = time.monotonic()
                with pytest.raises(TemporarilyUnavailable):
                    await store.find_client("nobody")
                times.append(time.monotonic() - started)
            proxy.restore()
            started = time.monotonic()
            assert await store.find_client("nobody") is None
            times.append(time.monotonic() - started)
            return times
        finally:
            proxy.restore()
            await store.close()

    stalled, new, recovered = asyncio.run(run())
    # psycopg would answer a cancelled query by cancelling it on the server, up to 10 s more
    assert BOUNDS.timeout <= stalled < BOUNDS.timeout + 0.2, stalled
    assert new < BOUNDS.timeout + 0.2, new
    assert recovered < 1.0, recovered


def test_only_serving_databases_get_the_timeouts(pg_url: str) -> None:
    settings = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
    query = text(", ".join(f"current_setting('{name}')" for name in settings).join(("SELECT ", "")))
    commands, serving = Database(pg_url), Database(pg_url, bounds=Bounds())
    try:
        with commands.read() as conn:
            assert tuple(conn.execute(query).one()) == ("0", "0", "0")
        with serving.read() as conn:
            assert tuple(conn.execute(query).one()) == ("1250ms", "300ms", "5s")
        with serving.patient(60), serving.write() as conn:
            assert tuple(conn.execute(query).one()) == ("1min", "1min", "5s")
        with serving.write() as conn:  # the patience was for that transaction only
            assert tuple(conn.execute(query).one()) == ("1250ms", "300ms", "5s")
        with serving.autocommit() as conn:
            assert conn.execute(select(clients.c.client_id).limit(1)).all() == []
    finally:
        commands.dispose()
        serving.dispose()


def test_sqlite_lock_wait_is_bounded_for_serving_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bounds.db'}"
    setup = Database(url)
    migrate.upgrade(setup)
    setup.dispose()
    serving = Database(url, bounds=Bounds())
    commands = Database(url)
    with serving.read() as conn:  # its connection open (and the file in WAL mode)
        assert _version(conn) >= 0
    writer = sqlite3.connect(tmp_path / "bounds.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:

        def bump() -> None:
            with serving.write() as conn:
                conn.execute(update(key_lock).values(version=key_lock.c.version + 1))

        seconds, error = _timed(bump)
        assert isinstance(error, OperationalError), error
        assert "locked" in str(error)
        assert 1.4 <= seconds < 2.0, seconds
        with commands.read() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 10000
    finally:
        writer.rollback()
        writer.close()
        serving.dispose()
        commands.dispose()
