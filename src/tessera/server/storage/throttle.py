"""Repository for failed sign-ins, counted per user name and per client address."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tessera.server.storage.schema import login_failures

__all__ = ["clear", "locked_until", "purge_stale", "record_failure"]


def locked_until(conn: Connection, subjects: tuple[str, ...]) -> float:
    """The latest lock among ``subjects`` (0.0 when none is locked)."""
    rows = conn.execute(
        select(login_failures.c.locked_until).where(login_failures.c.subject.in_(subjects))
    ).all()
    return max((float(row[0]) for row in rows), default=0.0)


def record_failure(
    conn: Connection, subject: str, now: float, *, window: float, free: int, base_delay: float
) -> float:
    """Count one failure (call inside a transaction); the time ``subject`` is locked until.

    Failures older than ``window`` are forgotten; after ``free`` failures each further one
    locks the subject for ``base_delay`` doubled per failure (capped at ``window``).
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(login_failures)
        .values(subject=subject, failures=0, last_failure=now, locked_until=0.0)
        .on_conflict_do_nothing()
    )
    row = conn.execute(
        select(login_failures.c.failures, login_failures.c.last_failure)
        .where(login_failures.c.subject == subject)
        .with_for_update()
    ).one()
    failures = int(row[0]) if now - float(row[1]) < window else 0
    failures += 1
    extra = failures - free
    until = now + min(base_delay * 2 ** (extra - 1), window) if extra > 0 else 0.0
    conn.execute(
        update(login_failures)
        .where(login_failures.c.subject == subject)
        .values(failures=failures, last_failure=now, locked_until=until)
    )
    return until


def clear(conn: Connection, subject: str) -> None:
    """Forget a subject's failures (after a successful sign-in)."""
    conn.execute(delete(login_failures).where(login_failures.c.subject == subject))


def purge_stale(conn: Connection, before: float) -> int:
    """Forget subjects whose last failure is older than ``before`` and that are not locked."""
    result = conn.execute(
        delete(login_failures).where(
            login_failures.c.last_failure < before, login_failures.c.locked_until < before
        )
    )
    return int(result.rowcount)
