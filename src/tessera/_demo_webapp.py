"""The demo's small web app, "the guestbook": sign in with Tessera (``tessera.oidc.fastapi``).

``python -m tessera._demo_webapp ISSUER CLIENT_ID PORT`` with the client secret in the
``DEMO_WEBAPP_CLIENT_SECRET`` environment variable (never on the command line, where ``ps``
shows it). ``GET /`` is public; ``GET /me`` needs a signed-in person and shows what the app
learnt: the ID token (raw and its claims) and the UserInfo claims. The sign-in routes are the
helper's: ``/auth/login``, ``/auth/callback``, ``/auth/logout``.
"""

# No ``from __future__ import annotations``: FastAPI reads the dependencies' annotations.
import os
import secrets
import sys
from typing import Any

__all__ = ["create_app", "main"]

SECRET_VARIABLE = "DEMO_WEBAPP_CLIENT_SECRET"


def create_app(issuer: str, client_id: str, client_secret: str, base: str) -> Any:
    """The guestbook app at ``base`` (its callback is ``base/auth/callback``)."""
    from fastapi import Depends, FastAPI
    from fastapi.responses import PlainTextResponse

    from tessera.oidc.fastapi import SignIn, User

    sign_in = SignIn(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=base + "/auth/callback",
        post_logout_redirect_uri=base + "/",
        scope="openid profile email",
        # Not the default tessera_session: browsers share cookies across the ports of one
        # host, and Tessera's own session cookie on 127.0.0.1 has that name.
        cookie_name="guestbook_session",
        secret_key=secrets.token_urlsafe(32),  # sessions end with the process: fine for a demo
    )
    app = FastAPI(title="The guestbook", docs_url=None, redoc_url=None, openapi_url=None)
    sign_in.install(app)

    @app.get("/", response_class=PlainTextResponse)
    async def home(user: User | None = Depends(sign_in.optional_user)) -> str:  # noqa: B008
        if user is None:
            return "The guestbook. Sign in at /auth/login.\n"
        return f"The guestbook. Welcome back, {user.get('name', user.sub)}. See /me.\n"

    @app.get("/me")
    async def me(user: User = Depends(sign_in.user)) -> dict[str, Any]:  # noqa: B008
        return {
            "greeting": f"Hello, {user.get('name', user.sub)}",
            "id_token": user.id_token,
            "id_token_claims": dict(user.claims),
            "userinfo": dict(user.userinfo),
        }

    return app


def main(argv: list[str] | None = None) -> int:
    """Serve the guestbook on 127.0.0.1:PORT until stopped."""
    import uvicorn

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not args[2].isdigit():
        sys.stderr.write("usage: python -m tessera._demo_webapp ISSUER CLIENT_ID PORT\n")
        return 2
    issuer, client_id, port = args[0], args[1], int(args[2])
    secret = os.environ.get(SECRET_VARIABLE)
    if not secret:
        sys.stderr.write(f"the client secret goes in {SECRET_VARIABLE}\n")
        return 2
    app = create_app(issuer, client_id, secret, f"http://127.0.0.1:{port}")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
