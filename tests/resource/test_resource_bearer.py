"""The HTTP edge without a server: Authorization parsing, RFC 6750 replies, requirements,
RFC 9728 metadata, and the public surface of tessera.resource."""

from __future__ import annotations

import json
import subprocess
import sys
from types import MappingProxyType
from typing import Any

import pytest

import tessera
import tessera.resource
from tessera.resource import (
    AccessToken,
    InsufficientScopeError,
    InvalidRequestError,
    KeysUnavailableError,
    MissingTokenError,
    ProtectedResourceMetadata,
    RejectedTokenError,
    require_claim,
    require_scopes,
)
from tessera.resource._bearer import (
    Challenge,
    as_bearer_error,
    bearer_token,
    parse_authorization,
)
from tessera.resource.scopes import check_requirements


def access(scopes: str = "a b", **claims: Any) -> AccessToken:
    return AccessToken(
        iss="https://idp.example",
        sub="alice",
        client_id="c",
        scopes=frozenset(scopes.split()),
        aud=("api",),
        exp=4102444800,
        iat=None,
        jti=None,
        alg="ES256",
        kid=None,
        claims=MappingProxyType(claims),
    )


# -- Authorization header ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "token"),
    [
        (["Bearer abc.def.ghi"], "abc.def.ghi"),
        (["bearer abc"], "abc"),
        (["BEARER   abc=="], "abc=="),
        (["Bearer a-b_c~d+e/f"], "a-b_c~d+e/f"),
    ],
)
def test_parses_a_bearer_credential(values: list[str], token: str) -> None:
    assert parse_authorization(values) == token


@pytest.mark.parametrize("values", [[], ["Basic YTpi"], ["Token abc"], ["abc"], ["Bearerabc"]])
def test_no_bearer_credential_is_a_missing_token(values: list[str]) -> None:
    with pytest.raises(MissingTokenError):
        parse_authorization(values)


@pytest.mark.parametrize(
    "values",
    [
        ["Bearer"],
        ["Bearer a b"],
        ["Bearer a,b"],
        ["Bearer a=b"],
        ["Bearer \u00e9"],
        ["Bearer a\tb"],
        ["Bearer abc", "Bearer abc"],
    ],
)
def test_a_malformed_bearer_credential_is_an_invalid_request(values: list[str]) -> None:
    with pytest.raises(InvalidRequestError):
        parse_authorization(values)


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["Bearer abc.def.ghi"],
        ["bearer abc"],
        ["BEARER   abc==  "],
        ["Basic YTpi"],
        ["Bearerabc"],
        ["Bearer"],
        ["Bearer a b"],
        ["Bearer a=b"],
        ["Bearer \u00e9"],
        ["Bearer abc", "Bearer abc"],
    ],
)
def test_asgi_header_parsing_agrees_with_parse_authorization(values: list[str]) -> None:
    headers = [(b"host", b"api"), *((b"authorization", v.encode("latin-1")) for v in values)]
    try:
        expected: object = parse_authorization(values)
    except (MissingTokenError, InvalidRequestError) as exc:
        expected = type(exc)
    try:
        got: object = bearer_token(headers)
    except (MissingTokenError, InvalidRequestError) as exc:
        got = type(exc)
    assert got == expected


# -- mapping and rendering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "description"),
    [
        (tessera.ExpiredTokenError("x", "exp"), "the token has expired"),
        (tessera.MissingClaimError("x", "jti"), "the token lacks the jti claim"),
        (tessera.ClaimError("x", "scope"), "the token's scope claim is invalid"),
        (tessera.AlgorithmNotAllowedError("algorithm '\"\\r\\n' is not allowed"),
         "the token's signing algorithm is not accepted"),
    ],
)  # fmt: skip
def test_core_rejections_become_invalid_token_with_fixed_descriptions(
    error: Exception, description: str
) -> None:
    mapped = as_bearer_error(error)
    assert isinstance(mapped, RejectedTokenError)
    assert mapped.description == description
    assert mapped.status_code == 401


def test_an_unexpected_exception_is_logged_and_answered_401_not_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mapped = as_bearer_error(ZeroDivisionError("boom"))
    assert mapped.status_code == 401
    assert mapped.description == "the token could not be verified"
    assert "unexpected error" in caplog.text
    assert "boom" not in mapped.description


def test_renders_an_invalid_token_challenge() -> None:
    meta = ProtectedResourceMetadata("https://api.example", ("https://idp.example",))
    reply = Challenge("api", meta).reply(RejectedTokenError("the token has expired"))
    headers = dict(reply.headers)
    assert reply.status == 401
    assert headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="the token has expired", '
        'resource_metadata="https://api.example/.well-known/oauth-protected-resource"'
    )
    assert headers["cache-control"] == "no-store"
    assert json.loads(reply.body) == {
        "error": "invalid_token",
        "error_description": "the token has expired",
    }


def test_renders_insufficient_scope_with_the_needed_scope() -> None:
    reply = Challenge().reply(InsufficientScopeError("needs more", ("a", "b")))
    assert reply.status == 403
    assert dict(reply.headers)["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="needs more", scope="a b"'
    )
    assert json.loads(reply.body)["scope"] == "a b"


def test_renders_a_missing_token_without_error_code() -> None:
    reply = Challenge("api").reply(MissingTokenError("a bearer token is required"))
    assert dict(reply.headers)["www-authenticate"] == 'Bearer realm="api"'
    assert json.loads(reply.body)["error"] == "unauthorized"


def test_renders_unavailable_keys_as_503_with_retry_after() -> None:
    reply = Challenge("api").reply(KeysUnavailableError("down", 17))
    headers = dict(reply.headers)
    assert reply.status == 503
    assert headers["retry-after"] == "17"
    assert "www-authenticate" not in headers


def test_descriptions_are_made_quotable() -> None:
    header = Challenge().www_authenticate(RejectedTokenError('bad "quote" \\ \r\n'))
    assert header == 'Bearer error="invalid_token", error_description="bad ?quote? ? ??"'


@pytest.mark.parametrize("realm", ['a"b', "a\\b", "caf\u00e9", "a\nb", 5])
def test_refuses_a_realm_that_cannot_be_quoted(realm: Any) -> None:
    with pytest.raises(tessera.ConfigurationError):
        Challenge(realm)


# -- requirements ------------------------------------------------------------------------------


def test_all_of_scopes() -> None:
    require_scopes("a", "b").check(access("a b c"))
    with pytest.raises(InsufficientScopeError) as caught:
        require_scopes("a", "z").check(access("a b"))
    assert caught.value.scope == ("a", "z")


def test_any_of_scopes() -> None:
    require_scopes("x", "b", any_of=True).check(access("a b"))
    with pytest.raises(InsufficientScopeError):
        require_scopes("x", "y", any_of=True).check(access("a b"))


def test_claim_predicates() -> None:
    research = require_claim("department", lambda value: value == "research")
    research.check(access(department="research"))
    for token in (access(department="sales"), access()):
        with pytest.raises(InsufficientScopeError) as caught:
            research.check(token)
        assert caught.value.scope == ()


def test_a_predicate_must_return_true_not_truthy() -> None:
    with pytest.raises(InsufficientScopeError):
        require_claim("groups", lambda value: value).check(access(groups=["admins"]))


def test_a_raising_predicate_denies(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(InsufficientScopeError):
        require_claim("n", lambda value: 1 / value > 0).check(access(n=0))
    assert "raised" in caplog.text


def test_check_requirements_stops_at_the_first_failure() -> None:
    with pytest.raises(InsufficientScopeError, match="lacks a scope"):
        check_requirements(access("a"), [require_scopes("a"), require_scopes("b")])


@pytest.mark.parametrize("scopes", [(), ("a b",), ('a"',), ("",), ("\\",)])
def test_refuses_invalid_scope_names(scopes: tuple[str, ...]) -> None:
    with pytest.raises(tessera.ConfigurationError):
        require_scopes(*scopes)


def test_refuses_a_claim_requirement_without_a_callable() -> None:
    with pytest.raises(tessera.ConfigurationError):
        require_claim("x", "not callable")  # type: ignore[arg-type]


# -- RFC 9728 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        ("https://api.example", "https://api.example/.well-known/oauth-protected-resource"),
        ("https://api.example/", "https://api.example/.well-known/oauth-protected-resource"),
        (
            "https://api.example/v1/docs",
            "https://api.example/.well-known/oauth-protected-resource/v1/docs",
        ),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001/.well-known/oauth-protected-resource"),
    ],
)
def test_metadata_url_inserts_the_well_known_segment(resource: str, url: str) -> None:
    assert ProtectedResourceMetadata(resource).url == url


def test_metadata_document_lists_only_what_is_set() -> None:
    meta = ProtectedResourceMetadata(
        "https://api.example", ("https://idp.example",), scopes_supported=("read",)
    )
    assert json.loads(meta.to_json()) == {
        "resource": "https://api.example",
        "authorization_servers": ["https://idp.example"],
        "scopes_supported": ["read"],
        "bearer_methods_supported": ["header"],
    }


@pytest.mark.parametrize(
    "resource", ["http://api.example", "https://api.example/#frag", "api", "ftp://api.example"]
)
def test_metadata_refuses_a_bad_resource_identifier(resource: str) -> None:
    with pytest.raises(tessera.ConfigurationError):
        ProtectedResourceMetadata(resource)


def test_metadata_refuses_a_string_where_a_list_belongs() -> None:
    with pytest.raises(tessera.ConfigurationError):
        ProtectedResourceMetadata("https://api.example", "https://idp.example")  # type: ignore[arg-type]


# -- public surface ----------------------------------------------------------------------------


def test_resource_exports_are_pinned() -> None:
    assert sorted(tessera.resource.__all__) == [
        "AccessToken",
        "AsyncJWKSClient",
        "AsyncKeySource",
        "BearerError",
        "CachePolicy",
        "DEFAULT_ALGORITHMS",
        "DiscoveryError",
        "FetchPolicy",
        "InsufficientScopeError",
        "InvalidRequestError",
        "JWKSClient",
        "KeySource",
        "KeysUnavailableError",
        "MissingTokenError",
        "ProtectedResourceMetadata",
        "RejectedTokenError",
        "Requirement",
        "ServerMetadata",
        "StaticKeys",
        "Verifier",
        "discover",
        "discover_async",
        "require_claim",
        "require_scopes",
    ]


def test_bearer_errors_know_their_status_and_derive_from_tessera_error() -> None:
    statuses = {
        InvalidRequestError: 400,
        MissingTokenError: 401,
        RejectedTokenError: 401,
        InsufficientScopeError: 403,
        KeysUnavailableError: 503,
    }
    for cls, status in statuses.items():
        assert issubclass(cls, tessera.TesseraError)
        assert cls.status_code == status


def test_importing_the_toolkit_pulls_in_no_http_or_web_library() -> None:
    code = (
        "import sys, tessera.resource, tessera.resource.asgi\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'httpx', 'starlette', 'fastapi', 'flask', 'werkzeug', 'uvicorn', 'anyio'}]\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
