"""People who sign in: administration (add, list, remove, set a password) and sign-in with
throttling.

Passwords are hashed with argon2id (argon2-cffi's defaults: RFC 9106's second recommended
option). An unknown name costs the same hash as a known one. After ``login_free_failures``
failures within ``login_window``, each further failure for that user name *or* that client
address locks it for ``login_lock`` seconds, doubling per failure up to ``login_window``;
a locked sign-in is refused before any hash is computed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError

from tessera.server.config import Settings
from tessera.server.errors import AdminError
from tessera.server.registry import new_id
from tessera.server.storage import throttle
from tessera.server.storage import users as user_rows
from tessera.server.storage.database import Database
from tessera.server.storage.users import UserRecord

__all__ = [
    "MAX_PASSWORD",
    "SignIn",
    "SignInResult",
    "add_user",
    "get_claims",
    "get_user",
    "is_username",
    "list_users",
    "remove_user",
    "set_password",
    "update_claims",
]

MAX_PASSWORD = 1024
"""Longest password accepted (bytes of UTF-8): hashing cost must not depend on the attacker."""
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


def is_username(value: str) -> bool:
    """True for a valid user name: 1-64 letters, digits and ``. _ @ + -``, starting alnum."""
    return bool(_USERNAME.match(value))


def _check_password(password: str) -> str:
    if not password or len(password.encode()) > MAX_PASSWORD:
        raise AdminError(f"a password must be 1 to {MAX_PASSWORD} bytes")
    if len(password) < 8:
        raise AdminError("a password must have at least 8 characters")
    return password


def add_user(db: Database, username: str, password: str, *, now: float) -> UserRecord:
    """Create a user.

    Raises:
        AdminError: a bad name or password, or a name already taken.
    """
    if not is_username(username):
        raise AdminError(
            "a user name is 1-64 letters, digits and . _ @ + - (starting with a letter or digit)"
        )
    record = UserRecord(
        user_id=new_id(),
        username=username,
        password_hash=_HASHER.hash(_check_password(password)),
        created_at=now,
        updated_at=now,
    )
    try:
        with db.write() as conn:
            user_rows.insert_user(conn, record)
    except IntegrityError:
        raise AdminError(f"a user named {username!r} already exists") from None
    return record


def get_user(db: Database, username: str) -> UserRecord:
    """The user with this name.

    Raises:
        AdminError: no such user.
    """
    with db.read() as conn:
        record = user_rows.find_by_name(conn, username)
    if record is None:
        raise AdminError(f"no user {username!r}")
    return record


def list_users(db: Database) -> list[UserRecord]:
    """Every user, by name."""
    with db.read() as conn:
        return user_rows.list_all(conn)


def remove_user(db: Database, username: str) -> UserRecord:
    """Delete a user (tokens already issued to them expire on their own).

    Raises:
        AdminError: no such user.
    """
    record = get_user(db, username)
    with db.write() as conn:
        user_rows.delete_user(conn, record.user_id)
    return record


def set_password(db: Database, username: str, password: str, *, now: float) -> UserRecord:
    """Replace a user's password.

    Raises:
        AdminError: no such user, or a bad password.
    """
    record = get_user(db, username)
    password_hash = _HASHER.hash(_check_password(password))
    with db.write() as conn:
        user_rows.set_hash(conn, record.user_id, password_hash, now)
        throttle.clear(conn, "user:" + username)
    return get_user(db, username)


def update_claims(
    db: Database,
    username: str,
    changes: Mapping[str, Any],
    *,
    remove: tuple[str, ...] = (),
    now: float,
) -> dict[str, Any]:
    """Set (and remove) a person's OpenID claims (email, name, ...); the claims afterwards.

    Raises:
        AdminError: no such user, or an unknown claim or bad value.
    """
    from tessera.server.oidc.claims import checked

    record = get_user(db, username)
    values = checked(changes)
    with db.write() as conn:
        claims = {**user_rows.find_claims(conn, record.user_id), **values}
        for name in remove:
            claims.pop(name, None)
        user_rows.set_claims(conn, record.user_id, claims, now)
    return claims


def get_claims(db: Database, username: str) -> dict[str, Any]:
    """The OpenID claims stored for a person.

    Raises:
        AdminError: no such user.
    """
    record = get_user(db, username)
    with db.read() as conn:
        return user_rows.find_claims(conn, record.user_id)


@dataclass(frozen=True, slots=True)
class SignInResult:
    """The outcome of a sign-in: the user, or why not (``retry_after`` when throttled)."""

    user: UserRecord | None
    retry_after: int = 0


class SignIn:
    """Checks a name and password against the stored users, with throttling."""

    def __init__(self, db: Database, settings: Settings, clock: Callable[[], float]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def attempt(self, username: str, password: str, address: str) -> SignInResult:
        """Sign in ``username`` from ``address`` (blocking: run it in a worker thread)."""
        now = self.clock()
        subjects = ("user:" + username[:64], "addr:" + address[:100])
        with self.db.read() as conn:
            locked = throttle.locked_until(conn, subjects)
            record = user_rows.find_by_name(conn, username) if is_username(username) else None
        if locked > now:
            return SignInResult(None, retry_after=max(1, int(locked - now + 0.999)))
        ok = False
        if len(password.encode()) <= MAX_PASSWORD:
            try:
                ok = _HASHER.verify(record.password_hash if record else _DUMMY, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        if ok and record is not None:
            with self.db.write() as conn:
                throttle.clear(conn, subjects[0])
                if _HASHER.check_needs_rehash(record.password_hash):
                    user_rows.set_hash(conn, record.user_id, _HASHER.hash(password), now)
            return SignInResult(record)
        settings = self.settings
        until = 0.0
        with self.db.write() as conn:
            for subject in subjects:
                until = max(
                    until,
                    throttle.record_failure(
                        conn,
                        subject,
                        now,
                        window=settings.login_window,
                        free=settings.login_free_failures,
                        base_delay=settings.login_lock,
                    ),
                )
        return SignInResult(None, retry_after=max(0, int(until - now + 0.999)))
