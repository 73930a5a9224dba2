"""The ``claims`` authorization request parameter (OIDC Core sec. 5.5) and ``acr``.

A client may ask for individual claims, for the ID token (``id_token`` member) or for
UserInfo (``userinfo``), beyond what its scopes release: ``{"userinfo": {"email": null},
"id_token": {"acr": {"essential": true, "values": ["..."]}}}``. Claims are released only when
the client may ask for the scope that would release them, and the person sees them on the
consent page. Unknown claims and members are ignored (sec. 5.5), a claim that cannot be given
is left out, never an error, except two the spec singles out: an essential ``acr`` whose
``value``/``values`` this server cannot meet fails the request
(``unmet_authentication_requirements``, sec. 5.5.1.1), and a ``sub`` with a ``value`` is only
answered for that person (sec. 3.1.2.2).

**acr.** People sign in with a password only, so there is one class:
``urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport`` when the issuer is
https, ``...:Password`` otherwise (the SAML 2.0 authentication context classes, RFC 6711's
registry of the kind). ``acr_values`` (sec. 3.1.2.1) asks for it voluntarily in the ID token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACR_PASSWORD",
    "ACR_PROTECTED_PASSWORD",
    "MAX_CLAIMS",
    "NO_CLAIMS",
    "ClaimsRequest",
    "acr_value",
    "parse_claims",
]

ACR_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
ACR_PROTECTED_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MAX_CLAIMS = 4096
"""Longest ``claims`` parameter accepted, in characters."""
_MAX_NAMES = 64
_MAX_NAME = 100
_MEMBERS = ("id_token", "userinfo")

Fail = Callable[[str, str], Exception]


def acr_value(issuer: str) -> str:
    """The authentication context class of a sign-in at ``issuer``."""
    return ACR_PROTECTED_PASSWORD if issuer.startswith("https://") else ACR_PASSWORD


@dataclass(frozen=True, slots=True)
class ClaimsRequest:
    """The claims asked for by name, per place; ``acr_required`` the acceptable classes of an
    essential ``acr`` (None: any); ``sub`` the person an ``id_token.sub.value`` names."""

    id_token: frozenset[str] = frozenset()
    userinfo: frozenset[str] = frozenset()
    acr_required: tuple[str, ...] | None = None
    sub: str | None = None

    @property
    def names(self) -> frozenset[str]:
        """Every claim asked for, wherever."""
        return self.id_token | self.userinfo

    def only(self, allowed: Iterable[str]) -> ClaimsRequest:
        """The same request for the ``allowed`` claim names only."""
        keep = frozenset(allowed)
        return ClaimsRequest(
            self.id_token & keep, self.userinfo & keep, self.acr_required, self.sub
        )

    def with_id_token(self, name: str) -> ClaimsRequest:
        """The same request with ``name`` also asked for in the ID token."""
        return ClaimsRequest(self.id_token | {name}, self.userinfo, self.acr_required, self.sub)

    def stored(self) -> str | None:
        """What a grant keeps (JSON of the names), None when nothing was asked."""
        if not self.names:
            return None
        return json.dumps(
            {"id_token": sorted(self.id_token), "userinfo": sorted(self.userinfo)},
            separators=(",", ":"),
        )

    @classmethod
    def from_stored(cls, text: str | None) -> ClaimsRequest:
        """The names a grant kept (an empty request for None or anything unreadable)."""
        if not text:
            return NO_CLAIMS
        try:
            data = json.loads(text)
        except ValueError:
            return NO_CLAIMS
        if not isinstance(data, dict):
            return NO_CLAIMS
        found = []
        for member in _MEMBERS:
            names = data.get(member)
            valid = names if isinstance(names, list) else []
            found.append(frozenset(name for name in valid if isinstance(name, str)))
        return cls(found[0], found[1])


NO_CLAIMS = ClaimsRequest()


def _strings(values: Any) -> bool:
    return (
        isinstance(values, list)
        and 0 < len(values) <= _MAX_NAMES
        and all(isinstance(v, str) and 0 < len(v) <= 256 for v in values)
    )


def _acr(spec: dict[str, Any], fail: Fail) -> tuple[str, ...] | None:
    """The classes an essential ``acr`` accepts (None: voluntary, or any class)."""
    values: tuple[str, ...] | None = None
    if "value" in spec:
        if not isinstance(spec["value"], str) or not spec["value"]:
            raise fail("invalid_request", "claims: acr's value must be a string")
        values = (spec["value"],)
    if "values" in spec:
        if not _strings(spec["values"]):
            raise fail("invalid_request", "claims: acr's values must be an array of strings")
        values = (*(values or ()), *spec["values"])
    return values if spec.get("essential") is True else None


def parse_claims(text: str, fail: Fail) -> ClaimsRequest:
    """Check a ``claims`` parameter.

    Raises:
        whatever ``fail("invalid_request", description)`` returns: not a JSON object, a
        member or claim of the wrong type, too long or too many names.
    """
    if len(text) > MAX_CLAIMS:
        raise fail("invalid_request", f"claims is longer than {MAX_CLAIMS} characters")
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise fail("invalid_request", "claims must be a JSON object (OIDC Core sec. 5.5)") from None
    if not isinstance(document, dict):
        raise fail("invalid_request", "claims must be a JSON object (OIDC Core sec. 5.5)")
    found: dict[str, frozenset[str]] = {}
    acr_required: tuple[str, ...] | None = None
    sub: str | None = None
    for member in _MEMBERS:
        requested = document.get(member)
        if requested is None:
            found[member] = frozenset()
            continue
        if not isinstance(requested, dict) or len(requested) > _MAX_NAMES:
            raise fail("invalid_request", f"claims: {member} must be an object of claims")
        for name, spec in requested.items():
            if not name or len(name) > _MAX_NAME:
                raise fail("invalid_request", f"claims: a claim name in {member} is malformed")
            if spec is not None and not isinstance(spec, dict):
                raise fail("invalid_request", f"claims: {member}.{name} must be null or an object")
            if spec is not None and "essential" in spec and not isinstance(spec["essential"], bool):
                raise fail(
                    "invalid_request", f"claims: {member}.{name}.essential must be a boolean"
                )
            if name == "acr" and spec is not None:
                required = _acr(spec, fail)
                if required is not None:
                    acr_required = (*(acr_required or ()), *required)
            if name == "sub" and member == "id_token" and spec is not None and "value" in spec:
                if not isinstance(spec["value"], str) or not spec["value"]:
                    raise fail("invalid_request", "claims: sub's value must be a string")
                sub = spec["value"]
        found[member] = frozenset(requested)
    return ClaimsRequest(found["id_token"], found["userinfo"], acr_required, sub)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
