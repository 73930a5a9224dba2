"""The authorization request (RFC 6749 sec. 4.1.1, RFC 7636 sec. 4.3), free of HTTP.

Checking happens in the order RFC 6749 sec. 4.1.2.1 needs: first the client and its redirect
URI, whose failures are shown to the person and never redirected (a redirect to an unchecked
URI is an open redirector); then everything else, whose failures go back to the client's
redirect URI with ``error``, ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import Connection

from tessera.server._client_metadata import redirect_matches
from tessera.server.config import Settings
from tessera.server.errors import InvalidScope, InvalidTarget
from tessera.server.grants import pkce
from tessera.server.grants.issuance import hash_token
from tessera.server.grants.scope import granted_audience, granted_scopes
from tessera.server.oidc.claims import SCOPE_CLAIMS
from tessera.server.oidc.claims_request import NO_CLAIMS, acr_value
from tessera.server.oidc.idtoken import OPENID
from tessera.server.oidc.request import OIDC_PARAMS, OpenIdRequest, parse_openid
from tessera.server.storage import clients as client_rows
from tessera.server.storage import grants as grant_rows
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.grants import CodeRow, FamilyRow

__all__ = [
    "AUTHORIZE_PARAMS",
    "AuthorizationRequest",
    "PageError",
    "RedirectError",
    "issue_code",
    "parse_query",
    "redirect_to",
    "validate",
]

AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    *OIDC_PARAMS,
)
"""The request parameters carried through the sign-in and consent forms."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CLIENT_ID = re.compile(r"^[\x20-\x7e]{1,255}\Z")
MAX_FIELDS = 50
MAX_STATE = 1024
_NO_OPENID = OpenIdRequest()


class PageError(Exception):
    """A problem shown on an error page, never redirected (the client or redirect URI)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RedirectError(Exception):
    """An RFC 6749 sec. 4.1.2.1 error sent back to the client's (checked) redirect URI."""

    def __init__(self, redirect_uri: str, error: str, description: str, state: str | None) -> None:
        super().__init__(description)
        self.redirect_uri = redirect_uri
        self.error = error
        self.description = description
        self.state = state


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked authorization request."""

    client: ClientRecord
    redirect_uri: str
    redirect_uri_given: bool
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    state: str | None
    code_challenge: str
    params: dict[str, str]
    """The parameters as sent (the forms carry them to the next step unchanged)."""
    openid: OpenIdRequest = _NO_OPENID
    """The OpenID Connect parameters (prompt, max_age, nonce, hints)."""

    @property
    def is_openid(self) -> bool:
        """True for an OpenID Connect request (``openid`` among the granted scopes)."""
        return OPENID in self.scopes


def parse_query(text: str) -> dict[str, list[str]]:
    """Every parameter of a query string or form body, with all its values.

    Raises:
        PageError: not a UTF-8 form, too many fields, or a control character.
    """
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise PageError("The request is malformed.") from None
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise PageError("The request contains control characters.")
        if value != "":  # RFC 6749 sec. 3.1: a parameter without a value is omitted
            params.setdefault(name, []).append(value)
    return params


def redirect_to(redirect_uri: str, params: dict[str, str]) -> str:
    """``redirect_uri`` with ``params`` added to its query (its own query is kept)."""
    separator = "&" if "?" in redirect_uri else "?"
    return redirect_uri + separator + urlencode(params)


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    return values[0] if len(values) == 1 else None


def validate(
    conn: Connection,
    params: dict[str, list[str]],
    settings: Settings,
    *,
    described: ClientRecord | None = None,
) -> AuthorizationRequest:
    """Check an authorization request; ``described`` is the client its metadata document
    describes, when ``client_id`` is a URL (resolved before, without the database).

    Raises:
        PageError: unknown client, or a redirect URI that is missing, repeated or unregistered.
        RedirectError: anything else wrong with the request.
    """
    client_ids = params.get("client_id", [])
    if len(client_ids) != 1 or not _CLIENT_ID.match(client_ids[0]):
        raise PageError("The request does not name one client (client_id).")
    if described is not None and described.client_id == client_ids[0]:
        client: ClientRecord | None = described
    else:
        client = client_rows.find(conn, client_ids[0])
    if client is None:
        raise PageError("The application that sent you here is not registered.")
    redirect_uris = params.get("redirect_uri", [])
    if len(redirect_uris) > 1:
        raise PageError("The request names more than one redirect URI.")
    if redirect_uris:
        redirect_uri = redirect_uris[0]
        if not redirect_matches(client.redirect_uris, redirect_uri, client.application_type):
            raise PageError(
                "The redirect URI is not registered for this application; you have not "
                "been sent anywhere."
            )
    elif len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    else:
        raise PageError("The request must name its redirect URI (redirect_uri).")
    states = params.get("state", [])
    state = states[0] if len(states) == 1 and len(states[0]) <= MAX_STATE else None

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(redirect_uri, error, description, state)

    repeated = [name for name, values in params.items() if len(values) > 1]
    if repeated:
        shown = repeated[0] if repeated[0] in AUTHORIZE_PARAMS else "a parameter"
        raise fail("invalid_request", f"{shown} is repeated")
    if states and state is None:
        raise fail("invalid_request", f"state is longer than {MAX_STATE} characters")
    response_type = _single(params, "response_type")
    if response_type is None:
        raise fail("invalid_request", "the response_type parameter is required")
    if response_type != "code":
        raise fail("unsupported_response_type", "this server supports response_type=code only")
    if "authorization_code" not in client.grant_types:
        raise fail("unauthorized_client", "this client may not use the authorization_code grant")
    challenge = _single(params, "code_challenge")
    if challenge is None:
        raise fail("invalid_request", "code_challenge is required (PKCE, RFC 7636)")
    if _single(params, "code_challenge_method") not in pkce.METHODS:
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not pkce.is_challenge(challenge):
        raise fail("invalid_request", "code_challenge must be 43 base64url characters (S256)")
    openid = parse_openid({name: values[0] for name, values in params.items()}, fail)
    try:
        scopes = granted_scopes(_single(params, "scope"), client.scopes)
        # RFC 8707: one resource names the token's audience (an MCP server, say), else all
        # the client's audiences.
        resources = tuple(params.get("resource", ()))
        if OPENID in scopes and not (resources or client.audiences or settings.default_audience):
            # An OpenID client without an API of its own: its access token is for UserInfo.
            audiences: tuple[str, ...] = (settings.userinfo_endpoint,)
        else:
            audiences = granted_audience(resources, client.audiences, settings.default_audience)
    except (InvalidScope, InvalidTarget) as exc:
        raise fail(exc.error, exc.description) from None
    openid = _checked_claims(openid, client, scopes, settings, fail)
    sent = {name: values[0] for name, values in params.items() if name in AUTHORIZE_PARAMS}
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        redirect_uri_given=bool(redirect_uris),
        scopes=scopes,
        audiences=audiences,
        state=state,
        code_challenge=challenge,
        params=sent,
        openid=openid,
    )


def _checked_claims(
    openid: OpenIdRequest,
    client: ClientRecord,
    scopes: tuple[str, ...],
    settings: Settings,
    fail: Callable[[str, str], RedirectError],
) -> OpenIdRequest:
    """The claims request kept to what the client may have (the claims of the scopes it may
    ask for, and ``acr``); nothing for a request without ``openid`` (OIDC Core sec. 5.5).

    Raises:
        RedirectError: an essential ``acr`` this server cannot meet (sec. 5.5.1.1).
    """
    if OPENID not in scopes:
        return dataclasses.replace(openid, claims=NO_CLAIMS)
    required = openid.claims.acr_required
    acr = acr_value(settings.issuer)
    if required is not None and acr not in required:
        raise fail(
            "unmet_authentication_requirements",
            f"the essential acr cannot be met: people sign in here with a password ({acr})",
        )
    allowed = {"acr", *(name for scope in client.scopes for name in SCOPE_CLAIMS.get(scope, ()))}
    return dataclasses.replace(openid, claims=openid.claims.only(allowed))


def issue_code(
    conn: Connection,
    request: AuthorizationRequest,
    *,
    user_id: str,
    auth_time: float,
    settings: Settings,
    now: float,
    sid: str | None = None,
) -> str:
    """Record the grant and a single-use code bound to client, redirect URI and challenge
    (and, for OpenID, the nonce and the browser session ``sid``)."""
    code = secrets.token_urlsafe(32)
    family_id = secrets.token_urlsafe(16)
    expires_at = now + settings.code_lifetime
    grant_rows.insert_family(
        conn,
        FamilyRow(
            family_id=family_id,
            client_id=request.client.client_id,
            user_id=user_id,
            scopes=request.scopes,
            audiences=request.audiences,
            auth_time=auth_time,
            revoked=False,
            created_at=now,
            expires_at=expires_at + 3600,
            sid=sid,
            claims=request.openid.claims.stored() if request.is_openid else None,
        ),
    )
    grant_rows.insert_code(
        conn,
        CodeRow(
            code_hash=hash_token(code),
            family_id=family_id,
            client_id=request.client.client_id,
            user_id=user_id,
            redirect_uri=request.redirect_uri,
            redirect_uri_given=request.redirect_uri_given,
            scopes=request.scopes,
            code_challenge=request.code_challenge,
            auth_time=auth_time,
            used=False,
            expires_at=expires_at,
            nonce=request.openid.nonce if request.is_openid else None,
        ),
    )
    return code
