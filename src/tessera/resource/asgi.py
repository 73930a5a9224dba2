"""Pure ASGI middleware: bearer tokens checked before the app runs (Starlette, FastAPI, any ASGI).

Non-HTTP scopes (lifespan, websocket) pass through untouched. A verified token is put in the
scope under ``"tessera.access_token"``; read it with :func:`access_token`. Refusals are RFC 6750
replies; a :class:`BearerError` raised by the app before it responds (e.g. by :func:`require`)
is answered the same way. Needs no extra: ASGI is plain dicts.

>>> # app = BearerAuthMiddleware(app, verifier, realm="api", metadata=metadata)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping, Sequence
from typing import Any

from tessera.errors import ConfigurationError
from tessera.resource._bearer import Challenge, Reply, as_bearer_error, parse_authorization
from tessera.resource.access_token import AccessToken
from tessera.resource.errors import BearerError, MissingTokenError
from tessera.resource.metadata import ProtectedResourceMetadata
from tessera.resource.scopes import Requirement, check_requirements
from tessera.resource.verifier import Verifier

__all__ = [
    "SCOPE_KEY",
    "BearerAuthMiddleware",
    "access_token",
    "metadata_app",
    "require",
    "send_reply",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "tessera.access_token"


def authorization_values(scope: Mapping[str, Any]) -> list[str]:
    """The Authorization header values of an ASGI HTTP scope (latin-1, as HTTP defines)."""
    return [value.decode("latin-1") for name, value in scope["headers"] if name == b"authorization"]


async def send_reply(send: Send, reply: Reply) -> None:
    """Send a complete response."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


def metadata_app(metadata: ProtectedResourceMetadata) -> ASGIApp:
    """An ASGI app answering GET/HEAD with the RFC 9728 document (mount it at metadata.path)."""
    body = metadata.to_json()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            reply = Reply(405, [("allow", "GET, HEAD"), ("content-type", "text/plain")], b"")
        else:
            reply = Reply(200, [("content-type", "application/json")], body)
        await send_reply(send, reply)

    return app


def access_token(scope: Mapping[str, Any]) -> AccessToken:
    """The verified token the middleware put in ``scope`` (``request.scope`` in Starlette).

    Raises:
        MissingTokenError: the request was not authenticated (public path or optional auth).
    """
    token = scope.get(SCOPE_KEY)
    if not isinstance(token, AccessToken):
        raise MissingTokenError("a bearer token is required")
    return token


def require(scope: Mapping[str, Any], *requirements: Requirement) -> AccessToken:
    """The scope's token, after checking ``requirements`` (use inside an endpoint).

    Raises:
        MissingTokenError: no verified token in the scope.
        InsufficientScopeError: a requirement fails (the middleware answers 403).
    """
    token = access_token(scope)
    check_requirements(token, requirements)
    return token


class BearerAuthMiddleware:
    """Verify ``Authorization: Bearer`` on every HTTP request except ``public_paths``.

    ``requirements`` apply to every protected request; per-route needs go in the endpoint
    with :func:`require`. With ``optional=True`` a request without any Authorization header
    passes as anonymous (a bad token is still refused). With ``metadata`` the middleware also
    serves the RFC 9728 document and names it in every challenge.

    Raises:
        ConfigurationError: not a Verifier, or a realm that cannot be quoted.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        realm: str | None = None,
        metadata: ProtectedResourceMetadata | None = None,
        requirements: Sequence[Requirement] = (),
        public_paths: Collection[str] = (),
        optional: bool = False,
    ) -> None:
        if not isinstance(verifier, Verifier):
            raise ConfigurationError("BearerAuthMiddleware needs a tessera.resource.Verifier")
        self.app = app
        self.verifier = verifier
        self.challenge = Challenge(realm, metadata)
        self.requirements = tuple(requirements)
        self.public_paths = frozenset(public_paths)
        self.optional = optional
        self._metadata = (metadata.path, metadata_app(metadata)) if metadata else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self._metadata is not None and path == self._metadata[0]:
            await self._metadata[1](scope, receive, send)
            return
        if path not in self.public_paths:
            try:
                values = authorization_values(scope)
                if values or not self.optional:
                    bearer = parse_authorization(values)
                    token = self.verifier.remembered(bearer)
                    if token is None:
                        token = await self.verifier.averify(bearer)
                    check_requirements(token, self.requirements)
                    scope[SCOPE_KEY] = token
            except Exception as exc:
                await send_reply(send, self.challenge.reply(as_bearer_error(exc)))
                return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BearerError as exc:
            if started:
                raise
            await send_reply(send, self.challenge.reply(exc))
