"""Server errors: OAuth 2.0 error responses (RFC 6749 sec. 5.2) that know their HTTP status.

::

    ServerError (Exception)
    ├── ServerConfigError        bad settings, unusable KEK or database: the CLI exits 2
    ├── AdminError               an administration command cannot be done: the CLI exits 2
    ├── ClientMetadataError      a client's metadata document cannot be fetched or used
    ├── Contention               a transaction kept losing races on the same rows (retried)
    └── OAuthError               an RFC 6749 sec. 5.2 error body with its status
        ├── InvalidRequest       400 invalid_request (also 405 and 413 with their status)
        ├── InvalidClient        401 invalid_client + WWW-Authenticate
        ├── InvalidGrant         400 invalid_grant
        ├── UnauthorizedClient   400 unauthorized_client
        ├── UnsupportedGrantType 400 unsupported_grant_type
        ├── InvalidScope         400 invalid_scope
        ├── InvalidTarget        400 invalid_target (RFC 8707 sec. 2)
        ├── InvalidClientMetadata 400 invalid_client_metadata (RFC 7591 sec. 3.2.2)
        ├── InvalidRedirectUri   400 invalid_redirect_uri (RFC 7591 sec. 3.2.2)
        ├── InvalidSoftwareStatement 400 invalid_software_statement (RFC 7591 sec. 3.2.2)
        ├── InvalidToken         401 invalid_token (a wrong registration access token, RFC 7592)
        ├── TemporarilyUnavailable 503 temporarily_unavailable (the database is down)
        └── InternalError        500 server_error (a bug; never any detail)

Descriptions are fixed sentences written for the client's developer: they never echo a
secret, an assertion or a stored value.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AdminError",
    "ClientMetadataError",
    "Contention",
    "InternalError",
    "InvalidClient",
    "InvalidClientMetadata",
    "InvalidGrant",
    "InvalidRedirectUri",
    "InvalidRequest",
    "InvalidScope",
    "InvalidSoftwareStatement",
    "InvalidTarget",
    "InvalidToken",
    "OAuthError",
    "ServerConfigError",
    "ServerError",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
]


class ServerError(Exception):
    """Base of every error the server package raises."""

    code = "server"


class ServerConfigError(ServerError):
    """The server cannot run as configured (settings, key-encryption key, database URL)."""

    code = "configuration"
    exit_code = 2


class AdminError(ServerError):
    """An administration command cannot be done (no such client, duplicate name, bad input)."""

    code = "admin"
    exit_code = 2


class ClientMetadataError(ServerError):
    """A Client ID Metadata Document cannot be fetched or is not acceptable; the message is
    safe to show (it names the rule, never the document's content)."""

    code = "client_metadata"


class Contention(ServerError):
    """A transaction still lost to concurrent ones on the same rows (a deadlock, a
    serialization failure, a lock wait cut short) after its bounded retries: a request that
    raced others for the same code, refresh token or assertion, not an outage. The caller
    answers it as the loser of that race."""

    code = "contention"

    def __init__(self, kind: str) -> None:
        super().__init__(f"lost a race for the same rows ({kind}) on every attempt")
        self.kind = kind


class OAuthError(ServerError):
    """An OAuth error response: ``error`` code, HTTP ``status`` and a safe description."""

    error = "invalid_request"
    status = 400

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, str]:
        """The JSON object of RFC 6749 sec. 5.2."""
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(OAuthError):
    """A missing, repeated or malformed parameter, or a malformed request."""

    error = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed; 401 with a challenge (RFC 6749 sec. 5.2)."""

    error = "invalid_client"
    status = 401

    def __init__(self, description: str, *, realm: str = "tessera") -> None:
        super().__init__(
            description,
            headers={"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'},
        )


class InvalidGrant(OAuthError):
    """The grant (code, refresh token, assertion) is invalid, expired or revoked."""

    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    """The client is not allowed to use this grant type."""

    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    """The server does not support this grant type."""

    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    """The requested scope is malformed or exceeds what the client may ask for."""

    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """The requested resource is malformed or not one the client may ask for (RFC 8707)."""

    error = "invalid_target"


class InvalidClientMetadata(OAuthError):
    """A registration's client metadata field is invalid (RFC 7591 sec. 3.2.2)."""

    error = "invalid_client_metadata"


class InvalidRedirectUri(OAuthError):
    """A registration's redirect URI is invalid (RFC 7591 sec. 3.2.2)."""

    error = "invalid_redirect_uri"


class InvalidSoftwareStatement(OAuthError):
    """A registration's software statement is not a JWT (RFC 7591 sec. 3.2.2)."""

    error = "invalid_software_statement"


class InvalidToken(OAuthError):
    """The registration access token (or initial access token) is missing or wrong; 401 with
    a Bearer challenge (RFC 6750 sec. 3, RFC 7592 sec. 3)."""

    error = "invalid_token"
    status = 401

    def __init__(self, description: str) -> None:
        super().__init__(
            description,
            headers={
                "WWW-Authenticate": (
                    f'Bearer error="invalid_token", error_description="{description}"'
                )
            },
        )


class TemporarilyUnavailable(OAuthError):
    """The database cannot be reached; the client may retry."""

    error = "temporarily_unavailable"
    status = 503

    def __init__(self, description: str = "the server is temporarily unavailable") -> None:
        super().__init__(description, headers={"Retry-After": "1"})


class InternalError(OAuthError):
    """A bug: logged in full on the server, reported without detail."""

    error = "server_error"
    status = 500

    def __init__(self) -> None:
        super().__init__("the server encountered an unexpected error")
