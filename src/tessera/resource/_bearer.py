"""The HTTP edge shared by every integration: read the Authorization header, turn any failure
into an RFC 6750 refusal, and render that refusal (status, headers, JSON body).

Never a 500 from here: an unexpected exception while checking a token is logged and answered
as ``invalid_token``, because the alternative would leak a stack trace for attacker input.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from tessera.errors import ClaimError, ConfigurationError, InvalidToken
from tessera.resource.errors import (
    BearerError,
    InvalidRequestError,
    MissingTokenError,
    RejectedTokenError,
)
from tessera.resource.metadata import ProtectedResourceMetadata

__all__ = ["Challenge", "Reply", "as_bearer_error", "bearer_token", "parse_authorization"]

logger = logging.getLogger("tessera.resource")

# RFC 6750 sec. 2.1 b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
_UNQUOTABLE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")  # RFC 6750 sec. 3 error_description
_DESCRIPTIONS = {
    "malformed": "the token is malformed",
    "unsupported_header": "the token uses a header parameter that is not supported",
    "algorithm_not_allowed": "the token's signing algorithm is not accepted",
    "key_not_found": "no signing key of the issuer matches the token",
    "bad_signature": "the token's signature is invalid",
    "invalid_type": "the token is not an access token (wrong typ header)",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet",
    "invalid_issuer": "the token's issuer is not trusted here",
    "invalid_audience": "the token is not meant for this resource",
    "invalid_subject": "the token's subject is not accepted",
}


def parse_authorization(values: Sequence[str]) -> str:
    """The bearer token from the Authorization header values of one request.

    Raises:
        MissingTokenError: no Authorization header, or another scheme (RFC 6750 sec. 3.1).
        InvalidRequestError: several headers, or ``Bearer`` without exactly one b64token.
    """
    if not values:
        raise MissingTokenError("a bearer token is required")
    if len(values) > 1:
        raise InvalidRequestError("the request has more than one Authorization header")
    return _token(values[0])


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The bearer token from ASGI ``headers`` (lower-case names), as parse_authorization does.

    Raises:
        MissingTokenError: no Authorization header, or another scheme (RFC 6750 sec. 3.1).
        InvalidRequestError: several headers, or ``Bearer`` without exactly one b64token.
    """
    found: bytes | None = None
    for name, value in headers:
        if name == b"authorization":
            if found is not None:
                raise InvalidRequestError("the request has more than one Authorization header")
            found = value
    if found is None:
        raise MissingTokenError("a bearer token is required")
    return _token(found.decode("latin-1"))


def _token(value: str) -> str:
    """The b64token of one ``Bearer <token>`` header value (a translate, not a regex: faster)."""
    scheme, _, rest = value.strip(" ").partition(" ")
    if scheme.lower() != "bearer":
        raise MissingTokenError("a bearer token is required (other schemes are not accepted)")
    token = rest.strip(" ")
    body = token.rstrip("=")
    if not body or not body.isascii() or body.encode("ascii").translate(None, _B64TOKEN_CHARS):
        raise InvalidRequestError("the Authorization header is not 'Bearer <token>'")
    return token


def as_bearer_error(exc: BaseException) -> BearerError:
    """The refusal to send for ``exc``, raised while authenticating or authorizing."""
    if isinstance(exc, BearerError):
        return exc
    if isinstance(exc, InvalidToken):
        if exc.code == "missing_claim" and isinstance(exc, ClaimError):
            description = f"the token lacks the {exc.claim} claim"
        elif isinstance(exc, ClaimError) and exc.code == "invalid_claim":
            description = f"the token's {exc.claim} claim is invalid"
        else:
            description = _DESCRIPTIONS.get(exc.code, "the token is invalid")
        return RejectedTokenError(_UNQUOTABLE.sub("?", description[:200]), exc.code)
    if isinstance(exc, ConfigurationError):
        logger.error("token verification is misconfigured: %s", exc)
    else:
        logger.error("unexpected error while verifying a token", exc_info=exc)
    return RejectedTokenError("the token could not be verified", "internal")


class Reply(NamedTuple):
    """An HTTP refusal, ready for any framework."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Challenge:
    """Renders refusals with this resource's ``realm`` and RFC 9728 ``resource_metadata``.

    Raises:
        ConfigurationError: a realm that cannot be a quoted-string.
    """

    __slots__ = ("metadata", "realm")

    def __init__(
        self, realm: str | None = None, metadata: ProtectedResourceMetadata | None = None
    ) -> None:
        if realm is not None and (not isinstance(realm, str) or _UNQUOTABLE.search(realm)):
            raise ConfigurationError("realm must be printable ASCII without quotes or backslash")
        self.realm = realm
        self.metadata = metadata

    def www_authenticate(self, error: BearerError) -> str:
        """The ``WWW-Authenticate`` value for a 400/401/403 (RFC 6750 sec. 3, RFC 9728 5.1)."""
        params = []
        if self.realm is not None:
            params.append(f'realm="{self.realm}"')
        if error.error is not None:
            params.append(f'error="{error.error}"')
            params.append(f'error_description="{_UNQUOTABLE.sub("?", error.description)}"')
        scope = getattr(error, "scope", ())
        if scope:
            params.append(f'scope="{" ".join(scope)}"')
        if self.metadata is not None:
            params.append(f'resource_metadata="{self.metadata.url}"')
        return "Bearer " + ", ".join(params) if params else "Bearer"

    def reply(self, error: BearerError) -> Reply:
        """Status, headers and JSON body for ``error``.

        401/400/403 carry ``WWW-Authenticate``; 503 carries ``Retry-After`` instead (the
        client's token is not at fault). Bodies repeat the error as JSON; a missing token has
        no RFC 6750 code (sec. 3.1), so its body says ``"unauthorized"``.
        """
        headers = [("content-type", "application/json"), ("cache-control", "no-store")]
        if error.status_code == 503:
            headers.append(("retry-after", str(getattr(error, "retry_after", 30))))
        else:
            headers.append(("www-authenticate", self.www_authenticate(error)))
        body: dict[str, object] = {
            "error": error.error or "unauthorized",
            "error_description": error.description,
        }
        scope = getattr(error, "scope", ())
        if scope:
            body["scope"] = " ".join(scope)
        return Reply(error.status_code, headers, json.dumps(body).encode())
