"""Parsing and checking JWS protected headers (RFC 7515 sec. 4), with a small cache.

A header segment always parses to the same result, and issuers reuse a handful of headers,
so parsed headers are cached by their exact segment text: the hot path skips base64 and JSON.
"""

from __future__ import annotations

from tessera.errors import AlgorithmNotAllowedError, MalformedTokenError, UnsupportedHeaderError
from tessera.jose import _json
from tessera.jose._compact import decode_segment
from tessera.jose.jwa import JWS_ALGORITHMS, Algorithm

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


__all__ = [
    "REGISTERED",
    "ParsedHeader",
    "check_common",
    "check_crit",
    "check_header",
    "decode_segment",
    "parse_protected",
]

# Registered JWS/JWE header names: never valid in crit (RFC 7515 sec. 4.1.11).
REGISTERED = frozenset({
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
    "enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
})  # fmt: skip
MAX_KID_LENGTH = 256
_CACHE_SIZE = 256


class ParsedHeader:
    """A checked protected header: the dict, its algorithm, kid, and extension flags."""

    __slots__ = ("algorithm", "b64", "extended", "header", "kid")

    def __init__(
        self,
        header: dict[str, Any],
        algorithm: Algorithm,
        kid: str | None,
        b64: bool,
        extended: bool,
    ) -> None:
        self.header = header
        self.algorithm = algorithm
        self.kid = kid
        self.b64 = b64
        self.extended = extended  # has crit or b64: JWTs refuse both


_cache: dict[str, ParsedHeader] = {}


def check_crit(header: dict[str, Any], understood: frozenset[str]) -> None:
    """Enforce ``crit`` (RFC 7515 sec. 4.1.11) against the extensions the caller understands.

    Raises:
        UnsupportedHeaderError: empty, malformed, registered, absent or not understood names.
    """
    crit = header.get("crit")
    if crit is None:
        return
    if not isinstance(crit, list) or not crit:
        raise UnsupportedHeaderError("crit must be a non-empty array")
    if len(set(map(repr, crit))) != len(crit) or not all(isinstance(n, str) for n in crit):
        raise UnsupportedHeaderError("crit must list unique strings")
    for name in crit:
        if name in REGISTERED:
            raise UnsupportedHeaderError(f"crit must not name registered parameter {name!r}")
        if name not in header:
            raise UnsupportedHeaderError(f"crit names {name!r}, which the header lacks")
        if name not in understood:
            raise UnsupportedHeaderError(f"critical extension {name!r} is not supported")


def check_common(header: Mapping[str, Any]) -> str | None:
    """Check ``kid``, ``typ`` and ``cty`` (shared by JWS and JWE headers); return the kid."""
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise MalformedTokenError(f"kid must be a string of at most {MAX_KID_LENGTH} characters")
    for name in ("typ", "cty"):
        if name in header and not isinstance(header[name], str):
            raise MalformedTokenError(f"header {name} must be a string")
    return kid


def check_header(header: dict[str, Any]) -> ParsedHeader:
    """Check the members every JWS protected header must get right, and resolve ``alg``."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedTokenError("header alg must be a string")
    algorithm = JWS_ALGORITHMS.get(alg)
    if algorithm is None:
        # 'none' and every unknown or differently-cased name (attack catalogue #1, #2).
        raise AlgorithmNotAllowedError(f"algorithm {alg[:32]!r} is not allowed")
    kid = check_common(header)
    b64 = header.get("b64", True)
    if not isinstance(b64, bool):
        raise MalformedTokenError("header b64 must be a boolean")
    crit = header.get("crit")
    if "b64" in header and (not isinstance(crit, list) or "b64" not in crit):
        # RFC 7797 sec. 6: b64 without crit would be silently misread by other verifiers.
        raise UnsupportedHeaderError("b64 must be listed in crit")
    return ParsedHeader(header, algorithm, kid, b64, "crit" in header or "b64" in header)


def parse_protected(segment: str, max_depth: int = _json.DEFAULT_MAX_DEPTH) -> ParsedHeader:
    """Decode and check a protected-header segment (already known to be base64url text)."""
    parsed = _cache.get(segment)
    if parsed is not None:
        return parsed
    parsed = check_header(decode_segment(segment, max_depth))
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[segment] = parsed
    return parsed
