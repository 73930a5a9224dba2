"""FastAPI integration: the sign-in routes and dependencies giving the signed-in user.

>>> # sign_in = SignIn(issuer=..., client_id=..., client_secret=..., secret_key=...,
>>> #                  redirect_uri="https://app.example/auth/callback")
>>> # sign_in.install(app)
>>> # @app.get("/")
>>> # def home(user: Annotated[User, Depends(sign_in.user)]): ...

:meth:`SignIn.user` answers a request without a session with a 303 to the login route (which
brings the person back to the page afterwards); :meth:`SignIn.optional_user` gives None.
Create ``sign_in`` at module level so FastAPI can resolve ``Depends(sign_in.user)`` in
annotations (or pass it as the parameter's default).
"""

# No ``from __future__ import annotations``: FastAPI reads the dependencies' annotations.
from typing import Any

from tessera._install import install_hint

try:
    from fastapi import FastAPI, HTTPException, Request
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"the FastAPI integration needs: {install_hint('fastapi')}") from exc

from tessera.oidc import starlette as _starlette
from tessera.oidc.web import User

__all__ = ["SignIn", "User"]


class SignIn(_starlette.SignIn):
    """ "Sign in with ..." for FastAPI. Arguments as :class:`tessera.oidc.web.AsyncSignIn`."""

    def install(self, app: FastAPI) -> None:
        """Add the login, callback and logout routes (left out of the OpenAPI schema)."""
        for route in self.routes:
            methods: Any = route.methods
            app.add_api_route(
                route.path,
                route.endpoint,
                methods=sorted(methods - {"HEAD"}),
                include_in_schema=False,
            )

    async def user(self, request: Request) -> User:
        """Dependency: the signed-in user; without one, a 303 to the login route."""
        user = self.current_user(request)
        if user is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(303, "sign-in required", {"location": self.login_url(path)})
        return user

    async def optional_user(self, request: Request) -> User | None:
        """Dependency: the signed-in user, or None."""
        return self.current_user(request)
