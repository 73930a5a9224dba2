""" "Sign in with ..." for web apps, without a framework: the login, callback and logout steps
as functions of (query, cookies) -> :class:`WebReply`, a sync and an async driver.

The pending sign-in (state, nonce, PKCE verifier, where to return) lives in an encrypted,
single-use, 10-minute cookie bound to this browser; the session in another encrypted cookie
(see :mod:`tessera.oidc._cookies`). Both are ``HttpOnly``, ``SameSite=Lax`` (the provider's
redirect back is a top-level GET, which Lax lets through) and ``Secure`` when the app is on
https. ``return_to`` is only ever a local path, so the login route is no open redirect.

The session cookie is ``tessera_rp_session`` by default (``cookie_name``; the pending sign-in
is that name + ``_login``): not ``tessera_session``, the name of ``tessera serve``'s own
session cookie on plain http. Browsers keep cookies per host, not per port, so an app on
``127.0.0.1:3000`` and the provider on ``127.0.0.1:8000`` using one name would overwrite each
other's session. Two apps on one host need two names.

With ``backchannel_logout_path``, the helpers also receive the provider's back-channel
logout tokens (OpenID Back-Channel Logout 1.0): a verified token is answered 200 and ends, by
its ``sid`` (else its ``sub``), the sessions started before it, through a
:class:`~tessera.oidc.logouts.LogoutStore` the session check consults (a cookie cannot be
deleted from the server). The default store is per process: give apps running several
processes a shared one.

Framework glue: :mod:`tessera.oidc.starlette`, :mod:`tessera.oidc.fastapi`,
:mod:`tessera.oidc.flask`.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tessera.errors import ConfigurationError, InvalidToken, TesseraError
from tessera.oidc._cookies import MAX_COOKIE, CookieSealer
from tessera.oidc.client import AsyncRelyingParty, RelyingParty
from tessera.oidc.errors import (
    AuthorizationError,
    OIDCError,
    StateMismatchError,
    TokenEndpointError,
    UserInfoError,
)
from tessera.oidc.flow import AuthorizationRequest, Tokens
from tessera.oidc.logouts import LogoutStore, MemoryLogoutStore, SessionKind
from tessera.oidc.tokens import LogoutToken
from tessera.oidc.verifier import IDTokenVerifier
from tessera.resource.discovery import DiscoveryError
from tessera.resource.errors import KeysUnavailableError

__all__ = [
    "DEFAULT_COOKIE_NAME",
    "MAX_LOGOUT_BODY",
    "AsyncSignIn",
    "Cookie",
    "SignIn",
    "User",
    "WebReply",
    "safe_return_to",
]

_LOGIN_PURPOSE = "login"
_SESSION_PURPOSE = "session"
_LOGIN_LIFETIME = 600
_MAX_RETURN_TO = 1024
MAX_LOGOUT_BODY = 16384
"""Largest back-channel logout request body read (a form holding one logout token)."""
_FORM = "application/x-www-form-urlencoded"


def safe_return_to(value: object, default: str = "/") -> str:
    """``value`` if it is a local path (``/x``, never ``//host`` or ``/\\host``), else ``default``.

    >>> safe_return_to("https://evil.example/"), safe_return_to("/photos?page=2")
    ('/', '/photos?page=2')
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > _MAX_RETURN_TO:
        return default
    if value.startswith(("//", "/\\")) or not value.isprintable() or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in person: ``sub`` at ``iss``, the ID token's ``claims``, the ``userinfo``
    claims (empty when not fetched), and when the session ends."""

    sub: str
    iss: str
    claims: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    userinfo: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    expires_at: float
    id_token: str | None = field(default=None, compare=False, hash=False, repr=False)

    def get(self, name: str, default: Any = None) -> Any:
        """A claim from UserInfo, else from the ID token (``user.get("email")``)."""
        if name in self.userinfo:
            return self.userinfo[name]
        return self.claims.get(name, default)


@dataclass(frozen=True, slots=True)
class Cookie:
    """A Set-Cookie to send; ``max_age`` 0 deletes it."""

    name: str
    value: str = field(repr=False)
    max_age: int
    secure: bool
    path: str = "/"
    http_only: bool = True
    same_site: str = "lax"


@dataclass(frozen=True, slots=True)
class WebReply:
    """What to answer: a redirect (``location``) or a short text page (or JSON, as
    ``media_type`` says), plus cookies."""

    status: int
    location: str | None = None
    cookies: tuple[Cookie, ...] = ()
    body: str = ""
    media_type: str = "text/plain"


class _BadLogoutRequest(Exception):
    """A back-channel logout request that is no form with one logout_token."""


def _logout_token_of(content_type: str | None, body: bytes) -> str:
    """The ``logout_token`` of a back-channel logout POST (sec. 2.5).

    Raises:
        _BadLogoutRequest: another media type, too large, not a form, not one token.
    """
    if (content_type or "").split(";")[0].strip().lower() != _FORM:
        raise _BadLogoutRequest(f"send the logout_token as {_FORM}")
    if len(body) > MAX_LOGOUT_BODY:
        raise _BadLogoutRequest("the request body is too large")
    try:
        fields = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, strict_parsing=True, max_num_fields=16
        )
    except (UnicodeDecodeError, ValueError):
        raise _BadLogoutRequest("the request body is not a form") from None
    tokens = [value for name, value in fields if name == "logout_token"]
    if len(tokens) != 1 or not tokens[0]:
        raise _BadLogoutRequest("send exactly one logout_token")
    return tokens[0]


def _logout_failure(exc: TesseraError) -> str:
    """A fixed description of why a logout token was not taken (never the token)."""
    if isinstance(exc, KeysUnavailableError):
        return "the provider's keys cannot be had to check the logout token"
    if isinstance(exc, DiscoveryError):
        return "the provider's configuration cannot be had"
    if isinstance(exc, InvalidToken):
        return f"the logout token was refused ({exc.code})"
    return "the logout token was refused"


def _failure(exc: Exception) -> tuple[int, str]:
    """Status and fixed text for a failed callback (never a 500, never provider HTML)."""
    if isinstance(exc, StateMismatchError):
        return 400, "This sign-in expired or was started in another browser. Please try again."
    if isinstance(exc, AuthorizationError):
        return 400, f"The sign-in did not complete ({exc.error})."
    if isinstance(exc, KeysUnavailableError):
        return 503, "The sign-in service cannot be checked right now. Please try again later."
    if isinstance(exc, TokenEndpointError | UserInfoError | DiscoveryError):
        return 502, "The sign-in service answered badly. Please try again later."
    if isinstance(exc, InvalidToken):
        return 401, f"The sign-in could not be verified ({exc.code})."
    return 400, "The sign-in failed."


DEFAULT_COOKIE_NAME = "tessera_rp_session"
"""The session cookie's default name (distinct from ``tessera serve``'s ``tessera_session``)."""


class _Core:
    """Configuration, cookies and the I/O-free halves of each step."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        redirect_uri: str,
        secret_key: str | bytes,
        client_secret: str | None,
        scope: str,
        post_logout_redirect_uri: str | None,
        session_lifetime: float,
        fetch_userinfo: bool,
        cookie_name: str,
        login_path: str,
        logout_path: str,
        secure: bool | None,
        clock: Callable[[], float],
        backchannel_logout_path: str | None = None,
        logout_store: LogoutStore | None = None,
    ) -> None:
        if not isinstance(redirect_uri, str) or not redirect_uri.startswith(
            ("https://", "http://")
        ):
            raise ConfigurationError("redirect_uri must be the app's absolute callback URL")
        if not cookie_name.replace("_", "").replace("-", "").isalnum():
            raise ConfigurationError("cookie_name must be letters, digits, '-' or '_'")
        if isinstance(session_lifetime, bool) or not isinstance(session_lifetime, int | float):
            raise ConfigurationError("session_lifetime must be a number of seconds")
        if not math.isfinite(session_lifetime) or not 60 <= session_lifetime <= 30 * 86400:
            raise ConfigurationError("session_lifetime must be between 60 s and 30 days")
        for path in (login_path, logout_path):
            if safe_return_to(path, "") != path:
                raise ConfigurationError("login_path and logout_path must be local paths")
        if backchannel_logout_path is not None and (
            safe_return_to(backchannel_logout_path, "") != backchannel_logout_path
            or "?" in backchannel_logout_path
            or backchannel_logout_path in (login_path, logout_path)
        ):
            raise ConfigurationError(
                "backchannel_logout_path must be a local path of its own, without a query"
            )
        if logout_store is None and backchannel_logout_path is not None:
            logout_store = MemoryLogoutStore()
        if logout_store is not None and not isinstance(logout_store, LogoutStore):
            raise ConfigurationError("logout_store must implement tessera.oidc.logouts.LogoutStore")
        self.backchannel_logout_path = backchannel_logout_path
        self.logout_store = logout_store
        self.issuer = issuer
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.callback_path = urlsplit(redirect_uri).path or "/"
        self.login_path = login_path
        self.logout_path = logout_path
        self.scope = scope
        self.post_logout_redirect_uri = post_logout_redirect_uri
        self.session_lifetime = float(session_lifetime)
        self.fetch_userinfo = fetch_userinfo
        self.cookie_name = cookie_name
        self.login_cookie = cookie_name + "_login"
        self.secure = redirect_uri.startswith("https://") if secure is None else secure
        self._secret = client_secret
        self._sealer = CookieSealer(secret_key)
        self._clock = clock

    def _rp_options(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self._secret,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "clock": self._clock,
        }

    def _cookie(self, name: str, value: str, max_age: int) -> Cookie:
        return Cookie(name, value, max_age, self.secure)

    def _gone(self, name: str) -> Cookie:
        return self._cookie(name, "", 0)

    def login_url(self, return_to: str = "/") -> str:
        """The app's own login route, returning to ``return_to`` afterwards."""
        return f"{self.login_path}?return_to={quote(safe_return_to(return_to), safe='')}"

    def session_user(self, cookies: Mapping[str, str]) -> User | None:
        """The signed-in user from the session cookie, or None (absent, forged, expired)."""
        data = self._sealer.open(_SESSION_PURPOSE, cookies.get(self.cookie_name), self._clock())
        if data is None:
            return None
        sub, iss = data.get("sub"), data.get("iss")
        claims, userinfo = data.get("claims"), data.get("userinfo")
        if not isinstance(sub, str) or iss != self.issuer or not isinstance(claims, dict):
            return None
        if self.logout_store is not None and self._ended(data, iss, sub, claims):
            return None
        id_token = data.get("id_token")
        return User(
            sub=sub,
            iss=iss,
            claims=MappingProxyType(claims),
            userinfo=MappingProxyType(userinfo if isinstance(userinfo, dict) else {}),
            expires_at=float(data["exp"]),
            id_token=id_token if isinstance(id_token, str) else None,
        )

    def _ended(
        self, data: Mapping[str, Any], iss: str, sub: str, claims: Mapping[str, Any]
    ) -> bool:
        """Whether a back-channel logout of the session's ``sid`` or ``sub`` came after (or
        when) it started."""
        store = self.logout_store
        assert store is not None
        started = data.get("at")
        if isinstance(started, bool) or not isinstance(started, int | float):
            started = float(data["exp"]) - self.session_lifetime  # a cookie from before "at"
        now = self._clock()
        named: tuple[tuple[SessionKind, object], ...] = (("sid", claims.get("sid")), ("sub", sub))
        for kind, value in named:
            if isinstance(value, str):
                ended = store.logged_out_at(iss, kind, value, now)
                if ended is not None and started <= ended:
                    return True
        return False

    def _logout_refused(self, description: str) -> WebReply:
        """Back-Channel Logout 1.0 sec. 2.8: 400 with an OAuth-style error body."""
        body = json.dumps({"error": "invalid_request", "error_description": description})
        return WebReply(400, body=body, media_type="application/json")

    def _take_logout(self, token: LogoutToken, verifier: IDTokenVerifier) -> WebReply:
        """Record a verified logout token: refuse a replayed ``jti``, then end the sessions of
        its ``sid`` (only that one session) or, without one, of its ``sub`` (sec. 2.7)."""
        store = self.logout_store
        assert store is not None
        if not isinstance(token.jti, str) or (token.sid is None and not isinstance(token.sub, str)):
            return self._logout_refused("the logout token's jti or sub is not a string")
        now = self._clock()
        until = max(float(token.iat) + verifier.logout_max_age + verifier.leeway, now) + 1
        if not store.first_use(token.iss, token.jti, until, now):
            return self._logout_refused("this logout token was already used")
        ends = now + self.session_lifetime + 1
        if token.sid is not None:
            store.record_logout(token.iss, "sid", token.sid, now, ends)
        else:
            assert token.sub is not None
            store.record_logout(token.iss, "sub", token.sub, now, ends)
        return WebReply(200)

    def _start(self, pending: AuthorizationRequest, query: Mapping[str, str]) -> WebReply:
        return_to = safe_return_to(query.get("return_to"))
        now = self._clock()
        value = self._sealer.seal(
            _LOGIN_PURPOSE,
            {"pending": pending.to_json(), "return_to": return_to},
            now + _LOGIN_LIFETIME,
        )
        cookie = self._cookie(self.login_cookie, value, _LOGIN_LIFETIME)
        return WebReply(303, pending.url, (cookie,))

    def _pending(self, cookies: Mapping[str, str]) -> tuple[AuthorizationRequest, str]:
        data = self._sealer.open(_LOGIN_PURPOSE, cookies.get(self.login_cookie), self._clock())
        if data is None or not isinstance(data.get("pending"), str):
            raise StateMismatchError("no sign-in is pending in this browser")
        return AuthorizationRequest.from_json(data["pending"]), safe_return_to(
            data.get("return_to")
        )

    def _session(self, tokens: Tokens, userinfo: Mapping[str, Any], return_to: str) -> WebReply:
        id_token = tokens.id_token
        if id_token is None:  # pragma: no cover - the client always verifies one
            raise StateMismatchError("the sign-in has no ID token")
        now = self._clock()
        expires = now + self.session_lifetime
        claims = dict(id_token.claims)
        payload: dict[str, Any] = {
            "sub": id_token.sub,
            "iss": id_token.iss,
            "claims": claims,
            "userinfo": dict(userinfo),
            "id_token": id_token.token,
            "at": now,
        }
        value = self._sealer.seal(_SESSION_PURPOSE, payload, expires)
        # Too big for a cookie: give up the logout hint, then UserInfo, then optional claims.
        for drop in ("id_token", "userinfo", "claims"):
            if len(value) <= MAX_COOKIE - 100:
                break
            if drop == "claims":
                keep = ("iss", "sub", "aud", "exp", "iat", "auth_time", "sid")
                payload["claims"] = {k: claims[k] for k in keep if k in claims}
            else:
                payload.pop(drop)
            value = self._sealer.seal(_SESSION_PURPOSE, payload, expires)
        cookies = (
            self._cookie(self.cookie_name, value, int(self.session_lifetime)),
            self._gone(self.login_cookie),
        )
        return WebReply(303, return_to, cookies)

    def _failed(self, exc: Exception) -> WebReply:
        status, text = _failure(exc)
        return WebReply(status, None, (self._gone(self.login_cookie),), text)

    def _logout(self, rp: RelyingParty | AsyncRelyingParty | None, user: User | None) -> WebReply:
        gone = (self._gone(self.cookie_name), self._gone(self.login_cookie))
        after = self.post_logout_redirect_uri
        if rp is not None and rp.metadata.end_session_endpoint is not None:
            hint = user.id_token if user is not None else None
            url = rp.logout_url(hint, post_logout_redirect_uri=after)
            return WebReply(303, url, gone)
        return WebReply(303, after or "/", gone)


class AsyncSignIn(_Core):
    """The asyncio driver (Starlette, FastAPI): the provider is discovered on first use.

    Raises:
        ConfigurationError: unsafe or inconsistent settings.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        redirect_uri: str,
        secret_key: str | bytes,
        client_secret: str | None = None,
        scope: str = "openid profile email",
        post_logout_redirect_uri: str | None = None,
        session_lifetime: float = 8 * 3600,
        fetch_userinfo: bool = True,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        login_path: str = "/auth/login",
        logout_path: str = "/auth/logout",
        secure: bool | None = None,
        relying_party: AsyncRelyingParty | None = None,
        clock: Callable[[], float] = time.time,
        backchannel_logout_path: str | None = None,
        logout_store: LogoutStore | None = None,
    ) -> None:
        super().__init__(
            issuer=issuer,
            client_id=client_id,
            redirect_uri=redirect_uri,
            secret_key=secret_key,
            client_secret=client_secret,
            scope=scope,
            post_logout_redirect_uri=post_logout_redirect_uri,
            session_lifetime=session_lifetime,
            fetch_userinfo=fetch_userinfo,
            cookie_name=cookie_name,
            login_path=login_path,
            logout_path=logout_path,
            secure=secure,
            clock=clock,
            backchannel_logout_path=backchannel_logout_path,
            logout_store=logout_store,
        )
        self._rp = relying_party
        self._lock: asyncio.Lock | None = None

    async def relying_party(self) -> AsyncRelyingParty:
        """The relying party, discovering the provider the first time.

        Raises:
            DiscoveryError: the provider configuration cannot be had.
        """
        if self._rp is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._rp is None:
                    self._rp = await AsyncRelyingParty.from_provider(
                        self.issuer, **self._rp_options()
                    )
        return self._rp

    async def login(self, query: Mapping[str, str]) -> WebReply:
        """Start a sign-in: redirect to the provider, with the pending-sign-in cookie."""
        try:
            rp = await self.relying_party()
        except TesseraError as exc:
            return self._failed(exc)
        return self._start(rp.authorization_request(), query)

    async def callback(self, query: Mapping[str, str], cookies: Mapping[str, str]) -> WebReply:
        """Finish a sign-in: check the state against the cookie, exchange, verify, sign in."""
        try:
            pending, return_to = self._pending(cookies)
            rp = await self.relying_party()
            tokens = await rp.callback(pending, query)
            wanted = self.fetch_userinfo and rp.metadata.userinfo_endpoint is not None
            userinfo = await rp.userinfo(tokens) if wanted else {}
        except (OIDCError, InvalidToken, DiscoveryError, KeysUnavailableError) as exc:
            return self._failed(exc)
        return self._session(tokens, userinfo, return_to)

    async def logout(self, cookies: Mapping[str, str]) -> WebReply:
        """End the session here, then at the provider when it offers RP-initiated logout."""
        try:
            rp: AsyncRelyingParty | None = await self.relying_party()
        except TesseraError:
            rp = None
        return self._logout(rp, self.session_user(cookies))

    async def backchannel_logout(self, content_type: str | None, body: bytes) -> WebReply:
        """Take a back-channel logout request (the POSTed form): 200 once the logout token is
        verified and recorded, else 400 ``invalid_request``."""
        if self.logout_store is None:
            return self._logout_refused("back-channel logout is not configured")
        try:
            token = _logout_token_of(content_type, body)
            rp = await self.relying_party()
            logout = await rp.verifier.averify_logout_token(token)
        except _BadLogoutRequest as exc:
            return self._logout_refused(str(exc))
        except TesseraError as exc:
            return self._logout_refused(_logout_failure(exc))
        return self._take_logout(logout, rp.verifier)

    async def aclose(self) -> None:
        """Close the relying party's connections."""
        if self._rp is not None:
            await self._rp.aclose()


class SignIn(_Core):
    """The blocking driver (Flask and other WSGI apps); same steps as :class:`AsyncSignIn`.

    Raises:
        ConfigurationError: unsafe or inconsistent settings.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        redirect_uri: str,
        secret_key: str | bytes,
        client_secret: str | None = None,
        scope: str = "openid profile email",
        post_logout_redirect_uri: str | None = None,
        session_lifetime: float = 8 * 3600,
        fetch_userinfo: bool = True,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        login_path: str = "/auth/login",
        logout_path: str = "/auth/logout",
        secure: bool | None = None,
        relying_party: RelyingParty | None = None,
        clock: Callable[[], float] = time.time,
        backchannel_logout_path: str | None = None,
        logout_store: LogoutStore | None = None,
    ) -> None:
        super().__init__(
            issuer=issuer,
            client_id=client_id,
            redirect_uri=redirect_uri,
            secret_key=secret_key,
            client_secret=client_secret,
            scope=scope,
            post_logout_redirect_uri=post_logout_redirect_uri,
            session_lifetime=session_lifetime,
            fetch_userinfo=fetch_userinfo,
            cookie_name=cookie_name,
            login_path=login_path,
            logout_path=logout_path,
            secure=secure,
            clock=clock,
            backchannel_logout_path=backchannel_logout_path,
            logout_store=logout_store,
        )
        self._rp = relying_party
        self._lock = threading.Lock()

    def relying_party(self) -> RelyingParty:
        """The relying party, discovering the provider the first time.

        Raises:
            DiscoveryError: the provider configuration cannot be had.
        """
        if self._rp is None:
            with self._lock:
                if self._rp is None:
                    self._rp = RelyingParty.from_provider(self.issuer, **self._rp_options())
        return self._rp

    def login(self, query: Mapping[str, str]) -> WebReply:
        """Start a sign-in: redirect to the provider, with the pending-sign-in cookie."""
        try:
            rp = self.relying_party()
        except TesseraError as exc:
            return self._failed(exc)
        return self._start(rp.authorization_request(), query)

    def callback(self, query: Mapping[str, str], cookies: Mapping[str, str]) -> WebReply:
        """Finish a sign-in: check the state against the cookie, exchange, verify, sign in."""
        try:
            pending, return_to = self._pending(cookies)
            rp = self.relying_party()
            tokens = rp.callback(pending, query)
            wanted = self.fetch_userinfo and rp.metadata.userinfo_endpoint is not None
            userinfo = rp.userinfo(tokens) if wanted else {}
        except (OIDCError, InvalidToken, DiscoveryError, KeysUnavailableError) as exc:
            return self._failed(exc)
        return self._session(tokens, userinfo, return_to)

    def logout(self, cookies: Mapping[str, str]) -> WebReply:
        """End the session here, then at the provider when it offers RP-initiated logout."""
        try:
            rp: RelyingParty | None = self.relying_party()
        except TesseraError:
            rp = None
        return self._logout(rp, self.session_user(cookies))

    def backchannel_logout(self, content_type: str | None, body: bytes) -> WebReply:
        """Take a back-channel logout request (the POSTed form): 200 once the logout token is
        verified and recorded, else 400 ``invalid_request``."""
        if self.logout_store is None:
            return self._logout_refused("back-channel logout is not configured")
        try:
            token = _logout_token_of(content_type, body)
            rp = self.relying_party()
            logout = rp.verifier.verify_logout_token(token)
        except _BadLogoutRequest as exc:
            return self._logout_refused(str(exc))
        except TesseraError as exc:
            return self._logout_refused(_logout_failure(exc))
        return self._take_logout(logout, rp.verifier)

    def close(self) -> None:
        """Close the relying party's connections."""
        if self._rp is not None:
            self._rp.close()
