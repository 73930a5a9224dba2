"""Strict JSON for JOSE headers and JWT claims (RFC 7515 sec. 5.2, RFC 8725 sec. 3.7).

UTF-8 only (no BOM, no overlong forms, no lone surrogates), duplicate member names rejected,
no NaN or Infinity, numbers finite, nesting depth bounded.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "dumps", "loads"]

DEFAULT_MAX_DEPTH = 32


_INFINITY = float("inf")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not -_INFINITY < value < _INFINITY:  # also false for NaN; no math import at start-up
        raise ValueError("number out of range")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# JSONEncoder.encode builds a C encoder on every call; build it once. No markers dict: a shared
# one is not cleared after an error, and a cycle then ends in RecursionError, handled below.
_C_ENCODE = (
    None
    if json.encoder.c_make_encoder is None  # type: ignore[attr-defined]
    else json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None,
        _ENCODER.default,
        json.encoder.c_encode_basestring,  # type: ignore[attr-defined]
        None,
        ":",
        ",",
        False,
        False,
        False,
    )
)


def _decode(text: str) -> Any:
    # The C scanner directly skips decode()'s wrappers and whitespace scans; surrounding
    # whitespace is rare but legal, so the full decoder handles whatever it does not consume.
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        return _DECODER.decode(text)
    return value if end == len(text) else _DECODER.decode(text)


def _depth(text: str) -> int:
    """Maximum nesting depth of a JSON text, skipping string contents."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    return deepest


def _check_strings(value: Any) -> None:
    """Reject strings that cannot be UTF-8 (lone surrogates from ``\\ud800`` escapes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")
        elif isinstance(item, dict):
            for k, v in item.items():
                k.encode("utf-8")
                stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)


def loads(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse strict UTF-8 JSON.

    Raises:
        ValueError: invalid UTF-8 or JSON, BOM, duplicates, NaN/Infinity, too deep.
    """
    text = data.decode("utf-8")
    # Depth never exceeds the number of brackets, so the exact scan runs only when it could.
    if (text.count("{") > max_depth or "[" in text) and (
        text.count("[") + text.count("{") > max_depth and _depth(text) > max_depth
    ):
        raise ValueError("JSON nesting too deep")
    try:
        value = _decode(text)
    except RecursionError:
        raise ValueError("JSON nesting too deep") from None
    if "\\u" in text:
        _check_strings(value)
    return value


def dumps(value: Any) -> bytes:
    """Serialise compactly as UTF-8 JSON.

    Raises:
        ValueError: NaN/Infinity or strings that are not valid Unicode.
        TypeError: a value JSON cannot represent.
    """
    if _C_ENCODE is None:
        return _ENCODER.encode(value).encode("utf-8")
    try:
        return "".join(_C_ENCODE(value, 0)).encode("utf-8")
    except RecursionError:
        raise ValueError("value is circular or nested too deeply") from None
