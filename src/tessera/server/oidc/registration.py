"""A client's OpenID Connect registration, set by administrators: the ID token algorithm,
public or pairwise subjects, where RP-initiated logout may send the browser, and the
back-channel logout URI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from tessera.server.config import Settings
from tessera.server.errors import AdminError
from tessera.server.oidc.idtoken import SUBJECT_TYPES
from tessera.server.storage import oidc_clients
from tessera.server.storage.database import Database
from tessera.server.storage.oidc_clients import OidcClient

__all__ = [
    "OPENID_METADATA",
    "check_uri",
    "describe_openid",
    "from_client_metadata",
    "openid_registration",
    "register_openid",
]

OPENID_METADATA = (
    "id_token_signed_response_alg",
    "subject_type",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "sector_identifier_uri",
)
"""OpenID Dynamic Client Registration 1.0 (and the logout specs) members this server honours."""

_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_MAX_URI = 2000


def check_uri(uri: str, what: str) -> str:
    """An absolute https URI (http on loopback) without fragment, printable ASCII.

    Raises:
        AdminError: anything else.
    """
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    ok = (
        parts is not None
        and host is not None
        and (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK))
        and "#" not in uri
        and "@" not in parts.netloc
        and len(uri) <= _MAX_URI
        and all(0x21 <= ord(c) <= 0x7E for c in uri)
    )
    if not ok:
        raise AdminError(f"{what} {uri!r} must be https (http only on localhost), no fragment")
    return uri


def register_openid(db: Database, record: OidcClient) -> OidcClient:
    """Store the client's OpenID registration (replacing any)."""
    with db.write() as conn:
        oidc_clients.save(conn, record)
    return record


def openid_registration(
    client_id: str,
    settings: Settings,
    *,
    id_token_alg: str | None = None,
    subject_type: str = "public",
    sector_identifier: str | None = None,
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str | None = None,
) -> OidcClient:
    """A checked OpenID registration for ``client_id`` (not stored yet).

    Raises:
        AdminError: an algorithm without a key ring, an unknown subject type, a bad URI.
    """
    if id_token_alg is not None and id_token_alg not in settings.key_algorithms:
        raise AdminError(
            f"--id-token-alg must be one of {', '.join(settings.key_algorithms)} (the key rings: "
            "signing_alg and id_token_signing_alg)"
        )
    if subject_type not in SUBJECT_TYPES:
        raise AdminError("--subject-type is public or pairwise")
    if sector_identifier is not None and (
        subject_type != "pairwise"
        or not sector_identifier
        or len(sector_identifier) > 255
        or any(not 0x21 <= ord(c) <= 0x7E for c in sector_identifier)
    ):
        raise AdminError("--sector-identifier is a host name, for --subject-type pairwise")
    logout_uris = [check_uri(u, "post-logout redirect URI") for u in post_logout_redirect_uris]
    record = OidcClient(
        client_id=client_id,
        id_token_alg=id_token_alg,
        subject_type=subject_type,
        sector_identifier=sector_identifier,
        post_logout_redirect_uris=tuple(dict.fromkeys(logout_uris)),
        backchannel_logout_uri=(
            check_uri(backchannel_logout_uri, "back-channel logout URI")
            if backchannel_logout_uri is not None
            else None
        ),
    )
    return record


def describe_openid(record: OidcClient, settings: Settings) -> dict[str, Any]:
    """The registration as shown to administrators."""
    view: dict[str, Any] = {
        "id_token_signed_response_alg": record.id_token_alg or settings.id_token_signing_alg,
        "subject_type": record.subject_type,
        "post_logout_redirect_uris": list(record.post_logout_redirect_uris),
    }
    if record.sector_identifier is not None:
        view["sector_identifier"] = record.sector_identifier
    if record.backchannel_logout_uri is not None:
        view["backchannel_logout_uri"] = record.backchannel_logout_uri
    return view


def from_client_metadata(
    client_id: str,
    document: Mapping[str, Any],
    settings: Settings,
    *,
    sector_identifier: str | None = None,
) -> OidcClient | None:
    """The OpenID registration a dynamic registration's metadata asks for (OpenID Dynamic
    Client Registration 1.0 sec. 2; RP-Initiated and Back-Channel Logout); None when it asks
    for none of it. ``sector_identifier`` is the host of a ``sector_identifier_uri`` the
    caller fetched and checked (see ``sector``); it applies to pairwise subjects only.

    Raises:
        AdminError: a member of the wrong type or value (the caller answers
            ``invalid_client_metadata``).
    """
    if not any(name in document for name in OPENID_METADATA):
        return None
    alg = document.get("id_token_signed_response_alg")
    subject = document.get("subject_type", "public")
    uris = document.get("post_logout_redirect_uris", [])
    backchannel = document.get("backchannel_logout_uri")
    session_required = document.get("backchannel_logout_session_required", True)
    if alg is not None and not isinstance(alg, str):
        raise AdminError("id_token_signed_response_alg must be a string")
    if not isinstance(subject, str):
        raise AdminError("subject_type must be a string")
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris) or len(uris) > 20:
        raise AdminError("post_logout_redirect_uris must be an array of at most 20 strings")
    if backchannel is not None and not isinstance(backchannel, str):
        raise AdminError("backchannel_logout_uri must be a string")
    if not isinstance(session_required, bool):
        raise AdminError("backchannel_logout_session_required must be true or false")
    return openid_registration(
        client_id,
        settings,
        id_token_alg=alg,
        subject_type=subject,
        sector_identifier=sector_identifier if subject == "pairwise" else None,
        post_logout_redirect_uris=uris,
        backchannel_logout_uri=backchannel,
    )
