"""Signing keys and their rotation: pending -> active -> retired -> removed.

There is one ring of keys per algorithm in ``Settings.key_algorithms``: the access tokens'
``signing_alg`` (ES256 by default) and the ID tokens' ``id_token_signing_alg`` (RS256 by
default, as OIDC Core sec. 15.1 needs); each ring rotates on its own schedule, and all are
published in the one JWKS.

Every key row carries four times, and its state at any moment follows from them::

    created_at       published in JWKS (pending: verifiers learn it before it signs)
    activate_at      signs new tokens (active), at least one JWKS cache period after created_at
    retire_at        stops signing (retired), still published for its tokens' lifetime
    remove_at        leaves JWKS (removed; the row is deleted)

So a verifier that caches JWKS for ``jwks_max_age`` always holds the key of any token it is
shown: the key that signs at time *t* was published before *t - max_age*, and a retired key
stays published until every token it signed has expired. Replicas agree because they read
the same rows; schedule changes take a database lock (``Database.key_schedule``), and each
replica re-reads the rows every ``key_cache_ttl`` seconds, so a manual rotation done through
one replica is seen by the others within seconds while scheduled ones switch on time.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

import tessera
from tessera.server.config import Settings
from tessera.server.errors import ServerConfigError
from tessera.server.kek import KEK
from tessera.server.storage import keys as key_rows
from tessera.server.storage.database import Database
from tessera.server.storage.keys import KeyRow

__all__ = ["Clock", "KeyInfo", "KeyManager", "KeyState", "Schedule"]

Clock = Callable[[], float]
"""Seconds since the epoch; injectable so tests travel in time instead of sleeping."""


class KeyState(enum.Enum):
    """Where a key is in its lifecycle at a given moment."""

    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key's public description for listings (never its private material)."""

    kid: str
    alg: str
    state: KeyState
    created_at: float
    activate_at: float
    retire_at: float | None
    remove_at: float | None


class Schedule:
    """An immutable snapshot of the key rows, answering "who signs / who is published now"."""

    __slots__ = ("loaded_at", "rows")

    def __init__(self, rows: Sequence[KeyRow], loaded_at: float) -> None:
        self.rows = tuple(rows)
        self.loaded_at = loaded_at

    def signer(self, now: float, alg: str | None = None) -> KeyRow | None:
        """The key that signs at ``now`` (for ``alg``, when given): the newest activated one
        not yet retired."""
        found = None
        for row in self.rows:  # ordered by activate_at
            if alg is not None and row.alg != alg:
                continue
            if row.activate_at <= now and (row.retire_at is None or now < row.retire_at):
                found = row
        return found

    def pending(self, now: float, alg: str | None = None) -> list[KeyRow]:
        """Keys published but not signing yet (for ``alg``, when given)."""
        return [
            r
            for r in self.rows
            if r.activate_at > now and r.retire_at is None and (alg is None or r.alg == alg)
        ]

    def published(self, now: float) -> list[KeyRow]:
        """Keys in JWKS at ``now``: created and not removed."""
        return [
            r
            for r in self.rows
            if r.created_at <= now and (r.remove_at is None or now < r.remove_at)
        ]

    def state(self, row: KeyRow, now: float) -> KeyState:
        """The lifecycle state of ``row`` at ``now``."""
        if row.remove_at is not None and now >= row.remove_at:
            return KeyState.REMOVED
        if row.retire_at is not None and now >= row.retire_at:
            return KeyState.RETIRED
        if row.activate_at > now:
            return KeyState.PENDING
        return KeyState.ACTIVE


def _public_jwk(key: tessera.Key) -> dict[str, object]:
    jwk = key.public().to_jwk()
    jwk["use"] = "sig"
    return jwk


class KeyManager:
    """Creates, rotates and serves the signing keys; caches them in memory for the hot path."""

    def __init__(
        self, db: Database, kek: KEK, settings: Settings, *, clock: Clock = time.time
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._kek = kek
        self._lock = threading.Lock()
        self._schedule: Schedule | None = None
        self._private: dict[str, tessera.Key] = {}
        self._jwks_cache: tuple[tuple[str, ...], bytes, str] | None = None
        self.refreshed_in_background = False
        """True while a loop calls :meth:`refresh` every ``key_cache_ttl`` (the server's
        maintenance loop): requests then sign with the snapshot they find, however old, and
        never wait for the database (the event loop would wait with them). While the database
        does not answer, the last snapshot keeps signing on schedule."""

    # -- the hot path ----------------------------------------------------------------------

    def schedule(self) -> Schedule:
        """The cached snapshot, re-read when older than ``key_cache_ttl`` (unless
        :attr:`refreshed_in_background`)."""
        snapshot = self._schedule
        if snapshot is not None and self.refreshed_in_background:
            return snapshot
        now = self.clock()
        if snapshot is None or not 0 <= now - snapshot.loaded_at < self.settings.key_cache_ttl:
            snapshot = self.refresh()
        return snapshot

    def signing_key(self, alg: str | None = None) -> tessera.Key:
        """The private key that signs now: access tokens' (``signing_alg``) by default, or
        the one of the ``alg`` ring (each algorithm in ``key_algorithms`` has its own).

        Raises:
            ServerConfigError: no key can sign (run ``tessera keys rotate`` or restart serve).
        """
        now = self.clock()
        alg = alg or self.settings.signing_alg
        row = self.schedule().signer(now, alg)
        if row is None:
            self.maintain()
            row = self.refresh().signer(now, alg)
            if row is None:
                raise ServerConfigError(f"no {alg} signing key is active")
        key = self._private.get(row.kid)
        if key is None:
            key = self._load_private(row)
        return key

    def jwks(self) -> tuple[bytes, str]:
        """The JWK Set document (public members only) and its ETag."""
        now = self.clock()
        rows = self.schedule().published(now)
        kids = tuple(row.kid for row in rows)
        cached = self._jwks_cache
        if cached is not None and cached[0] == kids:
            return cached[1], cached[2]
        keys = [json.loads(row.public_jwk) for row in rows]
        body = json.dumps({"keys": keys}, separators=(",", ":")).encode()
        digest = hashlib.sha256(body).digest()[:16]
        etag = '"' + base64.urlsafe_b64encode(digest).rstrip(b"=").decode() + '"'
        self._jwks_cache = (kids, body, etag)
        return body, etag

    def refresh(self) -> Schedule:
        """Re-read the key rows now (one replica sees another's rotation this way)."""
        with self._lock:
            with self.db.read() as conn:
                rows = key_rows.list_keys(conn)
            snapshot = Schedule(rows, self.clock())
            self._schedule = snapshot
            live = {row.kid for row in rows}
            for kid in list(self._private):
                if kid not in live:
                    del self._private[kid]
            return snapshot

    def check_kek(self) -> None:
        """Open every stored key that signs now or will: a server given another key-encryption
        key than the one they were sealed with (a replica started without it) stops here, at
        start, instead of answering 503 to every token request.

        Raises:
            ServerConfigError: a key this KEK cannot open.
        """
        now = self.clock()
        schedule = self.refresh()
        for row in schedule.rows:
            live = schedule.state(row, now) in (KeyState.PENDING, KeyState.ACTIVE)
            if live and row.kid not in self._private:
                self._load_private(row)

    def _load_private(self, row: KeyRow) -> tessera.Key:
        plaintext = self._kek.open(row.private_jwk, row.kid)
        key = tessera.Key.from_jwk(plaintext)
        self._private[row.kid] = key
        return key

    # -- lifecycle (administration and the maintenance loop) -------------------------------

    def _new_row(self, now: float, activate_at: float, alg: str) -> KeyRow:
        key = tessera.Key.generate(alg)
        kid = key.kid or key.thumbprint()
        private = json.dumps(key.to_jwk(private=True)).encode()
        return KeyRow(
            kid=kid,
            alg=alg,
            public_jwk=json.dumps(_public_jwk(key), separators=(",", ":")),
            private_jwk=self._kek.seal(private, kid),
            created_at=now,
            activate_at=activate_at,
            retire_at=None,
            remove_at=None,
        )

    def maintain(self) -> list[str]:
        """Apply the schedule to every ring (first key, scheduled rotation), retire rings of
        algorithms no longer configured, remove expired keys. What it did, in words."""
        done: list[str] = []
        now = self.clock()
        with self.db.key_schedule() as conn:
            schedule = Schedule(key_rows.list_keys(conn), now)
            for alg in self.settings.key_algorithms:
                self._maintain_ring(conn, schedule, alg, now, done)
            for row in schedule.rows:
                if row.alg not in self.settings.key_algorithms and row.retire_at is None:
                    self._retire(conn, row, now)
                    done.append(f"retired {row.kid}: {row.alg} is no longer configured")
            for kid in key_rows.delete_removed(conn, now):
                done.append(f"removed {kid} from JWKS")
        if done:
            self.refresh()
        return done

    def _maintain_ring(
        self, conn: Connection, schedule: Schedule, alg: str, now: float, done: list[str]
    ) -> None:
        signer = schedule.signer(now, alg)
        pending = schedule.pending(now, alg)
        if signer is None:
            if pending:  # something left a gap: the next key signs at once
                key_rows.set_schedule(conn, pending[0].kid, activate_at=now)
                done.append(f"activated {pending[0].kid} early: no {alg} key was signing")
            else:
                row = self._new_row(now, now, alg)
                key_rows.insert_key(conn, row)
                done.append(f"created signing key {row.kid} ({row.alg})")
        elif not pending:
            due = signer.retire_at or signer.activate_at + self.settings.rotation_period
            if now >= due - self.settings.pending_period:
                activate_at = max(due, now + self.settings.pending_period)
                row = self._new_row(now, activate_at, alg)
                key_rows.insert_key(conn, row)
                self._retire(conn, signer, activate_at)
                done.append(f"scheduled rotation: {row.kid} replaces {signer.kid}")

    def _retire(self, conn: Connection, row: KeyRow, at: float) -> None:
        key_rows.set_schedule(
            conn,
            row.kid,
            retire_at=at,
            remove_at=at + self.settings.retired_period,
        )

    def rotate(self, *, immediately: bool = False, alg: str | None = None) -> KeyInfo:
        """Start a rotation of the ``alg`` ring (default: the access tokens' ``signing_alg``):
        a new key, published now, signing after one JWKS cache period.

        With ``immediately`` the new key signs at once; verifiers that cache JWKS then meet
        an unknown ``kid`` and must refetch (the resource toolkit does within 5 s by default;
        jose and Nimbus JOSE+JWT within 30 s): until then they refuse its tokens.

        Raises:
            ServerConfigError: a rotation is already pending, or ``alg`` has no ring.
        """
        now = self.clock()
        alg = alg or self.settings.signing_alg
        if alg not in self.settings.key_algorithms:
            raise ServerConfigError(
                f"no {alg} keys: the rings are {', '.join(self.settings.key_algorithms)}"
            )
        with self.db.key_schedule() as conn:
            schedule = Schedule(key_rows.list_keys(conn), now)
            pending = schedule.pending(now, alg)
            if pending and not immediately:
                raise ServerConfigError(
                    f"a rotation is already scheduled: {pending[0].kid} signs from "
                    f"{_iso(pending[0].activate_at)}"
                )
            signer = schedule.signer(now, alg)
            if pending:
                row = pending[0]
                key_rows.set_schedule(conn, row.kid, activate_at=now)
            else:
                activate_at = now if immediately else now + self.settings.pending_period
                row = self._new_row(now, activate_at, alg)
                key_rows.insert_key(conn, row)
            if signer is not None:
                self._retire(conn, signer, now if immediately else row.activate_at)
        self.refresh()
        return self._info(row.kid)

    def retire(self, kid: str, *, unpublish: bool = False) -> KeyInfo:
        """Stop signing with ``kid`` now; with ``unpublish`` also drop it from JWKS now.

        If it was the signing key, the pending key (or a new one) signs at once. Unpublishing
        makes every token it signed fail verification: for a compromised key.

        Raises:
            ServerConfigError: no such key.
        """
        now = self.clock()
        with self.db.key_schedule() as conn:
            schedule = Schedule(key_rows.list_keys(conn), now)
            row = next((r for r in schedule.rows if r.kid == kid), None)
            if row is None or schedule.state(row, now) is KeyState.REMOVED:
                raise ServerConfigError(f"no key with kid {kid!r}")
            was_signer = schedule.signer(now, row.alg) == row
            remove_at = now if unpublish else now + self.settings.retired_period
            if row.remove_at is not None and not unpublish:
                remove_at = min(remove_at, row.remove_at)
            key_rows.set_schedule(
                conn, kid, retire_at=min(now, row.retire_at or now), remove_at=remove_at
            )
            if unpublish or remove_at <= now:
                key_rows.delete_removed(conn, now)
            if was_signer and row.alg in self.settings.key_algorithms:
                pending = schedule.pending(now, row.alg)
                if pending:
                    key_rows.set_schedule(conn, pending[0].kid, activate_at=now)
                else:
                    key_rows.insert_key(conn, self._new_row(now, now, row.alg))
        self.refresh()
        infos = {info.kid: info for info in self.list_keys(include_removed=True)}
        return infos.get(kid) or KeyInfo(
            kid=kid,
            alg=row.alg,
            state=KeyState.REMOVED,
            created_at=row.created_at,
            activate_at=row.activate_at,
            retire_at=now,
            remove_at=now,
        )

    def list_keys(self, *, include_removed: bool = False) -> list[KeyInfo]:
        """Every stored key with its state now."""
        now = self.clock()
        schedule = self.refresh()
        infos = [
            KeyInfo(
                kid=row.kid,
                alg=row.alg,
                state=schedule.state(row, now),
                created_at=row.created_at,
                activate_at=row.activate_at,
                retire_at=row.retire_at,
                remove_at=row.remove_at,
            )
            for row in schedule.rows
        ]
        return [i for i in infos if include_removed or i.state is not KeyState.REMOVED]

    def _info(self, kid: str) -> KeyInfo:
        return next(info for info in self.list_keys(include_removed=True) if info.kid == kid)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
