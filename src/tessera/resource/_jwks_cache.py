"""The JWKS cache as a state machine with no I/O: the sync and async clients both drive it.

It decides *when* to fetch (cold cache, ``Cache-Control`` expiry, unknown ``kid``), keeps one
fetch in flight, and keeps serving the last good keys while the issuer is down (stale-if-error).
Time is always passed in, so tests move the clock instead of sleeping.

Unknown ``kid`` values cannot make us hammer the issuer (attack catalogue #52): after a good
fetch an unknown ``kid`` may cause the next one only ``unknown_kid_cooldown`` later (a key
rotated in at once is picked up within seconds), that wait doubles after each such fetch that
brought no new key (made-up ``kid`` values decay to one fetch per ``cooldown``), and
``max_fetches_per_minute`` caps every fetch whatever its cause.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tessera.errors import ConfigurationError, InvalidKey
from tessera.jose.jwk import MAX_JWKS_KEYS, KeySet
from tessera.resource.errors import KeysUnavailableError

__all__ = ["Action", "CachePolicy", "JWKSCache", "load_keyset", "parse_max_age"]

logger = logging.getLogger("tessera.resource")


_DURATIONS = (
    "default_ttl",
    "min_ttl",
    "max_ttl",
    "cooldown",
    "unknown_kid_cooldown",
    "stale_if_error",
)
_WINDOW = 60.0  # seconds over which max_fetches_per_minute counts


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long keys live and how often the issuer may be asked (all values in seconds).

    ``min_ttl``/``max_ttl`` clamp the ``Cache-Control: max-age`` the issuer sends;
    ``default_ttl`` applies when it sends none. ``cooldown`` is the least time between two
    fetches after a failed one, or to refresh expired keys. ``unknown_kid_cooldown`` is the
    least time after a good fetch before a token naming an unknown ``kid`` may cause another
    (never more than ``cooldown``); it doubles, up to ``cooldown``, after each such fetch that
    brought no new key, and falls back once a fetch brings one or refreshes expired keys.
    ``max_fetches_per_minute`` bounds all fetches in any 60 s, whatever their cause.
    ``stale_if_error`` is how long past their expiry cached keys are still used while the
    issuer cannot be reached.
    """

    default_ttl: float = 300.0
    min_ttl: float = 60.0
    max_ttl: float = 86400.0
    cooldown: float = 30.0
    stale_if_error: float = 86400.0
    unknown_kid_cooldown: float = 5.0
    max_fetches_per_minute: int = 10

    def __post_init__(self) -> None:
        for name in _DURATIONS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{name} must be a number of seconds")
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{name} must be a finite, non-negative number")
        if not self.min_ttl <= self.max_ttl:
            raise ConfigurationError("min_ttl must not exceed max_ttl")
        cap = self.max_fetches_per_minute
        if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= 10_000:
            raise ConfigurationError("max_fetches_per_minute must be an integer from 1 to 10000")

    def kid_cooldown(self, misses: int) -> float:
        """The wait before an unknown ``kid`` may cause a fetch, after ``misses`` fetches in a
        row for unknown ``kid`` values that brought no new key."""
        return min(self.cooldown, self.unknown_kid_cooldown * 2.0 ** min(misses, 32))

    def ttl(self, max_age: float | None) -> float:
        """A fresh key set's lifetime: the issuer's ``max_age`` clamped to the floor/ceiling."""
        value = self.default_ttl if max_age is None else max_age
        return min(max(value, self.min_ttl), self.max_ttl)


class Action(enum.Enum):
    """What a driver must do before it can answer a key lookup."""

    USE = "use"  # answer from the cache now (result() may still raise)
    FETCH = "fetch"  # start a fetch and wait for it: there is nothing usable to answer with
    REFRESH = "refresh"  # start a fetch; the current keys may answer meanwhile
    WAIT = "wait"  # a fetch is in flight and the answer depends on it


def parse_max_age(headers: Mapping[str, str]) -> float | None:
    """Seconds of freshness from ``Cache-Control`` (RFC 9111 sec. 5.2.2.1) minus ``Age``.

    ``no-store``/``no-cache`` count as zero (the policy's floor then applies); a missing or
    unparsable ``max-age`` gives None (the policy's default applies).
    """
    value = headers.get("cache-control")
    if not value:
        return None
    max_age: float | None = None
    for directive in value.split(","):
        name, _, argument = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age":
            argument = argument.strip().strip('"')
            if not argument.isdigit():
                return None
            max_age = float(int(argument[:12]))
    if max_age is None:
        return None
    age = headers.get("age", "").strip()
    if age.isdigit():
        max_age = max(0.0, max_age - int(age[:12]))
    return max_age


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def load_keyset(body: bytes, source: str) -> KeySet:
    """Parse a fetched JWK Set, skipping (and logging) the keys that cannot verify signatures.

    Symmetric (``oct``) keys never belong in a published JWKS, encryption keys cannot verify,
    and a duplicated ``kid`` is ambiguous; each is left out with a warning instead of failing
    the whole set (attack catalogue #52).

    Raises:
        InvalidKey: not a JWK Set, too many keys, or no usable key at all.
    """
    try:
        data = json.loads(body, object_pairs_hook=_unique_members)
    except (ValueError, RecursionError):
        raise InvalidKey("the JWK Set is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise InvalidKey("a JWK Set needs a 'keys' array")
    entries: list[Any] = data["keys"]
    if len(entries) > MAX_JWKS_KEYS:
        raise InvalidKey(f"a JWK Set may hold at most {MAX_JWKS_KEYS} keys")
    kids = Counter(e.get("kid") for e in entries if isinstance(e, dict))
    duplicated = {kid for kid, count in kids.items() if count > 1 and isinstance(kid, str)}
    kept: list[Any] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict):
            skip = None
            if entry.get("kty") == "oct":
                skip = "symmetric keys are never trusted from a JWKS"
            elif entry.get("use") not in (None, "sig"):
                skip = "not a signature key"
            elif entry.get("kid") in duplicated:
                skip = "its kid is not unique in the set"
            if skip is not None:
                logger.warning("skipping JWK %d from %s: %s", index, source, skip)
                continue
        kept.append(entry)
    keyset = KeySet.from_jwks({"keys": kept}, skip_invalid=True)
    for reason in keyset.rejected:
        logger.warning("skipping a JWK from %s: %s", source, reason)
    if not len(keyset):
        raise InvalidKey("the JWK Set has no usable signature key")
    return keyset


class JWKSCache:
    """The cache's state; drivers call :meth:`plan`, then :meth:`begin`/:meth:`succeeded`/
    :meth:`failed` around a fetch, and :meth:`result` to answer.

    Only the driver that got FETCH or REFRESH from :meth:`plan` calls :meth:`begin`; while a
    fetch is in flight, :meth:`plan` answers WAIT (or USE when the cached keys suffice), so
    there is never more than one fetch in flight however many requests wait.
    """

    __slots__ = (
        "attempted_at",
        "expires_at",
        "failure",
        "fetched_at",
        "fetches",
        "in_flight",
        "keys",
        "misses",
        "policy",
        "recent",
        "unknown_kids",
        "wanted",
    )

    def __init__(self, policy: CachePolicy) -> None:
        self.policy = policy
        self.keys: KeySet | None = None
        self.fetched_at = -math.inf
        self.expires_at = -math.inf
        self.attempted_at = -math.inf
        self.failure: str | None = None
        self.in_flight = False
        self.fetches = 0
        self.misses = 0
        """Fetches in a row for an unknown ``kid`` that brought no new key (the backoff)."""
        self.unknown_kids = 0
        """Lookups answered with keys that lack the ``kid`` asked for (the token is refused)."""
        self.wanted: str | None = None
        self.recent: deque[float] = deque(maxlen=policy.max_fetches_per_minute)

    def _has(self, kid: str | None) -> bool:
        keys = self.keys
        return keys is not None and (kid is None or kid in keys)

    def _allowed(self, now: float, wait: float) -> bool:
        """Whether a fetch may start: ``wait`` since the last one, and under the cap."""
        if now < self.attempted_at + wait:
            return False
        recent = self.recent
        return len(recent) < self.policy.max_fetches_per_minute or now >= recent[0] + _WINDOW

    def plan(self, kid: str | None, now: float) -> Action:
        """What to do to answer a lookup for ``kid`` (None: the token names no key) at ``now``."""
        have = self._has(kid)
        if self.in_flight:
            return Action.USE if have else Action.WAIT
        policy = self.policy
        if have:
            if now < self.expires_at or not self._allowed(now, policy.cooldown):
                return Action.USE
            return Action.REFRESH
        if self.keys is None or self.failure is not None:
            # No keys yet, or the issuer failed us last time: ask again once per cooldown.
            return Action.FETCH if self._allowed(now, policy.cooldown) else Action.USE
        # The issuer answered and the kid is unknown: maybe a key rotated in at once.
        return Action.FETCH if self._allowed(now, policy.kid_cooldown(self.misses)) else Action.USE

    def fresh(self, kid: str | None, now: float) -> KeySet | None:
        """The keys when they are fresh, the last fetch succeeded and they answer for ``kid``.

        The common case, without planning: when this gives keys, :meth:`plan` would say USE
        and :meth:`result` would return the same keys. None means: ask :meth:`plan`.
        """
        keys = self.keys
        if (
            keys is not None
            and now < self.expires_at
            and self.failure is None
            and (kid is None or kid in keys)
        ):
            return keys
        return None

    def begin(self, now: float, kid: str | None = None) -> None:
        """A fetch starts now, for a lookup of ``kid``."""
        self.in_flight = True
        self.attempted_at = now
        self.fetches += 1
        self.recent.append(now)
        self.wanted = kid if self.keys is not None and not self._has(kid) else None

    def succeeded(self, keys: KeySet, max_age: float | None, now: float) -> None:
        """The fetch returned ``keys``, fresh for ``max_age`` seconds (None: not said)."""
        old = self.keys
        gained = old is None or any(key.kid is not None and key.kid not in old for key in keys)
        if gained or self.wanted is None:
            self.misses = 0  # a new key, or a refresh no token asked for: back to the short wait
        else:
            self.misses += 1  # a kid the issuer does not know: wait longer next time
        self.wanted = None
        self.keys = keys
        self.fetched_at = now
        self.expires_at = now + self.policy.ttl(max_age)
        self.failure = None
        self.in_flight = False

    def failed(self, reason: str, now: float) -> None:
        """The fetch failed; cached keys, if any, are kept (stale-if-error)."""
        self.failure = reason
        self.in_flight = False
        self.wanted = None
        if self.keys is not None:
            age = now - self.fetched_at
            logger.warning(
                "serving cached JWKS keys fetched %.0f s ago: the refresh failed (%s)", age, reason
            )

    def retry_after(self, now: float) -> int:
        """Whole seconds until the next fetch may start (for a 503's ``Retry-After``)."""
        at = self.attempted_at + self.policy.cooldown
        recent = self.recent
        if len(recent) >= self.policy.max_fetches_per_minute:
            at = max(at, recent[0] + _WINDOW)
        return max(1, math.ceil(at - now))

    def result(self, kid: str | None, now: float) -> KeySet:
        """The keys to verify with.

        A token whose ``kid`` is unknown gets the current keys (and so a 401) when the issuer
        answered the last fetch; when that fetch failed, nobody can tell whether the key is new,
        so the answer is 503 rather than a wrong 401.

        Raises:
            KeysUnavailableError: no keys, keys too stale, or unknown ``kid`` while the issuer
                cannot be reached.
        """
        keys = self.keys
        if keys is None:
            raise KeysUnavailableError(
                "the issuer's signing keys are not available yet", self.retry_after(now)
            )
        if self.failure is not None:
            if now >= self.expires_at + self.policy.stale_if_error:
                raise KeysUnavailableError(
                    "the issuer's signing keys are too old to use and cannot be refreshed",
                    self.retry_after(now),
                )
            if kid is not None and kid not in keys:
                raise KeysUnavailableError(
                    "the token's signing key is unknown and the issuer cannot be reached",
                    self.retry_after(now),
                )
        elif kid is not None and kid not in keys:
            self.unknown_kids += 1
        return keys
