"""Client ID Metadata Documents: an https URL as client_id, its document fetched from a real
https server (a test CA), checked, cached within bounds, and refused when it is wrong,
too large, too slow, redirected or on an address the server must not reach."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from documenthost import Answer, DocumentHost, document_host
from serverhelp import (
    Browser,
    Client,
    Databases,
    FakeClock,
    Pkce,
    RunningServer,
    User,
    auth_params,
    hidden_fields,
    query_of,
    running_server,
)

import tessera
from tessera.server._fetch_guard import FetchGuard
from tessera.server.cimd import FAILURE_TTL, ClientMetadataResolver
from tessera.server.config import load_settings
from tessera.server.errors import ClientMetadataError

CALLBACK = "http://127.0.0.1:9/callback"
API = "https://api.example"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentHost]:
    with document_host(tmp_path_factory.mktemp("cimd")) as running:
        yield running


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases, host: DocumentHost) -> Iterator[RunningServer]:
    with running_server(
        databases.new(backend),
        backend,
        client_metadata_documents=True,
        fetch_allow=["127.0.0.1"],
        fetch_ca_file=str(host.ca_file),
        fetch_timeout=1.0,
        dynamic_scopes=["read:docs", "offline_access"],
        default_audience=[API],
    ) as running:
        yield running


@pytest.fixture
def user(server: RunningServer) -> User:
    return server.add_user()


def document(url: str, **extra: object) -> dict[str, object]:
    return {
        "client_id": url,
        "client_name": "Example MCP client",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        **extra,
    }


def UrlClient(client_id: str) -> Client:  # noqa: N802 - reads like the class it builds
    return Client(client_id, None, client_id)


def authorize(server: RunningServer, client_id: str, user: User, pkce: Pkce) -> str:
    with Browser(server) as browser:
        params = auth_params(UrlClient(client_id), CALLBACK, pkce, scope="read:docs")
        consent = browser.sign_in(params, user)
        assert "127.0.0.1" in consent.text.split("id=client-host>")[1].split("</p>")[0]
        location = browser.post(hidden_fields(consent.text), decision="allow")
        assert location.status_code == 303, location.text
        return query_of(location.headers["location"])["code"]


def error_page_of(server: RunningServer, client_id: str) -> str:
    with Browser(server) as browser:
        page = browser.open(auth_params(UrlClient(client_id), CALLBACK, Pkce.new()))
    assert page.status_code == 400, page.text
    return page.text


def test_metadata_advertises_client_id_metadata_documents(server: RunningServer) -> None:
    document = server.http.get("/.well-known/oauth-authorization-server").json()
    assert document["client_id_metadata_document_supported"] is True


def test_good_document_completes_the_code_flow_as_a_public_client(
    server: RunningServer, host: DocumentHost, user: User
) -> None:
    url = host.put("/good/client.json", document(host.url("/good/client.json")))
    pkce = Pkce.new()
    code = authorize(server, url, user, pkce)
    answer = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": url,
            "code_verifier": pkce.verifier,
        }
    )
    assert answer.status_code == 200, answer.text
    keys = tessera.KeySet.from_jwks(server.http.get("/jwks.json").text)
    claims = tessera.decode(
        answer.json()["access_token"],
        keys,
        algorithms=["ES256"],
        audience=API,
        issuer=server.url,
        now=server.clock(),
    )
    assert claims["client_id"] == url
    assert claims["scope"] == "read:docs"
    refreshed = server.post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": answer.json()["refresh_token"],
            "client_id": url,
        }
    )
    assert refreshed.status_code == 200, refreshed.text
    newest = refreshed.json()["refresh_token"]
    revoked = server.http.post("/revoke", data={"token": newest, "client_id": url})
    assert revoked.status_code == 200, revoked.text
    after = server.post_token(
        {"grant_type": "refresh_token", "refresh_token": newest, "client_id": url}
    )
    assert after.json()["error"] == "invalid_grant"  # RFC 7009: the grant is gone
    assert host.hits["/good/client.json"] == 1  # every later use came from the cache


def test_mismatched_client_id_is_refused(server: RunningServer, host: DocumentHost) -> None:
    url = host.put("/mismatch/client.json", document(host.url("/other/client.json")))
    assert "not exactly the URL" in error_page_of(server, url)


def test_unregistered_redirect_uri_is_refused(server: RunningServer, host: DocumentHost) -> None:
    url = host.put("/redirect-only/client.json", document(host.url("/redirect-only/client.json")))
    with Browser(server) as browser:
        params = auth_params(UrlClient(url), "https://evil.example/cb", Pkce.new())
        page = browser.open(params)
    assert page.status_code == 400
    assert "not registered" in page.text


def test_shared_secret_method_is_refused(server: RunningServer, host: DocumentHost) -> None:
    path = "/secret/client.json"
    url = host.put(path, document(host.url(path), token_endpoint_auth_method="client_secret_basic"))
    assert "none or private_key_jwt" in error_page_of(server, url)


def test_private_key_jwt_without_keys_is_refused(server: RunningServer, host: DocumentHost) -> None:
    path = "/nokeys/client.json"
    url = host.put(path, document(host.url(path), token_endpoint_auth_method="private_key_jwt"))
    assert "jwks_uri" in error_page_of(server, url)


def test_private_key_jwt_client_authenticates_with_keys_from_its_jwks_uri(
    server: RunningServer, host: DocumentHost, user: User
) -> None:
    key = tessera.Key.generate("ES256", kid="cimd-1")
    jwks_url = host.put("/pkj/jwks.json", tessera.KeySet([key.public()]).to_jwks())
    path = "/pkj/client.json"
    url = host.put(
        path,
        document(host.url(path), token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_url),
    )
    pkce = Pkce.new()
    code = authorize(server, url, user, pkce)
    now = int(server.clock())
    assertion = tessera.encode(
        {"iss": url, "sub": url, "aud": server.token_url, "exp": now + 60, "jti": "a-1"}, key
    )
    common = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    wrong_key = tessera.Key.generate("ES256", kid="cimd-1")
    forged = tessera.encode(
        {"iss": url, "sub": url, "aud": server.token_url, "exp": now + 60, "jti": "a-2"}, wrong_key
    )
    refused = server.post_token({**common, "client_assertion": forged})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    answer = server.post_token({**common, "client_assertion": assertion})
    assert answer.status_code == 200, answer.text
    common.pop("client_assertion_type")
    without = server.post_token({**common, "client_id": url})
    assert without.status_code == 401  # a confidential client must prove itself


def _key_client(host: DocumentHost, name: str) -> tuple[str, tessera.Key]:
    """A private_key_jwt URL client whose document no one has fetched yet."""
    key = tessera.Key.generate("ES256", kid=f"{name}-1")
    jwks_url = host.put(f"/{name}/jwks.json", tessera.KeySet([key.public()]).to_jwks())
    path = f"/{name}/client.json"
    url = host.put(
        path,
        document(host.url(path), token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_url),
    )
    return url, key


def _assertion(server: RunningServer, url: str, key: tessera.Key, jti: str) -> dict[str, str]:
    now = int(server.clock())
    claims = {"iss": url, "sub": url, "aud": server.url, "exp": now + 60, "jti": jti}
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": tessera.encode(claims, key),
    }


def test_private_key_jwt_url_client_introspects_and_revokes(
    server: RunningServer, host: DocumentHost
) -> None:
    machine = server.add_client()
    issued = server.post_token(
        {"grant_type": "client_credentials"}, auth=(machine.client_id, machine.secret or "")
    )
    token = issued.json()["access_token"]
    url, key = _key_client(host, "introspecting")  # its document is not cached yet
    proof = _assertion(server, url, key, "i-1")
    answer = server.http.post("/introspect", data={"token": token, **proof})
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is True
    assert answer.json()["client_id"] == machine.client_id
    replay = server.http.post("/introspect", data={"token": token, **proof})
    assert replay.status_code == 401
    assert "already used" in replay.json()["error_description"]
    forged = _assertion(server, url, tessera.Key.generate("ES256", kid="introspecting-1"), "i-2")
    refused = server.http.post("/introspect", data={"token": token, **forged})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    other, other_key = _key_client(host, "revoking")
    revoked = server.http.post(
        "/revoke", data={"token": token, **_assertion(server, other, other_key, "r-1")}
    )
    assert revoked.status_code == 200, revoked.text  # another client's token: ignored


def test_oversized_document_is_refused(server: RunningServer, host: DocumentHost) -> None:
    path = "/big/client.json"
    url = host.put(path, document(host.url(path), padding="x" * 6000))
    assert "exceeds 5120 bytes" in error_page_of(server, url)


def test_slow_document_is_refused_within_the_time_limit(
    server: RunningServer, host: DocumentHost
) -> None:
    path = "/slow/client.json"
    body = json.dumps(document(host.url(path))).encode()
    url = host.put(path, Answer(body, headers={"content-type": "application/json"}, delay=3))
    started = time.monotonic()
    assert "did not answer within" in error_page_of(server, url)
    assert time.monotonic() - started < 2.5


def test_redirects_are_not_followed(server: RunningServer, host: DocumentHost) -> None:
    path = "/moved/client.json"
    url = host.put(path, Answer(b"", 302, {"location": "http://169.254.169.254/latest"}))
    assert "redirect" in error_page_of(server, url)


def test_bad_json_and_bad_urls_are_refused(server: RunningServer, host: DocumentHost) -> None:
    url = host.put("/notjson/client.json", Answer(b"<html>", headers={}))
    assert "not JSON" in error_page_of(server, url)
    assert "dot segments" in error_page_of(server, host.url("/a/../client.json"))
    assert "dot segments" in error_page_of(server, host.origin + "/")
    assert "answered HTTP 404" in error_page_of(server, host.url("/missing/client.json"))


def test_token_endpoint_refuses_an_unusable_document_as_invalid_client(
    server: RunningServer, host: DocumentHost
) -> None:
    path = "/bad-at-token/client.json"
    url = host.put(path, document(host.url("/elsewhere.json")))
    answer = server.post_token(
        {"grant_type": "authorization_code", "code": "x", "client_id": url, "code_verifier": "y"}
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert "client metadata document" in answer.json()["error_description"]


def test_private_addresses_are_refused_without_the_allow_list(host: DocumentHost) -> None:
    guard = FetchGuard(ca_file=str(host.ca_file))
    try:
        for url in (
            host.url("/good/client.json"),
            "https://10.0.0.8/client.json",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/client.json",
            "https://[::ffff:127.0.0.1]/client.json",
            "https://localhost:1/client.json",
            "https://0.0.0.0/client.json",
        ):
            with pytest.raises(ClientMetadataError, match="private, loopback or link-local"):
                guard.get(url)
        with pytest.raises(ClientMetadataError, match="only https"):
            guard.get("http://example.com/client.json")
    finally:
        guard.close()
    allowed = FetchGuard(allow=["127.0.0.0/8"], ca_file=str(host.ca_file))
    try:
        host.put("/guard/client.json", {"ok": True})
        assert json.loads(allowed.get(host.url("/guard/client.json")).body) == {"ok": True}
    finally:
        allowed.close()


def test_server_without_the_allow_list_refuses_loopback_documents(
    databases: Databases, host: DocumentHost
) -> None:
    path = "/loopback/client.json"
    url = host.put(path, document(host.url(path)))
    with running_server(
        databases.new("sqlite"),
        "sqlite",
        client_metadata_documents=True,
        fetch_ca_file=str(host.ca_file),
        dynamic_scopes=["read:docs"],
        default_audience=[API],
    ) as strict:
        assert "private, loopback or link-local" in error_page_of(strict, url)
    assert host.hits[path] == 0


def test_url_client_ids_are_unknown_when_documents_are_off(
    databases: Databases, host: DocumentHost
) -> None:
    path = "/off/client.json"
    url = host.put(path, document(host.url(path)))
    with running_server(databases.new("sqlite"), "sqlite") as plain:
        assert "not registered" in error_page_of(plain, url)
        meta = plain.http.get("/.well-known/oauth-authorization-server").json()
        assert "client_id_metadata_document_supported" not in meta
    assert host.hits[path] == 0


def resolver_for(
    host: DocumentHost, clock: FakeClock, **settings: object
) -> ClientMetadataResolver:
    loaded = load_settings(
        "/dev/null",
        env={},
        client_metadata_documents=True,
        fetch_allow=["127.0.0.1"],
        fetch_ca_file=str(host.ca_file),
        dynamic_scopes=["read:docs"],
        **settings,
    )
    return ClientMetadataResolver(loaded, clock)


def test_cache_follows_max_age_within_its_bounds(host: DocumentHost, tmp_path: Path) -> None:
    clock = FakeClock()
    resolver = resolver_for(
        host, clock, client_metadata_cache_min=60, client_metadata_cache_max=3600
    )
    try:
        aged = "/aged/client.json"
        body = json.dumps(document(host.url(aged))).encode()
        host.put(aged, Answer(body, headers={"cache-control": "public, max-age=600"}))
        brief = "/brief/client.json"
        host.put(
            brief,
            Answer(
                json.dumps(document(host.url(brief))).encode(),
                headers={"cache-control": "no-store"},
            ),
        )
        long = "/long/client.json"
        host.put(
            long,
            Answer(
                json.dumps(document(host.url(long))).encode(),
                headers={"cache-control": "max-age=999999"},
            ),
        )
        for path in (aged, brief, long):
            record = resolver.resolve(host.url(path))
            assert record.client_id == host.url(path)
            assert record.is_public
            assert resolver.resolve(host.url(path)) is record
        assert (host.hits[aged], host.hits[brief], host.hits[long]) == (1, 1, 1)
        clock.advance(59)  # within the minimum: even no-store is kept
        for path in (aged, brief, long):
            resolver.resolve(host.url(path))
        assert (host.hits[aged], host.hits[brief], host.hits[long]) == (1, 1, 1)
        clock.advance(2)  # past the minimum: no-store is fetched again
        for path in (aged, brief, long):
            resolver.resolve(host.url(path))
        assert (host.hits[aged], host.hits[brief], host.hits[long]) == (1, 2, 1)
        clock.advance(600)  # past max-age=600
        resolver.resolve(host.url(aged))
        assert host.hits[aged] == 2
        clock.advance(3600)  # past the maximum, though the document asked for more
        resolver.resolve(host.url(long))
        assert host.hits[long] == 2
    finally:
        resolver.close()


def test_cache_holds_at_most_its_size_least_recently_used_first(host: DocumentHost) -> None:
    clock = FakeClock()
    resolver = resolver_for(host, clock, client_metadata_cache_size=2)
    try:
        paths = [f"/lru{i}/client.json" for i in range(3)]
        for path in paths:
            host.put(path, document(host.url(path)))
        resolver.resolve(host.url(paths[0]))
        resolver.resolve(host.url(paths[1]))
        resolver.resolve(host.url(paths[0]))  # paths[1] is now the least recently used
        resolver.resolve(host.url(paths[2]))
        assert len(resolver) == 2
        assert resolver.cached(host.url(paths[1])) is None
        assert resolver.cached(host.url(paths[0])) is not None
        resolver.resolve(host.url(paths[1]))
        assert [host.hits[p] for p in paths] == [1, 2, 1]
    finally:
        resolver.close()


def test_a_failed_url_is_refused_from_memory_for_a_while(host: DocumentHost) -> None:
    clock = FakeClock()
    resolver = resolver_for(host, clock)
    try:
        path = "/fixed-later/client.json"
        url = host.put(path, document(host.url("/wrong.json")))
        with pytest.raises(ClientMetadataError, match="not exactly the URL"):
            resolver.resolve(url)
        host.put(path, document(url))
        with pytest.raises(ClientMetadataError, match="not exactly the URL"):
            resolver.resolve(url)
        assert host.hits[path] == 0  # refused without fetching again
        clock.advance(FAILURE_TTL + 1)
        assert resolver.resolve(url).client_id == url
        assert host.hits[path] == 1
    finally:
        resolver.close()


def test_unparsable_urls_are_refused_not_crashed_on(
    server: RunningServer, host: DocumentHost
) -> None:
    guard = FetchGuard(ca_file=str(host.ca_file))
    try:
        for url in ("https://[::1/x", "https://[nothost]/x", "https://a.example:99999/x"):
            with pytest.raises(ClientMetadataError, match="invalid host or port"):
                guard.get(url)
    finally:
        guard.close()
    for url in ("https://[::1/client.json", "https://127.0.0.1:99999/client.json"):
        assert "invalid host or port" in error_page_of(server, url)


def test_resource_parameter_binds_the_token_to_one_audience(
    databases: Databases, host: DocumentHost
) -> None:
    path = "/two-audiences/client.json"
    url = host.put(path, document(host.url(path)))
    other = "https://other.example"
    with running_server(
        databases.new("sqlite"),
        "sqlite",
        client_metadata_documents=True,
        fetch_allow=["127.0.0.1"],
        fetch_ca_file=str(host.ca_file),
        dynamic_scopes=["read:docs"],
        default_audience=[API, other],
    ) as two:
        user = two.add_user()
        pkce = Pkce.new()
        with Browser(two) as browser:
            params = auth_params(UrlClient(url), CALLBACK, pkce, resource=other)
            code = query_of(browser.authorize(params, user))["code"]
            refused = browser.open(auth_params(UrlClient(url), CALLBACK, pkce, resource=API + "/x"))
        assert query_of(refused.headers["location"])["error"] == "invalid_target"
        answer = two.post_token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": url,
                "code_verifier": pkce.verifier,
            }
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        assert tessera.decode_unverified(token)[1]["aud"] == other


def test_loopback_redirects_of_a_document_match_any_port(
    server: RunningServer, host: DocumentHost
) -> None:
    path = "/native/client.json"
    url = host.put(path, document(host.url(path), redirect_uris=["http://127.0.0.1/callback"]))
    with Browser(server) as browser:
        page = browser.open(
            auth_params(UrlClient(url), "http://127.0.0.1:45678/callback", Pkce.new())
        )
        assert page.status_code == 200, page.text
        assert "Sign in" in page.text
        wrong = browser.open(
            auth_params(UrlClient(url), "http://127.0.0.1:45678/other", Pkce.new())
        )
        assert wrong.status_code == 400
