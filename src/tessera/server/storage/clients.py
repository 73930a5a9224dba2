"""Repository for registered clients."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError

from tessera.server.storage.schema import clients

__all__ = [
    "FIND_SQL_PSYCOPG",
    "ClientRecord",
    "count_registered",
    "delete_client",
    "find",
    "find_by_name_or_id",
    "find_registered",
    "from_row",
    "insert_client",
    "insert_registered",
    "list_all",
    "replace_registered",
    "set_lists",
]


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """A registered client as stored (the secret only as its SHA-256)."""

    client_id: str
    name: str
    secret_hash: str | None
    auth_methods: tuple[str, ...]
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    jwks: str | None
    created_at: float
    updated_at: float
    client_type: str = "confidential"
    """``confidential`` (authenticates) or ``public`` (no secret; PKCE is its only proof)."""
    redirect_uris: tuple[str, ...] = ()
    """Registered redirect URIs, matched exactly (RFC 9700 sec. 4.1.3)."""
    application_type: str = "web"
    """``native`` lets loopback redirect URIs match with any port (RFC 8252 sec. 7.3)."""

    @property
    def is_public(self) -> bool:
        """True for a public client (RFC 6749 sec. 2.1)."""
        return self.client_type == "public"


_COLUMNS = (
    clients.c.client_id,
    clients.c.name,
    clients.c.secret_hash,
    clients.c.auth_methods,
    clients.c.grant_types,
    clients.c.scopes,
    clients.c.audiences,
    clients.c.jwks,
    clients.c.created_at,
    clients.c.updated_at,
    clients.c.client_type,
    clients.c.redirect_uris,
    clients.c.application_type,
)
_BY_ID = select(*_COLUMNS).where(clients.c.client_id == bindparam("client_id"))


_RECORDS: dict[tuple[object, ...], ClientRecord] = {}
_RECORDS_MAX = 1024


def _record(row: tuple[object, ...]) -> ClientRecord:
    """The record for a row, memoised by the whole row: the row itself is still read from the
    database on every request, so a removed or changed client takes effect at once."""
    try:
        cached = _RECORDS.get(row)
    except TypeError:  # an unhashable column value from some driver: build it every time
        return _build(row)
    if cached is None:
        cached = _build(row)
        if len(_RECORDS) >= _RECORDS_MAX:
            _RECORDS.clear()
        _RECORDS[row] = cached
    return cached


def _build(row: tuple[object, ...]) -> ClientRecord:
    client_id, name, secret_hash, methods, grants, scopes, audiences, jwks = row[:8]
    created, updated, client_type, redirect_uris, application_type = row[8:]
    return ClientRecord(
        client_id=str(client_id),
        name=str(name),
        secret_hash=secret_hash if isinstance(secret_hash, str) else None,
        auth_methods=tuple(str(methods).split()),
        grant_types=tuple(str(grants).split()),
        scopes=tuple(str(scopes).split()),
        audiences=tuple(json.loads(str(audiences))),
        jwks=jwks if isinstance(jwks, str) else None,
        created_at=float(created),  # type: ignore[arg-type]
        updated_at=float(updated),  # type: ignore[arg-type]
        client_type=str(client_type),
        redirect_uris=tuple(json.loads(str(redirect_uris))),
        application_type=str(application_type),
    )


_DRIVER_SQL = {  # the columns of _COLUMNS, in order; the value is a bound parameter
    "psycopg": "SELECT client_id, name, secret_hash, auth_methods, grant_types, scopes, "
    "audiences, jwks, created_at, updated_at, client_type, redirect_uris, application_type "
    "FROM clients "
    "WHERE client_id = %s",
    "pysqlite": "SELECT client_id, name, secret_hash, auth_methods, grant_types, scopes, "
    "audiences, jwks, created_at, updated_at, client_type, redirect_uris, application_type "
    "FROM clients "
    "WHERE client_id = ?",
}


FIND_SQL_PSYCOPG = _DRIVER_SQL["psycopg"]
"""``find``'s query for a raw psycopg connection (one ``%s`` parameter: the client id)."""


def from_row(row: Sequence[object]) -> ClientRecord:
    """The record for a row of ``FIND_SQL_PSYCOPG``'s columns."""
    return _record(tuple(row))


def find(conn: Connection, client_id: str) -> ClientRecord | None:
    """The client with this id, or None: the token endpoint's one query.

    It goes to the driver directly (a server-side prepared statement on PostgreSQL): the
    SQLAlchemy layer would cost as much again as the round trip itself. Driver errors come
    out as SQLAlchemy's, with the connection invalidated when it broke.
    """
    sql = _DRIVER_SQL.get(conn.dialect.driver)
    if sql is None:
        row = conn.execute(_BY_ID, {"client_id": client_id}).first()
        return None if row is None else _record(tuple(row))
    raw = conn.connection.dbapi_connection
    if raw is None:
        raise DBAPIError(sql, None, RuntimeError("connection closed"))
    try:
        cursor: Any = raw.cursor()
        try:
            if conn.dialect.driver == "psycopg":
                cursor.execute(sql, (client_id,), prepare=True)
            else:
                cursor.execute(sql, (client_id,))
            found = cursor.fetchone()
        finally:
            cursor.close()
    except conn.dialect.loaded_dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, raw, cursor):
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, (client_id,), exc, conn.dialect.loaded_dbapi.Error) from exc
    return None if found is None else _record(tuple(found))


def find_by_name_or_id(conn: Connection, name_or_id: str) -> ClientRecord | None:
    """The client whose id or name is ``name_or_id``."""
    statement = select(*_COLUMNS).where(
        or_(clients.c.client_id == name_or_id, clients.c.name == name_or_id)
    )
    rows = conn.execute(statement).all()
    exact = [row for row in rows if row[0] == name_or_id] or rows
    return _record(tuple(exact[0])) if exact else None


def list_all(conn: Connection) -> list[ClientRecord]:
    """Every client, by name."""
    rows = conn.execute(select(*_COLUMNS).order_by(clients.c.name)).all()
    return [_record(tuple(row)) for row in rows]


def _values(record: ClientRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "secret_hash": record.secret_hash,
        "auth_methods": " ".join(record.auth_methods),
        "grant_types": " ".join(record.grant_types),
        "scopes": " ".join(record.scopes),
        "audiences": json.dumps(list(record.audiences)),
        "jwks": record.jwks,
        "updated_at": record.updated_at,
        "client_type": record.client_type,
        "redirect_uris": json.dumps(list(record.redirect_uris)),
        "application_type": record.application_type,
    }


def insert_registered(
    conn: Connection, record: ClientRecord, token_hash: str, metadata_json: str
) -> None:
    """Store a client that registered itself (RFC 7591), with its registration token's hash."""
    conn.execute(
        insert(clients).values(
            client_id=record.client_id,
            created_at=record.created_at,
            registration_token_hash=token_hash,
            registration_metadata=metadata_json,
            **_values(record),
        )
    )


def find_registered(conn: Connection, client_id: str) -> tuple[ClientRecord, str, str] | None:
    """A self-registered client with its registration token hash and registered metadata."""
    row = conn.execute(
        select(*_COLUMNS, clients.c.registration_token_hash, clients.c.registration_metadata)
        .where(clients.c.client_id == client_id)
        .where(clients.c.registration_token_hash.is_not(None))
    ).first()
    if row is None:
        return None
    return _build(tuple(row[:-2])), str(row[-2]), str(row[-1])


def replace_registered(conn: Connection, record: ClientRecord, metadata_json: str) -> bool:
    """Replace a self-registered client's metadata (RFC 7592 sec. 2.2); False if gone."""
    result = conn.execute(
        update(clients)
        .where(clients.c.client_id == record.client_id)
        .where(clients.c.registration_token_hash.is_not(None))
        .values(registration_metadata=metadata_json, **_values(record))
    )
    return bool(result.rowcount)


def count_registered(conn: Connection) -> int:
    """How many clients registered themselves."""
    statement = (
        select(func.count())
        .select_from(clients)
        .where(clients.c.registration_token_hash.is_not(None))
    )
    return int(conn.execute(statement).scalar_one())


def insert_client(conn: Connection, record: ClientRecord) -> None:
    """Store a new client."""
    conn.execute(
        insert(clients).values(
            client_id=record.client_id,
            name=record.name,
            secret_hash=record.secret_hash,
            auth_methods=" ".join(record.auth_methods),
            grant_types=" ".join(record.grant_types),
            scopes=" ".join(record.scopes),
            audiences=json.dumps(list(record.audiences)),
            jwks=record.jwks,
            created_at=record.created_at,
            updated_at=record.updated_at,
            client_type=record.client_type,
            redirect_uris=json.dumps(list(record.redirect_uris)),
            application_type=record.application_type,
        )
    )


def set_secret_hash(conn: Connection, client_id: str, secret_hash: str, now: float) -> bool:
    """Replace a client's secret; False when there is no such client."""
    result = conn.execute(
        update(clients)
        .where(clients.c.client_id == client_id)
        .values(secret_hash=secret_hash, updated_at=now)
    )
    return bool(result.rowcount)


def set_lists(conn: Connection, record: ClientRecord) -> bool:
    """Store an administrator's change to a client's scopes, audiences and redirect URIs;
    False when there is no such client (or it registered itself: RFC 7592 manages those)."""
    result = conn.execute(
        update(clients)
        .where(clients.c.client_id == record.client_id)
        .where(clients.c.registration_token_hash.is_(None))
        .values(
            scopes=" ".join(record.scopes),
            audiences=json.dumps(list(record.audiences)),
            redirect_uris=json.dumps(list(record.redirect_uris)),
            updated_at=record.updated_at,
        )
    )
    return bool(result.rowcount)


def delete_client(conn: Connection, client_id: str) -> bool:
    """Remove a client; False when there was none."""
    result = conn.execute(delete(clients).where(clients.c.client_id == client_id))
    return bool(result.rowcount)
