"""GET /jwks.json, the RFC 8414 metadata, /healthz and unknown paths, on both backends."""

from __future__ import annotations

import json

import httpx
import pytest
from serverhelp import Databases, RunningServer, running_server

import tessera
from tessera.server.kek import KEK

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def test_jwks_lists_public_signing_keys(server: RunningServer) -> None:
    response = server.http.get("/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    keys = response.json()["keys"]
    # One ring per algorithm: ES256 signs access tokens, RS256 ID tokens (OIDC Core 15.1).
    assert sorted(key["alg"] for key in keys) == ["ES256", "RS256"]
    for key in keys:
        assert key["use"] == "sig"
        assert not PRIVATE_MEMBERS & set(key)
    keyset = tessera.KeySet.from_jwks(response.text)
    assert all(not key.is_private for key in keyset)


def test_jwks_cache_control_is_the_jwks_cache_period(server: RunningServer) -> None:
    response = server.http.get("/jwks.json")
    assert response.headers["cache-control"] == (f"public, max-age={server.settings.jwks_max_age}")
    assert server.settings.pending_period >= server.settings.jwks_max_age


def test_jwks_answers_304_to_a_current_etag(server: RunningServer) -> None:
    first = server.http.get("/jwks.json")
    again = server.http.get("/jwks.json", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["cache-control"] == first.headers["cache-control"]
    stale = server.http.get("/jwks.json", headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200


def test_jwks_head_request(server: RunningServer) -> None:
    assert server.http.head("/jwks.json").status_code == 200


def test_metadata_follows_rfc_8414(server: RunningServer) -> None:
    response = server.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == server.url
    assert meta["token_endpoint"] == server.url + "/token"
    assert meta["jwks_uri"] == server.url + "/jwks.json"
    assert meta["grant_types_supported"] == [
        "client_credentials",
        "authorization_code",
        "refresh_token",
    ]
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_endpoint"] == server.url + "/authorize"
    assert meta["introspection_endpoint"] == server.url + "/introspect"
    assert meta["revocation_endpoint"] == server.url + "/revoke"
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]
    assert "none" in meta["revocation_endpoint_auth_methods_supported"]
    algs = meta["token_endpoint_auth_signing_alg_values_supported"]
    assert "none" not in algs
    assert not any(alg.startswith("HS") for alg in algs)
    # every URL it names answers
    assert server.http.get(meta["jwks_uri"]).status_code == 200
    assert server.http.get(meta["token_endpoint"]).status_code == 405
    assert server.http.get(meta["introspection_endpoint"]).status_code == 405
    assert server.http.get(meta["revocation_endpoint"]).status_code == 405
    assert server.http.get(meta["authorization_endpoint"]).status_code == 400  # no client_id


def test_health_reports_ok(server: RunningServer) -> None:
    response = server.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_path_is_json_404(server: RunningServer) -> None:
    response = server.http.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_metadata_post_is_405(server: RunningServer) -> None:
    response = server.http.post("/.well-known/oauth-authorization-server")
    assert response.status_code == 405


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS256", "PS256", "EdDSA"])
def test_no_private_member_ever_reaches_jwks(databases: Databases, backend: str, alg: str) -> None:
    with running_server(databases.new(backend), backend, signing_alg=alg) as srv:
        srv.context.keys.rotate(immediately=True)  # the first key is now retired
        srv.context.keys.rotate()  # and a third one pending
        srv.clock.advance(srv.settings.key_cache_ttl + 1)
        text = srv.http.get("/jwks.json").text
        keys = json.loads(text)["keys"]
        ring = [jwk for jwk in keys if jwk["alg"] == alg]
        assert len(ring) == 3
        # The ID-token ring (RS256) has its one key unless it is the same ring.
        assert len(keys) == 3 if alg == "RS256" else 4
        for jwk in keys:
            assert not PRIVATE_MEMBERS & set(jwk), jwk
            assert jwk["alg"] in (alg, "RS256")
        client = srv.add_client()
        token = srv.post_token(
            {"grant_type": "client_credentials"},
            auth=(client.client_id, client.secret or ""),
        ).json()["access_token"]
        tessera.decode(
            token,
            tessera.KeySet.from_jwks(text),
            algorithms=[alg],
            audience="https://api.example",
            now=srv.clock(),
        )


def test_issuer_with_path_serves_metadata_at_rfc_8414_location(
    databases: Databases, backend: str
) -> None:
    with running_server(databases.new(backend), backend, issuer_path="/tenant-a") as srv:
        issuer = srv.url
        assert issuer.endswith("/tenant-a")
        root = issuer.removesuffix("/tenant-a")
        meta = httpx.get(root + "/.well-known/oauth-authorization-server/tenant-a").json()
        assert meta["issuer"] == issuer
        assert meta["token_endpoint"] == issuer + "/token"
        assert httpx.get(root + "/tenant-a/jwks.json").status_code == 200
        assert httpx.get(root + "/tenant-a/healthz").status_code == 200
        assert httpx.get(root + "/.well-known/oauth-authorization-server").status_code == 404


def test_cors_headers_for_allowed_origin(databases: Databases, backend: str) -> None:
    origin = "https://app.example"
    with running_server(databases.new(backend), backend, allowed_origins=[origin]) as srv:
        response = srv.http.get("/jwks.json", headers={"Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        other = srv.http.get("/jwks.json", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_private_keys_are_encrypted_at_rest(databases: Databases, backend: str) -> None:
    from tessera.server.storage import keys as key_rows

    kek = KEK.generate()
    with running_server(databases.new(backend), backend, kek=kek) as srv:
        signers = {alg: srv.context.keys.signing_key(alg) for alg in ("ES256", "RS256")}
        with srv.db.read() as conn:
            rows = key_rows.list_keys(conn)
        assert len(rows) == 2
        for row in rows:
            d = signers[row.alg].to_jwk(private=True)["d"]
            assert d.encode() not in row.private_jwk
            assert b'"d"' not in row.private_jwk
            assert '"d"' not in row.public_jwk
            opened = json.loads(kek.open(row.private_jwk, row.kid))
            assert opened["d"] == d
