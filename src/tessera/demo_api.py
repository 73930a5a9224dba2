"""The demo REST API, "the secured building": a badge (access token) opens doors by its claims.

``GET /lobby`` needs any valid token, ``GET /lab`` needs ``lab:enter``, ``POST /vault`` needs
``vault:open``, ``GET /me`` echoes the verified claims. Built only with ``tessera.resource``;
the keys come from the issuer's published JWKS (found by discovery), never from a shared secret.

Run it: ``python -m tessera.demo_api --issuer http://127.0.0.1:8000 --audience demo-api``
(the API docs with the OAuth2 scheme are at ``/docs``, served with their Swagger UI assets:
no CDN, so they work offline).
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' annotations, which
# refer to the local ``auth``.
import argparse
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Security
from fastapi_offline import FastAPIOffline

from tessera.jose.jwk import Key, KeySet
from tessera.resource import (
    DEFAULT_ALGORITHMS,
    AccessToken,
    AsyncJWKSClient,
    AsyncKeySource,
    KeySource,
    ProtectedResourceMetadata,
    Verifier,
)
from tessera.resource.fastapi import BearerAuth

__all__ = ["DOORS", "create_app", "main"]

DOORS = {
    "lab:enter": "Enter the laboratory (GET /lab)",
    "vault:open": "Open the vault (POST /vault)",
}


def _door(name: str, token: AccessToken) -> dict[str, Any]:
    return {"door": name, "granted": True, "sub": token.sub, "client_id": token.client_id}


def create_app(
    issuer: str,
    audience: str,
    *,
    resource: str | None = None,
    token_url: str | None = None,
    keys: Key | KeySet | KeySource | AsyncKeySource | None = None,
    algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
    token_cache_size: int = 1024,
) -> FastAPI:
    """The building for tokens from ``issuer`` meant for ``audience``.

    ``keys`` defaults to an :class:`AsyncJWKSClient` found by discovery (pass your own to set
    its clock, cache policy or transport). ``resource`` is this API's RFC 9728 identifier
    (default: the audience, when it is a URL); ``token_url`` is shown in the OpenAPI page
    (default: Tessera's ``<issuer>/token``). ``token_cache_size=0`` makes every request check
    the signature (the benchmark measures both).

    Raises:
        ConfigurationError: an issuer URL that cannot be discovered, or unsafe settings.
    """
    source = keys if keys is not None else AsyncJWKSClient.from_issuer(issuer)
    verifier = Verifier(
        issuer=issuer,
        keys=source,
        audience=audience,
        algorithms=algorithms,
        token_cache_size=token_cache_size,
    )
    if resource is None and audience.startswith(("https://", "http://")):
        resource = audience
    metadata = None
    if resource is not None:
        metadata = ProtectedResourceMetadata(
            resource,
            authorization_servers=(issuer,),
            scopes_supported=tuple(DOORS),
            resource_name="Tessera demo: the secured building",
        )
    auth = BearerAuth(
        verifier,
        realm="secured-building",
        metadata=metadata,
        token_url=token_url or issuer.rstrip("/") + "/token",
        scopes=DOORS,
        description="Access tokens (RFC 9068 at+jwt) from " + issuer,
    )
    # /docs and /redoc load Swagger UI and ReDoc from this API (fastapi-offline's packaged
    # copies under /static-offline-docs), not from a CDN: the page works without internet.
    app = FastAPIOffline(
        title="The secured building",
        description="A badge (an OAuth access token) opens doors by its scopes.",
        version="1.0",
        swagger_ui_parameters={"validatorUrl": None},  # no call to the online validator
    )
    auth.install(app)
    app.state.verifier = verifier

    @app.get("/lobby")
    async def lobby(token: Annotated[AccessToken, Security(auth)]) -> dict[str, Any]:
        """Any valid badge opens the lobby."""
        return _door("lobby", token)

    @app.get("/lab")
    async def lab(
        token: Annotated[AccessToken, Security(auth, scopes=["lab:enter"])],
    ) -> dict[str, Any]:
        """The laboratory needs the ``lab:enter`` scope."""
        return _door("lab", token)

    @app.post("/vault")
    async def vault(
        token: Annotated[AccessToken, Security(auth, scopes=["vault:open"])],
    ) -> dict[str, Any]:
        """The vault needs the ``vault:open`` scope."""
        return _door("vault", token)

    @app.get("/me")
    async def me(token: Annotated[AccessToken, Security(auth)]) -> dict[str, Any]:
        """Who the badge says you are: the verified claims."""
        return {
            "iss": token.iss,
            "sub": token.sub,
            "client_id": token.client_id,
            "scopes": sorted(token.scopes),
            "aud": list(token.aud),
            "exp": token.exp,
            "claims": dict(token.claims),
        }

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the demo API with uvicorn."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m tessera.demo_api", description=__doc__)
    parser.add_argument("--issuer", required=True, help="the authorization server's issuer URL")
    parser.add_argument("--audience", required=True, help="the aud this API accepts")
    parser.add_argument("--resource", help="RFC 9728 resource identifier (default: audience)")
    parser.add_argument("--token-url", help="token endpoint shown in the API docs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    app = create_app(args.issuer, args.audience, resource=args.resource, token_url=args.token_url)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
