"""The engine for SQLite (default, one file) or PostgreSQL (psycopg 3, shared by replicas)."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, update
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from tessera.server.errors import Contention, ServerConfigError
from tessera.server.metrics import database_retry
from tessera.server.storage.schema import key_lock

__all__ = ["Database", "lost_race"]

T = TypeVar("T")

_RACES = {
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "55P03": "lock_not_available",
}
"""PostgreSQL SQLSTATEs of a transaction that lost to a concurrent one (it was rolled back)."""
_SQLITE_BUSY_SNAPSHOT = 517
"""SQLite's "database is locked" when another writer committed since this transaction's
snapshot: immediate, a lost race. Plain SQLITE_BUSY comes after the 10 s busy timeout: the file
was held that long, an outage, and waiting 10 s more would not help."""


def lost_race(exc: BaseException) -> str | None:
    """The condition's name when ``exc`` says the transaction lost a race for the same rows
    (retrying the whole transaction is then safe and likely to succeed), else None."""
    if not isinstance(exc, DBAPIError) or exc.connection_invalidated:
        return None
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate in _RACES:
        return _RACES[sqlstate]
    if getattr(exc.orig, "sqlite_errorcode", None) == _SQLITE_BUSY_SNAPSHOT:
        return "busy_snapshot"
    return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """A SQLAlchemy engine plus the few transaction helpers the repositories need."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        try:
            self.engine: Engine = self._create(url, pool_size)
            # A second pool whose connections are in autocommit from the start: the token
            # endpoint's single statements then cost one round trip, with no per-checkout
            # isolation switch.
            self._autocommit = self._create(url, pool_size, isolation_level="AUTOCOMMIT")
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ServerConfigError(f"unusable database URL: {exc}") from None
        self.url = url
        self._local = threading.local()
        self._hot: list[Connection] = []
        self._hot_lock = threading.Lock()

    @staticmethod
    def _create(url: str, pool_size: int, **options: Any) -> Engine:
        # Error messages and SQL logs never show bound values (hashes, names, token ids).
        options["hide_parameters"] = True
        if url.startswith("sqlite"):
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 10},
                pool_size=pool_size,
                max_overflow=2 * pool_size,
                pool_timeout=5,
                **options,
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(
            url,
            connect_args={"connect_timeout": 5},
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            pool_timeout=5,
            pool_recycle=3600,
            **options,
        )

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.engine.dialect.name == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for logs and messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (no transaction left open)."""
        with self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection where each statement commits on its own: one round trip per query."""
        with self._autocommit.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def hot(self) -> Iterator[Connection]:
        """The calling thread's own autocommit connection, kept open between requests.

        The token endpoint runs on the event loop thread, one request at a time, so one
        connection per worker serves it with no pool checkout per token. A database error
        discards the connection; the next call opens a new one.
        """
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._autocommit.connect()
            self._local.conn = conn
            with self._hot_lock:
                self._hot.append(conn)
        try:
            yield conn
        except DBAPIError:
            self._local.conn = None
            with self._hot_lock, contextlib.suppress(ValueError):
                self._hot.remove(conn)
            with contextlib.suppress(DBAPIError):
                conn.close()
            raise

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction, committed on success and rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    def transaction(
        self, work: Callable[[Connection], T], *, operation: str, attempts: int = 3
    ) -> T:
        """``work(conn)`` in a transaction, committed on success; run again (up to
        ``attempts`` times in all, after a short random pause) when it loses a race to a
        concurrent transaction (:func:`lost_race`). ``work`` may run more than once: it must
        have no effect outside the transaction. Each retry counts in the
        ``tessera_database_retries`` metric under ``operation`` (a fixed name).

        Raises:
            Contention: it lost on every attempt.
            DBAPIError: any other database failure (not retried).
        """
        attempt = 1
        while True:
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except DBAPIError as exc:
                kind = lost_race(exc)
                if kind is None:
                    raise
                if attempt >= attempts:
                    raise Contention(kind) from None
            database_retry(operation)
            # 5-15 ms, then 10-30 ms: the winner commits meanwhile, the losers spread out.
            time.sleep(0.01 * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
            attempt += 1

    @contextlib.contextmanager
    def key_schedule(self) -> Iterator[Connection]:
        """A transaction that holds the key-schedule lock: one replica changes keys at a time.

        The lock row is updated first, so on PostgreSQL the row lock and on SQLite the write
        lock are taken before anything is read.
        """
        with self.engine.begin() as conn:
            conn.execute(update(key_lock).values(version=key_lock.c.version + 1))
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection (and the threads' kept connections)."""
        with self._hot_lock:
            kept, self._hot = self._hot, []
        for conn in kept:
            with contextlib.suppress(DBAPIError):
                conn.close()
        self._local = threading.local()
        self.engine.dispose()
        self._autocommit.dispose()
