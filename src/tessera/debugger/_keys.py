"""Keys as the page sends them: a secret, PEM, JWK, JWKS (pasted or by URL) or the server's.

The page names the kind of key explicitly, and the kind fixes the algorithm family: a
secret is only ever an HMAC key and a PEM never one, so a token's ``alg`` header cannot
turn a public key into an HMAC secret (attack catalogue #3-#5).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tessera import Key, KeySet
from tessera.jose.jwa import JWS_ALGORITHMS, Family

from ._http import RequestError, field

__all__ = [
    "KeyKind",
    "KeySpec",
    "SecretEncoding",
    "ServerKeys",
    "algorithms_for",
    "describe",
    "hmac_algorithm",
    "load_key",
    "parse_key_spec",
    "secret_bytes",
    "secret_jwk",
    "signing_key",
]

ServerKeys = Callable[[], KeySet]

_HMAC = tuple(name for name, a in JWS_ALGORITHMS.items() if a.family is Family.HMAC)
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class KeyKind(StrEnum):
    """What the text in the page's key box is."""

    SECRET = "secret"
    PEM = "pem"
    JWK = "jwk"
    JWKS = "jwks"
    JWKS_URL = "jwks_url"
    SERVER = "server"


class SecretEncoding(StrEnum):
    """How a secret is written in the box: as UTF-8 text or as base64url."""

    TEXT = "text"
    BASE64URL = "base64url"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A key description from a request body, checked for shape but not yet loaded."""

    kind: KeyKind
    value: str
    encoding: SecretEncoding = SecretEncoding.TEXT
    password: str | None = None


def parse_key_spec(data: Any) -> KeySpec:
    """The ``key`` member of a request: ``{"kind", "value", "encoding"?, "password"?}``."""
    if not isinstance(data, dict):
        raise RequestError(400, "invalid_request", "'key' must be a JSON object")
    kind_name = field(data, "kind", str, required=True)
    try:
        kind = KeyKind(kind_name)
    except ValueError:
        choices = ", ".join(k.value for k in KeyKind)
        raise RequestError(400, "invalid_request", f"key kind must be one of {choices}") from None
    value = field(data, "value", str) or ""
    if kind is not KeyKind.SERVER and not value.strip():
        raise RequestError(400, "invalid_request", "the key is empty")
    encoding_name = field(data, "encoding", str) or SecretEncoding.TEXT.value
    try:
        encoding = SecretEncoding(encoding_name)
    except ValueError:
        raise RequestError(
            400, "invalid_request", "secret encoding must be 'text' or 'base64url'"
        ) from None
    return KeySpec(kind, value, encoding, field(data, "password", str))


def secret_bytes(spec: KeySpec) -> bytes:
    """The secret's bytes: UTF-8 text as typed, or strictly decoded base64url."""
    if spec.encoding is SecretEncoding.TEXT:
        return spec.value.encode("utf-8")
    text = spec.value.strip()
    if not set(text) <= _B64URL or len(text) % 4 == 1:
        raise RequestError(400, "invalid_key", "the secret is not base64url (A-Z a-z 0-9 - _)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise RequestError(400, "invalid_key", "the secret is not base64url") from None


def secret_jwk(spec: KeySpec) -> dict[str, str]:
    """The secret as an unbound ``oct`` JWK (no size check until it is used with an alg)."""
    encoded = base64.urlsafe_b64encode(secret_bytes(spec)).rstrip(b"=").decode("ascii")
    return {"kty": "oct", "k": encoded}


def hmac_algorithm(header_alg: Any) -> str:
    """The HMAC algorithm a secret is bound to: the token's, if it is an HMAC one."""
    return header_alg if isinstance(header_alg, str) and header_alg in _HMAC else "HS256"


def _password(spec: KeySpec) -> bytes | None:
    return spec.password.encode("utf-8") if spec.password else None


def load_key(spec: KeySpec, alg: str | None) -> Key | KeySet:
    """A key or key set from a pasted spec (not the URL or server kinds)."""
    if spec.kind is KeyKind.SECRET:
        return Key.from_secret(secret_bytes(spec), alg=alg or "HS256")
    if spec.kind is KeyKind.PEM:
        return Key.from_pem(spec.value.strip(), _password(spec), alg=alg)
    if spec.kind is KeyKind.JWK:
        return Key.from_jwk(spec.value)
    if spec.kind is KeyKind.JWKS:
        return KeySet.from_jwks(spec.value)
    raise RequestError(400, "invalid_request", f"a {spec.kind.value} key cannot be used here")


def signing_key(spec: KeySpec, alg: str) -> Key:
    """The private key that signs with ``alg``: a secret, a PEM or a JWK."""
    if spec.kind is KeyKind.SECRET:
        if alg not in _HMAC:
            raise RequestError(400, "invalid_key", f"a secret signs only HS256/384/512, not {alg}")
        return Key.from_secret(secret_bytes(spec), alg=alg)
    if spec.kind is KeyKind.PEM:
        return Key.from_pem(spec.value.strip(), _password(spec), alg=alg)
    if spec.kind is KeyKind.JWK:
        key = Key.from_jwk(spec.value)
        return key if key.alg is not None else Key.from_jwk(spec.value, alg=alg)
    raise RequestError(400, "invalid_request", "sign with a secret, a PEM or a JWK")


def algorithms_for(keys: Key | KeySet) -> list[str]:
    """The algorithms a key (or each key of a set) can verify: its bound one, or its family's."""
    found: list[str] = []
    for key in [keys] if isinstance(keys, Key) else list(keys):
        if key.alg is not None:
            names = [key.alg] if key.alg in JWS_ALGORITHMS else []
        else:
            names = [
                name
                for name, algorithm in JWS_ALGORITHMS.items()
                if algorithm.kty == key.kty
                and (not algorithm.curves or key.crv in algorithm.curves)
            ]
        found += [name for name in names if name not in found]
    return found


def describe(key: Key) -> dict[str, Any]:
    """What the page shows about a key: never its material."""
    return {"kid": key.kid, "kty": key.kty, "alg": key.alg, "crv": key.crv}
