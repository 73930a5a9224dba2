"""``GET/POST /logout``: the end-session endpoint (OpenID RP-Initiated Logout 1.0).

The browser session ends at once when the request carries an ``id_token_hint`` naming the
signed-in person; otherwise the person is asked (a form with the session's CSRF token), so a
link on another site cannot sign anyone out. Then the browser goes to the registered
``post_logout_redirect_uri`` with ``state``, or sees a "signed out" page. Clients with a
``backchannel_logout_uri`` receive a logout token before the browser is answered.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tessera.server.authorize import PageError, parse_query, redirect_to
from tessera.server.endpoints._http import read_body
from tessera.server.endpoints.authorize import BrowserExchange
from tessera.server.errors import InvalidRequest
from tessera.server.oidc.logout import (
    LogoutError,
    LogoutRequest,
    check_logout,
    end_session,
    hint_matches,
    send_notices,
)
from tessera.server.pages import logout_page, signed_out_page

if TYPE_CHECKING:
    from tessera.server.app import Context

__all__ = ["logout"]

_MAX_QUERY = 12288


def _form_target(uri: str | None) -> str:
    if uri is None:
        return ""
    parts = urlsplit(uri)
    return f" {parts.scheme}://{parts.netloc}"


async def _params(exchange: BrowserExchange) -> tuple[dict[str, list[str]], dict[str, str]]:
    request = exchange.request
    if request.method in ("GET", "HEAD"):
        raw = request.scope.get("query_string", b"")
        if len(raw) > _MAX_QUERY:
            raise PageError("The request is too long.", status=414)
        return parse_query(raw.decode("latin-1")), {}
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise PageError("The form was not sent as a web form.", status=415)
    try:
        body = await read_body(request, exchange.settings.max_body_size)
        text = body.decode("ascii")
    except InvalidRequest as exc:
        raise PageError("The form is too large.", status=exc.status) from None
    except UnicodeDecodeError:
        raise PageError("The form is malformed.") from None
    params = parse_query(text)
    control = {}
    for name in ("csrf_token", "action"):
        values = params.pop(name, [])
        if len(values) > 1:
            raise PageError("The form is malformed.")
        control[name] = values[0] if values else ""
    return params, control


def _finish(exchange: BrowserExchange, request: LogoutRequest) -> Response:
    if request.post_logout_redirect_uri is not None:
        query = {"state": request.state} if request.state is not None else {}
        location = request.post_logout_redirect_uri
        return exchange.redirect(redirect_to(location, query) if query else location)
    return exchange.html(signed_out_page(stylesheet=exchange.stylesheet_url))


def _end(exchange: BrowserExchange) -> None:
    """End the session, revoke its grants, send the back-channel notices."""
    context: Context = exchange.context
    session = exchange.session
    if session is not None:
        with context.db.write() as conn:
            notices = end_session(conn, session.session_hash, session.user_id, context.id_tokens)
        send_notices(notices, context.settings, context.keys, context.clock())
    exchange.session = None
    exchange.clear_cookie = True


async def logout(request: Request) -> Response:
    """End the person's browser session as the relying party asks."""
    context: Context = request.app.state.context
    exchange = BrowserExchange(request, context)
    try:
        params, control = await _params(exchange)

        def check() -> LogoutRequest:
            with context.db.read() as conn:
                return check_logout(conn, params, context.settings, context.keys, context.clock)

        try:
            checked = await run_in_threadpool(check)
        except LogoutError as exc:
            raise PageError(exc.message) from None
        exchange.session = await run_in_threadpool(exchange.load_session)
        session = exchange.session
        if session is None or session.user_id is None:
            if session is not None:
                await run_in_threadpool(_end, exchange)
            return _finish(exchange, checked)
        user_id = session.user_id
        if control.get("action") == "logout":
            if not hmac.compare_digest(control["csrf_token"].encode(), session.csrf_token.encode()):
                raise PageError(
                    "This form expired or was not sent from this site (CSRF check failed).",
                    status=403,
                )
            await run_in_threadpool(_end, exchange)
            return _finish(exchange, checked)

        def matches() -> bool:
            with context.db.read() as conn:
                return hint_matches(conn, checked, user_id, context.id_tokens)

        if await run_in_threadpool(matches):
            await run_in_threadpool(_end, exchange)
            return _finish(exchange, checked)
        username = await run_in_threadpool(exchange.username_of, user_id) or ""
        return exchange.html(
            logout_page(
                action=context.settings.issuer_path + "/logout",
                stylesheet=exchange.stylesheet_url,
                username=username,
                client_name=checked.client.name if checked.client is not None else None,
                fields={**checked.params, "csrf_token": session.csrf_token},
            ),
            form_targets=_form_target(checked.post_logout_redirect_uri),
        )
    except PageError as exc:
        return exchange.error(exc)
