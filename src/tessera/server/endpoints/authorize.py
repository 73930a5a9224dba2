"""``GET/POST /authorize`` (RFC 6749 sec. 4.1): sign in, consent, and the redirect with a code.

A browser session (a random cookie value, stored hashed, ``HttpOnly``, ``SameSite=Lax``,
``Secure`` unless the issuer is on loopback) carries a CSRF token that every form posts back.
Signing in replaces the session (no fixation) and redirects to the same request with GET
(Post/Redirect/Get); consenting redirects to the client with the code (303).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tessera.server.accounts import SignIn
from tessera.server.authorize import (
    AUTHORIZE_PARAMS,
    AuthorizationRequest,
    PageError,
    RedirectError,
    issue_code,
    parse_query,
    redirect_to,
    validate,
)
from tessera.server.cimd import is_metadata_url
from tessera.server.endpoints._http import read_body
from tessera.server.errors import ClientMetadataError, InvalidRequest
from tessera.server.oidc.claims import beyond_scopes
from tessera.server.oidc.claims_request import ClaimsRequest
from tessera.server.oidc.idtoken import session_id, verify_hint
from tessera.server.pages import STYLESHEET, consent_page, error_page, signin_page
from tessera.server.storage import grants as grant_rows
from tessera.server.storage import sessions as session_rows
from tessera.server.storage import users as user_rows
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.sessions import SessionRow

if TYPE_CHECKING:
    from tessera.server.app import Context
    from tessera.server.config import Settings

__all__ = ["BrowserExchange", "authorize", "stylesheet"]

_MAX_QUERY = 8192
_SATISFIED_BY_SIGN_IN = ("prompt", "max_age", "id_token_hint")
"""Dropped from the request once the person has just signed in: asked and answered."""
_CONTROL_FIELDS = ("csrf_token", "action", "username", "password", "decision")


def _cookie_name(secure: bool) -> str:
    return "__Host-tessera_session" if secure else "tessera_session"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _page_headers(form_targets: str = "") -> dict[str, str]:
    # form-action must allow the client's origin: Chromium applies it to the redirect that
    # follows a form submission.
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; style-src 'self'; "
        f"form-action 'self'{form_targets}; frame-ancestors 'none'; base-uri 'none'",
    }


def _origin(uri: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f" {parts.scheme}://{parts.netloc}"
    return f" {parts.scheme}:" if parts.scheme else ""


def _described_host(client: ClientRecord) -> str | None:
    """The host of a URL client id (shown on the pages: its name is self-chosen)."""
    if not is_metadata_url(client.client_id):
        return None
    from urllib.parse import urlsplit

    return urlsplit(client.client_id).hostname


@dataclass
class _Exchange:
    """One request's view of the world: settings, context and the session."""

    request: Request
    context: Context
    session: SessionRow | None = None
    new_cookie: str | None = None
    clear_cookie: bool = False

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def action_url(self) -> str:
        return self.settings.issuer_path + "/authorize"

    @property
    def stylesheet_url(self) -> str:
        return self.settings.issuer_path + "/static/tessera.css"

    def html(self, body: str, status: int = 200, form_targets: str = "") -> Response:
        response = HTMLResponse(body, status, _page_headers(form_targets))
        self.set_cookie(response)
        return response

    def error(self, error: PageError) -> Response:
        return self.html(
            error_page(stylesheet=self.stylesheet_url, message=error.message), error.status
        )

    def set_cookie(self, response: Response) -> None:
        secure = self.settings.secure_cookies
        if self.clear_cookie:
            response.delete_cookie(
                _cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax"
            )
        if self.new_cookie is None:
            return
        response.set_cookie(
            _cookie_name(secure),
            self.new_cookie,
            max_age=self.settings.session_lifetime,
            path="/",
            secure=secure,
            httponly=True,
            samesite="lax",
        )

    def load_session(self) -> SessionRow | None:
        value = self.request.cookies.get(_cookie_name(self.settings.secure_cookies))
        if not value or len(value) > 100:
            return None
        with self.context.db.read() as conn:
            return session_rows.find(conn, _hash(value), self.context.clock())

    def start_session(self, user_id: str | None, auth_time: float | None) -> SessionRow:
        """A new session (replacing the current one, if any)."""
        value = secrets.token_urlsafe(32)
        now = self.context.clock()
        row = SessionRow(
            session_hash=_hash(value),
            csrf_token=secrets.token_urlsafe(32),
            user_id=user_id,
            auth_time=auth_time,
            expires_at=now + self.settings.session_lifetime,
        )
        with self.context.db.write() as conn:
            if self.session is not None:
                session_rows.delete_session(conn, self.session.session_hash)
            session_rows.create(conn, row)
        self.session = row
        self.new_cookie = value
        return row

    def check(self, params: dict[str, list[str]]) -> AuthorizationRequest:
        described = self.described(params)
        with self.context.db.read() as conn:
            return validate(conn, params, self.settings, described=described)

    def described(self, params: dict[str, list[str]]) -> ClientRecord | None:
        """The client a URL client_id's metadata document describes (fetched before any
        database connection is taken), or None for any other client_id."""
        resolver = self.context.client_metadata
        client_ids = params.get("client_id", [])
        if resolver is None or len(client_ids) != 1 or not is_metadata_url(client_ids[0]):
            return None
        try:
            return resolver.resolve(client_ids[0])
        except ClientMetadataError as exc:
            raise PageError(f"The application's metadata document cannot be used: {exc}.") from None

    def fields(self, request: AuthorizationRequest) -> dict[str, str]:
        """The request parameters and the session's CSRF token, for the next form."""
        csrf = self.session.csrf_token if self.session is not None else ""
        return {**request.params, "csrf_token": csrf}

    def signin(
        self, request: AuthorizationRequest, *, error: str | None = None, username: str = ""
    ) -> Response:
        if not username and request.openid.login_hint and len(request.openid.login_hint) <= 64:
            username = request.openid.login_hint
        status = 200 if error is None else 400  # 401 would need a WWW-Authenticate challenge
        session = self.session or self.start_session(None, None)
        self.session = session
        return self.html(
            signin_page(
                action=self.action_url,
                stylesheet=self.stylesheet_url,
                client_name=request.client.name,
                client_host=_described_host(request.client),
                fields=self.fields(request),
                username=username,
                error=error,
            ),
            status,
        )

    def consent(self, request: AuthorizationRequest, username: str) -> Response:
        return self.html(
            consent_page(
                action=self.action_url,
                stylesheet=self.stylesheet_url,
                client_name=request.client.name,
                client_host=_described_host(request.client),
                username=username,
                scopes=request.scopes,
                claims=beyond_scopes(request.openid.claims.names, request.scopes),
                fields=self.fields(request),
            ),
            form_targets=_origin(request.redirect_uri),
        )

    def redirect(self, location: str, status: int = 303) -> Response:
        response = RedirectResponse(location, status, headers={"Cache-Control": "no-store"})
        self.set_cookie(response)
        return response

    def redirect_error(self, error: RedirectError, status: int = 302) -> Response:
        params = {"error": error.error, "error_description": error.description}
        if error.state is not None:
            params["state"] = error.state
        params["iss"] = self.settings.issuer
        return self.redirect(redirect_to(error.redirect_uri, params), status)

    def needs_sign_in(self, request: AuthorizationRequest, user_id: str) -> bool:
        """True when the signed-in person must sign in (again) for this request: prompt=login
        or select_account, a max_age exceeded, or an id_token_hint or a ``claims`` request's
        ``sub`` value naming someone else.

        Raises:
            RedirectError: an id_token_hint that is not an ID token of this server.
        """
        openid = request.openid
        session = self.session
        if openid.prompt & {"login", "select_account"}:
            return True
        if openid.max_age is not None:
            auth_time = session.auth_time if session is not None else None
            if auth_time is None or self.context.clock() - auth_time > openid.max_age:
                return True
        if openid.id_token_hint is not None:
            context = self.context
            claims = verify_hint(openid.id_token_hint, context.keys, self.settings, context.clock)
            if claims is None:
                raise RedirectError(
                    request.redirect_uri,
                    "invalid_request",
                    "id_token_hint is not an ID token issued by this server",
                    request.state,
                )
            if not self.is_subject(request, user_id, str(claims["sub"])):
                return True
        named = openid.claims.sub  # OIDC Core sec. 3.1.2.2: only for the person it names
        return named is not None and not self.is_subject(request, user_id, named)

    def is_subject(self, request: AuthorizationRequest, user_id: str, sub: str) -> bool:
        """True when ``sub`` is ``user_id`` as the request's client sees them."""
        with self.context.db.read() as conn:
            subject = self.context.id_tokens.subject(conn, request.client, user_id)
        return hmac.compare_digest(sub.encode(), subject.encode())

    def has_grant(self, request: AuthorizationRequest, user_id: str) -> bool:
        """True when this person already granted this client the requested scopes (and the
        claims asked for by name beyond them)."""
        extra = beyond_scopes(request.openid.claims.names, request.scopes)

        def covers(scopes: tuple[str, ...], stored: str | None) -> bool:
            granted = ClaimsRequest.from_stored(stored).names
            return not beyond_scopes(set(extra) - granted, scopes)

        with self.context.db.read() as conn:
            return grant_rows.has_grant(
                conn,
                request.client.client_id,
                user_id,
                request.scopes,
                self.context.clock(),
                claims=covers if extra else None,
            )

    def issue(self, request: AuthorizationRequest) -> Response:
        """Record the grant and send the browser back to the client with the code."""
        session = self.session
        if session is None or session.user_id is None:
            raise PageError("Sign in first.")
        context = self.context
        user_id, auth_time = session.user_id, session.auth_time or context.clock()
        with context.db.write() as conn:
            code = issue_code(
                conn,
                request,
                user_id=user_id,
                auth_time=auth_time,
                settings=self.settings,
                now=context.clock(),
                sid=session_id(session.session_hash),
            )
        params = {"code": code}
        if request.state is not None:
            params["state"] = request.state
        params["iss"] = self.settings.issuer
        return self.redirect(redirect_to(request.redirect_uri, params))

    def username_of(self, user_id: str) -> str | None:
        with self.context.db.read() as conn:
            user = user_rows.find_by_id(conn, user_id)
        return None if user is None else user.username


BrowserExchange = _Exchange
"""The browser session helpers, shared with the logout endpoint."""


async def authorize(request: Request) -> Response:
    """The authorization endpoint: GET shows a page, POST signs in or records consent."""
    exchange = _Exchange(request, request.app.state.context)
    try:
        if request.method in ("GET", "HEAD"):
            return await _get(exchange)
        return await _post(exchange)
    except PageError as exc:
        return exchange.error(exc)
    except RedirectError as exc:
        return exchange.redirect_error(exc, 303 if request.method == "POST" else 302)


async def _get(exchange: _Exchange) -> Response:
    raw = exchange.request.scope.get("query_string", b"")
    if len(raw) > _MAX_QUERY:
        raise PageError("The request is too long.", status=414)
    return await _start(exchange, parse_query(raw.decode("latin-1")))


async def _start(exchange: _Exchange, params: dict[str, list[str]]) -> Response:
    """An authorization request (by GET, or by POST as OIDC Core sec. 3.1.2.1 allows)."""
    request = await run_in_threadpool(exchange.check, params)
    exchange.session = await run_in_threadpool(exchange.load_session)
    session = exchange.session
    username = None
    if session is not None and session.user_id is not None:
        username = await run_in_threadpool(exchange.username_of, session.user_id)
    prompt = request.openid.prompt
    if username is None or session is None or session.user_id is None:
        if "none" in prompt:
            raise _interaction(request, "login_required", "the person is not signed in")
        return await run_in_threadpool(exchange.signin, request)
    user_id = session.user_id
    if await run_in_threadpool(exchange.needs_sign_in, request, user_id):
        if "none" in prompt:
            raise _interaction(request, "login_required", "the person must sign in again")
        return await run_in_threadpool(exchange.signin, request)
    if "none" in prompt:
        if not await run_in_threadpool(exchange.has_grant, request, user_id):
            raise _interaction(request, "consent_required", "the person has not consented yet")
        return await run_in_threadpool(exchange.issue, request)
    return exchange.consent(request, username)


def _interaction(request: AuthorizationRequest, error: str, description: str) -> RedirectError:
    """An OIDC Core sec. 3.1.2.6 error: prompt=none, and the person would have to act."""
    return RedirectError(request.redirect_uri, error, description, request.state)


async def _post(exchange: _Exchange) -> Response:
    settings = exchange.settings
    media = (exchange.request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise PageError("The form was not sent as a web form.", status=415)
    try:
        body = await read_body(exchange.request, settings.max_body_size)
    except InvalidRequest as exc:
        raise PageError("The form is too large.", status=exc.status) from None
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise PageError("The form is malformed.") from None
    params = parse_query(text)
    control = {}
    for name in _CONTROL_FIELDS:
        values = params.pop(name, [])
        if len(values) > 1:
            raise PageError("The form is malformed.")
        control[name] = values[0] if values else ""
    if not any(control.values()) and "client_id" in params:
        # No form of ours: the authorization request itself, sent by POST.
        return await _start(exchange, params)
    params = {name: values for name, values in params.items() if name in AUTHORIZE_PARAMS}
    exchange.session = await run_in_threadpool(exchange.load_session)
    session = exchange.session
    if session is None or not hmac.compare_digest(
        control["csrf_token"].encode(), session.csrf_token.encode()
    ):
        raise PageError(
            "This form expired or was not sent from this site (CSRF check failed). "
            "Start again from the application.",
            status=403,
        )
    request = await run_in_threadpool(exchange.check, params)
    if control["action"] == "login":
        return await _login(exchange, request, control)
    if control["action"] == "consent":
        return await _consent(exchange, request, control["decision"])
    raise PageError("The form is malformed.")


async def _login(
    exchange: _Exchange, request: AuthorizationRequest, control: dict[str, str]
) -> Response:
    username, password = control["username"], control["password"]
    if not username or not password:
        return exchange.signin(request, error="Enter your user name and password.")
    address = exchange.request.client.host if exchange.request.client else "unknown"
    context = exchange.context
    result = await run_in_threadpool(
        SignIn(context.db, exchange.settings, context.clock).attempt, username, password, address
    )
    shown = username if len(username) <= 64 else ""
    if result.user is None:
        if result.retry_after:
            response = exchange.signin(
                request,
                error=f"Too many failed attempts. Try again in {result.retry_after} seconds.",
                username=shown,
            )
            response.status_code = 429
            response.headers["Retry-After"] = str(result.retry_after)
            return response
        return exchange.signin(request, error="Wrong user name or password.", username=shown)
    named = request.openid.claims.sub
    if named is not None and not await run_in_threadpool(
        exchange.is_subject, request, result.user.user_id, named
    ):
        # The claims request names someone else: no positive answer (OIDC Core 3.1.2.2).
        raise RedirectError(
            request.redirect_uri,
            "access_denied",
            "the person who signed in is not the one the claims request names",
            request.state,
        )
    now = context.clock()
    await run_in_threadpool(exchange.start_session, result.user.user_id, now)
    params = {k: v for k, v in request.params.items() if k not in _SATISFIED_BY_SIGN_IN}
    return exchange.redirect(redirect_to(exchange.action_url, params))


async def _consent(exchange: _Exchange, request: AuthorizationRequest, decision: str) -> Response:
    session = exchange.session
    if session is None or session.user_id is None:
        return exchange.signin(request, error="Sign in first.")
    if decision == "deny":
        raise RedirectError(
            request.redirect_uri, "access_denied", "the user denied the request", request.state
        )
    if decision != "allow":
        raise PageError("The form is malformed.")
    return await run_in_threadpool(exchange.issue, request)


async def stylesheet(_request: Request) -> Response:
    """The pages' one style sheet."""
    return Response(
        STYLESHEET,
        200,
        {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        "text/css; charset=utf-8",
    )
