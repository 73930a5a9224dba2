"""Garbage at /authorize, /introspect, /revoke and the people grants of /token: an error page,
a redirect to a registered URI or an RFC 6749 error body, never a 500."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverhelp import Client, Pkce, RunningServer

CALLBACK = "https://app.example/callback"
NAMES = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "csrf_token",
    "action",
    "username",
    "password",
    "decision",
    "x",
]
TOKEN_NAMES = ["grant_type", "code", "code_verifier", "redirect_uri", "refresh_token", "scope"]
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client(scope="read:docs offline_access", redirect_uris=(CALLBACK,))


def values(client: Client) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
        st.sampled_from(
            [
                client.client_id,
                CALLBACK,
                CALLBACK + "/",
                "https://evil.example/",
                "code",
                "token",
                "S256",
                "plain",
                Pkce.new().challenge,
                "read:docs",
                "login",
                "consent",
                "allow",
                "authorization_code",
                "refresh_token",
                "rt.x",
                "' OR 1=1 --",
                "<script>",
                "\x00",
            ]
        ),
    )


def check_authorize(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert status in (200, 302, 303, 400, 403, 413, 414, 415), status
    if status in (302, 303):
        location = headers["location"]
        assert location.startswith((CALLBACK + "?", "/authorize?")), location
    else:
        assert headers["content-type"].startswith("text/html")
        assert "Traceback" not in response.text  # type: ignore[attr-defined]


@FUZZ
@given(data=st.data())
def test_random_authorization_requests(
    server: RunningServer, client: Client, data: st.DataObject
) -> None:
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(NAMES), values(client)), max_size=10))
    response = server.http.get("/authorize?" + urlencode(pairs))
    check_authorize(response)


@FUZZ
@given(data=st.data())
def test_random_authorization_forms(
    server: RunningServer, client: Client, data: st.DataObject
) -> None:
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(NAMES), values(client)), max_size=10))
    response = server.http.post(
        "/authorize",
        content=urlencode(pairs).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    check_authorize(response)


@FUZZ
@given(st.binary(max_size=400))
def test_random_authorization_bodies(server: RunningServer, body: bytes) -> None:
    response = server.http.post(
        "/authorize", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    check_authorize(response)


@FUZZ
@given(data=st.data())
def test_random_people_token_requests(
    server: RunningServer, client: Client, data: st.DataObject
) -> None:
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(TOKEN_NAMES), values(client)), max_size=8))
    pairs.insert(
        0, ("grant_type", data.draw(st.sampled_from(["authorization_code", "refresh_token"])))
    )
    raw = f"{client.client_id}:{client.secret}".encode()
    response = server.http.post(
        "/token",
        content=urlencode(pairs).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(raw).decode(),
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] in {
        "invalid_request",
        "invalid_grant",
        "invalid_scope",
        "unauthorized_client",
    }


@FUZZ
@given(data=st.data(), endpoint=st.sampled_from(["/introspect", "/revoke"]))
def test_random_introspection_and_revocation(
    server: RunningServer, client: Client, data: st.DataObject, endpoint: str
) -> None:
    pairs = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["token", "token_type_hint", "client_id", "x"]), values(client)
            ),
            max_size=6,
        )
    )
    raw = f"{client.client_id}:{client.secret}".encode()
    response = server.http.post(
        endpoint,
        content=urlencode(pairs).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(raw).decode(),
        },
    )
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        # Both endpoints ignore token_type_hint (RFC 7662 sec. 2.1, RFC 7009 sec. 2.1).
        assert response.json()["error"] == "invalid_request"
    elif endpoint == "/introspect":
        assert response.json() == {"active": False}
