"""Client metadata (RFC 7591 sec. 2) as a client describes itself, checked once for both
ways a client registers itself: a Client ID Metadata Document and dynamic registration.

Such clients get no secret: ``token_endpoint_auth_method`` is ``none`` (a public client,
PKCE is its proof) or ``private_key_jwt`` (keys from ``jwks`` or ``jwks_uri``). They may use
the authorization code grant (and refresh tokens) only, and ask for the server's
``dynamic_scopes`` at most. ``application_type`` ``native`` lets loopback redirect URIs match
with any port (RFC 8252 sec. 7.3); without the member, a client whose redirect URIs are all
loopback or private-use is native (no web application can receive them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from tessera.server.errors import InvalidClientMetadata, InvalidRedirectUri
from tessera.server.grants.scope import is_scope_token

__all__ = ["MAX_REDIRECT_URIS", "SelfDescribed", "check_metadata", "redirect_matches"]

MAX_REDIRECT_URIS = 20
_AUTH_METHODS = ("none", "private_key_jwt")
_GRANTS = ("authorization_code", "refresh_token")
_APPLICATION_TYPES = ("web", "native")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_PRIVATE_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+\Z")  # RFC 8252 sec. 7.1
_TEXT_MAX = 200


@dataclass(frozen=True, slots=True)
class SelfDescribed:
    """Checked metadata: what the server stores and acts on."""

    redirect_uris: tuple[str, ...]
    auth_method: str
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    application_type: str
    client_name: str | None
    jwks: Mapping[str, Any] | None
    jwks_uri: str | None


def _split(uri: str) -> SplitResult | None:
    """``urlsplit(uri)``, or None for what it cannot parse (a broken IPv6 literal)."""
    try:
        return urlsplit(uri)
    except ValueError:
        return None


def _host(uri: str) -> str | None:
    try:
        return urlsplit(uri).hostname
    except ValueError:
        return None


def _check_redirect(uri: object, application_type: str) -> str:
    if not isinstance(uri, str):
        raise InvalidRedirectUri("each redirect URI must be a string")
    parts = _split(uri)
    if parts is None:
        raise InvalidRedirectUri("a redirect URI is not a valid URI")
    host = _host(uri)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        host = None
    native = application_type == "native"
    allowed = (
        (parts.scheme == "https" and host)
        or (parts.scheme == "http" and host in _LOOPBACK)
        or (native and _PRIVATE_SCHEME.match(parts.scheme))
    )
    if (
        not allowed
        or "#" in uri
        or "@" in parts.netloc
        or len(uri) > 2000
        or any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in uri)
    ):
        kinds = "https or http on a loopback address"
        if native:
            kinds += " or a private-use scheme (com.example.app:/cb)"
        raise InvalidRedirectUri(f"a redirect URI must be {kinds}, without a fragment")
    return uri


def redirect_matches(registered: Sequence[str], given: str, application_type: str) -> bool:
    """Whether ``given`` is a registered redirect URI: exact string match, except that a
    native client's loopback ``http`` URIs match with any port (RFC 8252 sec. 7.3)."""
    if given in registered:
        return True
    if application_type != "native":
        return False
    parts = _split(given)
    if parts is None or parts.scheme != "http" or _host(given) not in _LOOPBACK:
        return False
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    for uri in registered:
        known = _split(uri)
        if (
            known is not None
            and known.scheme == "http"
            and _host(uri) == _host(given)
            and (known.path, known.query) == (parts.path, parts.query)
        ):
            return True
    return False


def _inferred_type(uris: list[Any]) -> str:
    """Without ``application_type``: ``native`` when every redirect URI is loopback http or a
    private-use scheme (only an app on the person's device can receive those), else ``web``."""
    for uri in uris:
        parts = _split(uri) if isinstance(uri, str) else None
        if parts is None:
            return "web"
        loopback = parts.scheme == "http" and _host(uri) in _LOOPBACK
        if not loopback and not _PRIVATE_SCHEME.match(parts.scheme):
            return "web"
    return "native"


def _string(document: Mapping[str, Any], name: str, limit: int = _TEXT_MAX) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise InvalidClientMetadata(f"{name} must be a string of 1 to {limit} characters")
    return value


def check_metadata(document: Mapping[str, Any], *, allowed_scopes: Sequence[str]) -> SelfDescribed:
    """The usable part of a client's self-description; unknown members are ignored
    (RFC 7591 sec. 2).

    Raises:
        InvalidRedirectUri: no redirect URIs, or one that is not acceptable.
        InvalidClientMetadata: any other member with a wrong type or an unsupported value.
    """
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise InvalidRedirectUri("redirect_uris must be a non-empty array (authorization code)")
    if len(uris) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri(f"at most {MAX_REDIRECT_URIS} redirect URIs")
    application_type = _string(document, "application_type") or _inferred_type(uris)
    if application_type not in _APPLICATION_TYPES:
        raise InvalidClientMetadata("application_type must be web or native")
    redirects = tuple(dict.fromkeys(_check_redirect(uri, application_type) for uri in uris))
    method = _string(document, "token_endpoint_auth_method") or "none"
    if method not in _AUTH_METHODS:
        raise InvalidClientMetadata(
            "token_endpoint_auth_method must be none or private_key_jwt (no shared secrets)"
        )
    grants = document.get("grant_types", ["authorization_code"])
    if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
        raise InvalidClientMetadata("grant_types must be an array of strings")
    if "authorization_code" not in grants or not set(grants) <= set(_GRANTS):
        raise InvalidClientMetadata(
            "grant_types must include authorization_code and may add refresh_token only"
        )
    responses = document.get("response_types", ["code"])
    if not isinstance(responses, list) or responses != ["code"]:
        raise InvalidClientMetadata('response_types must be ["code"]')
    scope = _string(document, "scope", 2000)
    if scope is None:
        scopes = tuple(allowed_scopes)
    else:
        wanted = scope.split()
        if not wanted or not all(is_scope_token(t) for t in wanted):
            raise InvalidClientMetadata("scope must be space-separated scope tokens")
        scopes = tuple(t for t in dict.fromkeys(wanted) if t in allowed_scopes)
    jwks = document.get("jwks")
    jwks_uri = _string(document, "jwks_uri", 2000)
    if jwks is not None and not isinstance(jwks, dict):
        raise InvalidClientMetadata("jwks must be a JWK Set object")
    if jwks is not None and jwks_uri is not None:
        raise InvalidClientMetadata("jwks and jwks_uri must not both be present")
    if jwks_uri is not None and getattr(_split(jwks_uri), "scheme", None) != "https":
        raise InvalidClientMetadata("jwks_uri must be an https URL")
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise InvalidClientMetadata("private_key_jwt needs jwks or jwks_uri")
    if method == "none" and (jwks is not None or jwks_uri is not None):
        raise InvalidClientMetadata("a client with token_endpoint_auth_method none has no keys")
    return SelfDescribed(
        redirect_uris=redirects,
        auth_method=method,
        grant_types=tuple(dict.fromkeys(grants)),
        scopes=scopes,
        application_type=application_type,
        client_name=_string(document, "client_name"),
        jwks=jwks,
        jwks_uri=jwks_uri,
    )
