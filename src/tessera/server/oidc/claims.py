"""The OpenID standard claims a person's record holds, and which scope releases which
(OIDC Core sec. 5.1, 5.4). Values are checked when an administrator sets them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from tessera.server.errors import AdminError
from tessera.server.storage.schema import users

__all__ = [
    "CLAIMS_SUPPORTED",
    "SCOPE_CLAIMS",
    "beyond_scopes",
    "checked",
    "released",
    "user_claims",
    "wants_claims",
]

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}
"""OIDC Core sec. 5.4: the claims each scope value asks for."""
CLAIMS_SUPPORTED = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "amr",
    "acr",
    "sid",
    *(name for names in SCOPE_CLAIMS.values() for name in names),
)
_STORED = {name for names in SCOPE_CLAIMS.values() for name in names} - {
    "preferred_username",
    "updated_at",
}
_BOOLEANS = {"email_verified", "phone_number_verified"}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\Z")
_BIRTHDATE = re.compile(r"^(\d{4}|0000)(-\d{2}-\d{2})?\Z")
_MAX_VALUE = 500


def checked(values: Mapping[str, Any]) -> dict[str, Any]:
    """Claims as an administrator gave them, checked: known names, strings of bounded size,
    booleans for ``*_verified``, an address as its ``formatted`` string or an object.

    Raises:
        AdminError: an unknown claim or a bad value.
    """
    result: dict[str, Any] = {}
    for name, value in values.items():
        if name not in _STORED:
            raise AdminError(
                f"unknown claim {name!r}: one of {', '.join(sorted(_STORED))} (preferred_username "
                "is the user name, updated_at is kept by the server)"
            )
        if name in _BOOLEANS:
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, bool):
                raise AdminError(f"{name} must be true or false")
        elif name == "address":
            if isinstance(value, str):
                value = {"formatted": value}
            if not isinstance(value, dict) or not all(
                isinstance(v, str) and len(v) <= _MAX_VALUE for v in value.values()
            ):
                raise AdminError("address must be a string or an object of strings")
        else:
            if not isinstance(value, str) or not value or len(value) > _MAX_VALUE:
                raise AdminError(f"{name} must be a string of 1 to {_MAX_VALUE} characters")
            if any(ord(c) < 0x20 for c in value):
                raise AdminError(f"{name} must not contain control characters")
            if name == "email" and not _EMAIL.match(value):
                raise AdminError(f"{value!r} is not an email address")
            if name == "birthdate" and not _BIRTHDATE.match(value):
                raise AdminError("birthdate must be YYYY-MM-DD (or YYYY, or 0000-MM-DD)")
        result[name] = value
    return result


def user_claims(conn: Connection, user_id: str) -> dict[str, Any]:
    """Every claim the person's record holds, with ``preferred_username`` and ``updated_at``
    (one query); empty when there is no such person."""
    row = conn.execute(
        select(users.c.username, users.c.updated_at, users.c.claims).where(
            users.c.user_id == user_id
        )
    ).first()
    if row is None:
        return {}
    stored = json.loads(str(row[2])) if row[2] else {}
    if not isinstance(stored, dict):
        stored = {}
    return {
        **{k: v for k, v in stored.items() if k in _STORED},
        "preferred_username": str(row[0]),
        "updated_at": int(row[1]),
    }


def wants_claims(scopes: Sequence[str]) -> bool:
    """True when ``scopes`` release any claim of the person's record."""
    return any(scope in SCOPE_CLAIMS for scope in scopes)


def released(claims: Mapping[str, Any], scopes: Sequence[str]) -> dict[str, Any]:
    """The claims that ``scopes`` release (those the record holds)."""
    wanted = {name for scope in scopes for name in SCOPE_CLAIMS.get(scope, ())}
    return {name: value for name, value in claims.items() if name in wanted}


def beyond_scopes(names: Iterable[str], scopes: Sequence[str]) -> list[str]:
    """The person's claims among ``names`` that ``scopes`` do not release (asked for by name
    with the ``claims`` parameter: the consent page names them), sorted."""
    wanted = {name for scope in scopes for name in SCOPE_CLAIMS.get(scope, ())}
    return sorted(set(names) - wanted - {"acr"})
