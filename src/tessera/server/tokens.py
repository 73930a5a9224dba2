"""RFC 9068 JWT access tokens: header ``typ: at+jwt`` and ``kid``; the claims the profile names."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tessera

__all__ = ["AccessToken", "issue_access_token"]


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A signed access token and what the token response says about it."""

    token: str
    expires_in: int
    scope: str
    claims: dict[str, Any]


def issue_access_token(
    key: tessera.Key,
    *,
    issuer: str,
    client_id: str,
    subject: str,
    audience: Sequence[str],
    scopes: Sequence[str],
    lifetime: int,
    now: float,
) -> AccessToken:
    """Sign an access token (RFC 9068 sec. 2.2): iss, exp, aud, sub, client_id, iat, jti, scope.

    ``aud`` is a string when there is one audience and an array otherwise; ``scope`` is
    omitted when no scope was granted. ``jti`` carries 128 random bits.
    """
    issued = int(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "exp": issued + lifetime,
        "aud": audience[0] if len(audience) == 1 else list(audience),
        "sub": subject,
        "client_id": client_id,
        "iat": issued,
        "jti": secrets.token_urlsafe(16),
    }
    scope = " ".join(scopes)
    if scope:
        claims["scope"] = scope
    token = tessera.encode(claims, key, typ="at+jwt")
    return AccessToken(token=token, expires_in=lifetime, scope=scope, claims=claims)
