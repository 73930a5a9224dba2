"""Where Tessera's encode/decode time goes, and what the proposed hot-path changes would save.

Three parts, for HS256, ES256 and RS256 (``--alg`` to choose):

1. (``--cprofile``) cProfile of ``decode`` and ``encode``: calls per operation and own time.
2. Stage costs: each step of the pipeline timed alone with the real token (µs).
3. Prototypes of the proposed changes, built here from Tessera's internals (``src/`` is not
   touched), checked to return the same result and to refuse a forged token, then timed
   against the current code, one change at a time and all together.

This is a diagnostic: it calls private functions and breaks when they change shape; ``make
bench`` does not run it.

    .venv/bin/python bench/profile_core.py [--alg HS256] [--cprofile]
"""

from __future__ import annotations

import argparse
import binascii
import cProfile
import io
import math
import pstats
import sys
import time
import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import _peers
import bench_core
import tessera
from tessera.errors import MalformedTokenError, UnsupportedHeaderError
from tessera.jose import _b64, _crypto, _header, _json, jws
from tessera.jose import jwt as tjwt
from tessera.jose.jwa import Family

ISS, AUD = _peers.ISSUER, _peers.AUDIENCE
DEFAULT_ALGS = ("HS256", "ES256", "RS256")


def best_us(fn: Callable[[], Any], rounds: int = 7, batch_s: float = 0.02) -> float:
    """Best-of-``rounds`` CPU time per call, in batches of about ``batch_s`` seconds."""
    timer = timeit.Timer(fn, timer=time.thread_time)
    number = 1
    while (elapsed := timer.timeit(number)) < batch_s:
        number = max(number * 2, int(number * batch_s / max(elapsed, 1e-9)) + 1)
    return min(timer.repeat(rounds, number)) / number * 1e6


# -- 1. cProfile ---------------------------------------------------------------------------


def profile(fn: Callable[[], Any], calls: int, top: int) -> str:
    """The ``top`` functions by own time, in µs per ``fn`` call."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    for (path, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{path.rsplit('/', 2)[-1]}:{line}({name})" if line else name
        rows.append((tottime / calls * 1e6, cumtime / calls * 1e6, ncalls / calls, where))
    rows.sort(reverse=True)
    out = [
        f"    {'own µs':>7} {'cum µs':>7} {'calls':>5}  function (cProfile inflates small calls)"
    ]
    out += [f"    {o:7.2f} {c:7.2f} {n:5.0f}  {w}" for o, c, n, w in rows[:top]]
    return "\n".join(out)


# -- 2. stages -----------------------------------------------------------------------------


def decode_stages(fx: _peers.Fixture) -> dict[str, Callable[[], Any]]:
    """Each step of ``jwt._decode`` alone, on the real token."""
    token, pub, limits = fx.token, fx.public, jws.DEFAULT_LIMITS
    h_seg, p_seg, s_seg = token.split(".")
    parsed = _header.parse_protected(h_seg)
    rules = tjwt._rules(ISS, AUD, None, None, 0, ("exp",), None, None)
    pairs = jws.resolve_verifier(pub, parsed.algorithm, parsed.kid, None)
    signature = _b64.b64decode_alphabet_checked(s_seg)
    payload = _b64.b64decode_alphabet_checked(p_seg)
    signing_input = token[: len(h_seg) + 1 + len(p_seg)].encode("ascii")
    claims = _json.loads(payload)
    text = payload.decode("utf-8")
    std = p_seg.encode("ascii").translate(_TO_STD) + b"=="
    return {
        "decode() total": lambda: tessera.decode(token, pub, issuer=ISS, audience=AUD),
        "_rules (cached ClaimRules)": lambda: tjwt._rules(
            ISS, AUD, None, None, 0, ("exp",), None, None
        ),
        "split_segments": lambda: jws.split_segments(token, limits),
        "  is_compact_text": lambda: _b64.is_compact_text(token),
        "  token.split('.')": lambda: token.split("."),
        "parse_protected (cache hit)": lambda: _header.parse_protected(h_seg),
        "resolve_verifier": lambda: jws.resolve_verifier(pub, parsed.algorithm, parsed.kid, None),
        "check_typ": lambda: rules.check_typ(parsed.header),
        "signature base64url": lambda: jws._signature(s_seg),
        "payload base64url": lambda: _b64.b64decode_alphabet_checked(p_seg),
        "  binascii.a2b_base64 alone": lambda: binascii.a2b_base64(std),
        "signing input slice+encode": lambda: token[: len(h_seg) + 1 + len(p_seg)].encode(),
        "_check (verifier call)": lambda: jws._check(pairs, signing_input, signature),
        "_json.loads": lambda: _json.loads(payload, 32),
        "  depth pre-count": lambda: text.count("[") + text.count("{"),
        "  pairs-hook raw_decode": lambda: _json._DECODER.raw_decode(text),
        "  plain raw_decode (no hook)": lambda: _PLAIN.raw_decode(text),
        "rules.check": lambda: rules.check(claims, None),
        **(_ecdsa_glue(signature) if fx.alg.startswith("ES") else {}),
    }


def _der(raw: bytes) -> bytes:
    """Proposal G: raw r||s to DER with byte operations (no int round trip)."""
    half = len(raw) // 2
    parts = []
    for value in (raw[:half], raw[half:]):
        value = value.lstrip(b"\0") or b"\0"
        if value[0] & 0x80:
            value = b"\0" + value
        parts.append(b"\x02" + bytes((len(value),)) + value)
    body = b"".join(parts)
    size = len(body)
    return b"\x30" + (bytes((size,)) if size < 128 else bytes((0x81, size))) + body


def _ecdsa_glue(signature: bytes) -> dict[str, Callable[[], Any]]:
    half = len(signature) // 2
    expected = encode_dss_signature(
        int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    )
    assert _der(signature) == expected
    return {
        "ECDSA raw->DER glue (in verify_ec)": lambda: encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        ),
        "  proposal G: DER from bytes": lambda: _der(signature),
    }


def encode_stages(fx: _peers.Fixture) -> dict[str, Callable[[], Any]]:
    """Each step of ``jwt.encode`` alone."""
    claims, priv = fx.claims, fx.private
    algorithm = jws._resolve_signing(priv, None)
    signer = priv._signer(algorithm)
    tessera.encode(claims, priv)
    h_seg = next(iter(priv._header_segments.values()))
    body = _b64.b64encode(_json.dumps(claims))
    signing_input = h_seg + b"." + body
    sig = signer(signing_input)
    return {
        "encode() total": lambda: tessera.encode(claims, priv),
        "_resolve_signing": lambda: jws._resolve_signing(priv, None),
        "key._signer (cache hit)": lambda: priv._signer(algorithm),
        "_check_outgoing": lambda: tjwt._check_outgoing(claims),
        "_json.dumps(claims)": lambda: _json.dumps(claims),
        "b64encode(body)": lambda: _b64.b64encode(body),
        "signer (primitive + glue)": lambda: signer(signing_input),
        "b64encode(sig) + join": lambda: (signing_input + b"." + _b64.b64encode(sig)).decode(),
    }


# -- 3. prototypes -------------------------------------------------------------------------

_PLAIN = _json.json.JSONDecoder()
_SCAN = _json._DECODER.scan_once
_TO_STD = bytes.maketrans(b"-_", b"+/")
_COMPACT = _b64._COMPACT_ALPHABET
_LAST_IF_2, _LAST_IF_3 = _b64._LAST_IF_2, _b64._LAST_IF_3
_HASH = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}


def hmac_signer(alg: Any, material: Any) -> Callable[[bytes], bytes]:
    """Proposal A: key the HMAC once and ``copy()`` the keyed context per call."""
    if alg.family is not Family.HMAC:
        return _REAL_SIGNER(alg, material)
    base = hmac.HMAC(material, _HASH[alg.hash]())

    def sign_hmac(data: bytes) -> bytes:
        mac = base.copy()
        mac.update(data)
        return mac.finalize()

    return sign_hmac


def hmac_verifier(alg: Any, material: Any) -> Callable[[bytes, bytes], bool]:
    """Proposal A, verify side."""
    if alg.family is not Family.HMAC:
        return _REAL_VERIFIER(alg, material)
    base = hmac.HMAC(material, _HASH[alg.hash]())

    def verify_hmac(data: bytes, signature: bytes) -> bool:
        mac = base.copy()
        mac.update(data)
        try:
            mac.verify(signature)
        except InvalidSignature:
            return False
        return True

    return verify_hmac


_REAL_SIGNER, _REAL_VERIFIER = _crypto.make_signer, _crypto.make_verifier


def json_loads(data: bytes, max_depth: int = _json.DEFAULT_MAX_DEPTH) -> Any:
    """Proposal C: call the C scanner directly; anything unusual takes the full path."""
    text = data.decode("utf-8")
    if text.count("[") + text.count("{") > max_depth:
        return _json.loads(data, max_depth)
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return _json.loads(data, max_depth)  # whitespace first, or an error to report
    if end != len(text):
        return _json.loads(data, max_depth)
    if "\\u" in text:
        _json._check_strings(value)
    return value


def b64(segment: str) -> bytes:
    """``b64decode_alphabet_checked`` as it is, inlined below to save the call."""
    rem = len(segment) & 3
    if rem and (rem == 1 or segment[-1] not in (_LAST_IF_2 if rem == 2 else _LAST_IF_3)):
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STD) + b"==")


_MISSING = object()
_BOUND = 2**62


def _is_time(value: Any) -> bool:
    kind = type(value)
    return (kind is int and -_BOUND < value < _BOUND) or (kind is float and math.isfinite(value))


def fast_check(rules: Any, claims: dict[str, Any], now: Any) -> None:
    """Proposal E: accept the common valid case in one flat pass, else run the full check.

    Every test here is the same as or stricter than ``ClaimRules.check``, so anything it
    accepts the full check accepts too; anything else (a list ``aud``, a failure, options
    such as ``validators``) goes to the full check, which stays the one source of errors.
    """
    if (
        now is not None
        or rules.validators
        or rules.max_age is not None
        or rules.subject is not None
        or not all(name in claims for name in rules.require)
    ):
        rules.check(claims, now)
        return
    current = time.time()
    leeway = rules.leeway
    get = claims.get
    exp, nbf, iat = get("exp", _MISSING), get("nbf", _MISSING), get("iat", _MISSING)
    iss, aud = get("iss", _MISSING), get("aud", _MISSING)
    sub, jti = get("sub", ""), get("jti", "")
    issuers, audiences = rules.issuers, rules.audiences
    if (
        (exp is _MISSING or (_is_time(exp) and current < exp + leeway))
        and (nbf is _MISSING or (_is_time(nbf) and current >= nbf - leeway))
        and (iat is _MISSING or (_is_time(iat) and iat <= current + leeway))
        and (
            (iss is _MISSING and issuers is None)
            or (type(iss) is str and (issuers is None or iss in issuers))
        )
        and type(sub) is str
        and type(jti) is str
        and (
            (aud is _MISSING and audiences is None)
            or (type(aud) is str and audiences is not None and aud in audiences)
        )
    ):
        return
    rules.check(claims, now)


def fast_decode_core(
    token: Any,
    key: Any,
    allowed: Any,
    rules: Any,
    now: Any,
    limits: Any,
    loads: Any,
    check: Any,
) -> dict[str, Any]:
    """Proposal B: one pass for the well-formed case; anything odd re-runs the strict path.

    Same checks, same order, same errors: the fallback is the current ``_decode``.
    """
    if type(token) is not str or len(token) > limits.max_token_size or not token.isascii():
        return tjwt._decode(token, key, allowed, rules, now, limits)
    raw = token.encode("ascii")
    parts = token.split(".")
    if len(parts) != 3 or raw.translate(None, _COMPACT) or not parts[0]:
        return tjwt._decode(token, key, allowed, rules, now, limits)
    h_seg, p_seg, s_seg = parts
    parsed = _header._cache.get(h_seg) or _header.parse_protected(h_seg, limits.max_json_depth)
    if parsed.extended:
        raise UnsupportedHeaderError("JWTs must not use crit or b64 headers")
    pairs = jws.resolve_verifier(key, parsed.algorithm, parsed.kid, allowed)
    if rules.typ is not None:
        rules.check_typ(parsed.header)
    try:
        signature = b64(s_seg)
    except ValueError:
        raise MalformedTokenError("signature is not canonical base64url") from None
    try:
        payload = b64(p_seg)
    except ValueError:
        raise MalformedTokenError("payload is not canonical base64url") from None
    signing_input = raw[: len(h_seg) + 1 + len(p_seg)]
    if len(pairs) == 1:
        if not pairs[0][1](signing_input, signature):
            raise tessera.SignatureError("signature verification failed")
    else:
        jws._check(pairs, signing_input, signature)
    try:
        claims = loads(payload, limits.max_json_depth)
    except ValueError:
        raise MalformedTokenError("claims are not UTF-8 JSON") from None
    if type(claims) is not dict:
        raise MalformedTokenError("the claims set must be a JSON object")
    check(rules, claims, now)
    return claims  # type: ignore[no-any-return]


def _full_check(rules: Any, claims: dict[str, Any], now: Any) -> None:
    rules.check(claims, now)


def make_decode(loads: Any = _json.loads, check: Any = _full_check) -> Callable[..., Any]:
    """``tessera.decode`` with proposal B, plus C (``loads``) and E (``check``) if given."""

    def decode(
        token: Any,
        key: Any,
        algorithms: Any = None,
        issuer: Any = None,
        audience: Any = None,
        subject: Any = None,
        typ: Any = None,
        leeway: Any = 0,
        require: Any = ("exp",),
        now: Any = None,
        *,
        max_age: Any = None,
        validators: Any = None,
        limits: Any = jws.DEFAULT_LIMITS,
    ) -> dict[str, Any]:
        rules = tjwt._rules(issuer, audience, subject, typ, leeway, require, max_age, validators)
        allowed = None if algorithms is None else jws._allowed(algorithms)
        return fast_decode_core(token, key, allowed, rules, now, limits, loads, check)

    return decode


_C_ENCODE = _json.json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None,  # no circular-reference markers: shared state; a cycle ends in RecursionError
    _json._ENCODER.default,
    _json.json.encoder.c_encode_basestring,  # type: ignore[attr-defined]
    None,
    ":",
    ",",
    False,
    False,
    False,
)


def dumps_c(value: Any) -> bytes:
    """Proposal F: one prebuilt C encoder instead of JSONEncoder.encode building one per call."""
    try:
        return "".join(_C_ENCODE(value, 0)).encode("utf-8")
    except RecursionError:
        raise ValueError("circular or too deeply nested value") from None


def make_encode(dumps: Any) -> Callable[..., str]:
    """Proposal D with the given claims serialiser."""

    def encode(
        claims: Any, key: Any, alg: Any = None, headers: Any = None, typ: Any = "JWT"
    ) -> str:
        return fast_encode(claims, key, alg, headers, typ, dumps)

    return encode


def fast_encode(
    claims: Any,
    key: Any,
    alg: Any = None,
    headers: Any = None,
    typ: Any = "JWT",
    dumps: Any = _json.dumps,
) -> str:
    """Proposal D: bound key, no extra headers -> cached (header prefix, signer) per typ."""
    if alg is not None or headers or type(key) is not tessera.Key or key._algorithm is None:
        return tessera.encode(claims, key, alg, headers, typ)
    cached = _ENCODE_CACHE.get((id(key), typ))
    if cached is None:
        tessera.encode(claims, key, alg, headers, typ)  # fills the header cache, checks the key
        algorithm = key._algorithm
        prefix = key._header_segments[(algorithm.name, typ)] + b"."
        cached = _ENCODE_CACHE[(id(key), typ)] = (prefix, key._signer(algorithm), key)
    if not isinstance(claims, dict):
        return tessera.encode(claims, key, alg, headers, typ)
    tjwt._check_outgoing(claims)
    try:
        body = _b64.b64encode(dumps(claims))
    except (TypeError, ValueError):
        return tessera.encode(claims, key, alg, headers, typ)  # raises the proper error
    signing_input = cached[0] + body
    return (signing_input + b"." + _b64.b64encode(cached[1](signing_input))).decode("ascii")


_ENCODE_CACHE: dict[tuple[int, Any], tuple[bytes, Any, Any]] = {}


def fresh_keys(fx: _peers.Fixture, mode: str) -> tuple[tessera.Key, tessera.Key]:
    """New keys whose cached sign/verify functions are real, proposal A, or stubbed out."""
    priv = tessera.Key.from_jwk(fx.private_jwk)
    pub = priv if fx.alg.startswith("HS") else tessera.Key.from_jwk(fx.public_jwk)
    if mode == "A":
        _crypto.make_signer, _crypto.make_verifier = hmac_signer, hmac_verifier  # type: ignore[assignment]
    elif mode == "stub":
        sig = fx.signature
        _crypto.make_signer = lambda alg, material: lambda data: sig  # type: ignore[assignment]
        _crypto.make_verifier = lambda alg, material: lambda data, signature: True  # type: ignore[assignment]
    try:
        tessera.encode(fx.claims, priv)
        tessera.decode(fx.token, pub, issuer=ISS, audience=AUD)
    finally:
        _crypto.make_signer, _crypto.make_verifier = _REAL_SIGNER, _REAL_VERIFIER
    return priv, pub


VARIANTS: dict[str, tuple[Callable[..., Any], Callable[..., Any], str]] = {
    "current": (tessera.decode, tessera.encode, "real"),
    "A  HMAC keyed once, copy()": (tessera.decode, tessera.encode, "A"),
    "B  one-pass decode": (make_decode(), tessera.encode, "real"),
    "B+C  + JSON via scan_once": (make_decode(json_loads), tessera.encode, "real"),
    "B+C+E  + flat claim check": (make_decode(json_loads, fast_check), tessera.encode, "real"),
    "D  encode fast path": (tessera.decode, fast_encode, "real"),
    "D+F  + prebuilt C encoder": (tessera.decode, make_encode(dumps_c), "real"),
    "all (A-F)": (make_decode(json_loads, fast_check), make_encode(dumps_c), "A"),
}


def prototypes(fx: _peers.Fixture, rounds: int) -> dict[str, dict[str, float]]:
    """{variant: {"decode"/"encode" + "" or " stub": best µs}}, variants timed round-robin."""
    h_seg, p_seg, _ = fx.token.split(".")
    forged = f"{h_seg}.{p_seg}.{_b64.b64encode(bytes(len(fx.signature))).decode()}"
    ops: dict[str, dict[str, Callable[[], Any]]] = {}
    for name, (decode, encode, mode) in VARIANTS.items():
        for stub in (False, True):
            priv, pub = fresh_keys(fx, "stub" if stub else mode)
            assert decode(fx.token, pub, issuer=ISS, audience=AUD) == fx.claims, name
            token = encode(fx.claims, priv)
            assert tessera.decode(token, fx.public, issuer=ISS, audience=AUD) == fx.claims, name
            if fx.alg.startswith(("HS", "RS", "PS", "Ed")) or stub:
                assert token == fx.token, name  # deterministic signatures: identical tokens
            if not stub:
                try:
                    decode(forged, pub, issuer=ISS, audience=AUD)
                except tessera.SignatureError:
                    pass
                else:
                    raise AssertionError(f"{name} accepted a forged token")
            suffix = " stub" if stub else ""
            ops.setdefault("decode" + suffix, {})[name] = lambda d=decode, k=pub: d(
                fx.token, k, issuer=ISS, audience=AUD
            )
            ops.setdefault("encode" + suffix, {})[name] = lambda e=encode, k=priv: e(fx.claims, k)
    out: dict[str, dict[str, float]] = {name: {} for name in VARIANTS}
    for column, fns in ops.items():
        result = bench_core.measure(fx.alg, column, fns, rounds, 0.02)
        for name, cell in result.cells.items():
            out[name][column] = cell.best
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the three parts for each algorithm."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alg", action="append", choices=_peers.ALGORITHMS)
    parser.add_argument(
        "--cprofile", action="store_true", help="add cProfile tables (wall time: noisy when busy)"
    )
    args = parser.parse_args(argv)
    algs = args.alg or list(DEFAULT_ALGS)
    fixtures = _peers.make_fixtures(algs)
    floor = _peers.FLOOR
    for alg in algs:
        fx = fixtures[alg]
        f_enc, f_dec = floor.build(fx)
        print(f"\n=== {alg}: token {_peers.describe_token(fx)}")
        print(f"floor: sign {best_us(f_enc):.2f} µs, verify {best_us(f_dec):.2f} µs")
        if args.cprofile:
            calls = 20000 if alg.startswith("HS") else 2000
            token, claims, pub, priv = fx.token, fx.claims, fx.public, fx.private
            print("cProfile decode:")
            print(profile(partial(tessera.decode, token, pub, issuer=ISS, audience=AUD), calls, 12))
            print("cProfile encode:")
            print(profile(partial(tessera.encode, claims, priv), calls, 8))
        for title, stages in (("decode", decode_stages(fx)), ("encode", encode_stages(fx))):
            print(f"{title} stages, µs per call (best of 7, CPU time; indented = part of above):")
            for name, fn in stages.items():
                print(f"    {name:<32}{best_us(fn):8.2f}")
        print(
            "prototypes, µs per call (best of 9 interleaved rounds; 'stub' = primitive stubbed"
            " out, Tessera's own work; checked: same claims, same token, forgery refused):"
        )
        rows = prototypes(fx, 9)
        base = rows["current"]
        columns = ("decode", "decode stub", "encode", "encode stub")
        print("    " + " " * 28 + "".join(f"{c:>20}" for c in columns))
        for name, cells in rows.items():
            line = "".join(f"{cells[c]:>11.2f} ({cells[c] - base[c]:+5.2f})" for c in columns)
            print(f"    {name:<28}{line}")
        _ENCODE_CACHE.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
