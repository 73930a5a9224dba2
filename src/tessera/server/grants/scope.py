"""Scope and resource (audience) checks shared by every grant (RFC 6749 sec. 3.3, RFC 8707)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from tessera.server.errors import InvalidScope, InvalidTarget

__all__ = ["granted_audience", "granted_scopes", "is_scope_token", "still_allowed"]

_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+\Z")  # NQCHAR, RFC 6749 appendix A.4


def is_scope_token(value: str) -> bool:
    """True for a valid scope-token (printable ASCII without space, quote or backslash)."""
    return bool(_SCOPE_TOKEN.match(value))


def granted_scopes(requested: str | None, allowed: Sequence[str]) -> tuple[str, ...]:
    """The scopes to grant: the requested ones, all within ``allowed``; all of them if omitted.

    Raises:
        InvalidScope: a malformed scope, or one the client may not ask for.
    """
    if requested is None:
        return tuple(allowed)
    wanted = requested.split(" ")
    if not all(is_scope_token(token) for token in wanted):
        raise InvalidScope("scope must be space-separated scope tokens")
    allowed_set = set(allowed)
    if not allowed_set.issuperset(wanted):
        raise InvalidScope("the requested scope exceeds what this client may ask for")
    return tuple(dict.fromkeys(wanted))  # keep order, drop repeats


def granted_audience(
    resources: Sequence[str], allowed: Sequence[str], default: Sequence[str]
) -> tuple[str, ...]:
    """The ``aud`` values: the requested resources (each allowed), else the client's audiences.

    Raises:
        InvalidTarget: a resource that is not an absolute URI without fragment, one the client
            may not ask for, or no audience at all.
    """
    permitted = tuple(allowed) or tuple(default)
    if not resources:
        if not permitted:
            raise InvalidTarget(
                "no resource was requested and the client has no registered audience"
            )
        return permitted
    for resource in resources:
        parts = urlsplit(resource)
        if not parts.scheme or "#" in resource:
            raise InvalidTarget("resource must be an absolute URI without a fragment")
        if resource not in permitted:
            raise InvalidTarget("the client may not ask for this resource")
    return tuple(dict.fromkeys(resources))


def still_allowed(
    scopes: Sequence[str],
    audiences: Sequence[str],
    *,
    allowed_scopes: Sequence[str],
    allowed_audiences: Sequence[str],
    default: Sequence[str],
    userinfo: str,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A grant's ``scopes`` and ``audiences`` narrowed to what its client is registered for
    now (``clients update`` may have taken some back since the person consented). The UserInfo
    audience an OpenID client without an API gets at ``/authorize`` stays while the client is
    registered for ``openid`` (also when a refresh asks for less than ``openid``).

    Raises:
        InvalidScope: scopes were asked for and none of them is still allowed.
        InvalidTarget: none of the audiences is still allowed.
    """
    kept = tuple(scope for scope in scopes if scope in allowed_scopes)
    if scopes and not kept:
        raise InvalidScope("none of the requested scope is still registered for this client")
    permitted = set(allowed_audiences or default)
    if "openid" in allowed_scopes:
        permitted.add(userinfo)
    targets = tuple(audience for audience in audiences if audience in permitted)
    if audiences and not targets:
        raise InvalidTarget("none of the grant's audiences is still registered for this client")
    return kept, targets
