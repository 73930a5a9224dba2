"""Client registration for administrators: add, list, show, remove, rotate secrets.

Secrets are ``secrets.token_urlsafe(32)`` (256 random bits), returned once and stored as
SHA-256: for a random secret that long a fast hash is right; slow password hashes are for
passwords people choose. Clients with a JWK Set authenticate with ``private_key_jwt`` and get
no secret; only the public halves of their keys are stored.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

import tessera
from tessera.server.clientauth import hash_secret
from tessera.server.errors import AdminError
from tessera.server.grants import GRANT_TYPES
from tessera.server.grants.scope import is_scope_token
from tessera.server.storage import clients as client_rows
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.database import Database

__all__ = [
    "NewClient",
    "add_client",
    "describe",
    "get_client",
    "list_clients",
    "remove_client",
    "rotate_secret",
]

_NAME = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,199}\Z")
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client just created (or whose secret was just rotated) and its secret, shown once."""

    record: ClientRecord
    secret: str | None


def _check_audiences(audiences: Iterable[str]) -> tuple[str, ...]:
    checked = []
    for audience in audiences:
        if not urlsplit(audience).scheme or "#" in audience or any(c.isspace() for c in audience):
            raise AdminError(f"audience {audience!r} must be an absolute URI without a fragment")
        checked.append(audience)
    return tuple(dict.fromkeys(checked))


def _check_scopes(scope: str) -> tuple[str, ...]:
    tokens = scope.split()
    bad = [t for t in tokens if not is_scope_token(t)]
    if bad:
        raise AdminError(f"not a valid scope token: {bad[0]!r}")
    return tuple(dict.fromkeys(tokens))


def _public_jwks(jwks_text: str) -> str:
    try:
        keyset = tessera.KeySet.from_jwks(jwks_text)
    except tessera.InvalidKey as exc:
        raise AdminError(f"unusable JWK Set: {exc}") from None
    if not len(keyset):
        raise AdminError("the JWK Set holds no keys")
    public = []
    for key in keyset:
        if key.kty == "oct":
            raise AdminError("private_key_jwt needs asymmetric keys (RSA, EC or OKP), not oct")
        public.append(key.public().to_jwk() if key.is_private else key.to_jwk())
    return json.dumps({"keys": public}, separators=(",", ":"))


def add_client(
    db: Database,
    name: str,
    *,
    scope: str,
    audiences: Sequence[str] = (),
    jwks: str | None = None,
    grant_types: Sequence[str] = GRANT_TYPES,
    now: float,
) -> NewClient:
    """Register a client: a secret client, or a ``private_key_jwt`` one when ``jwks`` is given.

    Raises:
        AdminError: bad name, scope, audience or JWK Set, unknown grant, or a duplicate name.
    """
    if not _NAME.match(name):
        raise AdminError("a client name is 1-200 printable ASCII characters")
    unknown = [g for g in grant_types if g not in GRANT_TYPES]
    if unknown:
        raise AdminError(f"unsupported grant type {unknown[0]!r}")
    secret = None if jwks is not None else secrets.token_urlsafe(32)
    record = ClientRecord(
        client_id=secrets.token_urlsafe(16),
        name=name,
        secret_hash=hash_secret(secret) if secret is not None else None,
        auth_methods=_SECRET_METHODS if secret is not None else ("private_key_jwt",),
        grant_types=tuple(grant_types),
        scopes=_check_scopes(scope),
        audiences=_check_audiences(audiences),
        jwks=_public_jwks(jwks) if jwks is not None else None,
        created_at=now,
        updated_at=now,
    )
    try:
        with db.write() as conn:
            client_rows.insert_client(conn, record)
    except IntegrityError:
        raise AdminError(f"a client named {name!r} already exists") from None
    return NewClient(record, secret)


def get_client(db: Database, name_or_id: str) -> ClientRecord:
    """The client with this id or name.

    Raises:
        AdminError: no such client.
    """
    with db.read() as conn:
        record = client_rows.find_by_name_or_id(conn, name_or_id)
    if record is None:
        raise AdminError(f"no client {name_or_id!r}")
    return record


def list_clients(db: Database) -> list[ClientRecord]:
    """Every client, by name."""
    with db.read() as conn:
        return client_rows.list_all(conn)


def remove_client(db: Database, name_or_id: str) -> ClientRecord:
    """Delete a client; its tokens stay valid until they expire (they are self-contained).

    Raises:
        AdminError: no such client.
    """
    record = get_client(db, name_or_id)
    with db.write() as conn:
        client_rows.delete_client(conn, record.client_id)
    return record


def rotate_secret(db: Database, name_or_id: str, *, now: float) -> NewClient:
    """Give a secret client a new secret; the old one stops working at once.

    Raises:
        AdminError: no such client, or a private_key_jwt client (it has no secret).
    """
    record = get_client(db, name_or_id)
    if record.secret_hash is None:
        raise AdminError("this client authenticates with private_key_jwt and has no secret")
    secret = secrets.token_urlsafe(32)
    with db.write() as conn:
        client_rows.set_secret_hash(conn, record.client_id, hash_secret(secret), now)
    return NewClient(get_client(db, record.client_id), secret)


def describe(record: ClientRecord) -> dict[str, Any]:
    """A client as shown to administrators: never the secret or its hash."""
    view: dict[str, Any] = {
        "client_id": record.client_id,
        "name": record.name,
        "token_endpoint_auth_methods": list(record.auth_methods),
        "grant_types": list(record.grant_types),
        "scope": " ".join(record.scopes),
        "audiences": list(record.audiences),
        "created_at": int(record.created_at),
        "updated_at": int(record.updated_at),
    }
    if record.jwks is not None:
        view["jwks"] = json.loads(record.jwks)
    return view
