"""JWT claim validation (RFC 7519 sec. 4.1, RFC 8725 sec. 3.8-3.12, RFC 9068 sec. 4).

Registered claims are type-checked whenever present (a wrong type is never "absent"), times
are finite numbers and never booleans, and strings are compared exactly, with no Unicode
normalisation or case folding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from time import time as _time

from tessera.errors import (
    ClaimError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSubjectError,
    InvalidTypeError,
    MissingClaimError,
    NotYetValidError,
)

TYPE_CHECKING = False  # typing and datetime cost start-up time; values are duck-typed
if TYPE_CHECKING:
    from datetime import datetime, timedelta
    from typing import Any

    Validator = Callable[[Any], bool]

__all__ = ["MAX_LEEWAY", "ClaimRules", "normalize_typ"]

MAX_LEEWAY = 300.0
_INT_BOUND = 2**62
_ABSENT = object()


def normalize_typ(value: str) -> str:
    """A media type as RFC 7515 sec. 4.1.9 compares it: lower case, ``application/`` optional."""
    lowered = value.lower()
    if lowered.startswith("application/") and lowered.count("/") == 1:
        return lowered[12:]
    return lowered


def _seconds(value: float | int | timedelta, what: str) -> float:
    if hasattr(value, "total_seconds"):  # datetime.timedelta
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{what} must be a finite number of seconds")
    return float(value)


def _strings(value: str | Iterable[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((value,))
    values = frozenset(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise ConfigurationError(f"{what} must be a string or a non-empty list of strings")
    return values


def _is_number(value: Any) -> bool:
    # bool is an int in Python, so compare types exactly; NaN and Infinity never get here (the
    # JSON parser refuses them) and absurd integers are refused before float arithmetic.
    kind = type(value)
    if kind is int:
        return bool(-_INT_BOUND < value < _INT_BOUND)
    return kind is float and math.isfinite(value)


class ClaimRules:
    """A verifier's checks, resolved once from ``decode``'s arguments."""

    __slots__ = (
        "audiences",
        "issuers",
        "leeway",
        "max_age",
        "require",
        "subject",
        "typ",
        "validators",
    )

    def __init__(
        self,
        *,
        issuers: frozenset[str] | None,
        audiences: frozenset[str] | None,
        subject: str | None,
        typ: str | None,
        leeway: float,
        require: tuple[str, ...],
        max_age: float | None,
        validators: tuple[tuple[str, Validator], ...],
    ) -> None:
        self.issuers = issuers
        self.audiences = audiences
        self.subject = subject
        self.typ = typ
        self.leeway = leeway
        self.require = require
        self.max_age = max_age
        self.validators = validators

    @classmethod
    def build(
        cls,
        *,
        issuer: str | Iterable[str] | None,
        audience: str | Iterable[str] | None,
        subject: str | None,
        typ: str | None,
        leeway: float | int | timedelta,
        require: Collection[str],
        max_age: float | int | timedelta | None,
        validators: Mapping[str, Validator] | None,
    ) -> ClaimRules:
        """Check and freeze the arguments.

        Raises:
            ConfigurationError: a leeway that is negative, infinite or above 300 s, etc.
        """
        seconds = _seconds(leeway, "leeway")
        if seconds < 0 or seconds > MAX_LEEWAY:
            raise ConfigurationError(f"leeway must be between 0 and {MAX_LEEWAY:g} seconds")
        if isinstance(require, str):
            raise ConfigurationError("require must be a collection of claim names")
        if subject is not None and not isinstance(subject, str):
            raise ConfigurationError("subject must be a string")
        if typ is not None and not isinstance(typ, str):
            raise ConfigurationError("typ must be a string")
        return cls(
            issuers=_strings(issuer, "issuer"),
            audiences=_strings(audience, "audience"),
            subject=subject,
            typ=normalize_typ(typ) if typ is not None else None,
            leeway=seconds,
            require=tuple(require),
            max_age=None if max_age is None else _seconds(max_age, "max_age"),
            validators=tuple((validators or {}).items()),
        )

    def check_typ(self, header: Mapping[str, Any]) -> None:
        """RFC 8725 sec. 3.11 explicit typing; RFC 9068 sec. 4 for ``at+jwt``."""
        if self.typ is None:
            return
        value = header.get("typ")
        if not isinstance(value, str) or normalize_typ(value) != self.typ:
            raise InvalidTypeError(f"token type must be {self.typ!r}")

    def check(self, claims: dict[str, Any], now: float | int | datetime | None) -> None:
        """Validate ``claims`` at time ``now`` (defaults to the system clock).

        One flat pass over the registered claims: this runs for every verified token.

        Raises:
            ClaimError: a subclass naming the claim that failed.
        """
        if now is None:
            current = _time()
        elif hasattr(now, "timestamp"):  # datetime.datetime
            current = now.timestamp()
        else:
            current = _seconds(now, "now")
        leeway = self.leeway
        for name in self.require:
            if name not in claims:
                raise MissingClaimError(f"the {name!r} claim is required", name)
        get = claims.get
        # Presence, not truthiness: "exp": null is a wrong type, never "absent" (#36).
        exp = get("exp", _ABSENT)
        if exp is not _ABSENT:
            if not _is_number(exp):
                raise ClaimError("exp must be a number", "exp")
            if current >= exp + leeway:
                raise ExpiredTokenError("the token has expired", "exp")
        nbf = get("nbf", _ABSENT)
        if nbf is not _ABSENT:
            if not _is_number(nbf):
                raise ClaimError("nbf must be a number", "nbf")
            if current < nbf - leeway:
                raise NotYetValidError("the token is not valid yet", "nbf")
        iat = get("iat", _ABSENT)
        if iat is not _ABSENT:
            if not _is_number(iat):
                raise ClaimError("iat must be a number", "iat")
            if iat > current + leeway:
                raise NotYetValidError("the token was issued in the future", "iat")
            if self.max_age is not None and current - iat > self.max_age + leeway:
                raise ExpiredTokenError("the token is older than max_age", "iat")
        elif self.max_age is not None:
            raise MissingClaimError("max_age needs the 'iat' claim", "iat")
        iss = get("iss", _ABSENT)
        if iss is not _ABSENT:
            if type(iss) is not str:
                raise InvalidIssuerError("iss must be a string", "iss")
            if self.issuers is not None and iss not in self.issuers:
                raise InvalidIssuerError("the token was issued by an unexpected issuer", "iss")
        elif self.issuers is not None:
            raise InvalidIssuerError("the token has no issuer", "iss")
        sub = get("sub", _ABSENT)
        if sub is not _ABSENT:
            if type(sub) is not str:
                raise InvalidSubjectError("sub must be a string", "sub")
            if self.subject is not None and sub != self.subject:
                raise InvalidSubjectError("the token has an unexpected subject", "sub")
        elif self.subject is not None:
            raise InvalidSubjectError("the token has no subject", "sub")
        jti = get("jti", _ABSENT)
        if jti is not _ABSENT and type(jti) is not str:
            raise ClaimError("jti must be a string", "jti")
        aud = get("aud", _ABSENT)
        if aud is not _ABSENT:
            audiences = self.audiences
            if type(aud) is str:
                if audiences is not None and aud in audiences:
                    pass  # the common case, decided without building a list
                elif audiences is None:
                    raise InvalidAudienceError(
                        "the token names an audience but no audience was expected", "aud"
                    )
                else:
                    raise InvalidAudienceError("the token is not meant for this audience", "aud")
            elif type(aud) is list and aud and all(type(a) is str for a in aud):
                if audiences is None:
                    raise InvalidAudienceError(
                        "the token names an audience but no audience was expected", "aud"
                    )
                if audiences.isdisjoint(aud):
                    raise InvalidAudienceError("the token is not meant for this audience", "aud")
            else:
                raise InvalidAudienceError("aud must be a string or non-empty string array", "aud")
        elif self.audiences is not None:
            raise InvalidAudienceError("the token has no audience", "aud")
        for name, predicate in self.validators:
            if name not in claims:
                raise MissingClaimError(f"the {name!r} claim is required", name)
            if not predicate(claims[name]):
                raise ClaimError(f"the {name!r} claim failed validation", name)
