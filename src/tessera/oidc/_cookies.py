"""Encrypted, authenticated cookie values for the web helpers: JWE ``dir`` + ``A256GCM``.

Each purpose (the pending sign-in, the session) has its own key, derived from the app's secret
with HKDF-SHA256, so one cookie can never be replayed as the other. Values expire on their own
``exp`` (the browser's Max-Age is only a hint) and anything unreadable is simply absent.
"""

from __future__ import annotations

import json
import math
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tessera.errors import ConfigurationError, InvalidToken
from tessera.jose import jwe
from tessera.jose._b64 import b64encode
from tessera.jose.jwk import Key

__all__ = ["MAX_COOKIE", "CookieSealer"]

MAX_COOKIE = 4000  # browsers keep at least 4096 bytes per cookie, name and attributes included
_MIN_SECRET = 32


class CookieSealer:
    """Seals and opens cookie values for named purposes with keys derived from ``secret_key``.

    Raises:
        ConfigurationError: a secret shorter than 32 bytes.
    """

    __slots__ = ("_keys", "_secret")

    def __init__(self, secret_key: str | bytes) -> None:
        secret = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
        if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET:
            raise ConfigurationError(
                "secret_key must have at least 32 bytes (secrets.token_urlsafe)"
            )
        self._secret = secret
        self._keys: dict[str, Key] = {}

    def _key(self, purpose: str) -> Key:
        key = self._keys.get(purpose)
        if key is None:
            material = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=None,
                info=b"tessera.oidc cookie " + purpose.encode("ascii"),
            ).derive(self._secret)
            key = Key.from_jwk({"kty": "oct", "k": b64encode(material).decode(), "alg": "dir"})
            self._keys[purpose] = key
        return key

    def seal(self, purpose: str, payload: dict[str, Any], expires_at: float) -> str:
        """The encrypted value of ``payload``, readable until ``expires_at`` (epoch seconds)."""
        body = json.dumps({**payload, "exp": math.floor(expires_at)}, separators=(",", ":"))
        return jwe.encrypt(body.encode("utf-8"), self._key(purpose), enc="A256GCM")

    def open(self, purpose: str, value: str | None, now: float) -> dict[str, Any] | None:
        """The payload of a value sealed for ``purpose``, or None if absent, forged or expired."""
        if not value or len(value) > MAX_COOKIE or not value.isascii():
            return None
        try:
            plaintext = jwe.decrypt(value, self._key(purpose)).plaintext
            data = json.loads(plaintext)
        except (InvalidToken, ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        exp = data.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int) or now >= exp:
            return None
        return data
