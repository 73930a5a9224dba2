"""The token endpoint's PostgreSQL access without blocking the event loop.

A synchronous query holds every other request of the worker for the round trip; on
psycopg's ``AsyncConnection`` the worker serves other requests meanwhile. The connections are
kept in a pool of its own: two statements, autocommit, no per-checkout reset, so an idle
list and a semaphore are all it takes, where psycopg_pool's general checkout costs about
25 µs of CPU, a tenth of a token request (measured).

Client records are kept between requests only while this worker LISTENs on the
``tessera_clients`` channel, where a trigger (migration 0003) announces every change to the
clients table: the records are dropped when a change is announced, when the listening
connection fails or misses its heartbeat, and a row read before a change was announced is
not kept. A removed client or a rotated secret therefore stops working on every replica as
soon as the notification arrives (milliseconds), or, if the network silently drops the
listener's connection or the database stops answering, within one :data:`HEARTBEAT` plus
``timeout`` (3.5 s by default). Until then a kept client's ``client_credentials`` requests need
no database and are answered: a stalled database is felt by them only after that.

Any failure to reach the database, or no answer within ``timeout`` (a free connection, a new
one, the statement), is :class:`TemporarilyUnavailable` (503, RFC 6749's
``temporarily_unavailable``); a connection that failed is closed with every idle one (a
restarted or failed-over server broke them all), so the next request starts afresh. A
statement still unanswered at the deadline has its socket shut down rather than its task
cancelled: psycopg answers a cancelled query by asking the server to cancel it, and waits up
to 5 s for that, then 5 s more, on a database that is not answering. The listener's heartbeat
is bounded the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import psycopg
from sqlalchemy.engine import URL

from tessera.server.errors import TemporarilyUnavailable
from tessera.server.metrics import database_error
from tessera.server.storage import clients as client_rows
from tessera.server.storage.bounds import Bounds, shut_down
from tessera.server.storage.clients import ClientRecord

T = TypeVar("T")

__all__ = ["CHANNEL", "HEARTBEAT", "LISTENER_NAME", "HotStore"]

CHANNEL = "tessera_clients"
"""The PostgreSQL notification channel that announces changes to the clients table."""
HEARTBEAT = 2.0
"""Seconds the listener waits for a notification before it checks that its connection still
answers (and the trigger is still there)."""
LISTENER_NAME = "tessera-listener"
"""``application_name`` of the listening connection (as ``pg_stat_activity`` shows it)."""
_RECORD_ONCE = (
    "INSERT INTO used_assertions (client_id, jti, expires_at) VALUES (%s, %s, %s) "
    "ON CONFLICT DO NOTHING RETURNING jti"
)
_TRIGGER_ENABLED = (
    "SELECT 1 FROM pg_trigger WHERE tgname = 'tessera_clients_changed' "
    "AND tgrelid = 'clients'::regclass AND tgenabled <> 'D'"
)
_MAX_CACHED = 4096
logger = logging.getLogger("tessera.server")


class _NoTrigger(Exception):
    """The trigger of migration 0003 is missing or disabled: changes would go unannounced."""


def _conninfo(url: URL) -> str:
    """libpq's form of a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class HotStore:
    """The client lookup and the ``jti`` record as coroutines, on pooled async connections,
    with client records kept while changes to them are being announced."""

    def __init__(
        self,
        url: URL,
        *,
        size: int = 10,
        bounds: Bounds | None = None,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        bounds = bounds or Bounds()
        self._conninfo = _conninfo(url)
        # Reads and an idempotent insert: a lock wait (a migration altering the table) is not
        # a race; it may last as long as the statement may.
        self._params = bounds.libpq(url.query.get("options"), locks=False)  # type: ignore[arg-type]
        self._timeout = bounds.timeout
        self._heartbeat = heartbeat
        self._slots = asyncio.Semaphore(size)  # bounds the open connections
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._records: dict[str, ClientRecord] = {}
        self._generation = 0  # bumped whenever kept records may be stale
        self._listening = False
        self._listener: asyncio.Task[None] | None = None

    @staticmethod
    def supports(url: URL) -> bool:
        """True for PostgreSQL through psycopg (SQLite is local: its queries do not wait)."""
        return url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"

    @property
    def listening(self) -> bool:
        """True while changes to clients are being announced to this worker."""
        return self._listening

    def start(self) -> None:
        """Start listening for client changes (call on the serving event loop)."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="tessera-clients-listener")

    async def close(self) -> None:
        """Stop listening and close the idle connections (on shutdown)."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._close_idle()

    async def find_client(self, client_id: str) -> ClientRecord | None:
        """The client with this id, or None (the same row as ``clients.find``)."""
        if self._listening:
            kept = self._records.get(client_id)
            if kept is not None:
                return kept
        generation = self._generation
        row = await self._one(client_rows.FIND_SQL_PSYCOPG, (client_id,))
        if row is None:
            return None
        record = client_rows.from_row(row)
        if self._listening and generation == self._generation:
            if len(self._records) >= _MAX_CACHED:
                self._records.clear()
            self._records[client_id] = record
        return record

    async def record_assertion(self, client_id: str, jti: str, expires_at: float) -> bool:
        """Record a used assertion id once; False when the client already used it."""
        return await self._one(_RECORD_ONCE, (client_id, jti, expires_at)) is not None

    def _forget(self) -> None:
        self._generation += 1
        self._records.clear()

    async def _listen(self) -> None:
        """LISTEN for client changes, reconnecting with backoff; records are kept only while
        this runs with a live connection."""
        delay = 0.1
        warned = False  # about a missing trigger, once until it is back
        while True:
            try:
                async with asyncio.timeout(self._timeout):
                    conn = await self._connect(LISTENER_NAME)
                async with conn:
                    await self._in_time(conn, conn.execute(f"LISTEN {CHANNEL}"))
                    await self._in_time(conn, self._check_trigger(conn))
                    self._forget()
                    self._listening = True
                    delay, warned = 0.1, False
                    while True:
                        async for _notice in conn.notifies(timeout=self._heartbeat):
                            self._forget()
                        # The connection still answers, and changes are still announced.
                        await self._in_time(conn, self._check_trigger(conn))
            except _NoTrigger:
                if not warned:
                    warned = True
                    logger.warning(
                        "the clients table announces no changes (run `tessera db upgrade`): "
                        "client records are read on every request"
                    )
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if self._listening:
                    logger.warning("client change listener lost: %s", type(exc).__name__)
                    # Whatever broke this connection (a restart, a failover, an operator)
                    # has likely broken the idle ones too: the next query starts afresh.
                    await self._close_idle()
            finally:
                self._listening = False
                self._forget()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    @staticmethod
    async def _check_trigger(conn: psycopg.AsyncConnection[Any]) -> None:
        cursor = await conn.execute(_TRIGGER_ENABLED)
        if await cursor.fetchone() is None:
            raise _NoTrigger

    async def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        deadline = asyncio.get_running_loop().time() + self._timeout
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
            try:
                async with asyncio.timeout_at(deadline):
                    conn = self._idle.pop() if self._idle else await self._connect()
                try:
                    row = await self._in_time(conn, self._fetch(conn, sql, params), deadline)
                except BaseException:
                    # Broken, cut off at the deadline or failed: its state is unknown.
                    await self._discard(conn)
                    raise
                self._idle.append(conn)
                return row
            finally:
                self._slots.release()
        except (TimeoutError, psycopg.OperationalError) as exc:
            database_error(type(exc).__name__)
            await self._close_idle()
            raise TemporarilyUnavailable() from None

    @staticmethod
    async def _fetch(
        conn: psycopg.AsyncConnection[Any], sql: str, params: tuple[Any, ...]
    ) -> tuple[Any, ...] | None:
        cursor = await conn.execute(sql, params, prepare=True)
        return await cursor.fetchone()

    async def _in_time(
        self,
        conn: psycopg.AsyncConnection[Any],
        work: Awaitable[T],
        deadline: float | None = None,
    ) -> T:
        """``await work`` (statements on ``conn``) by ``deadline`` (the loop's clock; else
        ``timeout`` from now): past it the socket is shut down, the statement fails at once
        and TimeoutError is raised."""
        loop = asyncio.get_running_loop()
        fired = False

        def fire() -> None:
            nonlocal fired
            fired = True
            with contextlib.suppress(psycopg.Error):  # closed meanwhile: nothing to shut
                shut_down(conn.fileno())

        timer = loop.call_at(deadline or loop.time() + self._timeout, fire)
        try:
            return await work
        except psycopg.Error:
            if fired:
                raise TimeoutError from None
            raise
        finally:
            timer.cancel()

    async def _connect(self, name: str = "tessera") -> psycopg.AsyncConnection[Any]:
        """A new connection (the caller bounds the wait: psycopg's own bound is 2 s)."""
        return await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=name, **self._params
        )

    async def _close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._discard(conn)

    @staticmethod
    async def _discard(conn: psycopg.AsyncConnection[Any]) -> None:
        with contextlib.suppress(psycopg.Error):
            await conn.close()
