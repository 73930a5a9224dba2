"""The debugger page is part of the server: /debugger, verifying with the server's own keys."""

from __future__ import annotations

from serverhelp import RunningServer


def test_debugger_page_is_served_with_a_strict_csp(server: RunningServer) -> None:
    response = server.http.get("/debugger/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_debugger_verifies_an_issued_token_with_this_servers_keys(server: RunningServer) -> None:
    client = server.add_client()
    issued = server.post_token(
        {"grant_type": "client_credentials", "scope": "read:docs"},
        auth=(client.client_id, client.secret or ""),
    )
    token = issued.json()["access_token"]
    request = {
        "token": token,
        "key": {"kind": "server", "value": ""},
        "options": {"issuer": server.url, "audience": "https://api.example", "typ": "at+jwt"},
    }
    response = server.http.post(
        "/debugger/api/verify", json=request, headers={"Origin": server.url}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is True, body
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    request["token"] = tampered
    response = server.http.post(
        "/debugger/api/verify", json=request, headers={"Origin": server.url}
    )
    assert response.json()["valid"] is False
