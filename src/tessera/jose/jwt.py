"""JSON Web Tokens (RFC 7519): compact JWS with a JSON claims set, validated in full.

``decode`` = JWS verification + strict JSON + claim checks. A JWT never carries ``b64`` or
``crit`` (RFC 7797 sec. 7), and only the compact form is accepted (attack catalogue #30).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from tessera.errors import (
    ConfigurationError,
    MalformedTokenError,
    SignatureError,
    UnsupportedHeaderError,
)
from tessera.jose import _json
from tessera.jose._b64 import b64decode_ascii_checked, b64encode, is_b64url
from tessera.jose._claims import ClaimRules
from tessera.jose._compact import DEFAULT_LIMITS, Limits, decode_unverified
from tessera.jose._header import _cache as _header_cache
from tessera.jose._header import parse_protected
from tessera.jose.jwk import Key, KeySet
from tessera.jose.jws import (
    _allowed,
    _check,
    _protected_header,
    _resolve_signing,
    resolve_verifier,
    split_compact,
)

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from datetime import datetime, timedelta
    from typing import Any

    from tessera.jose._claims import Validator
    from tessera.jose._crypto import Signer

__all__ = ["decode", "decode_unverified", "encode"]

_NUMERIC = ("exp", "nbf", "iat")
_STRINGS = ("iss", "sub", "jti")
_ABSENT = object()
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
    args: tuple[Any, ...] = (issuer, audience, subject, typ, leeway, require, max_age, validators)
    try:
        # True == 1 for dict keys: booleans (refused by build) must not hit a cached number.
        rules = None if type(leeway) is bool or type(max_age) is bool else _rules_cache.get(args)
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
    # Exact-type tests first: they settle the usual values without isinstance's slower path.
    get = claims.get
    for name in _NUMERIC:
        value = get(name, _ABSENT)
        if value is _ABSENT or type(value) is int or type(value) is float:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigurationError(f"claim {name!r} must be a number (NumericDate)")
    for name in _STRINGS:
        value = get(name, _ABSENT)
        if value is not _ABSENT and type(value) is not str and not isinstance(value, str):
            raise ConfigurationError(f"claim {name!r} must be a string")
    aud = get("aud", _ABSENT)
    if aud is not _ABSENT and type(aud) is not str and not isinstance(aud, str):
        ok = isinstance(aud, (list, tuple)) and aud and all(isinstance(a, str) for a in aud)
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
    if headers or type(key) is not Key or (alg is not None and alg != key.alg):
        prefix, signer = _prefix(claims, key, alg, headers, typ)
    else:
        cached = key._header_segments.get(typ)  # the header is the same for every token
        prefix, signer = cached if cached is not None else _prefix(claims, key, alg, None, typ)
    _check_outgoing(claims)
    try:
        body = b64encode(_json.dumps(claims))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"claims are not JSON-serialisable: {exc}") from None
    signing_input = prefix + body
    return (signing_input + b"." + b64encode(signer(signing_input))).decode("ascii")


def _prefix(
    claims: Mapping[str, Any],
    key: Key,
    alg: str | None,
    headers: Mapping[str, Any] | None,
    typ: str | None,
) -> tuple[bytes, Signer]:
    """The encoded header plus ".", and the signing function; cached on the key if plain."""
    algorithm = _resolve_signing(key, alg)
    signer = key._signer(algorithm)
    if headers and ("b64" in headers or "crit" in headers):
        raise ConfigurationError("JWTs cannot use b64 or crit headers")
    extra = dict(headers or {})
    if typ is not None:
        extra.setdefault("typ", typ)
    prefix = b64encode(_json.dumps(_protected_header(key, algorithm, extra, True))) + b"."
    if not headers and algorithm is key._algorithm:
        key._header_segments[typ] = (prefix, signer)
    return prefix, signer


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
    parts: list[bytes] = []
    if isinstance(token, str) and token.isascii() and len(token) <= limits.max_token_size:
        raw = token.encode("ascii")
        parts = raw.split(b".", 5)
    parsed = None
    if len(parts) == 3 and parts[0]:
        h_seg = parts[0].decode("ascii")
        parsed = _header_cache.get(h_seg)
        if parsed is None and is_b64url(h_seg):
            parsed = parse_protected(h_seg, limits.max_json_depth)
    if parsed is not None:
        # The well-formed case in one pass over one buffer: a cached header segment was
        # checked when first seen, and the strict decoder below checks the other two.
        p_raw, s_raw = parts[1], parts[2]
    else:
        parsed, h_seg, p_seg, s_seg, checked = split_compact(token, limits)
        p_raw, s_raw = p_seg.encode("ascii"), s_seg.encode("ascii")
        raw = checked.encode("ascii")
    if parsed.extended:
        raise UnsupportedHeaderError("JWTs must not use crit or b64 headers")
    pairs = resolve_verifier(key, parsed.algorithm, parsed.kid, allowed)
    if rules.typ is not None:
        rules.check_typ(parsed.header)
    try:
        signature = b64decode_ascii_checked(s_raw)
        payload = b64decode_ascii_checked(p_raw)
    except ValueError:
        raise MalformedTokenError("payload or signature is not canonical base64url") from None
    signing_input = raw[: len(h_seg) + 1 + len(p_raw)]
    if len(pairs) != 1:
        _check(pairs, signing_input, signature)
    elif not pairs[0][1](signing_input, signature):
        raise SignatureError("signature verification failed")
    try:
        claims = _json.loads(payload, limits.max_json_depth)
    except ValueError:
        raise MalformedTokenError("claims are not UTF-8 JSON") from None
    if type(claims) is not dict:
        raise MalformedTokenError("the claims set must be a JSON object")
    rules.check(claims, now)
    return claims
