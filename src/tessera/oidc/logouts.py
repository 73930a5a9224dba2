"""What a relying party remembers of back-channel logouts (OpenID Back-Channel Logout 1.0):
the ``jti`` of each logout token taken (a replay is refused for the token's lifetime) and,
per ``(iss, sid)`` or ``(iss, sub)``, when the provider ended that session or person.

The web helpers' sessions live in cookies, which the server cannot delete; instead a session
started at or before a recorded logout of its ``sid`` or ``sub`` is refused. A logout is kept
until no session started before it can still be valid (its time plus the session lifetime).

:class:`MemoryLogoutStore` is per process and bounded: an app served by several processes or
machines needs one shared store (Redis, a database table), which only has to implement the
three methods of :class:`LogoutStore`, each atomic on its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Literal, Protocol, runtime_checkable

from tessera.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_ENTRIES", "LogoutStore", "MemoryLogoutStore", "SessionKind"]

SessionKind = Literal["sid", "sub"]
DEFAULT_MAX_ENTRIES = 100_000
"""Logouts (and, separately, logout token ids) a :class:`MemoryLogoutStore` holds at most."""


@runtime_checkable
class LogoutStore(Protocol):
    """The back-channel logout state a relying party consults; each call atomic."""

    def first_use(self, iss: str, jti: str, until: float, now: float) -> bool:
        """Record the logout token ``jti`` of ``iss`` until ``until``; False if it is already
        recorded (a replay)."""
        ...

    def record_logout(
        self, iss: str, kind: SessionKind, value: str, at: float, until: float
    ) -> None:
        """Sessions of ``iss`` with this ``sid`` or ``sub`` started at or before ``at`` are
        over; the record may be forgotten after ``until``."""
        ...

    def logged_out_at(self, iss: str, kind: SessionKind, value: str, now: float) -> float | None:
        """The latest recorded logout of that ``sid`` or ``sub`` still kept, or None."""
        ...


class MemoryLogoutStore:
    """A :class:`LogoutStore` in this process's memory, thread-safe, at most ``max_entries``
    logouts and as many token ids; past that the oldest entries are forgotten first (the
    ones nearest to expiring anyway), so a flood of logout tokens cannot exhaust memory.

    Raises:
        ConfigurationError: ``max_entries`` is not a positive integer.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError("max_entries must be a positive integer")
        self.max_entries = max_entries
        self._jtis: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._logouts: OrderedDict[tuple[str, str, str], tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._logouts)

    def _trim(self, now: float) -> None:
        while self._jtis and (
            len(self._jtis) > self.max_entries or next(iter(self._jtis.values())) <= now
        ):
            self._jtis.popitem(last=False)
        while self._logouts and (
            len(self._logouts) > self.max_entries or next(iter(self._logouts.values()))[1] <= now
        ):
            self._logouts.popitem(last=False)

    def first_use(self, iss: str, jti: str, until: float, now: float) -> bool:
        """See :meth:`LogoutStore.first_use`."""
        key = (iss, jti)
        with self._lock:
            self._trim(now)
            kept = self._jtis.get(key)
            if kept is not None and kept > now:
                return False
            self._jtis[key] = until
            self._jtis.move_to_end(key)
            self._trim(now)
        return True

    def record_logout(
        self, iss: str, kind: SessionKind, value: str, at: float, until: float
    ) -> None:
        """See :meth:`LogoutStore.record_logout`."""
        key = (iss, kind, value)
        with self._lock:
            previous = self._logouts.get(key)
            if previous is not None:
                at, until = max(at, previous[0]), max(until, previous[1])
            self._logouts[key] = (at, until)
            self._logouts.move_to_end(key)
            self._trim(at)

    def logged_out_at(self, iss: str, kind: SessionKind, value: str, now: float) -> float | None:
        """See :meth:`LogoutStore.logged_out_at`."""
        with self._lock:
            kept = self._logouts.get((iss, kind, value))
        if kept is None or kept[1] <= now:
            return None
        return kept[0]
