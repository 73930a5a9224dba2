"""Flask integration: the sign-in routes, a ``login_required`` decorator, the signed-in user.

>>> # sign_in = SignIn(issuer=..., client_id=..., client_secret=..., secret_key=...,
>>> #                  redirect_uri="https://app.example/auth/callback", app=app)
>>> # @app.get("/")
>>> # @sign_in.login_required
>>> # def home(): return {"sub": sign_in.current_user().sub}
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from tessera._install import install_hint

try:
    from flask import Flask, Response, request
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"the Flask integration needs: {install_hint('flask')}") from exc

from tessera.oidc.web import MAX_LOGOUT_BODY, User, WebReply
from tessera.oidc.web import SignIn as _SyncSignIn

__all__ = ["SignIn", "User", "response"]

P = ParamSpec("P")
R = TypeVar("R")


def response(reply: WebReply) -> Response:
    """The Flask response for a :class:`WebReply` (redirect or short text, cookies)."""
    result = Response(reply.body, reply.status, mimetype=reply.media_type)
    if reply.location is not None:
        result.headers["Location"] = reply.location
    result.headers["Cache-Control"] = "no-store"
    for cookie in reply.cookies:
        result.set_cookie(
            cookie.name,
            cookie.value,
            max_age=cookie.max_age,
            path=cookie.path,
            secure=cookie.secure,
            httponly=cookie.http_only,
            samesite="Lax",
        )
    return result


class SignIn(_SyncSignIn):
    """ "Sign in with ..." for Flask: ``app=`` or :meth:`init_app` adds the routes.
    Other arguments as :class:`tessera.oidc.web.SignIn`."""

    def __init__(self, *, app: Flask | None = None, **options: Any) -> None:
        super().__init__(**options)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Add GET login, GET callback (the ``redirect_uri`` path), GET/POST logout, and POST
        back-channel logout when ``backchannel_logout_path`` is set."""
        app.add_url_rule(
            self.login_path,
            "tessera_oidc_login",
            lambda: response(self.login(request.args.to_dict())),
            methods=["GET"],
        )
        app.add_url_rule(
            self.callback_path,
            "tessera_oidc_callback",
            lambda: response(self.callback(request.args.to_dict(), request.cookies)),
            methods=["GET"],
        )
        app.add_url_rule(
            self.logout_path,
            "tessera_oidc_logout",
            lambda: response(self.logout(request.cookies)),
            methods=["GET", "POST"],
        )
        if self.backchannel_logout_path is not None:
            app.add_url_rule(
                self.backchannel_logout_path,
                "tessera_oidc_backchannel_logout",
                lambda: response(
                    self.backchannel_logout(
                        request.content_type, request.stream.read(MAX_LOGOUT_BODY + 1)
                    )
                ),
                methods=["POST"],
            )

    def current_user(self) -> User | None:
        """The signed-in user of the current request, or None."""
        return self.session_user(request.cookies)

    def login_required(self, view: Callable[P, R]) -> Callable[P, R | Response]:
        """Decorate a view: without a session, redirect to the login route and back."""

        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            if self.current_user() is None:
                return response(WebReply(303, self.login_url(request.full_path.rstrip("?"))))
            return view(*args, **kwargs)

        return guarded
