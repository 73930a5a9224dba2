"""Parsing and writing the JWE JSON serialisation (RFC 7516 sec. 7.2), apart from the crypto."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from tessera.errors import MalformedTokenError, UnsupportedHeaderError
from tessera.jose._b64 import b64decode, b64encode, is_b64url
from tessera.jose._compact import load_serialisation
from tessera.jose._header import decode_segment
from tessera.jose._jwe_policy import PROTECTED_ONLY, check_protected

if TYPE_CHECKING:
    from tessera.jose._compact import Limits

__all__ = [
    "MAX_RECIPIENTS",
    "Parsed",
    "disjoint",
    "header_object",
    "member",
    "parse",
    "serialise",
]

MAX_RECIPIENTS = 16


class Parsed(NamedTuple):
    """A JWE JSON serialisation's members, checked and decoded, and its full AAD."""

    protected: dict[str, Any]
    shared: dict[str, Any]
    entries: list[dict[str, Any]]
    enc: str
    compressed: bool
    parts: tuple[bytes, bytes, bytes]  # iv, ciphertext, tag
    aad: bytes | None
    full_aad: bytes


def disjoint(*headers: Mapping[str, Any]) -> bool:
    """Whether no header name appears in more than one of ``headers``."""
    seen: set[str] = set()
    for header in headers:
        if seen & header.keys():
            return False
        seen.update(header)
    return True


def member(obj: Mapping[str, Any], name: str) -> tuple[str, bytes]:
    """A base64url member of the JSON serialisation: (text, decoded); absent means empty."""
    value = obj.get(name, "")
    if not isinstance(value, str):
        raise MalformedTokenError(f"{name} must be a base64url string")
    try:
        return value, b64decode(value)
    except ValueError:
        raise MalformedTokenError(f"{name} is not canonical base64url") from None


def header_object(value: Any, name: str) -> dict[str, Any]:
    """An unprotected header member: an object, or empty when absent."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedTokenError(f"{name} must be an object")
    return value


def _recipient_entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if "recipients" in obj:
        if "encrypted_key" in obj or "header" in obj:
            raise MalformedTokenError("general JWE must not also have flattened members")
        entries = obj["recipients"]
        if not isinstance(entries, list) or not entries:
            raise MalformedTokenError("recipients must be a non-empty array")
        if len(entries) > MAX_RECIPIENTS:
            raise MalformedTokenError(f"a JWE may have at most {MAX_RECIPIENTS} recipients")
        for entry in entries:
            if not isinstance(entry, dict):
                raise MalformedTokenError("each recipient must be an object")
        return entries
    return [{name: obj[name] for name in ("header", "encrypted_key") if name in obj}]


def parse(jwe: Mapping[str, Any] | str | bytes, limits: Limits) -> Parsed:
    """Check a general or flattened JWE's structure and shared headers, and decode it."""
    obj = load_serialisation(jwe, limits, "JWE")
    if "ciphertext" not in obj:
        raise MalformedTokenError("not a JWE JSON serialisation (no ciphertext)")
    entries = _recipient_entries(obj)
    h_seg = obj.get("protected", "")
    if not isinstance(h_seg, str) or not is_b64url(h_seg):
        raise MalformedTokenError("protected must be a base64url string")
    protected = decode_segment(h_seg, limits.max_json_depth) if h_seg else {}
    shared = header_object(obj.get("unprotected"), "unprotected")
    for name in PROTECTED_ONLY:
        if name in shared or any(name in header_object(e.get("header"), "header") for e in entries):
            raise UnsupportedHeaderError(f"{name} must be in the protected header")
    enc, compressed = check_protected(protected)
    iv, ciphertext, tag = (member(obj, name)[1] for name in ("iv", "ciphertext", "tag"))
    aad_text, aad = member(obj, "aad")
    full_aad = h_seg.encode("ascii") + (b"." + aad_text.encode("ascii") if "aad" in obj else b"")
    return Parsed(
        protected,
        shared,
        entries,
        enc,
        compressed,
        (iv, ciphertext, tag),
        aad if "aad" in obj else None,
        full_aad,
    )


def serialise(
    h_seg: bytes,
    shared: dict[str, Any],
    entries: Sequence[tuple[dict[str, Any], bytes]],
    aad: bytes | None,
    sealed: tuple[bytes, bytes, bytes],
    flattened: bool,
) -> dict[str, Any]:
    """The general (or flattened) JSON object for the sealed ``(iv, ciphertext, tag)``."""
    iv, ciphertext, tag = sealed
    out: dict[str, Any] = {"protected": h_seg.decode("ascii")}
    if shared:
        out["unprotected"] = shared
    recipient_objects = []
    for own, encrypted_key in entries:
        entry: dict[str, Any] = {}
        if own:
            entry["header"] = own
        if encrypted_key:
            entry["encrypted_key"] = b64encode(encrypted_key).decode("ascii")
        recipient_objects.append(entry)
    if flattened:
        out.update(recipient_objects[0])
    else:
        out["recipients"] = recipient_objects
    if aad is not None:
        out["aad"] = b64encode(bytes(aad)).decode("ascii")
    out["iv"] = b64encode(iv).decode("ascii")
    out["ciphertext"] = b64encode(ciphertext).decode("ascii")
    out["tag"] = b64encode(tag).decode("ascii")
    return out
