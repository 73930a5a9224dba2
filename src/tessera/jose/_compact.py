"""Compact serialisation: the shape checks shared by every reader of a compact token.

Kept apart from signing and verification so that inspecting a token (``tessera decode``,
:func:`decode_unverified`) loads neither keys nor cryptography.
"""

from __future__ import annotations

from tessera.errors import ConfigurationError, MalformedTokenError
from tessera.jose import _json
from tessera.jose._b64 import b64decode_alphabet_checked, is_compact_text

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_HEADER_SEGMENT",
    "Limits",
    "decode_segment",
    "decode_unverified",
    "load_serialisation",
    "split_segments",
]

MAX_HEADER_SEGMENT = 8192


class Limits:
    """Bounds on untrusted input (attack catalogue #34, #35); all are configurable.

    ``max_token_size`` is in characters, ``max_json_depth`` counts nested arrays/objects.
    """

    __slots__ = ("max_json_depth", "max_token_size")

    def __init__(self, max_token_size: int = 65536, max_json_depth: int = 32) -> None:
        for name, value in (("max_token_size", max_token_size), ("max_json_depth", max_json_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a positive integer")
        self.max_token_size = max_token_size
        self.max_json_depth = max_json_depth

    def __repr__(self) -> str:
        return f"Limits(max_token_size={self.max_token_size}, max_json_depth={self.max_json_depth})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Limits):
            return NotImplemented
        return (self.max_token_size, self.max_json_depth) == (
            other.max_token_size,
            other.max_json_depth,
        )

    def __hash__(self) -> int:
        return hash((self.max_token_size, self.max_json_depth))


DEFAULT_LIMITS = Limits()


def split_segments(token: str | bytes, limits: Limits) -> tuple[str, str, str, str]:
    """Check a compact JWS's size, alphabet and shape (RFC 8725bis sec. 3.14) and split it.

    Raises:
        MalformedTokenError: too large, other characters, not exactly three segments.
    """
    if type(token) is not str:
        if isinstance(token, bytes | bytearray):
            try:
                token = bytes(token).decode("ascii")
            except UnicodeDecodeError:
                raise MalformedTokenError("token must be ASCII") from None
        elif not isinstance(token, str):
            raise MalformedTokenError("token must be a string")
    if len(token) > limits.max_token_size:
        raise MalformedTokenError(f"token exceeds {limits.max_token_size} characters")
    parts = token.split(".", 5)  # bounded: a token of a million dots splits in O(1) pieces
    if len(parts) != 3 or not is_compact_text(token):
        if len(parts) == 5 and is_compact_text(token):
            raise MalformedTokenError("this is a JWE (5 segments), not a JWS")
        raise MalformedTokenError("a compact JWS is three base64url segments separated by dots")
    h_seg, p_seg, s_seg = parts
    if not h_seg:
        raise MalformedTokenError("the header segment is empty")
    return h_seg, p_seg, s_seg, token


def load_serialisation(
    value: Mapping[str, Any] | str | bytes, limits: Limits, what: str
) -> dict[str, Any]:
    """A JWS or JWE JSON serialisation (``what``) as a dict: parsed strictly if given as text.

    Raises:
        MalformedTokenError: over ``limits.max_token_size``, not JSON, or not an object.
    """
    from collections.abc import Mapping  # here: compact-only readers never pay for it

    if isinstance(value, str | bytes):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        if len(raw) > limits.max_token_size:
            raise MalformedTokenError(f"{what} exceeds {limits.max_token_size} bytes")
        try:
            value = _json.loads(raw, limits.max_json_depth)
        except ValueError:
            raise MalformedTokenError(f"{what} JSON serialisation is not valid JSON") from None
    if not isinstance(value, Mapping):
        raise MalformedTokenError(f"{what} JSON serialisation must be an object")
    return dict(value)


def decode_segment(segment: str, max_depth: int = _json.DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Decode a header segment (base64url text) into a JSON object, checking nothing else.

    Raises:
        MalformedTokenError: too large, not canonical base64url, not UTF-8 JSON, not an object.
    """
    if len(segment) > MAX_HEADER_SEGMENT:
        raise MalformedTokenError("header too large")
    try:
        header = _json.loads(b64decode_alphabet_checked(segment), max_depth)
    except ValueError:
        raise MalformedTokenError("header is not base64url-encoded UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise MalformedTokenError("header must be a JSON object")
    return header


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
