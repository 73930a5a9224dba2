"""Tessera: JSON Web Tokens for Python, strict by default (RFC 8725) and fast.

>>> import tessera
>>> key = tessera.Key.generate("ES256")
>>> token = tessera.encode({"sub": "alice", "exp": 4102444800}, key)
>>> tessera.decode(token, key.public())["sub"]
'alice'
"""

from types import ModuleType
from typing import TYPE_CHECKING

from tessera.errors import (
    AlgorithmNotAllowedError,
    ClaimError,
    ConfigurationError,
    DecryptionError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidKey,
    InvalidSubjectError,
    InvalidToken,
    InvalidTypeError,
    KeyNotFoundError,
    MalformedTokenError,
    MissingClaimError,
    NotYetValidError,
    SignatureError,
    TesseraError,
    UnsupportedHeaderError,
)
from tessera.jose import jws
from tessera.jose.jwk import Key, KeySet
from tessera.jose.jws import Limits
from tessera.jose.jwt import decode, decode_unverified, encode

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tessera.jose import jwe


def __getattr__(name: str) -> ModuleType:
    # JWE is loaded on first use: most programs never need it, and start-up time matters.
    if name == "jwe":
        from tessera.jose import jwe

        return jwe
    raise AttributeError(f"module 'tessera' has no attribute {name!r}")

__all__ = [
    "AlgorithmNotAllowedError",
    "ClaimError",
    "ConfigurationError",
    "DecryptionError",
    "ExpiredTokenError",
    "InvalidAudienceError",
    "InvalidIssuerError",
    "InvalidKey",
    "InvalidSubjectError",
    "InvalidToken",
    "InvalidTypeError",
    "Key",
    "KeyNotFoundError",
    "KeySet",
    "Limits",
    "MalformedTokenError",
    "MissingClaimError",
    "NotYetValidError",
    "SignatureError",
    "TesseraError",
    "UnsupportedHeaderError",
    "__version__",
    "decode",
    "decode_unverified",
    "encode",
    "jwe",
    "jws",
]
