"""The engine for SQLite (default, one file) or PostgreSQL (psycopg 3, shared by replicas)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text, update
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tessera.server.errors import Contention, ServerConfigError
from tessera.server.metrics import database_retry
from tessera.server.storage.bounds import Bounds, Watchdog
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


_UNBOUNDED_BUSY = 10.0
"""SQLite's lock wait, and the pool's checkout wait, without bounds (commands, migrations)."""
_PATIENT_SQL = text(
    "SELECT set_config('statement_timeout', :ms, true), set_config('lock_timeout', :ms, true)"
)


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
        cursor.close()

    return pragmas


class Database:
    """A SQLAlchemy engine plus the few transaction helpers the repositories need.

    With ``bounds`` (a serving process), every wait on the database is bounded as
    :mod:`tessera.server.storage.bounds` describes: an operation that runs over raises
    ``sqlalchemy.exc.TimeoutError`` (or the driver's ``OperationalError``), answered 503.
    Without (commands, migrations), statements take as long as they take.
    """

    def __init__(self, url: str, *, pool_size: int = 10, bounds: Bounds | None = None) -> None:
        self.bounds = bounds
        self._local = threading.local()
        self._watchdog: Watchdog | None = None
        self._connector: concurrent.futures.ThreadPoolExecutor | None = None
        try:
            self.engine: Engine = self._create(url, pool_size)
            # A second pool whose connections are in autocommit from the start: the token
            # endpoint's single statements then cost one round trip, with no per-checkout
            # isolation switch.
            self._autocommit = self._create(url, pool_size, isolation_level="AUTOCOMMIT")
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ServerConfigError(f"unusable database URL: {exc}") from None
        self.url = url
        self._hot: list[Connection] = []
        self._hot_lock = threading.Lock()

    def _create(self, url: str, pool_size: int, **options: Any) -> Engine:
        # Error messages and SQL logs never show bound values (hashes, names, token ids).
        options["hide_parameters"] = True
        bounds = self.bounds
        wait = bounds.timeout if bounds is not None else _UNBOUNDED_BUSY
        if url.startswith("sqlite"):
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": wait},
                pool_size=pool_size,
                max_overflow=2 * pool_size,
                pool_timeout=wait,
                **options,
            )
            event.listen(engine, "connect", _sqlite_pragmas(round(wait * 1000)))
            return engine
        connect_args: dict[str, Any] = {"connect_timeout": 5}
        if bounds is not None:
            connect_args = bounds.libpq(make_url(url).query.get("options"))  # type: ignore[arg-type]
        engine = create_engine(
            url,
            connect_args=connect_args,
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            pool_timeout=5 if bounds is None else bounds.timeout,
            pool_recycle=3600,
            **options,
        )
        if bounds is not None:
            self._watchdog = self._watchdog or Watchdog()
            self._connector = self._connector or concurrent.futures.ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="tessera-db-connect"
            )
            event.listen(engine, "do_connect", self._connect_in_time)
        return engine

    def _connect_in_time(
        self, dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        """Connect within what is left of the calling operation's time (psycopg's own
        ``connect_timeout`` cannot go under 2 s): the connection is made on a helper thread,
        and one that comes too late is closed when it comes."""
        assert self._connector is not None
        assert self.bounds is not None
        deadline = getattr(self._local, "deadline", None)
        left = self.bounds.timeout if deadline is None else deadline - time.monotonic()
        future = self._connector.submit(dialect.connect, *cargs, **cparams)
        try:
            return future.result(timeout=max(left, 0.0))
        except concurrent.futures.TimeoutError:
            if not future.cancel():
                future.add_done_callback(_close_late)
            raise dialect.loaded_dbapi.OperationalError(
                "connection timeout expired (tessera database_timeout)"
            ) from None

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.engine.dialect.name == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for logs and messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def patient(self, seconds: float) -> Iterator[None]:
        """Give this thread's operations ``seconds`` instead of the bounds' timeout, statements
        and lock waits included (background maintenance: a purge of many expired rows)."""
        before = getattr(self._local, "patience", None)
        self._local.patience = seconds
        try:
            yield
        finally:
            self._local.patience = before

    def _deadline(self) -> float:
        assert self.bounds is not None
        patience = getattr(self._local, "patience", None)
        return time.monotonic() + (patience if patience is not None else self.bounds.timeout)

    @contextlib.contextmanager
    def _checkout(self, engine: Engine, deadline: float) -> Iterator[Connection]:
        """A pooled connection within the time left (connecting included)."""
        self._local.deadline = deadline
        try:
            conn = engine.connect()
        finally:
            self._local.deadline = None
        with conn:
            if time.monotonic() >= deadline:
                raise PoolTimeout("no database connection within database_timeout")
            yield conn

    @contextlib.contextmanager
    def _watched(self, conn: Connection, deadline: float) -> Iterator[None]:
        """Run the block's statements on ``conn`` by ``deadline``: past it the connection is
        shut down (the waiting call fails) and discarded, and the block raises
        ``sqlalchemy.exc.TimeoutError``. A block that finished all the same returns."""
        assert self._watchdog is not None
        fileno = conn.connection.dbapi_connection.fileno()  # type: ignore[union-attr]
        with self._watchdog.watch(fileno, deadline) as watch:
            try:
                yield
            except DBAPIError:
                if watch.fired:
                    raise PoolTimeout(
                        "the database did not answer within database_timeout"
                    ) from None
                raise
            finally:
                if watch.fired:
                    conn.invalidate()

    @contextlib.contextmanager
    def _operation(
        self, engine: Engine, *, begin: bool, deadline: float | None = None
    ) -> Iterator[Connection]:
        """A connection for one operation: in a transaction committed at the end with
        ``begin``, else rolled back at the end; bounded when the database is."""
        if self._watchdog is None:
            with engine.begin() if begin else engine.connect() as conn:
                yield conn
            return
        if deadline is None:
            deadline = self._deadline()
        with self._checkout(engine, deadline) as conn, self._watched(conn, deadline):
            patience = getattr(self._local, "patience", None)
            if begin:
                with conn.begin():
                    if patience is not None:
                        conn.execute(_PATIENT_SQL, {"ms": str(round(patience * 1000))})
                    yield conn
            else:
                # Rolled back here, while watched (the pool's reset on return would not be).
                try:
                    yield conn
                except BaseException:
                    if not conn.invalidated:
                        with contextlib.suppress(DBAPIError):
                            conn.rollback()
                    raise
                conn.rollback()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (no transaction left open)."""
        with self._operation(self.engine, begin=False) as conn:
            yield conn

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection where each statement commits on its own: one round trip per query."""
        with self._operation(self._autocommit, begin=False) as conn:
            yield conn

    @contextlib.contextmanager
    def hot(self) -> Iterator[Connection]:
        """The calling thread's own autocommit connection, kept open between requests.

        The token endpoint runs on the event loop thread, one request at a time, so one
        connection per worker serves it with no pool checkout per token. A database error
        (or running over the bounds) discards the connection; the next call opens a new one.
        """
        conn: Connection | None = getattr(self._local, "conn", None)
        deadline = self._deadline() if self._watchdog is not None else None
        if conn is None or conn.closed or conn.invalidated:
            self._local.deadline = deadline
            try:
                conn = self._autocommit.connect()
            finally:
                self._local.deadline = None
            self._local.conn = conn
            with self._hot_lock:
                self._hot.append(conn)
        try:
            if deadline is None:
                yield conn
            else:
                with self._watched(conn, deadline):
                    yield conn
        except (DBAPIError, PoolTimeout):
            self._drop_hot(conn)
            raise
        finally:
            if conn.invalidated:
                self._drop_hot(conn)

    def _drop_hot(self, conn: Connection) -> None:
        self._local.conn = None
        with self._hot_lock, contextlib.suppress(ValueError):
            self._hot.remove(conn)
        with contextlib.suppress(DBAPIError):
            conn.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction, committed on success and rolled back on error."""
        with self._operation(self.engine, begin=True) as conn:
            yield conn

    def transaction(
        self, work: Callable[[Connection], T], *, operation: str, attempts: int = 3
    ) -> T:
        """``work(conn)`` in a transaction, committed on success; run again (up to
        ``attempts`` times in all, after a short random pause) when it loses a race to a
        concurrent transaction (:func:`lost_race`). ``work`` may run more than once: it must
        have no effect outside the transaction. Each retry counts in the
        ``tessera_database_retries`` metric under ``operation`` (a fixed name). With bounds,
        the attempts share one ``database_timeout``.

        Raises:
            Contention: it lost on every attempt (or lost, and no time is left for another).
            DBAPIError: any other database failure (not retried).
            sqlalchemy.exc.TimeoutError: the database did not answer in time.
        """
        deadline = self._deadline() if self._watchdog is not None else None
        attempt = 1
        while True:
            # 5-15 ms, then 10-30 ms: the winner commits meanwhile, the losers spread out.
            pause = 0.01 * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            try:
                with self._operation(self.engine, begin=True, deadline=deadline) as conn:
                    return work(conn)
            except DBAPIError as exc:
                kind = lost_race(exc)
                if kind is None:
                    raise
                if attempt >= attempts or (
                    deadline is not None and time.monotonic() + pause >= deadline
                ):
                    raise Contention(kind) from None
            database_retry(operation)
            time.sleep(pause)
            attempt += 1

    @contextlib.contextmanager
    def key_schedule(self) -> Iterator[Connection]:
        """A transaction that holds the key-schedule lock: one replica changes keys at a time.

        The lock row is updated first, so on PostgreSQL the row lock and on SQLite the write
        lock are taken before anything is read.
        """
        with self._operation(self.engine, begin=True) as conn:
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
        if self._watchdog is not None:
            self._watchdog.stop()


def _close_late(future: concurrent.futures.Future[Any]) -> None:
    """Close a connection that was made after its caller stopped waiting."""
    if not future.cancelled() and future.exception() is None:
        with contextlib.suppress(Exception):
            future.result().close()
