"""The verified access token a handler receives: typed, frozen, built only by the verifier.

Field names follow the claims (RFC 9068 sec. 2.2). ``scopes`` comes from ``scope`` (a
space-separated string, RFC 9068 sec. 2.2.3) or, for issuers that use it (Entra ID, Okta),
``scp`` (a string or a list of strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tessera.errors import ClaimError

__all__ = ["AccessToken"]


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    if "scope" in claims:
        value = claims["scope"]
        if not isinstance(value, str):
            raise ClaimError("scope must be a space-separated string", "scope")
        return frozenset(value.split())
    if "scp" in claims:
        value = claims["scp"]
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return frozenset(value)
        raise ClaimError("scp must be a string or a list of strings", "scp")
    return frozenset()


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise ClaimError(f"{name} must be a string", name)
    return value


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified JWT access token: who (``sub``, ``client_id``), for what (``scopes``, ``aud``),
    from whom (``iss``), until when (``exp``), and every claim in ``claims`` (read-only).
    """

    iss: str
    sub: str | None
    client_id: str | None
    scopes: frozenset[str]
    aud: tuple[str, ...]
    exp: float
    iat: float | None
    jti: str | None
    alg: str
    kid: str | None
    claims: Mapping[str, Any] = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_claims(cls, claims: dict[str, Any], header: Mapping[str, Any]) -> AccessToken:
        """Build from claims the core has already verified (``iss`` and ``exp`` are present).

        ``client_id`` falls back to ``azp`` (OpenID Connect, Entra ID) when absent.

        Raises:
            ClaimError: ``scope``/``scp``/``client_id`` have the wrong JSON type.
        """
        aud = claims.get("aud")
        audiences = (aud,) if isinstance(aud, str) else tuple(aud or ())
        client_id = _optional_str(claims, "client_id")
        if client_id is None:
            client_id = _optional_str(claims, "azp")
        kid = header.get("kid")
        return cls(
            iss=claims["iss"],
            sub=claims.get("sub"),
            client_id=client_id,
            scopes=_scopes(claims),
            aud=audiences,
            exp=claims["exp"],
            iat=claims.get("iat"),
            jti=claims.get("jti"),
            alg=str(header.get("alg")),
            kid=kid if isinstance(kid, str) else None,
            claims=MappingProxyType(claims),
        )

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the token grants every one of ``scopes``."""
        return self.scopes.issuperset(scopes)
