"""The exception hierarchy: every error Tessera raises derives from :class:`TesseraError`.

::

    TesseraError
    ├── ConfigurationError        the caller asked for something unsafe or contradictory
    ├── InvalidKey                unusable or unsafe key material, bad JWK or PEM input
    └── InvalidToken              a token was rejected; the subclass says why
        ├── MalformedTokenError   not well formed: encoding, JSON, structure or size
        ├── UnsupportedHeaderError  header parameter not allowed here (crit, b64, zip ...)
        ├── AlgorithmNotAllowedError  alg not in the allow-list or not the key's bound algorithm
        ├── KeyNotFoundError      no key in the key set matches the token
        ├── SignatureError        the signature does not verify
        ├── DecryptionError       a JWE could not be decrypted (one error for every failure)
        ├── InvalidTypeError      the ``typ`` header is not the expected one
        └── ClaimError            a claim is missing, malformed or fails its check (``.claim``)
            ├── MissingClaimError
            ├── ExpiredTokenError
            ├── NotYetValidError
            ├── InvalidIssuerError
            ├── InvalidAudienceError
            └── InvalidSubjectError

Each class carries a stable ``code`` for programs; messages are fixed sentences that never
contain key material, expected signatures or the token itself (attack catalogue #28).
"""

from __future__ import annotations

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
    "KeyNotFoundError",
    "MalformedTokenError",
    "MissingClaimError",
    "NotYetValidError",
    "SignatureError",
    "TesseraError",
    "UnsupportedHeaderError",
]


class TesseraError(Exception):
    """Base of every error the library raises."""

    code: str = "error"


class ConfigurationError(TesseraError, ValueError):
    """The call itself is unsafe or contradictory (e.g. an unbound key and no ``algorithms``)."""

    code = "configuration"


class InvalidKey(TesseraError, ValueError):
    """Key material that cannot be parsed or must not be used (too short, weak, wrong type)."""

    code = "invalid_key"


class InvalidToken(TesseraError):
    """Base of every rejection of a token."""

    code = "invalid_token"


class MalformedTokenError(InvalidToken):
    """The token is not well formed: segments, base64url, UTF-8, JSON, structure or size."""

    code = "malformed"


class UnsupportedHeaderError(InvalidToken):
    """A header parameter is present that this operation must refuse (``crit``, ``b64``...)."""

    code = "unsupported_header"


class AlgorithmNotAllowedError(InvalidToken):
    """The token's ``alg`` is not allowed for this key or by the caller's allow-list."""

    code = "algorithm_not_allowed"


class KeyNotFoundError(InvalidToken):
    """No key in the key set can verify this token (unknown ``kid`` or no key of that type)."""

    code = "key_not_found"


class SignatureError(InvalidToken):
    """The signature does not verify."""

    code = "bad_signature"


class DecryptionError(InvalidToken):
    """A JWE could not be decrypted; one error for every failure, so no oracle."""

    code = "decryption_failed"


class InvalidTypeError(InvalidToken):
    """The ``typ`` header does not match the expected media type."""

    code = "invalid_type"


class ClaimError(InvalidToken):
    """A claim failed validation; ``claim`` names it."""

    code = "invalid_claim"

    def __init__(self, message: str, claim: str) -> None:
        super().__init__(message)
        self.claim = claim


class MissingClaimError(ClaimError):
    """A required claim is absent."""

    code = "missing_claim"


class ExpiredTokenError(ClaimError):
    """``exp`` is in the past (beyond the leeway)."""

    code = "expired"


class NotYetValidError(ClaimError):
    """``nbf`` is in the future, or ``iat`` is (beyond the leeway)."""

    code = "not_yet_valid"


class InvalidIssuerError(ClaimError):
    """``iss`` is not the expected issuer."""

    code = "invalid_issuer"


class InvalidAudienceError(ClaimError):
    """``aud`` does not name this audience, or is missing while one is expected."""

    code = "invalid_audience"


class InvalidSubjectError(ClaimError):
    """``sub`` is not the expected subject."""

    code = "invalid_subject"
