"""PKCE (RFC 7636): the S256 method only; ``plain`` protects nothing a code interceptor lacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["METHODS", "is_challenge", "is_verifier", "s256", "verifies"]

METHODS = ("S256",)
"""``code_challenge_methods_supported`` (RFC 8414 sec. 2)."""
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}\Z")  # RFC 7636 sec. 4.1
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}\Z")  # base64url of 32 bytes, no padding


def is_verifier(value: str) -> bool:
    """True for a well-formed ``code_verifier`` (43-128 unreserved characters)."""
    return bool(_VERIFIER.match(value))


def is_challenge(value: str) -> bool:
    """True for a well-formed S256 ``code_challenge`` (43 base64url characters)."""
    return bool(_CHALLENGE.match(value))


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) (RFC 7636 sec. 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifies(verifier: str, challenge: str) -> bool:
    """True when ``verifier`` is well-formed and hashes to ``challenge`` (constant time)."""
    return is_verifier(verifier) and hmac.compare_digest(s256(verifier), challenge)
