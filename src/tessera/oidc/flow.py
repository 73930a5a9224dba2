"""The authorization code flow's data, with no I/O: the pending request a browser is sent
with, the callback check, token requests and replies, and the RP-initiated logout URL.

``state``, ``nonce`` and the PKCE verifier come from :mod:`secrets` (256, 256 and 512 bits)
and are compared in constant time; everything read from the callback or the token endpoint is
bounded in size and type-checked before use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from tessera.errors import ConfigurationError
from tessera.oidc.errors import AuthorizationError, StateMismatchError, TokenEndpointError
from tessera.oidc.tokens import IDToken

__all__ = [
    "AUTH_METHODS",
    "MAX_CODE",
    "MAX_STATE",
    "AuthorizationRequest",
    "Tokens",
    "add_query",
    "check_callback",
    "client_auth",
    "make_tokens",
    "parse_token_reply",
    "pkce_challenge",
]

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
MAX_STATE = 512
MAX_CODE = 4096
_MAX_PARAM = 2048
_MAX_TOKEN = 16384
# Parameters the flow itself sets: a caller's extras cannot replace them.
_RESERVED = frozenset(
    {
        "client_id",
        "code_challenge",
        "code_challenge_method",
        "nonce",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    }
)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier`` (RFC 7636 sec. 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def add_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` added to the query it may already have (Discovery allows one)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _bounded_str(value: object, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ConfigurationError(f"{what} must be a non-empty string of at most {limit} chars")
    return value


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A sign-in in progress: where the browser goes (``url``) and what the callback must match.

    Keep it server-side or in an encrypted cookie (:meth:`to_json` / :meth:`from_json`), never
    readable by the browser: the ``code_verifier`` and ``nonce`` are what bind the answer to it.
    """

    url: str = field(repr=False)
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    scope: str
    max_age: int | None = None

    @classmethod
    def new(
        cls,
        authorization_endpoint: str,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        max_age: int | None = None,
        params: Mapping[str, str] | None = None,
    ) -> AuthorizationRequest:
        """A fresh request with random ``state``, ``nonce`` and PKCE S256 verifier.

        ``params`` adds ``prompt``, ``login_hint``, ``ui_locales``, ``acr_values``... but may
        not replace what the flow sets.

        Raises:
            ConfigurationError: a reserved or oversized parameter, or ``openid`` not in scope.
        """
        if "openid" not in scope.split():
            raise ConfigurationError("an OpenID Connect sign-in needs the 'openid' scope")
        extra = dict(params or {})
        clash = _RESERVED.intersection(extra)
        if clash:
            raise ConfigurationError(f"these parameters are set by the flow: {sorted(clash)}")
        for name, value in extra.items():
            _bounded_str(name, 64, "a parameter name")
            if not isinstance(value, str) or len(value) > _MAX_PARAM:
                raise ConfigurationError(f"parameter {name!r} must be a short string")
        if max_age is not None:
            if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
                raise ConfigurationError("max_age must be a non-negative whole number of seconds")
            extra["max_age"] = str(max_age)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, RFC 7636 allows 43-128
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            **extra,
        }
        url = add_query(authorization_endpoint, query)
        return cls(url, state, nonce, verifier, redirect_uri, scope, max_age)

    def to_json(self) -> str:
        """The request as JSON, to keep in an encrypted cookie or a server-side session."""
        return json.dumps(
            {
                "url": self.url,
                "state": self.state,
                "nonce": self.nonce,
                "code_verifier": self.code_verifier,
                "redirect_uri": self.redirect_uri,
                "scope": self.scope,
                "max_age": self.max_age,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> AuthorizationRequest:
        """Restore a request saved by :meth:`to_json`.

        Raises:
            StateMismatchError: not a saved request (so the callback cannot be trusted).
        """
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError
            max_age = data.get("max_age")
            if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)):
                raise TypeError
            return cls(
                url=_bounded_str(data["url"], 8192, "url"),
                state=_bounded_str(data["state"], MAX_STATE, "state"),
                nonce=_bounded_str(data["nonce"], MAX_STATE, "nonce"),
                code_verifier=_bounded_str(data["code_verifier"], 128, "code_verifier"),
                redirect_uri=_bounded_str(data["redirect_uri"], 2048, "redirect_uri"),
                scope=_bounded_str(data["scope"], 2048, "scope"),
                max_age=max_age,
            )
        except (ValueError, TypeError, KeyError, RecursionError, ConfigurationError):
            raise StateMismatchError("the saved sign-in request is unreadable") from None


def _param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, list | tuple):  # parse_qs style: one value only
        if len(value) != 1:
            raise AuthorizationError(f"the {name!r} parameter is repeated", "invalid_request")
        value = value[0]
    if value is None:
        return None
    if not isinstance(value, str):
        raise AuthorizationError(f"the {name!r} parameter is not a string", "invalid_request")
    return value


def check_callback(
    pending: AuthorizationRequest,
    params: Mapping[str, Any],
    issuer: str,
    iss_required: bool,
) -> str:
    """Check the redirect's query against ``pending`` and return the authorization code.

    Order: ``state`` first (constant time), so an attacker's error or code is never acted on;
    then RFC 9207 ``iss`` (mix-up defence), then ``error``, then ``code``.

    Raises:
        StateMismatchError: ``state`` missing, oversized or not the pending one.
        AuthorizationError: another issuer answered, the provider sent ``error``, or no code.
    """
    state = _param(params, "state")
    if state is None or len(state) > MAX_STATE:
        raise StateMismatchError("the callback has no usable state")
    if not hmac.compare_digest(state.encode("utf-8"), pending.state.encode("utf-8")):
        raise StateMismatchError("the callback's state is not the pending sign-in's")
    iss = _param(params, "iss")
    if iss is not None and iss != issuer:
        raise AuthorizationError("the response comes from another issuer", "invalid_issuer")
    if iss is None and iss_required:
        raise AuthorizationError("the response does not name its issuer", "invalid_issuer")
    error = _param(params, "error")
    if error is not None:
        raise AuthorizationError(
            "the provider refused the sign-in", error, _param(params, "error_description")
        )
    code = _param(params, "code")
    if not code or len(code) > MAX_CODE:
        raise AuthorizationError("the callback has no usable code", "invalid_request")
    return code


def client_auth(
    method: str, client_id: str, secret: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The (form fields, headers) that authenticate the client (RFC 6749 sec. 2.3.1).

    Basic encodes id and secret form-urlencoded before base64, as sec. 2.3.1 requires.
    """
    if method != "none" and secret is None:
        raise ConfigurationError(f"{method} needs a client secret")
    if method == "client_secret_basic":
        pair = f"{quote(client_id, safe='')}:{quote(str(secret), safe='')}".encode()
        return {}, {"authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": str(secret)}, {}
    return {"client_id": client_id}, {}


@dataclass(frozen=True, slots=True)
class Tokens:
    """What the token endpoint gave: the access token, its lifetime, the refresh token, the
    verified ID token. Tokens are left out of ``repr`` so they do not end up in logs."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float | None
    refresh_token: str | None = field(repr=False)
    scope: tuple[str, ...]
    id_token: IDToken | None
    raw: Mapping[str, Any] = field(compare=False, hash=False, repr=False)


def _error_reply(status: int, body: bytes) -> TokenEndpointError:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        return TokenEndpointError(
            "the token endpoint refused the request",
            data.get("error"),
            data.get("error_description"),
            status,
        )
    return TokenEndpointError("the token endpoint answered with an error", None, None, status)


def parse_token_reply(status: int, media_type: str, body: bytes, now: float) -> dict[str, Any]:
    """Check a token endpoint reply (RFC 6749 sec. 5.1/5.2) and return its members.

    Raises:
        TokenEndpointError: an error reply (``error`` kept), or a success that is not a JSON
            object with a string ``access_token`` and ``token_type`` Bearer.
    """
    if status != 200:
        raise _error_reply(status, body)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise TokenEndpointError("the token reply is not JSON", status=status) from None
    if not isinstance(data, dict):
        raise TokenEndpointError("the token reply is not a JSON object", status=status)
    access = data.get("access_token")
    if not isinstance(access, str) or not access or len(access) > _MAX_TOKEN:
        raise TokenEndpointError("the token reply has no usable access_token", status=status)
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenEndpointError("the token reply's token_type is not Bearer", status=status)
    for name in ("refresh_token", "id_token", "scope"):
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_TOKEN):
            raise TokenEndpointError(f"the token reply's {name} is not a string", status=status)
    expires_in = data.get("expires_in")
    if expires_in is not None:
        if isinstance(expires_in, str) and expires_in.isdigit():  # some providers send text
            expires_in = int(expires_in[:12])
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not math.isfinite(expires_in)
            or expires_in < 0
        ):
            raise TokenEndpointError("the token reply's expires_in is not a number", status=status)
        data["expires_at"] = now + float(expires_in)
    return data


def make_tokens(data: dict[str, Any], id_token: IDToken | None, scope: str | None) -> Tokens:
    """Tokens from a checked reply; ``scope`` is the requested one when the reply names none
    (RFC 6749 sec. 5.1: then the granted scope is the requested one)."""
    granted = data.get("scope")
    scopes = (granted if granted is not None else scope or "").split()
    return Tokens(
        access_token=data["access_token"],
        token_type="Bearer",
        expires_at=data.get("expires_at"),
        refresh_token=data.get("refresh_token"),
        scope=tuple(scopes),
        id_token=id_token,
        raw=MappingProxyType(data),
    )
