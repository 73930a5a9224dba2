"""JSON Web Tokens (RFC 7519): compact JWS with a JSON claims set, validated in full.

``decode`` = JWS verification + strict JSON + claim checks. A JWT never carries ``b64`` or
``crit`` (RFC 7797 sec. 7), and only the compact form is accepted (attack catalogue #30).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tessera.errors import ConfigurationError, MalformedTokenError, UnsupportedHeaderError
from tessera.jose import _json
from tessera.jose._b64 import b64decode_alphabet_checked, b64encode
from tessera.jose._claims import ClaimRules, Validator
from tessera.jose._header import decode_segment
from tessera.jose.jwk import Key, KeySet
from tessera.jose.jws import (
    DEFAULT_LIMITS,
    Limits,
    _allowed,
    _check,
    _protected_header,
    _resolve_signing,
    _signature,
    resolve_verifier,
    split_compact,
    split_segments,
)

if TYPE_CHECKING:
    from datetime import datetime, timedelta

__all__ = ["decode", "decode_unverified", "encode"]

_NUMERIC = ("exp", "nbf", "iat")
_RULES_CACHE_SIZE = 64
_rules_cache: dict[tuple[Any, ...], ClaimRules] = {}


def _rules(
    issuer: str | Iterable[str] | None,
    audience: str | Iterable[str] | None,
    subject: str | None,
    typ: str | None,
    leeway: float | int | timedelta,
    require: Collection[str],
    max_age: float | int | timedelta | None,
    validators: Mapping[str, Validator] | None,
) -> ClaimRules:
    """Resolve decode's claim arguments, cached: verifiers repeat them on every request."""
    args: tuple[Any, ...] = (
        *(issuer, audience, subject, typ, leeway, type(leeway), require, max_age, validators),
    )
    try:
        rules = _rules_cache.get(args)
    except TypeError:  # unhashable arguments (lists, dicts) are resolved every time
        rules, args = None, ()
    if rules is None:
        rules = ClaimRules.build(
            issuer=issuer,
            audience=audience,
            subject=subject,
            typ=typ,
            leeway=leeway,
            require=require,
            max_age=max_age,
            validators=validators,
        )
        if args:
            if len(_rules_cache) >= _RULES_CACHE_SIZE:
                _rules_cache.clear()
            _rules_cache[args] = rules
    return rules


def _check_outgoing(claims: Mapping[str, Any]) -> None:
    for name in _NUMERIC:
        if name in claims:
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"claim {name!r} must be a number (NumericDate)")
    for name in ("iss", "sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise ConfigurationError(f"claim {name!r} must be a string")
    if "aud" in claims:
        aud = claims["aud"]
        ok = isinstance(aud, str) or (
            isinstance(aud, list | tuple) and aud and all(isinstance(a, str) for a in aud)
        )
        if not ok:
            raise ConfigurationError("claim 'aud' must be a string or a non-empty string list")


def encode(
    claims: Mapping[str, Any],
    key: Key,
    alg: str | None = None,
    headers: Mapping[str, Any] | None = None,
    typ: str | None = "JWT",
) -> str:
    """Sign ``claims`` as a compact JWT.

    ``alg`` defaults to the key's bound algorithm; ``typ=None`` omits the header.

    >>> key = Key.generate("HS256")
    >>> token = encode({"sub": "alice", "exp": 4102444800}, key)

    Raises:
        ConfigurationError: no or contradicting algorithm, malformed registered claims,
            ``b64``/``crit`` headers, or claims that are not JSON.
        InvalidKey: the key cannot sign.
    """
    if not isinstance(claims, Mapping):
        raise ConfigurationError("claims must be a mapping")
    algorithm = _resolve_signing(key, alg)
    signer = key._signer(algorithm)
    _check_outgoing(claims)
    cache_key = (algorithm.name, typ)
    h_seg = key._header_segments.get(cache_key) if not headers else None
    if h_seg is None:
        if headers and ("b64" in headers or "crit" in headers):
            raise ConfigurationError("JWTs cannot use b64 or crit headers")
        extra = dict(headers or {})
        if typ is not None:
            extra.setdefault("typ", typ)
        h_seg = b64encode(_json.dumps(_protected_header(key, algorithm, extra, True)))
        if not headers:
            key._header_segments[cache_key] = h_seg
    try:
        body = b64encode(_json.dumps(claims))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"claims are not JSON-serialisable: {exc}") from None
    signing_input = h_seg + b"." + body
    return (signing_input + b"." + b64encode(signer(signing_input))).decode("ascii")


def decode(
    token: str | bytes,
    key: Key | KeySet,
    algorithms: Iterable[str] | None = None,
    issuer: str | Iterable[str] | None = None,
    audience: str | Iterable[str] | None = None,
    subject: str | None = None,
    typ: str | None = None,
    leeway: float | int | timedelta = 0,
    require: Collection[str] = ("exp",),
    now: float | int | datetime | None = None,
    *,
    max_age: float | int | timedelta | None = None,
    validators: Mapping[str, Validator] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Verify a compact JWT and return its claims.

    The signature is checked before the claims are parsed. ``exp`` is required by default;
    a token with ``aud`` is rejected unless ``audience`` is given; ``typ`` compares media
    types as RFC 7515 sec. 4.1.9 says (``at+jwt`` matches ``application/at+jwt``).
    ``validators`` maps a claim name to a predicate that must return True.

    >>> key = Key.generate("HS256")
    >>> decode(encode({"sub": "a", "exp": 4102444800}, key), key)["sub"]
    'a'

    Raises:
        InvalidToken: a subclass naming the reason (see :mod:`tessera.errors`).
        ConfigurationError: unsafe or contradictory arguments.
    """
    rules = _rules(issuer, audience, subject, typ, leeway, require, max_age, validators)
    allowed = None if algorithms is None else _allowed(algorithms)
    return _decode(token, key, allowed, rules, now, limits)


def _decode(
    token: str | bytes,
    key: Key | KeySet,
    allowed: frozenset[str] | None,
    rules: ClaimRules,
    now: float | int | datetime | None,
    limits: Limits,
) -> dict[str, Any]:
    """The decode pipeline with arguments already resolved (verifiers reuse it per request)."""
    parsed, h_seg, p_seg, s_seg, token = split_compact(token, limits)
    if parsed.extended:
        raise UnsupportedHeaderError("JWTs must not use crit or b64 headers")
    pairs = resolve_verifier(key, parsed.algorithm, parsed.kid, allowed)
    rules.check_typ(parsed.header)
    signature = _signature(s_seg)
    try:
        payload = b64decode_alphabet_checked(p_seg)
    except ValueError:
        raise MalformedTokenError("payload is not canonical base64url") from None
    _check(pairs, token[: len(h_seg) + 1 + len(p_seg)].encode("ascii"), signature)
    try:
        claims = _json.loads(payload, limits.max_json_depth)
    except ValueError:
        raise MalformedTokenError("claims are not UTF-8 JSON") from None
    if not isinstance(claims, dict):
        raise MalformedTokenError("the claims set must be a JSON object")
    rules.check(claims, now)
    return claims


def decode_unverified(
    token: str | bytes, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse a compact JWT WITHOUT verifying anything: for inspection and debugging only.

    The same strict parsing as :func:`decode` applies (shape, base64url, JSON); the signature,
    algorithm and claims are not checked, so nothing returned may be trusted.

    Raises:
        MalformedTokenError: the token is not a well-formed compact JWT.
    """
    h_seg, p_seg, _, _ = split_segments(token, limits)
    header = decode_segment(h_seg, limits.max_json_depth)
    try:
        claims = _json.loads(b64decode_alphabet_checked(p_seg), limits.max_json_depth)
    except ValueError:
        raise MalformedTokenError("claims are not UTF-8 base64url JSON") from None
    if not isinstance(claims, dict):
        raise MalformedTokenError("the claims set must be a JSON object")
    return header, claims
