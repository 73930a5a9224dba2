"""The OpenID-specific checks of a token whose signature and registered claims already passed.

Pure functions of the claims, the header and the expected values, so the sync and async
verifiers share them and tests can reach every branch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection, Mapping
from typing import Any

from tessera.errors import (
    ClaimError,
    InvalidAudienceError,
    InvalidSubjectError,
    InvalidTypeError,
    MissingClaimError,
)
from tessera.jose._claims import normalize_typ
from tessera.jose.jwk import KeySet
from tessera.oidc.errors import (
    AuthTimeError,
    InvalidAuthorizedPartyError,
    InvalidNonceError,
    LogoutTokenError,
    TokenHashError,
)

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "check_audiences",
    "check_auth_time",
    "check_id_token_typ",
    "check_logout_claims",
    "check_logout_typ",
    "check_nonce",
    "check_optional_types",
    "check_subject",
    "check_token_hash",
    "token_hash",
]

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_SUBJECT = 255  # OIDC Core 2: "MUST NOT exceed 255 ASCII characters"
_NUMBER_BOUND = 2**62


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return bool(-_NUMBER_BOUND < value < _NUMBER_BOUND)
    return kind is float and value == value and abs(value) < _NUMBER_BOUND


def check_id_token_typ(header: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """An ID token is untyped or ``JWT``; ``at+jwt``, ``logout+jwt`` (any ``+jwt`` type made
    for another purpose) and tokens carrying the logout event are something else (RFC 8725
    sec. 3.11), so an access or logout token never passes as a sign-in.

    Raises:
        InvalidTypeError: an explicit type of another kind of token.
    """
    typ = header.get("typ")
    if typ is not None:
        if not isinstance(typ, str):
            raise InvalidTypeError("typ must be a string")
        if normalize_typ(typ).endswith("+jwt"):
            raise InvalidTypeError("this token is typed for another purpose than an ID token")
    events = claims.get("events")
    if isinstance(events, dict) and BACKCHANNEL_LOGOUT_EVENT in events:
        raise InvalidTypeError("a logout token is not an ID token")


def check_subject(claims: Mapping[str, Any]) -> str:
    """``sub``: present (the core checked its type), not empty, at most 255 characters."""
    sub = claims.get("sub")
    if not isinstance(sub, str):
        raise MissingClaimError("the 'sub' claim is required", "sub")
    if not sub or len(sub) > MAX_SUBJECT:
        raise InvalidSubjectError("sub must have 1 to 255 characters", "sub")
    return sub


def check_audiences(
    claims: Mapping[str, Any], client_id: str, trusted: Collection[str]
) -> tuple[str, ...]:
    """Audiences other than ``client_id`` must be trusted; several need ``azp`` = client_id.

    OIDC Core 3.1.3.7 steps 3-5 (the core already checked that ``aud`` names the client).

    Raises:
        InvalidAudienceError: an audience this client does not trust.
        InvalidAuthorizedPartyError: ``azp`` absent with several audiences, or another client.
    """
    aud = claims.get("aud")
    audiences = (aud,) if isinstance(aud, str) else tuple(aud or ())
    if client_id not in audiences:
        raise InvalidAudienceError("the token is not meant for this client", "aud")
    for audience in audiences:
        if audience != client_id and audience not in trusted:
            raise InvalidAudienceError(
                "the token names an audience this client does not trust", "aud"
            )
    azp = claims.get("azp")
    if azp is None:
        if len(set(audiences)) > 1:
            raise InvalidAuthorizedPartyError(
                "azp is required when the token has several audiences", "azp"
            )
    elif not isinstance(azp, str) or azp != client_id:
        raise InvalidAuthorizedPartyError("the token was issued to another client (azp)", "azp")
    return audiences


def check_nonce(claims: Mapping[str, Any], expected: str | None) -> None:
    """The ``nonce`` sent in the authorization request must come back exactly.

    Compared in constant time: the nonce binds the token to this browser's session.

    Raises:
        InvalidNonceError: absent, not a string, or a different value.
    """
    if expected is None:
        return
    nonce = claims.get("nonce")
    if not isinstance(nonce, str):
        raise InvalidNonceError("the ID token has no nonce but one was sent", "nonce")
    if not hmac.compare_digest(nonce.encode("utf-8"), expected.encode("utf-8")):
        raise InvalidNonceError("the ID token's nonce is not the one sent", "nonce")


def check_auth_time(
    claims: Mapping[str, Any],
    now: float,
    leeway: float,
    max_age: float | None,
    required: bool,
) -> float | None:
    """``auth_time``: required with ``max_age`` (OIDC Core 3.1.3.7 step 11), never in the
    future, and no older than ``max_age`` + leeway.

    Raises:
        MissingClaimError: absent while ``max_age`` was requested or it is required.
        AuthTimeError: not a number, in the future, or too old.
    """
    value = claims.get("auth_time")
    if value is None:
        if max_age is not None or required:
            raise MissingClaimError("the 'auth_time' claim is required", "auth_time")
        return None
    if not _is_number(value):
        raise AuthTimeError("auth_time must be a number", "auth_time")
    if value > now + leeway:
        raise AuthTimeError("auth_time lies in the future", "auth_time")
    if max_age is not None and now - value > max_age + leeway:
        raise AuthTimeError("the authentication is older than max_age", "auth_time")
    return float(value)


def check_optional_types(claims: Mapping[str, Any]) -> None:
    """``azp``, ``acr``, ``sid``, ``nonce`` are strings and ``amr`` a list of strings, when
    present (a wrong type is never read as absent).

    Raises:
        ClaimError: a claim of the wrong JSON type.
    """
    for name in ("acr", "sid", "nonce"):
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise ClaimError(f"{name} must be a string", name)
    amr = claims.get("amr")
    if amr is not None and (not isinstance(amr, list) or not all(isinstance(v, str) for v in amr)):
        raise ClaimError("amr must be a list of strings", "amr")


def _hash_names(alg: str, kid: str | None, keys: KeySet) -> list[str]:
    """The hash(es) the token's ``alg`` implies for ``at_hash``/``c_hash`` (OIDC Core 3.1.3.6;
    EdDSA per errata set 2: SHA-512 for Ed25519, SHAKE256 with 114 bytes for Ed448)."""
    if alg in ("Ed25519", "Ed448"):
        curves = {alg}
    elif alg == "EdDSA":
        named = {k.crv for k in keys if k.kty == "OKP" and (kid is None or k.kid == kid)}
        curves = {c for c in named if c is not None} or {"Ed25519"}
    else:
        size = alg[-3:]
        if size in ("256", "384", "512"):
            return [f"sha{size}"]
        raise TokenHashError(f"no token hash is defined for {alg[:20]}", "at_hash")
    return sorted("sha512" if c == "Ed25519" else "shake256" for c in curves)


def token_hash(value: str, hash_name: str) -> str:
    """The left half of ``hash_name`` over the ASCII ``value``, base64url without padding."""
    data = value.encode("ascii", "strict")
    if hash_name == "shake256":
        digest = hashlib.shake_256(data).digest(114)
    else:
        digest = hashlib.new(hash_name, data).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def check_token_hash(
    claims: Mapping[str, Any],
    name: str,
    value: str | None,
    header: Mapping[str, Any],
    keys: KeySet,
    required: bool,
) -> None:
    """``at_hash`` (name) for an access token or ``c_hash`` for a code, when ``value`` is known.

    Raises:
        MissingClaimError: absent while ``required``.
        TokenHashError: not a string, or not the hash of ``value``.
    """
    if value is None:
        return
    claimed = claims.get(name)
    if claimed is None:
        if required:
            raise MissingClaimError(f"the {name!r} claim is required", name)
        return
    if not isinstance(claimed, str) or not value.isascii():
        raise TokenHashError(f"{name} does not match", name)
    kid = header.get("kid")
    alg = str(header.get("alg"))
    for hash_name in _hash_names(alg, kid if isinstance(kid, str) else None, keys):
        expected = token_hash(value, hash_name)
        if hmac.compare_digest(expected.encode(), claimed.encode("utf-8")):
            return
    raise TokenHashError(f"{name} does not match", name)


def check_logout_typ(header: Mapping[str, Any], require_typ: bool) -> None:
    """A logout token is ``logout+jwt`` (Back-Channel Logout 1.0 sec. 2.4, recommended);
    untyped or ``JWT`` is accepted unless ``require_typ``; other types are refused.

    Raises:
        InvalidTypeError: another type, or no ``logout+jwt`` while it is required.
    """
    typ = header.get("typ")
    if typ is None:
        if require_typ:
            raise InvalidTypeError("token type must be 'logout+jwt'")
        return
    if not isinstance(typ, str):
        raise InvalidTypeError("typ must be a string")
    normal = normalize_typ(typ)
    if normal == "logout+jwt" or (normal == "jwt" and not require_typ):
        return
    raise InvalidTypeError("token type must be 'logout+jwt'")


def check_logout_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Back-Channel Logout 1.0 sec. 2.6 steps 4-6: ``sub`` or ``sid``, the logout event, no
    ``nonce``. Returns the event's (object) value.

    Raises:
        LogoutTokenError: no session named, no or malformed ``events``, or a ``nonce``.
        ClaimError: ``sid`` of the wrong type.
    """
    if "nonce" in claims:
        raise LogoutTokenError("a logout token must not contain a nonce", "nonce")
    events = claims.get("events")
    if not isinstance(events, dict):
        raise LogoutTokenError("a logout token needs an 'events' object", "events")
    event = events.get(BACKCHANNEL_LOGOUT_EVENT)
    if not isinstance(event, dict):
        raise LogoutTokenError("the events claim lacks the back-channel logout event", "events")
    sid = claims.get("sid")
    if sid is not None and not isinstance(sid, str):
        raise ClaimError("sid must be a string", "sid")
    if claims.get("sub") is None and sid is None:
        raise LogoutTokenError("a logout token names a sub or a sid", "sub")
    return event
