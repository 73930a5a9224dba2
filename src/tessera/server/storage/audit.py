"""Repository for the audit trail: append an administrative action, list them newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from tessera.server.storage.schema import audit_events

__all__ = ["AuditEvent", "list_events", "record"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One recorded action."""

    id: int
    at: float
    actor: str
    action: str
    target: str
    details: dict[str, Any]


def record(
    conn: Connection, *, at: float, actor: str, action: str, target: str, details: dict[str, Any]
) -> None:
    """Append one event (``details``: JSON-able facts about the change, never a secret)."""
    conn.execute(
        insert(audit_events).values(
            at=at,
            actor=actor[:200],
            action=action[:64],
            target=target[:500],
            details=json.dumps(details, sort_keys=True, ensure_ascii=False),
        )
    )


def list_events(
    conn: Connection, *, since: float | None = None, action: str | None = None, limit: int = 100
) -> list[AuditEvent]:
    """Events newest first; ``action`` matches a whole action (``clients add``) or its group
    (``clients``)."""
    query = select(audit_events).order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
    if since is not None:
        query = query.where(audit_events.c.at >= since)
    if action is not None:
        query = query.where(
            or_(
                audit_events.c.action == action,
                audit_events.c.action.startswith(action + " ", autoescape=True),
            )
        )
    rows = conn.execute(query.limit(limit)).all()
    return [
        AuditEvent(int(r.id), float(r.at), r.actor, r.action, r.target, json.loads(r.details))
        for r in rows
    ]
