"""The refusals a protected resource sends (RFC 6750 sec. 3), each knowing its HTTP status.

::

    TesseraError
    └── BearerError               a request was refused; ``status_code`` and ``error`` say how
        ├── InvalidRequestError   400 invalid_request: the Authorization header is malformed
        ├── MissingTokenError     401, no error code: no bearer token was sent (sec. 3.1)
        ├── RejectedTokenError    401 invalid_token: the token failed verification
        ├── InsufficientScopeError  403 insufficient_scope: valid token, missing privileges
        └── KeysUnavailableError  503: the issuer's keys cannot be had, so nothing can be decided

Why 503 and not 401 when the issuer's keys are unavailable: a 401 tells the client its token is
bad, so well-behaved clients throw the token away and ask the (already failing) authorization
server for a new one, and logs blame the client. 503 with ``Retry-After`` says the truth: this
server cannot decide right now; the same token will work once the keys can be fetched.

Descriptions are fixed sentences chosen here, never text taken from the token, so they are safe
inside a quoted ``WWW-Authenticate`` parameter.
"""

from __future__ import annotations

from tessera.errors import TesseraError

__all__ = [
    "BearerError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "KeysUnavailableError",
    "MissingTokenError",
    "RejectedTokenError",
]


class BearerError(TesseraError):
    """A refusal by a protected resource: ``status_code``, RFC 6750 ``error`` and description."""

    code = "bearer_error"
    status_code: int = 401
    error: str | None = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidRequestError(BearerError):
    """400: the request is malformed (RFC 6750 sec. 3.1 ``invalid_request``)."""

    code = "invalid_request"
    status_code = 400
    error = "invalid_request"


class MissingTokenError(BearerError):
    """401 without an error code: no bearer credentials at all (RFC 6750 sec. 3.1)."""

    code = "missing_token"
    status_code = 401
    error = None


class RejectedTokenError(BearerError):
    """401 ``invalid_token``: the token is expired, forged, malformed or not meant for us.

    ``reason`` is the stable ``code`` of the core error that caused it (``expired``...).
    """

    code = "rejected_token"
    status_code = 401
    error = "invalid_token"

    def __init__(self, description: str, reason: str = "invalid_token") -> None:
        super().__init__(description)
        self.reason = reason


class InsufficientScopeError(BearerError):
    """403 ``insufficient_scope``: ``scope`` lists the scopes this resource needs."""

    code = "insufficient_scope"
    status_code = 403
    error = "insufficient_scope"

    def __init__(self, description: str, scope: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.scope = scope


class KeysUnavailableError(BearerError):
    """503: the issuer's signing keys are not available (cold cache and issuer unreachable)."""

    code = "keys_unavailable"
    status_code = 503
    error = "temporarily_unavailable"

    def __init__(self, description: str, retry_after: int = 30) -> None:
        super().__init__(description)
        self.retry_after = retry_after
