"""Strict JSON for JOSE headers and JWT claims (RFC 7515 sec. 5.2, RFC 8725 sec. 3.7).

UTF-8 only (no BOM, no overlong forms, no lone surrogates), duplicate member names rejected,
no NaN or Infinity, numbers finite, nesting depth bounded.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    _Scanner = Callable[[str, int], tuple[Any, int]]

__all__ = ["DEFAULT_MAX_DEPTH", "dumps", "loads"]

DEFAULT_MAX_DEPTH = 32
_INFINITY = float("inf")
_WHITESPACE = " \t\n\r"


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


def _not_json(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _Context:
    """The settings CPython's C JSON scanner reads (what json.JSONDecoder would hold)."""

    strict = True
    object_hook = None
    object_pairs_hook: Callable[[list[tuple[str, Any]]], dict[str, Any]] | None
    object_pairs_hook = staticmethod(_pairs)
    parse_float = staticmethod(_float)
    parse_int = int
    parse_constant = staticmethod(_constant)


class _FlatContext(_Context):
    """The same, but the C scanner builds each object itself: duplicates are found by count."""

    object_pairs_hook = None


def _build() -> tuple[_Scanner, _Scanner, Callable[[Any, int], list[str]]]:
    # The C accelerator directly: the json package would import re and enum, a sizeable part
    # of `tessera decode`'s start-up. Pure Python falls back to the json package.
    try:
        import _json as accelerator
    except ImportError:  # not CPython
        import json

        decoder = json.JSONDecoder(
            object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float
        )
        encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        scan_once = decoder.scan_once  # type: ignore[attr-defined]
        return scan_once, scan_once, lambda value, _level: list(encoder.iterencode(value))
    scan = accelerator.make_scanner(_Context())  # type: ignore[arg-type]
    flat = accelerator.make_scanner(_FlatContext())  # type: ignore[arg-type]
    # No markers dict: a shared one is not cleared after an error; a cycle then ends in
    # RecursionError instead, which dumps() reports.
    encode = accelerator.make_encoder(
        None, _not_json, accelerator.encode_basestring, None, ":", ",", False, False, False
    )
    return scan, flat, encode


_SCAN, _SCAN_FLAT, _ENCODE = _build()


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
    """Parse strict UTF-8 JSON: one value, whitespace allowed around it, nothing else.

    Raises:
        ValueError: invalid UTF-8 or JSON, BOM, duplicates, NaN/Infinity, too deep.
    """
    text = data.decode("utf-8")
    if text[:1] == "{" and "[" not in text and text.find("{", 1) < 0:
        # A flat object (a typical claims set): depth 1, and only its own members can repeat.
        # Its M members are joined by M - 1 commas and a comma inside a string only adds to
        # the count, so count + 1 == len(dict) proves that no member was overwritten.
        try:
            value, end = _SCAN_FLAT(text, 0)
        except (StopIteration, ValueError, SystemError):
            pass  # the checked path below parses it again and says what is wrong
        else:
            if end == len(text) and text.count(",") + 1 == len(value):
                if "\\" in text and "\\u" in text:
                    _check_strings(value)
                return value
    return _loads_checked(text, max_depth)


def _loads_checked(text: str, max_depth: int) -> Any:
    """Parse any JSON text with every check done while scanning (duplicates by the hook)."""
    # Depth never exceeds the number of brackets, so the exact scan runs only when it could.
    if (text.count("{") > max_depth or "[" in text) and (
        text.count("[") + text.count("{") > max_depth and _depth(text) > max_depth
    ):
        raise ValueError("JSON nesting too deep")
    start = len(text) - len(text.lstrip(_WHITESPACE)) if text[:1] in _WHITESPACE else 0
    try:
        value, end = _SCAN(text, start)
    except StopIteration:
        raise ValueError("invalid JSON") from None
    except RecursionError:
        raise ValueError("JSON nesting too deep") from None
    except SystemError:
        value, end = _rescan(text, start)
    if end != len(text) and text[end:].strip(_WHITESPACE):
        raise ValueError("extra data after the JSON value")
    if "\\" in text and "\\u" in text:  # memchr first: escapes are rare
        _check_strings(value)
    return value


def _rescan(text: str, start: int) -> tuple[Any, int]:
    # CPython 3.11's scanner reports some errors through json.decoder, which it expects to
    # be imported already: import it (error path only) and parse again for the error.
    import json.decoder  # noqa: F401

    try:
        return _SCAN(text, start)
    except StopIteration:
        raise ValueError("invalid JSON") from None
    except RecursionError:
        raise ValueError("JSON nesting too deep") from None


def dumps(value: Any) -> bytes:
    """Serialise compactly as UTF-8 JSON.

    Raises:
        ValueError: NaN/Infinity or strings that are not valid Unicode.
        TypeError: a value JSON cannot represent.
    """
    try:
        return "".join(_ENCODE(value, 0)).encode("utf-8")
    except RecursionError:
        raise ValueError("value is circular or nested too deeply") from None
