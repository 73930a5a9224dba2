"""The verified tokens a relying party receives: typed, frozen, built only by the verifier."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["IDToken", "LogoutToken"]


@dataclass(frozen=True, slots=True)
class IDToken:
    """A verified ID token (OIDC Core 2): who signed in (``sub``), at whose provider (``iss``),
    for which client (``aud``), when (``auth_time``), and every claim in ``claims``.

    ``token`` is the compact JWT itself (for ``id_token_hint`` at logout); it is left out of
    ``repr`` so it does not end up in logs.
    """

    iss: str
    sub: str
    aud: tuple[str, ...]
    exp: float
    iat: float
    auth_time: float | None
    nonce: str | None
    azp: str | None
    acr: str | None
    amr: tuple[str, ...]
    sid: str | None
    alg: str
    kid: str | None
    claims: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    token: str = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_claims(
        cls,
        claims: dict[str, Any],
        header: Mapping[str, Any],
        audiences: tuple[str, ...],
        auth_time: float | None,
        token: str,
    ) -> IDToken:
        """Build from claims every check has passed (types are known to be right)."""
        kid = header.get("kid")
        return cls(
            iss=claims["iss"],
            sub=claims["sub"],
            aud=audiences,
            exp=claims["exp"],
            iat=claims["iat"],
            auth_time=auth_time,
            nonce=claims.get("nonce"),
            azp=claims.get("azp"),
            acr=claims.get("acr"),
            amr=tuple(claims.get("amr") or ()),
            sid=claims.get("sid"),
            alg=str(header.get("alg")),
            kid=kid if isinstance(kid, str) else None,
            claims=MappingProxyType(claims),
            token=token,
        )


@dataclass(frozen=True, slots=True)
class LogoutToken:
    """A verified back-channel logout token: end the sessions of ``sub`` and/or ``sid``.

    ``jti`` lets the relying party refuse a replay (keep the ones seen until ``iat`` plus the
    verifier's ``logout_max_age``).
    """

    iss: str
    sub: str | None
    sid: str | None
    jti: str
    iat: float
    aud: tuple[str, ...]
    event: Mapping[str, Any]
    claims: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
