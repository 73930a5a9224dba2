"""What a relying party can be refused with: ID/logout token rejections, and flow failures.

::

    TesseraError
    ├── InvalidToken > ClaimError          (tessera.errors; ``.claim`` names the claim)
    │   ├── InvalidNonceError            ``nonce`` missing, or not the one this client sent
    │   ├── InvalidAuthorizedPartyError  ``azp`` missing with several audiences, or not us
    │   ├── TokenHashError               ``at_hash`` / ``c_hash`` do not match the token/code
    │   ├── AuthTimeError                ``auth_time`` malformed, in the future or too old
    │   └── LogoutTokenError             a logout token breaks Back-Channel Logout 1.0 sec. 2.4
    └── OIDCError                         a step of the sign-in flow failed
        ├── StateMismatchError           the callback's ``state`` is not the pending one
        ├── AuthorizationError           the provider answered the redirect with ``error``
        ├── TokenEndpointError           the token endpoint refused, or its reply is unusable
        └── UserInfoError                the UserInfo endpoint refused or answered badly
            └── SubjectMismatchError     UserInfo ``sub`` differs from the ID token's

Token errors reuse the core's classes where one fits (``InvalidIssuerError``,
``InvalidAudienceError``, ``ExpiredTokenError``, ``InvalidTypeError``...). Messages are fixed
sentences; an error code or description from the provider is kept in attributes, bounded.
"""

from __future__ import annotations

from tessera.errors import ClaimError, TesseraError

__all__ = [
    "AuthTimeError",
    "AuthorizationError",
    "InvalidAuthorizedPartyError",
    "InvalidNonceError",
    "LogoutTokenError",
    "OIDCError",
    "StateMismatchError",
    "SubjectMismatchError",
    "TokenEndpointError",
    "TokenHashError",
    "UserInfoError",
]

_MAX_TEXT = 200


def _bounded(value: object) -> str | None:
    """Provider-sent text kept for programs: a string, cut to a sane length."""
    if not isinstance(value, str):
        return None
    return value[:_MAX_TEXT]


class InvalidNonceError(ClaimError):
    """The ID token's ``nonce`` is missing or differs from the one sent (OIDC Core 3.1.3.7)."""

    code = "invalid_nonce"


class InvalidAuthorizedPartyError(ClaimError):
    """``azp`` is required (several audiences) but absent, or names another client."""

    code = "invalid_azp"


class TokenHashError(ClaimError):
    """``at_hash`` or ``c_hash`` does not match the access token or code (OIDC Core 3.1.3.8)."""

    code = "invalid_token_hash"


class AuthTimeError(ClaimError):
    """``auth_time`` is not a number, lies in the future, or is older than ``max_age``."""

    code = "invalid_auth_time"


class LogoutTokenError(ClaimError):
    """A logout token lacks the back-channel event, carries a ``nonce``, or names no session."""

    code = "invalid_logout_token"


class OIDCError(TesseraError):
    """A step of the OpenID Connect sign-in flow failed."""

    code = "oidc_error"


class StateMismatchError(OIDCError):
    """The callback's ``state`` is missing or is not the one this browser was sent with."""

    code = "state_mismatch"


class AuthorizationError(OIDCError):
    """The provider answered the authorization request with an error (``login_required``...).

    ``error`` and ``description`` are the provider's (bounded); the message is fixed.
    """

    code = "authorization_error"

    def __init__(self, message: str, error: object = None, description: object = None) -> None:
        super().__init__(message)
        self.error = _bounded(error) or "invalid_response"
        self.description = _bounded(description)


class TokenEndpointError(OIDCError):
    """The token endpoint refused the request, could not be reached, or answered badly.

    ``error`` is the provider's RFC 6749 sec. 5.2 code (``invalid_grant``...) or
    ``invalid_response`` / ``unreachable``; ``status`` the HTTP status when there was one.
    """

    code = "token_endpoint_error"

    def __init__(
        self,
        message: str,
        error: object = None,
        description: object = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error = _bounded(error) or "invalid_response"
        self.description = _bounded(description)
        self.status = status


class UserInfoError(OIDCError):
    """The UserInfo endpoint refused the token, could not be reached, or answered badly."""

    code = "userinfo_error"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SubjectMismatchError(UserInfoError):
    """UserInfo answered for another ``sub`` than the ID token's (OIDC Core 5.3.2): discard."""

    code = "subject_mismatch"
