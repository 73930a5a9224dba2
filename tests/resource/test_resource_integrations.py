"""The Starlette/ASGI middleware and the Flask decorator, each served for real on 127.0.0.1
against the issuer stand-in; plus FastAPI's `require` for any-of scopes and claim predicates."""

# No ``from __future__ import annotations``: FastAPI must resolve the routes' annotations, which
# name fixtures' locals.
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Security
from flask import Flask
from resourcehelp import AUDIENCE, FakeClock, IssuerStandIn, LiveServer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from werkzeug.serving import make_server

import tessera
from tessera.resource import (
    AccessToken,
    AsyncJWKSClient,
    JWKSClient,
    ProtectedResourceMetadata,
    Verifier,
    require_claim,
    require_scopes,
)
from tessera.resource.asgi import BearerAuthMiddleware, access_token, require
from tessera.resource.fastapi import BearerAuth as FastAPIBearerAuth
from tessera.resource.flask import BearerAuth as FlaskBearerAuth
from tessera.resource.flask import current_token

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# -- Starlette + pure ASGI middleware -------------------------------------------------------------


@pytest.fixture
def starlette_api(
    issuer: IssuerStandIn, clock: FakeClock, live_server: Callable[..., LiveServer]
) -> tuple[str, dict[str, bool]]:
    started: dict[str, bool] = {}

    async def whoami(request: Request) -> JSONResponse:
        token = access_token(request.scope)
        return JSONResponse({"sub": token.sub, "scopes": sorted(token.scopes)})

    async def lab(request: Request) -> JSONResponse:
        token = require(request.scope, require_scopes("lab:enter"))
        return JSONResponse({"door": "lab", "sub": token.sub})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "token": request.scope.get("tessera.access_token")})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started["lifespan"] = True
        yield

    keys = AsyncJWKSClient.from_issuer(issuer.issuer, clock=clock)
    verifier = Verifier(issuer=issuer.issuer, keys=keys, audience=AUDIENCE)
    server = live_server()
    metadata = ProtectedResourceMetadata(server.url, (issuer.issuer,))
    app = Starlette(
        routes=[
            Route("/whoami", whoami),
            Route("/lab", lab),
            Route("/health", health),
            WebSocketRoute("/ws", echo),
        ],
        middleware=[
            Middleware(
                BearerAuthMiddleware,
                verifier=verifier,
                realm="starlette",
                metadata=metadata,
                public_paths={"/health"},
            )
        ],
        lifespan=lifespan,
    )
    server.start(app, lifespan="on")
    return server.url, started


def test_middleware_puts_the_verified_token_in_the_scope(
    starlette_api: tuple[str, dict[str, bool]], issuer: IssuerStandIn
) -> None:
    url, _ = starlette_api
    response = httpx.get(url + "/whoami", headers=bearer(issuer.mint(scope="a b")))
    assert response.status_code == 200
    assert response.json() == {"sub": "alice", "scopes": ["a", "b"]}


def test_middleware_refuses_with_rfc6750_challenges(
    starlette_api: tuple[str, dict[str, bool]], issuer: IssuerStandIn
) -> None:
    url, _ = starlette_api
    missing = httpx.get(url + "/whoami")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == (
        f'Bearer realm="starlette", resource_metadata="{url}/.well-known/oauth-protected-resource"'
    )
    expired = httpx.get(url + "/whoami", headers=bearer(issuer.mint(exp=1, iat=0)))
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    malformed = httpx.get(url + "/whoami", headers={"authorization": "Bearer a b"})
    assert malformed.status_code == 400


def test_a_requirement_failing_inside_the_endpoint_becomes_403(
    starlette_api: tuple[str, dict[str, bool]], issuer: IssuerStandIn
) -> None:
    url, _ = starlette_api
    assert httpx.get(url + "/lab", headers=bear(issuer, "lab:enter")).status_code == 200
    refused = httpx.get(url + "/lab", headers=bear(issuer, "other"))
    assert refused.status_code == 403
    assert 'scope="lab:enter"' in refused.headers["www-authenticate"]


def bear(issuer: IssuerStandIn, scope: str) -> dict[str, str]:
    return bearer(issuer.mint(scope=scope))


def test_public_paths_and_the_metadata_document_need_no_token(
    starlette_api: tuple[str, dict[str, bool]], issuer: IssuerStandIn
) -> None:
    url, _ = starlette_api
    assert httpx.get(url + "/health").json() == {"ok": True, "token": None}
    document = httpx.get(url + "/.well-known/oauth-protected-resource").json()
    assert document["authorization_servers"] == [issuer.issuer]
    assert httpx.post(url + "/.well-known/oauth-protected-resource").status_code == 405


def test_lifespan_passes_through(starlette_api: tuple[str, dict[str, bool]]) -> None:
    _, started = starlette_api
    assert started == {"lifespan": True}


async def test_websocket_scopes_pass_through_untouched() -> None:

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    key = tessera.Key.generate("ES256", kid="k")
    verifier = Verifier(issuer="https://i.example", keys=key.public(), audience="api")
    middleware = BearerAuthMiddleware(app, verifier)

    async def never(*args: Any) -> Any:
        raise AssertionError("the middleware must not touch a websocket")

    await middleware({"type": "websocket", "path": "/ws", "headers": []}, never, never)
    await middleware({"type": "lifespan"}, never, never)
    assert seen == ["websocket", "lifespan"]


async def test_optional_mode_lets_anonymous_requests_through_but_not_bad_tokens() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get("tessera.access_token"))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    key = tessera.Key.generate("ES256", kid="k")
    verifier = Verifier(issuer="https://i.example", keys=key.public(), audience="api")
    wrapped = BearerAuthMiddleware(app, verifier, optional=True)
    transport = httpx.ASGITransport(app=wrapped)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/")).status_code == 204
        assert (await client.get("/", headers=bearer("garbage"))).status_code == 401
    assert seen == [None]


# -- FastAPI requirements beyond Security(scopes=...) -----------------------------------------


@pytest.fixture
def fastapi_url(
    issuer: IssuerStandIn, clock: FakeClock, live_server: Callable[..., LiveServer]
) -> str:
    keys = AsyncJWKSClient.from_issuer(issuer.issuer, clock=clock)
    verifier = Verifier(issuer=issuer.issuer, keys=keys, audience=AUDIENCE)
    auth = FastAPIBearerAuth(verifier)  # no install(): FastAPI's own error bodies
    app = FastAPI()
    docs = auth.require(require_scopes("docs:read", "docs:admin", any_of=True))
    research = auth.require(require_claim("department", lambda v: v == "research"))

    @app.get("/docs-page")
    async def docs_page(token: Annotated[AccessToken, docs]) -> dict[str, str | None]:
        return {"sub": token.sub}

    @app.get("/research")
    def research_page(token: Annotated[AccessToken, research]) -> dict[str, str | None]:
        return {"sub": token.sub}

    @app.get("/both")
    async def both(
        token: Annotated[AccessToken, Security(auth, scopes=["docs:read", "lab:enter"])],
    ) -> dict[str, str | None]:
        return {"sub": token.sub}

    return str(live_server(app).url)


def test_fastapi_any_of_scopes(fastapi_url: str, issuer: IssuerStandIn) -> None:
    for scope in ("docs:read", "docs:admin"):
        assert httpx.get(fastapi_url + "/docs-page", headers=bear(issuer, scope)).status_code == 200
    refused = httpx.get(fastapi_url + "/docs-page", headers=bear(issuer, "lab:enter"))
    assert refused.status_code == 403
    assert 'scope="docs:read docs:admin"' in refused.headers["www-authenticate"]
    assert refused.json()["detail"]["error"] == "insufficient_scope"


def test_fastapi_claim_predicate(fastapi_url: str, issuer: IssuerStandIn) -> None:
    ok = bearer(issuer.mint(department="research"))
    assert httpx.get(fastapi_url + "/research", headers=ok).status_code == 200
    no = bearer(issuer.mint(department="sales"))
    assert httpx.get(fastapi_url + "/research", headers=no).status_code == 403


def test_fastapi_security_scopes_are_all_required(fastapi_url: str, issuer: IssuerStandIn) -> None:
    both = bear(issuer, "docs:read lab:enter")
    assert httpx.get(fastapi_url + "/both", headers=both).status_code == 200
    one = bear(issuer, "docs:read")
    assert httpx.get(fastapi_url + "/both", headers=one).status_code == 403


def test_fastapi_without_install_still_answers_rfc6750(fastapi_url: str) -> None:
    response = httpx.get(fastapi_url + "/both")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_fastapi_openapi_lists_the_scopes_of_require(fastapi_url: str) -> None:
    spec = httpx.get(fastapi_url + "/openapi.json").json()
    assert spec["components"]["securitySchemes"]["OAuth2"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert spec["paths"]["/docs-page"]["get"]["security"] == [
        {"OAuth2": ["docs:read", "docs:admin"]}
    ]


# -- Flask ------------------------------------------------------------------------------------


@pytest.fixture
def flask_url(issuer: IssuerStandIn, clock: FakeClock) -> Iterator[str]:
    keys = JWKSClient.from_issuer(issuer.issuer, clock=clock)
    verifier = Verifier(issuer=issuer.issuer, keys=keys, audience=AUDIENCE)
    app = Flask(__name__)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    metadata = ProtectedResourceMetadata(url, (issuer.issuer,))
    auth = FlaskBearerAuth(verifier, realm="flask", metadata=metadata, app=app)

    @app.get("/lobby")
    @auth.required()
    def lobby() -> dict[str, Any]:
        return {"sub": current_token().sub}

    @app.get("/lab")
    @auth.required(require_scopes("lab:enter"))
    def lab() -> dict[str, Any]:
        return {"door": "lab"}

    @app.get("/inside")
    @auth.required()
    def inside() -> dict[str, Any]:
        token = current_token()
        require_scopes("vault:open").check(token)  # raised in the view: init_app's handler
        return {"door": "vault"}

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join(10)
    keys.close()


def test_flask_decorator_admits_a_valid_token(flask_url: str, issuer: IssuerStandIn) -> None:
    response = httpx.get(flask_url + "/lobby", headers=bearer(issuer.mint()))
    assert response.status_code == 200
    assert response.json() == {"sub": "alice"}


def test_flask_decorator_refuses_per_rfc6750(flask_url: str, issuer: IssuerStandIn) -> None:
    missing = httpx.get(flask_url + "/lobby")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith('Bearer realm="flask"')
    assert "resource_metadata=" in missing.headers["www-authenticate"]
    wrong_aud = httpx.get(flask_url + "/lobby", headers=bearer(issuer.mint(aud="other")))
    assert wrong_aud.status_code == 401
    assert wrong_aud.json()["error"] == "invalid_token"
    assert httpx.get(flask_url + "/lobby", headers={"authorization": "Bearer"}).status_code == 400
    no_scope = httpx.get(flask_url + "/lab", headers=bear(issuer, "other"))
    assert no_scope.status_code == 403
    assert no_scope.json()["scope"] == "lab:enter"
    inside = httpx.get(flask_url + "/inside", headers=bear(issuer, "lab:enter"))
    assert inside.status_code == 403


def test_flask_serves_protected_resource_metadata(flask_url: str, issuer: IssuerStandIn) -> None:
    document = httpx.get(flask_url + "/.well-known/oauth-protected-resource").json()
    assert document == {
        "resource": flask_url,
        "authorization_servers": [issuer.issuer],
        "bearer_methods_supported": ["header"],
    }


def test_flask_issuer_down_with_a_cold_cache_answers_503(clock: FakeClock) -> None:
    stand_in = IssuerStandIn().start()
    token = stand_in.mint()
    stand_in.stop()
    verifier = Verifier.from_issuer(stand_in.issuer, audience=AUDIENCE)
    app = Flask(__name__)
    auth = FlaskBearerAuth(verifier)

    @app.get("/x")
    @auth.required()
    def view() -> str:
        return "no"

    response = app.test_client().get("/x", headers=bearer(token))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"


def test_flask_refuses_an_async_only_verifier() -> None:

    keys = AsyncJWKSClient("https://idp.example/jwks")
    verifier = Verifier(issuer="https://idp.example", keys=keys, audience="api")
    with pytest.raises(tessera.ConfigurationError):
        FlaskBearerAuth(verifier)


# -- several live issuers (attack catalogue #40, Storm-0558) -------------------------------------


def test_two_live_issuers_sharing_a_kid_never_vouch_for_each_other(clock: FakeClock) -> None:
    tenant_a, tenant_b = IssuerStandIn().start(), IssuerStandIn().start()
    try:
        assert tenant_a.signing_key.kid == tenant_b.signing_key.kid == "key-1"
        verifier = Verifier.for_issuers(
            {
                tenant_a.issuer: JWKSClient.from_issuer(tenant_a.issuer, clock=clock),
                tenant_b.issuer: JWKSClient.from_issuer(tenant_b.issuer, clock=clock),
            },
            audience=AUDIENCE,
        )
        assert verifier.verify(tenant_a.mint()).iss == tenant_a.issuer
        assert verifier.verify(tenant_b.mint()).iss == tenant_b.issuer
        # B's key (same kid) signs a token claiming A: only A's keys are consulted.
        forged = tenant_b.mint(iss=tenant_a.issuer)
        with pytest.raises(tessera.SignatureError):
            verifier.verify(forged)
        clock.advance(31)
        stranger = tenant_b.rotate("b-only")
        with pytest.raises(tessera.KeyNotFoundError):
            verifier.verify(tenant_b.mint(key=stranger, iss=tenant_a.issuer))
        assert tenant_b.jwks_requests == 1  # B's JWKS was never fetched for A's tokens
        assert tenant_a.jwks_requests == 2  # A refreshed once for the unknown kid
    finally:
        tenant_a.stop()
        tenant_b.stop()


async def test_fastapi_install_answers_bearer_errors_raised_in_routes_with_flat_bodies() -> None:
    key = tessera.Key.generate("ES256", kid="k")
    verifier = Verifier(issuer="https://i.example", keys=key.public(), audience="api")
    auth = FastAPIBearerAuth(verifier, realm="api")
    app = FastAPI()
    auth.install(app)

    @app.get("/vault")
    async def vault(token: Annotated[AccessToken, Security(auth)]) -> dict[str, str]:
        require_scopes("vault:open").check(token)
        return {"door": "vault"}

    claims = {"iss": "https://i.example", "aud": "api", "exp": 4102444800, "scope": "x"}
    token = tessera.encode(claims, key, typ="at+jwt")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.get("/vault", headers=bearer(token))
        missing = await client.get("/vault")
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "error_description": "the token lacks a scope this resource needs",
        "scope": "vault:open",
    }
    assert refused.headers["www-authenticate"].startswith('Bearer realm="api"')
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"


async def test_fastapi_a_scope_list_is_judged_by_each_dependency_own_rules() -> None:
    key = tessera.Key.generate("ES256", kid="k")
    verifier = Verifier(issuer="https://i.example", keys=key.public(), audience="api")
    auth = FastAPIBearerAuth(verifier)
    either = auth.require(require_scopes("a", "b", any_of=True))
    app = FastAPI()

    @app.get("/all")
    async def all_of(token: Annotated[AccessToken, Security(auth, scopes=["a", "b"])]) -> None:
        return None

    @app.get("/any")
    async def any_of(token: Annotated[AccessToken, either]) -> None:
        return None

    claims = {"iss": "https://i.example", "aud": "api", "exp": 4102444800, "scope": "a"}
    only_a = bearer(tessera.encode(claims, key, typ="at+jwt"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for _ in range(2):  # the second round answers from the per-route memo
            assert (await client.get("/any", headers=only_a)).status_code == 200
            assert (await client.get("/all", headers=only_a)).status_code == 403


async def test_fastapi_serves_the_metadata_its_verifier_implies_unless_told_not_to() -> None:
    key = tessera.Key.generate("ES256", kid="k")
    api = "https://api.example/v1"
    derived = Verifier(issuer="https://i.example", keys=key.public(), audience=api)
    several = Verifier(issuer="https://i.example", keys=key.public(), audience=[api, "urn:x"])
    cases = {
        "derived": FastAPIBearerAuth(derived, scopes={"lab:enter": "the lab"}),
        "off": FastAPIBearerAuth(derived, metadata=False),
        "several": FastAPIBearerAuth(several),
    }
    answers = {}
    for name, auth in cases.items():
        app = FastAPI()
        auth.install(app)

        @app.get("/lab")
        async def lab(token: Annotated[AccessToken, Security(auth)]) -> dict[str, str]:
            return {}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            document = await client.get("/.well-known/oauth-protected-resource/v1")
            refused = await client.get("/lab")
        answers[name] = (document, refused.headers["www-authenticate"])
    document, challenge = answers["derived"]
    assert document.json() == {
        "resource": api,
        "authorization_servers": ["https://i.example"],
        "scopes_supported": ["lab:enter"],
        "bearer_methods_supported": ["header"],
    }
    expected = "https://api.example/.well-known/oauth-protected-resource/v1"
    assert challenge == f'Bearer resource_metadata="{expected}"'
    for name in ("off", "several"):
        document, challenge = answers[name]
        assert document.status_code == 404, name
        assert challenge == "Bearer", name
    assert several.audiences == ("https://api.example/v1", "urn:x")
    assert ProtectedResourceMetadata.for_verifier(several) is None
