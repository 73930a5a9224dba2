"""How long a serving process waits on its database, and what ends a wait that runs over.

A database that resets connections says so at once; one that stops answering (a frozen host, a
network that drops every packet, a balancer that accepts and never forwards) says nothing, and
each wait on it would last until TCP gives up, minutes later. So every wait of a request is
bounded by :attr:`Bounds.timeout`, from the moment it asks for a connection:

- a free pooled connection is waited for at most that long, and a new one is connected within
  what is left (in a helper thread: psycopg's own ``connect_timeout`` is whole seconds, at
  least 2);
- the statements of the operation (a transaction's attempts included) must be answered by
  then: otherwise :class:`Watchdog` shuts the connection's socket down, the blocked call fails
  at once, and the connection is discarded (no pool keeps a connection in an unknown state);
- PostgreSQL itself cancels a statement running 0.25 s short of it
  (:attr:`Bounds.statement_timeout`, SQLSTATE 57014: an outage, answered 503; the server ends
  a slow statement before the client gives up on it, and the connection stays usable), ends a
  lock wait after
  :attr:`Bounds.lock_timeout` (55P03: a race for the same rows, retried, then answered as a lost
  race), and ends a session left idle in a transaction for :attr:`Bounds.idle_timeout` (its
  client vanished: its row locks are released).

Only serving processes take bounds. Migrations and the ``tessera`` commands wait as long as
their statements take, and the server's background maintenance (key schedule, purges) gets
:data:`MAINTENANCE_TIMEOUT` (:meth:`Database.patient`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.server.config import Settings

__all__ = ["MAINTENANCE_TIMEOUT", "Bounds", "Watch", "Watchdog", "shut_down"]

MAINTENANCE_TIMEOUT = 60.0
"""Seconds a background maintenance operation (key schedule, purges of expired rows) may take."""
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5}
"""TCP keepalives: an idle connection whose peer vanished is found dead within about 25 s."""
_KEEPALIVE_COUNT = 3
_TCP_USER_TIMEOUT_MS = 10_000
"""Sent data left unacknowledged this long closes the connection (the peer is unreachable)."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """A serving process's waits on the database, in seconds."""

    timeout: float = 1.5
    """The longest one operation of a request waits (connection, statements, retries)."""
    lock_timeout: float = 0.3
    """The longest one statement waits for a row lock (PostgreSQL ``lock_timeout``)."""
    idle_timeout: float = 5.0
    """A session idle in a transaction this long is ended by PostgreSQL
    (``idle_in_transaction_session_timeout``)."""

    @property
    def statement_timeout(self) -> float:
        """PostgreSQL's ``statement_timeout``: a little under :attr:`timeout`."""
        return max(self.timeout - 0.25, self.timeout / 2)

    @classmethod
    def of(cls, settings: Settings) -> Bounds:
        """The bounds a server's settings give."""
        return cls(
            settings.database_timeout,
            settings.database_lock_timeout,
            settings.database_idle_timeout,
        )

    def libpq(self, options: str | None = None, *, locks: bool = True) -> dict[str, Any]:
        """psycopg connection parameters: the server-side timeouts (before any ``options`` of
        the URL, which win) and the TCP keepalives. Without ``locks`` no ``lock_timeout``
        (connections that take no row locks: a lock wait is bounded by the statement's)."""
        ours = (
            f"-c statement_timeout={_ms(self.statement_timeout)} "
            + (f"-c lock_timeout={_ms(self.lock_timeout)} " if locks else "")
            + f"-c idle_in_transaction_session_timeout={_ms(self.idle_timeout)}"
        )
        return {
            "options": f"{ours} {options}" if options else ours,
            **_KEEPALIVE,
            "keepalives_count": _KEEPALIVE_COUNT,
            "tcp_user_timeout": _TCP_USER_TIMEOUT_MS,
            # psycopg's own bound (whole seconds, at least 2); the pool waits less (helper thread)
            "connect_timeout": max(2, math.ceil(self.timeout)),
        }


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def shut_down(fileno: int) -> None:
    """Shut the socket behind ``fileno`` down both ways (a blocked read returns at once, the
    peer sees the end); the descriptor itself stays open for its owner to close."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fileno))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()  # the duplicate only


class Watch:
    """One armed deadline; :attr:`fired` once the watchdog shut its connection down."""

    __slots__ = ("deadline", "fd", "fired")

    def __init__(self, fd: int, deadline: float) -> None:
        self.fd = fd
        self.deadline = deadline
        self.fired = False


class Watchdog:
    """A thread that shuts down the socket of any watched connection still in use past its
    deadline (``time.monotonic()``).

    Each watch keeps a duplicate of the connection's descriptor until it ends, so the socket
    it shuts down is the watched one even if the connection was closed meanwhile and its
    number reused. The thread sleeps until the soonest deadline; a new watch wakes it only
    when it is due sooner (deadlines mostly come in order: a wake-up per period, not per call).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: dict[int, Watch] = {}
        self._ids = itertools.count()
        self._wake_at = math.inf
        self._generation = 0  # a thread runs while its generation is current
        self._running = False

    @contextlib.contextmanager
    def watch(self, fileno: int, deadline: float) -> Iterator[Watch]:
        """Watch the connection on ``fileno`` until the block ends."""
        watch = Watch(os.dup(fileno), deadline)
        key = next(self._ids)
        with self._cond:
            self._watches[key] = watch
            if not self._running:
                self._running = True
                threading.Thread(
                    target=self._run,
                    args=(self._generation,),
                    name="tessera-db-watchdog",
                    daemon=True,
                ).start()
            elif deadline < self._wake_at:
                self._cond.notify()
        try:
            yield watch
        finally:
            with self._cond:
                del self._watches[key]
            os.close(watch.fd)

    def stop(self) -> None:
        """End the thread (a later watch starts another)."""
        with self._cond:
            self._generation += 1
            self._running = False
            self._wake_at = math.inf
            self._cond.notify_all()

    def _run(self, generation: int) -> None:
        with self._cond:
            while generation == self._generation:
                now = time.monotonic()
                soonest = math.inf
                for watch in self._watches.values():
                    if watch.fired:
                        continue
                    if watch.deadline <= now:
                        watch.fired = True
                        shut_down(watch.fd)
                    else:
                        soonest = min(soonest, watch.deadline)
                self._wake_at = soonest
                self._cond.wait(None if soonest == math.inf else soonest - now)
