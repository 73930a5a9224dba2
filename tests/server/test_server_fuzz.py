"""Garbage at the token endpoint: every answer is an RFC 6749 error, never a 500."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverhelp import ASSERTION_TYPE, RunningServer

ALLOWED = {
    400: {"invalid_request", "invalid_scope", "invalid_target", "unsupported_grant_type"},
    401: {"invalid_client"},
    413: {"invalid_request"},
}
NAMES = [
    "grant_type",
    "scope",
    "resource",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["client_credentials", ASSERTION_TYPE, "read:docs", "https://api.example"]),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["eyJhbGciOiJFUzI1NiJ9.e30.AAAA", "a.b.c", "%00", "\x00", "é"]),
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(response_status: int, body: dict[str, str]) -> None:
    assert response_status in ALLOWED, (response_status, body)
    assert body["error"] in ALLOWED[response_status], body


@FUZZ
@given(st.binary(max_size=600), st.sampled_from(["application/x-www-form-urlencoded", "x/y"]))
def test_random_bodies_get_oauth_errors(server: RunningServer, body: bytes, ctype: str) -> None:
    response = server.http.post("/token", content=body, headers={"Content-Type": ctype})
    check(response.status_code, response.json())


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([*NAMES, "x"]), VALUES), max_size=8))
def test_random_parameters_get_oauth_errors(
    server: RunningServer, pairs: list[tuple[str, str]]
) -> None:
    from urllib.parse import urlencode

    response = server.http.post(
        "/token",
        content=urlencode(pairs).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    check(response.status_code, response.json())


@FUZZ
@given(st.binary(min_size=1, max_size=80), st.sampled_from(["Basic ", "basic ", "Bearer ", ""]))
def test_random_authorization_headers_get_oauth_errors(
    server: RunningServer, raw: bytes, scheme: str
) -> None:
    value = scheme + base64.b64encode(raw).decode()
    response = server.http.post(
        "/token",
        content=b"grant_type=client_credentials",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": value,
        },
    )
    check(response.status_code, response.json())


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["iss", "sub", "aud", "exp", "jti", "iat", "nbf"]),
        st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    )
)
def test_random_assertion_claims_get_invalid_client(
    server: RunningServer, claims: dict[str, object]
) -> None:
    import json

    def seg(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    assertion = f"{seg({'alg': 'ES256'})}.{seg(claims)}.{'A' * 86}"
    response = server.post_token(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
    )
    check(response.status_code, response.json())


@pytest.mark.parametrize(
    "path", ["/token/", "/token/../jwks.json", "/%2e%2e/token", "/token%00", "/" + "a" * 5000]
)
def test_odd_paths_are_json_errors(server: RunningServer, path: str) -> None:
    response = server.http.post(path, content=b"x")
    assert response.status_code in (404, 405)
    assert "error" in response.json()
