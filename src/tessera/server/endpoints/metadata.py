"""``GET /.well-known/oauth-authorization-server[/path]``: RFC 8414 server metadata."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tessera.server.clientauth import ASSERTION_ALGORITHMS, AUTH_METHODS
from tessera.server.config import Settings
from tessera.server.endpoints._http import json_response
from tessera.server.grants import GRANT_TYPES, pkce
from tessera.server.oidc.claims import CLAIMS_SUPPORTED, SCOPE_CLAIMS
from tessera.server.oidc.claims_request import acr_value
from tessera.server.oidc.idtoken import OPENID, SUBJECT_TYPES
from tessera.server.oidc.request import DISPLAYS, PROMPTS

__all__ = ["metadata", "metadata_document", "openid_configuration", "openid_document"]


def metadata_document(settings: Settings) -> dict[str, Any]:
    """The metadata object (RFC 8414 sec. 2); ``issuer`` is exactly the configured issuer."""
    secret_methods = [method for method in AUTH_METHODS if method != "none"]
    document: dict[str, Any] = {
        "issuer": settings.issuer,
        "authorization_endpoint": settings.authorization_endpoint,
        "token_endpoint": settings.token_endpoint,
        "jwks_uri": settings.jwks_uri,
        "introspection_endpoint": settings.introspection_endpoint,
        "revocation_endpoint": settings.revocation_endpoint,
        "scopes_supported": list(
            dict.fromkeys((OPENID, *SCOPE_CLAIMS, "offline_access", *settings.dynamic_scopes))
        ),
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": list(pkce.METHODS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": secret_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "authorization_response_iss_parameter_supported": True,
        "userinfo_endpoint": settings.userinfo_endpoint,
        "end_session_endpoint": settings.end_session_endpoint,
    }
    if settings.registration:
        document["registration_endpoint"] = settings.registration_endpoint
    if settings.client_metadata_documents:
        document["client_id_metadata_document_supported"] = True
    return document


def openid_document(settings: Settings) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 sec. 3: the RFC 8414 document plus the OpenID members;
    every member the two share has the same value."""
    algorithms = list(dict.fromkeys(["RS256", *settings.key_algorithms]))
    algorithms = [alg for alg in algorithms if alg in settings.key_algorithms]
    return {
        **metadata_document(settings),
        "subject_types_supported": list(SUBJECT_TYPES),
        "id_token_signing_alg_values_supported": algorithms,
        "userinfo_signing_alg_values_supported": ["none"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": True,
        "acr_values_supported": [acr_value(settings.issuer)],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "prompt_values_supported": list(PROMPTS),
        "display_values_supported": list(DISPLAYS),
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }


async def metadata(request: Request) -> Response:
    """Serve the metadata document."""
    settings = request.app.state.context.settings
    return json_response(
        metadata_document(settings),
        headers={"Cache-Control": f"public, max-age={settings.jwks_max_age}"},
    )


async def openid_configuration(request: Request) -> Response:
    """Serve the OpenID Provider configuration document."""
    settings = request.app.state.context.settings
    return json_response(
        openid_document(settings),
        headers={"Cache-Control": f"public, max-age={settings.jwks_max_age}"},
    )
