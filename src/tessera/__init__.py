"""Tessera: JSON Web Tokens for Python, strict by default (RFC 8725) and fast.

>>> import tessera
>>> key = tessera.Key.generate("ES256")
>>> token = tessera.encode({"sub": "alice", "exp": 4102444800}, key)
>>> tessera.decode(token, key.public())["sub"]
'alice'
"""

# Names are loaded on first use (PEP 562): ``import tessera`` costs next to nothing, and
# inspecting a token never loads keys or cryptography (the CLI starts fast).
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        [
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
            "KeyNotFoundError",
            "MalformedTokenError",
            "MissingClaimError",
            "NotYetValidError",
            "SignatureError",
            "TesseraError",
            "UnsupportedHeaderError",
        ],
        "tessera.errors",
    ),
    "Key": "tessera.jose.jwk",
    "KeySet": "tessera.jose.jwk",
    "Limits": "tessera.jose._compact",
    "decode": "tessera.jose.jwt",
    "decode_unverified": "tessera.jose._compact",
    "encode": "tessera.jose.jwt",
}
_SUBMODULES = {"jwe": "tessera.jose.jwe", "jws": "tessera.jose.jws"}

TYPE_CHECKING = False
if TYPE_CHECKING:
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
    from tessera.jose import jwe, jws
    from tessera.jose._compact import Limits, decode_unverified
    from tessera.jose.jwk import Key, KeySet
    from tessera.jose.jwt import decode, encode

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # __import__ rather than importlib: that package alone costs a start-up's worth of time.
    if name in _LAZY:
        value: object = getattr(__import__(_LAZY[name], fromlist=[name]), name)
    elif name in _SUBMODULES:
        value = __import__(_SUBMODULES[name], fromlist=["_"])
    else:
        raise AttributeError(f"module 'tessera' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
