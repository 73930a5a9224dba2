"""JWKS by URL: fetched server-side with a scheme check, address policy, limits, no escapes."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from debuggerhelp import MakeClient, body, fresh_claims, redirect, serve_routes

import tessera
from tessera.debugger._fetch import FetchError, FetchPolicy, _is_public, fetch

LOCAL = FetchPolicy(allow_private=True, timeout=2.0)


@pytest.fixture
def jwks_server(jwks: str) -> Iterator[str]:
    """A local server: /jwks.json, redirects, a big body and an error; yields its base URL."""
    with serve_routes({"/jwks.json": body(jwks.encode())}) as server:
        server.routes["/same"] = redirect("/jwks.json")
        server.routes["/loop"] = redirect("/loop")
        server.routes["/big"] = body(b"x" * (LOCAL.max_bytes + 1))
        yield server.base


def test_fetch_returns_body_when_private_hosts_are_allowed(jwks_server: str, jwks: str) -> None:
    assert fetch(f"{jwks_server}/jwks.json", LOCAL) == jwks.encode()


def test_fetch_refuses_loopback_by_default(jwks_server: str) -> None:
    with pytest.raises(FetchError, match="private or local address"):
        fetch(f"{jwks_server}/jwks.json", FetchPolicy())


@pytest.mark.parametrize(
    ("address", "public"),
    [("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("172.16.0.1", False),
     ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
     ("::ffff:127.0.0.1", False), ("fd00::1", False), ("fe80::1%eth0", False),
     ("224.0.0.1", False), ("8.8.8.8", True), ("2606:4700:4700::1111", True)],
)  # fmt: skip
def test_only_global_unicast_addresses_count_as_public(address: str, public: bool) -> None:
    assert _is_public(address) is public


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/jwks", "gopher://x/", "javascript:alert(1)",
     "jwks.json", "http:///nohost", "http://[::1"],
)  # fmt: skip
def test_fetch_refuses_other_schemes_and_bad_urls(url: str) -> None:
    with pytest.raises(FetchError):
        fetch(url, LOCAL)


def test_fetch_refuses_credentials_in_url(jwks_server: str) -> None:
    url = jwks_server.replace("http://", "http://user:pw@") + "/jwks.json"
    with pytest.raises(FetchError, match="credentials"):
        fetch(url, LOCAL)


def test_fetch_follows_same_origin_redirect(jwks_server: str, jwks: str) -> None:
    assert fetch(f"{jwks_server}/same", LOCAL) == jwks.encode()


def test_fetch_refuses_redirect_to_another_origin(jwks_server: str) -> None:
    with (
        serve_routes({"/r": redirect(f"{jwks_server}/jwks.json")}) as other,
        pytest.raises(FetchError, match="another origin"),
    ):
        fetch(f"{other.base}/r", LOCAL)


def test_fetch_refuses_redirect_to_another_scheme(jwks_server: str) -> None:
    with serve_routes({}) as server:
        server.routes["/r"] = redirect(f"https://127.0.0.1:{server.port}/jwks.json")
        with pytest.raises(FetchError, match="another origin"):
            fetch(f"{server.base}/r", LOCAL)


def test_fetch_stops_redirect_loops(jwks_server: str) -> None:
    with pytest.raises(FetchError, match="too many times"):
        fetch(f"{jwks_server}/loop", LOCAL)


def test_fetch_refuses_body_over_the_limit(jwks_server: str) -> None:
    with pytest.raises(FetchError, match="larger than"):
        fetch(f"{jwks_server}/big", LOCAL)


def test_fetch_refuses_body_over_the_limit_without_content_length() -> None:
    def endless(handler: object) -> None:
        handler.send_response(200)  # type: ignore[attr-defined]
        handler.end_headers()  # type: ignore[attr-defined]
        for _ in range(100):
            handler.wfile.write(b"x" * 16384)  # type: ignore[attr-defined]

    with serve_routes({"/stream": endless}) as server:
        policy = FetchPolicy(allow_private=True, timeout=2.0, max_bytes=100_000)
        with pytest.raises(FetchError, match="larger than"):
            fetch(f"{server.base}/stream", policy)


def test_fetch_reports_http_errors(jwks_server: str) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(f"{jwks_server}/missing", LOCAL)


def test_fetch_times_out_on_a_silent_server() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    try:
        start = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/", FetchPolicy(True, 0.3))
        assert time.monotonic() - start < 2
    finally:
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()


def test_fetch_reports_refused_connection() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(FetchError, match="cannot fetch"):
        fetch(f"http://127.0.0.1:{port}/jwks.json", LOCAL)


# -- through the verify endpoint -----------------------------------------------------------


def test_verify_with_jwks_url(
    make_client: MakeClient, jwks_server: str, ec_key: tessera.Key
) -> None:
    client = make_client(allow_private_fetch=True)
    token = tessera.encode(fresh_claims(), ec_key)
    key = {"kind": "jwks_url", "value": f"{jwks_server}/jwks.json"}
    result = client.post("/api/verify", json={"token": token, "key": key}).json()
    assert result["valid"] is True
    assert result["key"]["kid"] == ec_key.kid


def test_verify_jwks_url_to_loopback_is_refused_by_default(
    make_client: MakeClient, jwks_server: str, ec_key: tessera.Key
) -> None:
    client = make_client()
    token = tessera.encode(fresh_claims(), ec_key)
    key = {"kind": "jwks_url", "value": f"{jwks_server}/jwks.json"}
    response = client.post("/api/verify", json={"token": token, "key": key})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "jwks_fetch_failed",
        "message": "the JWKS URL points to a private or local address: refused",
    }


def test_fetched_jwks_skips_invalid_keys_and_says_so(
    make_client: MakeClient, ec_key: tessera.Key
) -> None:
    keys = {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}, ec_key.public().to_jwk()]}
    with serve_routes({"/jwks.json": body(json.dumps(keys).encode())}) as server:
        client = make_client(allow_private_fetch=True)
        token = tessera.encode(fresh_claims(), ec_key)
        key = {"kind": "jwks_url", "value": f"{server.base}/jwks.json"}
        result = client.post("/api/verify", json={"token": token, "key": key}).json()
    assert result["valid"] is True
    assert len(result["notes"]) == 1
    assert result["notes"][0].startswith("skipped key 0:")
