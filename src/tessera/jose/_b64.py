"""Canonical base64url (RFC 7515 sec. 2): no padding, no whitespace, no stray bits.

Python's own decoder skips junk and padding; a lenient decoder makes tokens malleable
(attack catalogue #26, #29), so every decode here is strict.
"""

from __future__ import annotations

import binascii

__all__ = [
    "COMPACT_ALPHABET",
    "b64decode",
    "b64decode_alphabet_checked",
    "b64decode_ascii_checked",
    "b64encode",
    "b64encode_str",
    "is_b64url",
    "is_compact_text",
]

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_COMPACT_ALPHABET = _ALPHABET + b"."
_TO_STD = bytes.maketrans(b"-_", b"+/")
_FROM_STD = bytes.maketrans(b"+/", b"-_")
# The last character of a segment must leave the unused low bits at zero.
_LAST_IF_2 = frozenset("AQgw")
_LAST_IF_3 = frozenset("AEIMQUYcgkosw048")
_LAST_BYTE_IF_2 = frozenset(b"AQgw")
_LAST_BYTE_IF_3 = frozenset(b"AEIMQUYcgkosw048")
_PADDING = (b"", b"", b"==", b"=")
_URL_TO_STRICT = bytes.maketrans(b"-_+/=", b"+/!!!")


def is_b64url(text: str) -> bool:
    """True if ``text`` holds only base64url characters (``re`` would cost start-up time)."""
    return text.isascii() and not text.encode("ascii").translate(None, _ALPHABET)


COMPACT_ALPHABET = _COMPACT_ALPHABET


def is_compact_text(text: str) -> bool:
    """True if ``text`` holds only base64url characters and dots (RFC 8725bis sec. 3.14)."""
    return text.isascii() and not text.encode("ascii").translate(None, _COMPACT_ALPHABET)


def b64encode(data: bytes) -> bytes:
    """Encode bytes as unpadded base64url ASCII bytes."""
    return binascii.b2a_base64(data, newline=False).translate(_FROM_STD).rstrip(b"=")


def b64encode_str(data: bytes) -> str:
    """Encode bytes as an unpadded base64url string."""
    return b64encode(data).decode("ascii")


def b64decode_alphabet_checked(segment: str) -> bytes:
    """Decode a segment already known to hold only base64url characters.

    Raises:
        ValueError: impossible length or non-zero unused bits.
    """
    rem = len(segment) & 3
    if rem:
        if rem == 1:
            raise ValueError("invalid base64url length")
        if segment[-1] not in (_LAST_IF_2 if rem == 2 else _LAST_IF_3):
            raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STD) + b"==")


def b64decode_ascii_checked(segment: bytes) -> bytes:
    """Decode one segment of canonical base64url given as bytes, checking every character.

    The hot path of JWT verification: no separate alphabet scan is needed. One translation
    maps the URL-safe alphabet onto the standard one and "+", "/" and "=" onto "!", so the
    strict decoder refuses every character that is not base64url.

    Raises:
        ValueError: a character outside the alphabet, padding, bad length or stray bits.
    """
    rem = len(segment) & 3
    if rem:
        if rem == 1:
            raise ValueError("invalid base64url length")
        if segment[-1] not in (_LAST_BYTE_IF_2 if rem == 2 else _LAST_BYTE_IF_3):
            raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(segment.translate(_URL_TO_STRICT) + _PADDING[rem], strict_mode=True)


def b64decode(segment: str | bytes) -> bytes:
    """Decode canonical unpadded base64url text.

    Raises:
        ValueError: any character outside the alphabet, padding, bad length or stray bits.
    """
    if isinstance(segment, bytes):
        try:
            segment = segment.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("base64url must be ASCII") from None
    if not isinstance(segment, str) or not is_b64url(segment):
        raise ValueError("invalid base64url characters")
    return b64decode_alphabet_checked(segment)
