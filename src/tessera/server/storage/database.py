"""The engine for SQLite (default, one file) or PostgreSQL (psycopg 3, shared by replicas)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, update
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from tessera.server.errors import ServerConfigError
from tessera.server.storage.schema import key_lock

__all__ = ["Database"]


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
