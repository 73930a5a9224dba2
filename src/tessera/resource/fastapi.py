"""FastAPI integration: a ``Security`` dependency, so the OpenAPI page shows the OAuth2 scheme
and each route's scopes, and handlers receive a typed :class:`AccessToken`.

>>> # auth = BearerAuth(verifier, token_url="https://idp.example/token", metadata=metadata)
>>> # auth.install(app)
>>> # @app.get("/lab")
>>> # def lab(token: Annotated[AccessToken, Security(auth, scopes=["lab:enter"])]): ...

Every failure is an RFC 6750 reply with the right status, never a 500. Without
:meth:`BearerAuth.install` the reply body is FastAPI's ``{"detail": {...}}``; with it, the flat
``{"error": ..., "error_description": ...}`` body, and the RFC 9728 document is served (the one
given as ``metadata``, or by default the one the verifier's audience URL and issuers imply).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the dependency's parameter
# annotations at run time, and for a callable instance it cannot resolve strings.
import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from tessera._install import install_hint

try:
    from fastapi import FastAPI, HTTPException, Request, Response, Security
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.openapi.models import OAuth2 as OAuth2Model
    from fastapi.openapi.models import (
        OAuthFlowAuthorizationCode,
        OAuthFlowClientCredentials,
        OAuthFlows,
    )
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"the FastAPI integration needs: {install_hint('fastapi')}") from exc

from tessera.errors import ConfigurationError
from tessera.resource._bearer import Challenge, Reply, as_bearer_error, bearer_token
from tessera.resource.access_token import AccessToken
from tessera.resource.asgi import SCOPE_KEY
from tessera.resource.errors import BearerError
from tessera.resource.metadata import ProtectedResourceMetadata
from tessera.resource.scopes import Requirement, ScopeRequirement, check_requirements
from tessera.resource.verifier import Verifier

__all__ = ["BearerAuth", "BearerHTTPException"]

_VERIFIER_KEY = "tessera.verifier"
_NO_SCOPES = ScopeRequirement(())  # every scope the route names is some requirement's own


class BearerHTTPException(HTTPException):
    """An RFC 6750 refusal as FastAPI's HTTPException (so it is never a 500)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        headers = {k: v for k, v in reply.headers if k != "content-type"}
        super().__init__(reply.status, json.loads(reply.body), headers)


def _response(reply: Reply) -> Response:
    headers = {k: v for k, v in reply.headers if k != "content-type"}
    return Response(reply.body, reply.status, headers, media_type="application/json")


class BearerAuth(SecurityBase):
    """The dependency: verifies the bearer token and checks the route's ``Security`` scopes.

    With ``token_url`` the OpenAPI scheme is OAuth2 (client credentials, plus authorization
    code when ``authorization_url`` is given) listing ``scopes`` (name -> description);
    without it, an HTTP bearer scheme. ``requirements`` apply to every route using it.

    Without ``metadata``, the RFC 9728 document is the one the verifier implies (see
    :meth:`ProtectedResourceMetadata.for_verifier`: its one audience URL as the resource, its
    issuers, ``scopes``), so challenges carry ``resource_metadata`` and :meth:`install`
    serves it; ``metadata=False`` turns that off.

    Raises:
        ConfigurationError: not a Verifier, or a realm that cannot be quoted.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        realm: str | None = None,
        metadata: ProtectedResourceMetadata | Literal[False] | None = None,
        token_url: str | None = None,
        authorization_url: str | None = None,
        scopes: Mapping[str, str] | None = None,
        scheme_name: str = "OAuth2",
        description: str | None = None,
        requirements: Sequence[Requirement] = (),
    ) -> None:
        if not isinstance(verifier, Verifier):
            raise ConfigurationError("BearerAuth needs a tessera.resource.Verifier")
        self.verifier = verifier
        if metadata is None:
            metadata = ProtectedResourceMetadata.for_verifier(verifier, scopes=scopes or ())
        self.metadata: ProtectedResourceMetadata | None = metadata or None
        self.challenge = Challenge(realm, self.metadata)
        self.requirements = tuple(requirements)
        self._own_scopes: frozenset[str] = frozenset()
        self._scope_checks: dict[tuple[str, ...], Requirement] = {}
        self.scheme_name = scheme_name
        if token_url is None:
            self.model: Any = HTTPBearerModel(bearerFormat="JWT", description=description)
        else:
            named = dict(scopes or {})
            code = None
            if authorization_url is not None:
                code = OAuthFlowAuthorizationCode(
                    authorizationUrl=authorization_url, tokenUrl=token_url, scopes=named
                )
            flows = OAuthFlows(
                clientCredentials=OAuthFlowClientCredentials(tokenUrl=token_url, scopes=named),
                authorizationCode=code,
            )
            self.model = OAuth2Model(flows=flows, description=description)

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> AccessToken:
        """Verify the request's token and check scopes and requirements.

        Raises:
            BearerHTTPException: 400, 401, 403 or 503, per RFC 6750.
        """
        scope = request.scope
        verifier = self.verifier
        try:
            token: AccessToken | None = scope.get(SCOPE_KEY)
            if token is None or scope.get(_VERIFIER_KEY) is not verifier:
                bearer = bearer_token(scope["headers"])
                token = verifier.remembered(bearer)
                if token is None:
                    token = await verifier.averify(bearer)
                scope[SCOPE_KEY] = token
                scope[_VERIFIER_KEY] = verifier
            if security_scopes.scopes:
                self._scope_check(security_scopes.scopes).check(token)
            if self.requirements:
                check_requirements(token, self.requirements)
        except Exception as exc:
            raise BearerHTTPException(self.challenge.reply(as_bearer_error(exc))) from None
        return token

    def _scope_check(self, scopes: list[str]) -> Requirement:
        """The all-of check for a route's ``Security`` scopes, built once per scope list.

        The lists come from route declarations, never from requests, so the memo stays small.
        Scopes named by this dependency's own requirements are left to those requirements.
        """
        key = tuple(scopes)
        check = self._scope_checks.get(key)
        if check is None:
            needed = tuple(s for s in key if s not in self._own_scopes)
            check = ScopeRequirement(needed) if needed else _NO_SCOPES
            self._scope_checks[key] = check
        return check

    def require(self, *requirements: Requirement) -> Any:
        """A ``Security`` marker for a route needing ``requirements`` (any-of, claims...).

        Their scopes are listed in OpenAPI for the route, but checked by the requirements'
        own rules (so ``require_scopes("a", "b", any_of=True)`` accepts either).

        >>> # def route(token: Annotated[AccessToken, auth.require(require_claim(...))]): ...
        """
        named = tuple(dict.fromkeys(s for r in requirements for s in r.scopes))
        sibling = copy.copy(self)
        sibling.requirements = self.requirements + tuple(requirements)
        sibling._own_scopes = frozenset(named)
        sibling._scope_checks = {}
        return Security(sibling, scopes=list(named))

    def install(self, app: FastAPI) -> None:
        """Register the flat RFC 6750 error bodies and serve the RFC 9728 document."""

        async def on_bearer_http(request: Request, exc: Exception) -> Response:
            if isinstance(exc, BearerHTTPException):
                return _response(exc.reply)
            return _response(self.challenge.reply(as_bearer_error(exc)))  # pragma: no cover

        async def on_bearer(request: Request, exc: Exception) -> Response:
            return _response(self.challenge.reply(as_bearer_error(exc)))

        app.add_exception_handler(BearerHTTPException, on_bearer_http)
        app.add_exception_handler(BearerError, on_bearer)
        metadata = self.metadata
        if metadata is not None:
            document = metadata.to_json()

            async def protected_resource_metadata() -> Response:
                return Response(document, media_type="application/json")

            app.add_api_route(
                metadata.path,
                protected_resource_metadata,
                methods=["GET"],
                include_in_schema=False,
            )
