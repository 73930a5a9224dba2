"""RP-initiated logout (OpenID RP-Initiated Logout 1.0) and back-channel logout (OpenID
Back-Channel Logout 1.0), free of HTTP.

A logout request names its client by ``client_id`` or by the ``aud`` of its
``id_token_hint`` (expired hints are fine: they identify). ``post_logout_redirect_uri`` must
be registered for that client, exactly, or nobody is redirected anywhere. Ending a session
revokes the grants made in it (except those with ``offline_access``, which outlive sign-in by
design) and tells every client with a ``backchannel_logout_uri`` with a logout token.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Connection

import tessera
from tessera.server.config import Settings
from tessera.server.grants.issuance import OFFLINE_ACCESS
from tessera.server.keys import KeyManager
from tessera.server.oidc.idtoken import IdTokens, session_id, verify_hint
from tessera.server.storage import clients as client_rows
from tessera.server.storage import grants as grant_rows
from tessera.server.storage import oidc_clients
from tessera.server.storage import sessions as session_rows
from tessera.server.storage.clients import ClientRecord

__all__ = [
    "BACKCHANNEL_EVENT",
    "LOGOUT_PARAMS",
    "LogoutError",
    "LogoutNotice",
    "LogoutRequest",
    "check_logout",
    "end_session",
    "send_notices",
]

logger = logging.getLogger("tessera.server")

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_PARAMS = (
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "logout_hint",
    "ui_locales",
)
_MAX_STATE = 1024
_MAX_VALUE = 2000
_NOTICE_TIMEOUT = 3.0
_LOGOUT_TOKEN_LIFETIME = 120


class LogoutError(Exception):
    """A logout request that cannot be honoured: shown on a page, never redirected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    """A checked logout request."""

    client: ClientRecord | None
    post_logout_redirect_uri: str | None
    state: str | None
    hint: dict[str, Any] | None
    """The claims of a valid id_token_hint (expired or not)."""
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class LogoutNotice:
    """A back-channel logout to send after the session ended."""

    client: ClientRecord
    uri: str
    alg: str
    sub: str
    sid: str


def check_logout(
    conn: Connection,
    params: Mapping[str, list[str]],
    settings: Settings,
    keys: KeyManager,
    clock: Callable[[], float],
) -> LogoutRequest:
    """Check the parameters of an end-session request.

    Raises:
        LogoutError: a repeated or oversized parameter, a hint this server did not issue, an
            unknown client, a client and hint that disagree, an unregistered redirect URI.
    """
    single: dict[str, str] = {}
    for name in LOGOUT_PARAMS:
        values = params.get(name, [])
        if len(values) > 1:
            raise LogoutError(f"The sign-out request repeats {name}.")
        if values:
            if len(values[0]) > (8192 if name == "id_token_hint" else _MAX_VALUE):
                raise LogoutError(f"The sign-out request's {name} is too long.")
            single[name] = values[0]
    state = single.get("state")
    if state is not None and len(state) > _MAX_STATE:
        raise LogoutError("The sign-out request's state is too long.")
    hint = None
    if "id_token_hint" in single:
        hint = verify_hint(single["id_token_hint"], keys, settings, clock)
        if hint is None:
            raise LogoutError("The sign-out request carries an ID token this server did not issue.")
    client_id = single.get("client_id")
    if hint is not None:
        audience = hint.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if client_id is None:
            azp = hint.get("azp")
            client_id = azp if isinstance(azp, str) else (audiences[0] if audiences else None)
        elif client_id not in audiences:
            raise LogoutError("The sign-out request's client and ID token do not match.")
    client = None
    if client_id is not None:
        client = client_rows.find(conn, client_id) if len(client_id) <= 255 else None
        if client is None:
            raise LogoutError("The application that sent you here is not registered.")
    redirect = single.get("post_logout_redirect_uri")
    if redirect is not None:
        if client is None:
            raise LogoutError(
                "The sign-out request must name its application (client_id or id_token_hint)."
            )
        registration = oidc_clients.find(conn, client.client_id)
        if redirect not in registration.post_logout_redirect_uris:
            raise LogoutError(
                "The address to return to after signing out is not registered for this "
                "application; you have not been sent anywhere."
            )
    return LogoutRequest(client, redirect, state, hint, single)


def hint_matches(
    conn: Connection, request: LogoutRequest, user_id: str, id_tokens: IdTokens
) -> bool:
    """True when the request's hint names the signed-in person (as its client sees them)."""
    if request.hint is None or request.client is None:
        return False
    expected = id_tokens.subject(conn, request.client, user_id)
    return secrets.compare_digest(str(request.hint.get("sub", "")).encode(), expected.encode())


def end_session(
    conn: Connection, session_hash: str, user_id: str | None, id_tokens: IdTokens
) -> list[LogoutNotice]:
    """End a browser session: delete it, revoke the grants made in it (but offline ones), and
    the back-channel notices to send."""
    sid = session_id(session_hash)
    notices: list[LogoutNotice] = []
    told: set[str] = set()
    for family_id, client_id, scopes in grant_rows.families_of_session(conn, sid):
        if OFFLINE_ACCESS not in scopes:
            grant_rows.revoke_family(conn, family_id)
        if client_id in told or user_id is None:
            continue
        client = client_rows.find(conn, client_id)
        registration = oidc_clients.find(conn, client_id)
        if client is None or registration.backchannel_logout_uri is None:
            continue
        told.add(client_id)
        notices.append(
            LogoutNotice(
                client=client,
                uri=registration.backchannel_logout_uri,
                alg=id_tokens.algorithm(registration),
                sub=id_tokens.subject(conn, client, user_id),
                sid=sid,
            )
        )
    session_rows.delete_session(conn, session_hash)
    return notices


def logout_token(notice: LogoutNotice, settings: Settings, keys: KeyManager, now: float) -> str:
    """The logout token (Back-Channel Logout 1.0 sec. 2.4), typed ``logout+jwt``."""
    issued = int(now)
    claims = {
        "iss": settings.issuer,
        "aud": notice.client.client_id,
        "iat": issued,
        "exp": issued + _LOGOUT_TOKEN_LIFETIME,
        "jti": secrets.token_urlsafe(16),
        "sub": notice.sub,
        "sid": notice.sid,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    return tessera.encode(claims, keys.signing_key(notice.alg), typ="logout+jwt")


def send_notices(
    notices: list[LogoutNotice], settings: Settings, keys: KeyManager, now: float
) -> dict[str, bool]:
    """POST each logout token (sec. 2.5: a form, no redirects, a short timeout); which
    clients answered 200. A client that fails is logged, never retried forever."""
    results: dict[str, bool] = {}
    if not notices:
        return results
    with httpx.Client(timeout=_NOTICE_TIMEOUT, follow_redirects=False) as http:
        for notice in notices:
            token = logout_token(notice, settings, keys, now)
            try:
                response = http.post(
                    notice.uri,
                    data={"logout_token": token},
                    headers={"Cache-Control": "no-store"},
                )
                results[notice.client.client_id] = response.status_code == 200
            except httpx.HTTPError as exc:
                results[notice.client.client_id] = False
                logger.warning(
                    "back-channel logout to client %s failed: %s",
                    notice.client.client_id,
                    type(exc).__name__,
                )
    return results
