"""POST /token with client secrets: success, every RFC 6749 sec. 5.2 error, on both backends."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest
from serverhelp import Client, RunningServer

import tessera
from tessera.server.storage import clients as client_rows
from tessera.server.storage.clients import ClientRecord

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client()


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def error_of(response: httpx.Response, status: int, error: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body.get("error_description", ""), str)
    return dict(body)


def verify(server: RunningServer, token: str, audience: str = "https://api.example") -> dict:
    jwks = server.http.get("/jwks.json").json()
    return tessera.decode(
        token,
        tessera.KeySet.from_jwks(jwks),
        algorithms=["ES256"],
        issuer=server.url,
        audience=audience,
        typ="at+jwt",
        now=server.clock(),
    )


def test_issues_token_with_client_secret_basic(server: RunningServer, client: Client) -> None:
    response = server.post_token(GRANT, headers=basic(client.client_id, client.secret or ""))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == server.settings.token_lifetime
    assert body["scope"] == "read:docs write:docs"
    claims = verify(server, body["access_token"])
    assert claims["sub"] == claims["client_id"] == client.client_id
    assert claims["scope"] == "read:docs write:docs"
    assert claims["exp"] - claims["iat"] == server.settings.token_lifetime


def test_access_token_follows_rfc_9068(server: RunningServer, client: Client) -> None:
    response = server.post_token(GRANT, headers=basic(client.client_id, client.secret or ""))
    header, claims = tessera.decode_unverified(response.json()["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] in {k["kid"] for k in server.http.get("/jwks.json").json()["keys"]}
    assert set(claims) == {"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope"}
    assert claims["iss"] == server.url
    assert claims["aud"] == "https://api.example"
    assert len(claims["jti"]) >= 22


def test_each_token_has_a_fresh_jti(server: RunningServer, client: Client) -> None:
    headers = basic(client.client_id, client.secret or "")
    tokens = [server.post_token(GRANT, headers=headers).json()["access_token"] for _ in range(3)]
    jtis = {tessera.decode_unverified(t)[1]["jti"] for t in tokens}
    assert len(jtis) == 3


def test_issues_token_with_client_secret_post(server: RunningServer, client: Client) -> None:
    data = {**GRANT, "client_id": client.client_id, "client_secret": client.secret}
    response = server.post_token(data)
    assert response.status_code == 200, response.text
    verify(server, response.json()["access_token"])


def test_basic_credentials_are_form_decoded(server: RunningServer, client: Client) -> None:
    # RFC 6749 sec. 2.3.1: id and secret are form-urlencoded before base64.
    secret = (client.secret or "").replace("-", "%2D")
    response = server.post_token(GRANT, headers=basic(client.client_id, secret))
    assert response.status_code == 200, response.text


def test_basic_with_matching_client_id_parameter_is_accepted(
    server: RunningServer, client: Client
) -> None:
    data = {**GRANT, "client_id": client.client_id}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    assert response.status_code == 200


def test_requested_scope_subset_is_granted(server: RunningServer, client: Client) -> None:
    data = {**GRANT, "scope": "read:docs"}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    assert response.json()["scope"] == "read:docs"
    assert verify(server, response.json()["access_token"])["scope"] == "read:docs"


def test_rejects_scope_beyond_allowed_with_invalid_scope(
    server: RunningServer, client: Client
) -> None:
    data = {**GRANT, "scope": "read:docs admin"}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "invalid_scope")


@pytest.mark.parametrize("scope", ["read:docs  write:docs", 'read"docs', "read\\docs", " read"])
def test_rejects_malformed_scope_with_invalid_scope(
    server: RunningServer, client: Client, scope: str
) -> None:
    data = {**GRANT, "scope": scope}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "invalid_scope")


def test_client_without_scopes_gets_token_without_scope_claim(server: RunningServer) -> None:
    bare = server.add_client(scope="")
    response = server.post_token(GRANT, headers=basic(bare.client_id, bare.secret or ""))
    assert response.status_code == 200
    assert "scope" not in response.json()
    assert "scope" not in verify(server, response.json()["access_token"])


def test_resource_parameter_sets_audience(server: RunningServer) -> None:
    two = server.add_client(audiences=("https://a.example", "https://b.example/api"))
    headers = basic(two.client_id, two.secret or "")
    default = server.post_token(GRANT, headers=headers).json()["access_token"]
    assert tessera.decode_unverified(default)[1]["aud"] == [
        "https://a.example",
        "https://b.example/api",
    ]
    one = server.post_token({**GRANT, "resource": "https://b.example/api"}, headers=headers)
    assert verify(server, one.json()["access_token"], "https://b.example/api")["aud"] == (
        "https://b.example/api"
    )
    both = server.post_token(
        [
            ("grant_type", "client_credentials"),
            ("resource", "https://a.example"),
            ("resource", "https://b.example/api"),
        ],
        headers=headers,
    )
    assert tessera.decode_unverified(both.json()["access_token"])[1]["aud"] == [
        "https://a.example",
        "https://b.example/api",
    ]


@pytest.mark.parametrize(
    "resource", ["https://other.example", "relative/path", "https://api.example#frag"]
)
def test_rejects_resource_not_allowed_with_invalid_target(
    server: RunningServer, client: Client, resource: str
) -> None:
    data = {**GRANT, "resource": resource}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "invalid_target")


def test_client_without_audience_gets_invalid_target(server: RunningServer) -> None:
    lonely = server.add_client(audiences=())
    response = server.post_token(GRANT, headers=basic(lonely.client_id, lonely.secret or ""))
    error_of(response, 400, "invalid_target")


def test_rejects_wrong_secret_with_401_and_challenge(server: RunningServer, client: Client) -> None:
    response = server.post_token(GRANT, headers=basic(client.client_id, "wrong" * 9))
    body = error_of(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic realm=")
    assert "wrong" not in json.dumps(body)


def test_rejects_unknown_client_like_a_wrong_secret(server: RunningServer, client: Client) -> None:
    unknown = server.post_token(GRANT, headers=basic("no-such-client", client.secret or ""))
    wrong = server.post_token(GRANT, headers=basic(client.client_id, "x"))
    assert error_of(unknown, 401, "invalid_client") == error_of(wrong, 401, "invalid_client")


def test_rejects_missing_client_authentication(server: RunningServer) -> None:
    response = server.post_token(GRANT)
    error_of(response, 401, "invalid_client")
    assert "www-authenticate" in response.headers


def test_client_id_alone_is_not_authentication(server: RunningServer, client: Client) -> None:
    response = server.post_token({**GRANT, "client_id": client.client_id})
    error_of(response, 401, "invalid_client")


@pytest.mark.parametrize(
    "value",
    ["Basic", "Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode(), "Basic ==="],
)
def test_rejects_malformed_basic_credentials(server: RunningServer, value: str) -> None:
    response = server.post_token(GRANT, headers={"Authorization": value})
    error_of(response, 401, "invalid_client")


def test_rejects_bearer_scheme_at_token_endpoint(server: RunningServer) -> None:
    response = server.post_token(GRANT, headers={"Authorization": "Bearer abc"})
    error_of(response, 401, "invalid_client")


def test_rejects_two_authentication_methods(server: RunningServer, client: Client) -> None:
    data = {**GRANT, "client_id": client.client_id, "client_secret": client.secret}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "invalid_request")


def test_rejects_client_id_that_differs_from_basic(server: RunningServer, client: Client) -> None:
    data = {**GRANT, "client_id": "someone-else"}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "invalid_request")


def test_rejects_missing_grant_type(server: RunningServer, client: Client) -> None:
    response = server.post_token({}, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "invalid_request")


@pytest.mark.parametrize("grant", ["password", "implicit", "CLIENT_CREDENTIALS", "urn:x"])
def test_rejects_other_grant_types(server: RunningServer, client: Client, grant: str) -> None:
    data = {"grant_type": grant}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token"])
def test_machine_client_may_not_use_the_people_grants(
    server: RunningServer, client: Client, grant: str
) -> None:
    data = {"grant_type": grant, "code": "x", "refresh_token": "rt.x", "code_verifier": "v" * 43}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "unauthorized_client")


def test_rejects_client_not_registered_for_grant_with_unauthorized_client(
    server: RunningServer,
) -> None:
    secret = "s" * 43
    record = ClientRecord(
        client_id=f"code-only-{server.backend}",
        name=f"code-only-{server.backend}",
        secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
        auth_methods=("client_secret_basic",),
        grant_types=("authorization_code",),
        scopes=(),
        audiences=("https://api.example",),
        jwks=None,
        created_at=0,
        updated_at=0,
    )
    with server.db.write() as conn:
        client_rows.insert_client(conn, record)
    response = server.post_token(GRANT, headers=basic(record.client_id, secret))
    error_of(response, 400, "unauthorized_client")


def test_rejects_repeated_parameter(server: RunningServer, client: Client) -> None:
    data = [("grant_type", "client_credentials"), ("grant_type", "client_credentials")]
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 400, "invalid_request")


def test_empty_parameter_counts_as_omitted(server: RunningServer, client: Client) -> None:
    data = {**GRANT, "scope": ""}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    assert response.json()["scope"] == "read:docs write:docs"


def test_rejects_parameters_in_query_string(server: RunningServer, client: Client) -> None:
    response = server.http.post(
        "/token?grant_type=client_credentials",
        data=GRANT,
        headers=basic(client.client_id, client.secret or ""),
    )
    error_of(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x", None]
)
def test_rejects_body_that_is_not_a_form(
    server: RunningServer, client: Client, content_type: str | None
) -> None:
    headers = basic(client.client_id, client.secret or "")
    if content_type:
        headers["Content-Type"] = content_type
    response = server.http.post("/token", content=b'{"grant_type":"x"}', headers=headers)
    error_of(response, 400, "invalid_request")


def test_accepts_form_with_charset(server: RunningServer, client: Client) -> None:
    headers = {
        **basic(client.client_id, client.secret or ""),
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
    }
    response = server.http.post("/token", content=b"grant_type=client_credentials", headers=headers)
    assert response.status_code == 200


def test_rejects_oversized_body_with_413(server: RunningServer, client: Client) -> None:
    data = {**GRANT, "scope": "a" * (server.settings.max_body_size + 1)}
    response = server.post_token(data, headers=basic(client.client_id, client.secret or ""))
    error_of(response, 413, "invalid_request")


def test_rejects_oversized_chunked_body_with_413(server: RunningServer) -> None:
    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(40):
            yield b"scope=" + b"a" * 1000 + b"&"

    response = server.http.post(
        "/token",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    error_of(response, 413, "invalid_request")


@pytest.mark.parametrize("body", [b"grant_type=%ff", b"grant_type=\xff", b"a=\x00b", b"a=%00"])
def test_rejects_undecodable_or_control_characters(server: RunningServer, body: bytes) -> None:
    response = server.http.post(
        "/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    error_of(response, 400, "invalid_request")


def test_nul_in_client_id_is_refused_not_a_500(server: RunningServer) -> None:
    response = server.post_token(GRANT, headers=basic("abc\x00def", "x"))
    error_of(response, 401, "invalid_client")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD"])
def test_token_endpoint_accepts_post_only(server: RunningServer, method: str) -> None:
    response = server.http.request(method, "/token")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    if method != "HEAD":
        assert response.json()["error"] == "invalid_request"


def test_secret_is_never_echoed(server: RunningServer, client: Client) -> None:
    secret = client.secret or ""
    responses = [
        server.post_token({"grant_type": "bogus"}, headers=basic(client.client_id, secret)),
        server.post_token({**GRANT, "scope": "nope"}, headers=basic(client.client_id, secret)),
        server.post_token({**GRANT, "client_secret": secret, "client_id": "zz"}),
    ]
    for response in responses:
        assert secret not in response.text


def test_removed_client_is_refused_at_once(server: RunningServer) -> None:
    from tessera.server import registry

    gone = server.add_client()
    registry.remove_client(server.db, gone.name)
    response = server.post_token(GRANT, headers=basic(gone.client_id, gone.secret or ""))
    error_of(response, 401, "invalid_client")


def test_rotated_secret_replaces_the_old_one(server: RunningServer) -> None:
    from tessera.server import registry

    rotating = server.add_client()
    new = registry.rotate_secret(server.db, rotating.client_id, now=server.clock()).secret
    old_response = server.post_token(
        GRANT, headers=basic(rotating.client_id, rotating.secret or "")
    )
    error_of(old_response, 401, "invalid_client")
    assert server.post_token(GRANT, headers=basic(rotating.client_id, new or "")).status_code == 200
