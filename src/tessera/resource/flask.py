"""Flask integration: a decorator that verifies the bearer token before the view runs.

>>> # auth = BearerAuth(Verifier.from_issuer(issuer, audience=api), app=app, metadata=meta)
>>> # @app.get("/lab")
>>> # @auth.required(require_scopes("lab:enter"))
>>> # def lab(): return {"sub": current_token().sub}

Refusals are RFC 6750 replies returned by the decorator itself, so they are never a 500, with
or without :meth:`BearerAuth.init_app` (which adds the RFC 9728 route and an error handler for
:class:`BearerError` raised inside views).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from tessera._install import install_hint

try:
    from flask import Flask, Response, g, request
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"the Flask integration needs: {install_hint('flask')}") from exc

from tessera.errors import ConfigurationError
from tessera.resource._bearer import Challenge, as_bearer_error, parse_authorization
from tessera.resource.access_token import AccessToken
from tessera.resource.errors import BearerError, MissingTokenError
from tessera.resource.metadata import ProtectedResourceMetadata
from tessera.resource.scopes import Requirement, check_requirements
from tessera.resource.verifier import Verifier

__all__ = ["BearerAuth", "current_token"]

P = ParamSpec("P")
R = TypeVar("R")
_G_KEY = "tessera_access_token"


def current_token() -> AccessToken:
    """The token verified for the current request by :meth:`BearerAuth.required`.

    Raises:
        MissingTokenError: the view is not protected by the decorator.
    """
    token = g.get(_G_KEY)
    if not isinstance(token, AccessToken):
        raise MissingTokenError("a bearer token is required")
    return token


class BearerAuth:
    """Protects Flask views; needs a verifier with blocking key sources (``JWKSClient``).

    Raises:
        ConfigurationError: not a Verifier, an async-only verifier, or a bad realm.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        realm: str | None = None,
        metadata: ProtectedResourceMetadata | None = None,
        app: Flask | None = None,
    ) -> None:
        if not isinstance(verifier, Verifier):
            raise ConfigurationError("BearerAuth needs a tessera.resource.Verifier")
        if verifier.is_async:
            raise ConfigurationError("Flask views are blocking: use JWKSClient, not the async one")
        self.verifier = verifier
        self.challenge = Challenge(realm, metadata)
        self.metadata = metadata
        if app is not None:
            self.init_app(app)

    def _response(self, error: BearerError) -> Response:
        reply = self.challenge.reply(error)
        return Response(reply.body, reply.status, reply.headers)

    def init_app(self, app: Flask) -> None:
        """Serve the RFC 9728 document and answer BearerError raised in views."""

        def on_bearer_error(exc: BearerError) -> Response:
            return self._response(exc)

        app.register_error_handler(BearerError, on_bearer_error)
        metadata = self.metadata
        if metadata is not None:
            document = metadata.to_json()

            def protected_resource_metadata() -> Response:
                return Response(document, 200, mimetype="application/json")

            app.add_url_rule(
                metadata.path,
                endpoint="tessera_protected_resource_metadata",
                view_func=protected_resource_metadata,
                methods=["GET"],
            )

    def required(
        self, *requirements: Requirement
    ) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
        """Decorate a view: verify the token, check ``requirements``, then run the view.

        The token is available in the view through :func:`current_token`.
        """

        def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
            @functools.wraps(view)
            def protected(*args: P.args, **kwargs: P.kwargs) -> R | Response:
                try:
                    values = request.headers.getlist("Authorization")
                    token = self.verifier.verify(parse_authorization(values))
                    check_requirements(token, requirements)
                except Exception as exc:
                    return self._response(as_bearer_error(exc))
                setattr(g, _G_KEY, token)
                return view(*args, **kwargs)

            return protected

        return decorate
