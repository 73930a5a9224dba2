"""Authorization after authentication: what a verified token must grant to use a resource.

A failed requirement is a 403 ``insufficient_scope`` (RFC 6750 sec. 3.1): the token is fine,
it just does not carry the needed privileges.

>>> needs = require_scopes("lab:enter")
>>> either = require_scopes("docs:read", "docs:admin", any_of=True)
>>> staff = require_claim("department", lambda value: value == "research")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from tessera.errors import ConfigurationError
from tessera.resource.access_token import AccessToken
from tessera.resource.errors import InsufficientScopeError

__all__ = [
    "ClaimRequirement",
    "Requirement",
    "ScopeRequirement",
    "check_requirements",
    "require_claim",
    "require_scopes",
]

logger = logging.getLogger("tessera.resource")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 sec. 3.3


class Requirement(Protocol):
    """Something a token must satisfy; ``scopes`` are the ones it names (for docs and 403s)."""

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes this requirement names."""
        ...

    def check(self, token: AccessToken) -> None:
        """Return if ``token`` satisfies the requirement, else raise InsufficientScopeError."""
        ...


@dataclass(frozen=True, slots=True)
class ScopeRequirement:
    """The token must grant all of ``scopes`` (or at least one, with ``any_of``)."""

    scopes: tuple[str, ...]
    any_of: bool = False

    def check(self, token: AccessToken) -> None:
        """Raises: InsufficientScopeError: the token lacks the scopes."""
        granted = token.scopes
        if self.any_of:
            if granted.isdisjoint(self.scopes):
                raise InsufficientScopeError(
                    "the token grants none of the scopes this resource accepts", self.scopes
                )
        elif not granted.issuperset(self.scopes):
            raise InsufficientScopeError("the token lacks a scope this resource needs", self.scopes)


@dataclass(frozen=True, slots=True)
class ClaimRequirement:
    """The claim ``name`` must be present and ``predicate(value)`` must return True."""

    name: str
    predicate: Callable[[Any], bool]
    description: str

    @property
    def scopes(self) -> tuple[str, ...]:
        """A claim requirement names no scope."""
        return ()

    def check(self, token: AccessToken) -> None:
        """Raises: InsufficientScopeError: the claim is missing or fails the predicate."""
        if self.name in token.claims:
            try:
                if self.predicate(token.claims[self.name]) is True:
                    return
            except Exception:  # a failing predicate denies; it must never become a 500
                logger.exception("the predicate for claim %r raised", self.name)
        raise InsufficientScopeError(self.description)


def require_scopes(*scopes: str, any_of: bool = False) -> ScopeRequirement:
    """A requirement that the token grants every scope in ``scopes`` (or any one of them).

    Raises:
        ConfigurationError: no scopes, or a scope that is not an RFC 6749 scope token.
    """
    if not scopes:
        raise ConfigurationError("require_scopes needs at least one scope")
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigurationError(f"not a valid scope: {scope!r}")
    return ScopeRequirement(tuple(dict.fromkeys(scopes)), any_of)


def require_claim(
    name: str, predicate: Callable[[Any], bool], *, description: str | None = None
) -> ClaimRequirement:
    """A requirement that claim ``name`` exists and ``predicate(value) is True``.

    ``description`` is sent to the client in the 403 (keep it free of secrets).

    Raises:
        ConfigurationError: a non-string name or a predicate that is not callable.
    """
    if not isinstance(name, str) or not name or not callable(predicate):
        raise ConfigurationError("require_claim needs a claim name and a callable")
    text = description or f"the token's {name} claim does not allow this request"
    return ClaimRequirement(name, predicate, text)


def check_requirements(token: AccessToken, requirements: Iterable[Requirement]) -> None:
    """Check every requirement in order.

    Raises:
        InsufficientScopeError: the first requirement the token fails.
    """
    for requirement in requirements:
        requirement.check(token)
