"""Starlette integration: the login, callback and logout routes, and the signed-in user.

>>> # sign_in = SignIn(issuer=..., client_id=..., client_secret=..., secret_key=...,
>>> #                  redirect_uri="https://app.example/auth/callback")
>>> # app = Starlette(routes=[*sign_in.routes, Route("/", home)])
>>> # async def home(request): user = sign_in.current_user(request) ...
"""

from __future__ import annotations

from tessera._install import install_hint

try:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"the Starlette integration needs: {install_hint('fastapi')}") from exc

from tessera.oidc.web import MAX_LOGOUT_BODY, AsyncSignIn, User, WebReply

__all__ = ["SignIn", "User", "response"]


def response(reply: WebReply) -> Response:
    """The Starlette response for a :class:`WebReply` (redirect or short text, cookies)."""
    if reply.location is not None:
        result = Response(status_code=reply.status, headers={"location": reply.location})
    else:
        result = Response(reply.body, reply.status, media_type=reply.media_type)
    result.headers["cache-control"] = "no-store"
    for cookie in reply.cookies:
        result.set_cookie(
            cookie.name,
            cookie.value,
            max_age=cookie.max_age,
            path=cookie.path,
            secure=cookie.secure,
            httponly=cookie.http_only,
            samesite="lax",
        )
    return result


class SignIn(AsyncSignIn):
    """ "Sign in with ..." for Starlette: add :attr:`routes` to the app and ask
    :meth:`current_user` in handlers. Arguments as :class:`tessera.oidc.web.AsyncSignIn`."""

    async def _login_route(self, request: Request) -> Response:
        return response(await self.login(dict(request.query_params)))

    async def _callback_route(self, request: Request) -> Response:
        return response(await self.callback(dict(request.query_params), request.cookies))

    async def _logout_route(self, request: Request) -> Response:
        return response(await self.logout(request.cookies))

    async def _backchannel_route(self, request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGOUT_BODY:
                break  # refused as too large; the rest is never read
        content_type = request.headers.get("content-type")
        return response(await self.backchannel_logout(content_type, bytes(body)))

    @property
    def routes(self) -> list[Route]:
        """GET login, GET callback (the ``redirect_uri`` path), GET/POST logout, and POST
        back-channel logout when ``backchannel_logout_path`` is set."""
        routes = [
            Route(self.login_path, self._login_route, methods=["GET"]),
            Route(self.callback_path, self._callback_route, methods=["GET"]),
            Route(self.logout_path, self._logout_route, methods=["GET", "POST"]),
        ]
        if self.backchannel_logout_path is not None:
            routes.append(
                Route(self.backchannel_logout_path, self._backchannel_route, methods=["POST"])
            )
        return routes

    def current_user(self, request: Request) -> User | None:
        """The signed-in user, or None."""
        return self.session_user(request.cookies)
