"""The debugger page is part of the server: /debugger, verifying with the server's own keys."""

from __future__ import annotations

from serverhelp import Databases, RunningServer, running_server


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


def test_debugger_without_trailing_slash_redirects_to_the_page(server: RunningServer) -> None:
    response = server.http.get("/debugger")
    assert response.status_code == 308
    assert response.headers["location"] == "/debugger/"
    followed = server.http.get("/debugger", follow_redirects=True)
    assert followed.status_code == 200
    assert str(followed.url) == server.url + "/debugger/"
    assert "text/html" in followed.headers["content-type"]


def test_debugger_redirect_keeps_the_issuer_path(databases: Databases) -> None:
    with running_server(databases.new("sqlite"), "sqlite", issuer_path="/auth") as served:
        response = served.http.get(served.url + "/debugger")
        assert response.status_code == 308
        assert response.headers["location"] == "/auth/debugger/"
        assert served.http.get(served.url + "/debugger/").status_code == 200
