"""A relying party nobody here wrote: panva's ``openid-client`` (npm, v6, OpenID certified)
discovers the provider, runs the code flow with PKCE, nonce and state, verifies the ID token
its own way (RS256 by default), reads UserInfo, refreshes and builds the end-session URL,
which signs the person out; the person's browser is played with httpx over the real forms.
On both backends.

node and npm must be installed (scripts/install-test-tools.sh); the library is installed
with npm into tests/server/oidc/openid-client/node_modules on first use. Without them the
test is skipped, or fails under TESSERA_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from serverhelp import REQUIRE_SERVICES, Browser, RunningServer, User, hidden_fields

from tessera.server import accounts
from tessera.server.storage import oidc_clients
from tessera.server.storage.oidc_clients import OidcClient

RP_DIR = Path(__file__).resolve().parent / "oidc" / "openid-client"
CALLBACK = "http://127.0.0.1:9/rp/callback"
AFTER_LOGOUT = "https://rp.example/bye"


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with openid-client installed next to the relying party script."""
    binary, npm = shutil.which("node"), shutil.which("npm")
    if binary is None or npm is None:
        _unavailable("node/npm not found: run scripts/install-test-tools.sh")
    assert binary is not None
    assert npm is not None
    if not (RP_DIR / "node_modules" / "openid-client").exists():
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--silent"],
            cwd=RP_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if installed.returncode != 0:
            _unavailable(f"npm install openid-client failed: {installed.stderr.strip()[-500:]}")
    return binary


class RelyingParty:
    """rp.mjs in a subprocess, spoken to one JSON line at a time."""

    def __init__(self, node: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [node, str(RP_DIR / "rp.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            assert self.proc.stderr is not None
            raise AssertionError("the relying party stopped: " + self.proc.stderr.read())
        value: dict[str, Any] = json.loads(line)
        assert "error" not in value, value
        return value

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _allow(browser: Browser, authorize_url: str, user: User) -> str:
    page = browser.http.get(authorize_url)
    assert page.status_code == 200, page.text
    signed = browser.post(hidden_fields(page.text), username=user.username, password=user.password)
    assert signed.status_code == 303, signed.text
    consent = browser.http.get(signed.headers["location"])
    answer = browser.post(hidden_fields(consent.text), decision="allow")
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def test_openid_client_signs_a_person_in(server: RunningServer, node: str) -> None:
    client = server.add_client(
        scope="openid profile email offline_access", audiences=(), redirect_uris=(CALLBACK,)
    )
    with server.db.write() as conn:
        oidc_clients.save(
            conn, OidcClient(client.client_id, post_logout_redirect_uris=(AFTER_LOGOUT,))
        )
    user = server.add_user()
    accounts.update_claims(
        server.db,
        user.username,
        {"email": "grace@example.org", "email_verified": True, "name": "Grace Hopper"},
        now=server.clock(),
    )
    rp = RelyingParty(
        node,
        {
            "ISSUER": server.url,
            "CLIENT_ID": client.client_id,
            "CLIENT_SECRET": client.secret or "",
            "REDIRECT_URI": CALLBACK,
            "SCOPE": "openid profile email offline_access",
            "POST_LOGOUT_REDIRECT_URI": AFTER_LOGOUT,
        },
    )
    browser = Browser(server)
    try:
        start = rp.read()
        assert start["authorize"].startswith(server.url + "/authorize?")
        rp.send(_allow(browser, start["authorize"], user))
        result = rp.read()
        # RP-initiated logout with the URL openid-client built (id_token_hint, state).
        assert result["logout"].startswith(server.url + "/logout?")
        ended = browser.http.get(result["logout"])
        assert ended.status_code == 303, ended.text
        assert ended.headers["location"].startswith(AFTER_LOGOUT + "?state=bye-")
        silent = browser.http.get(start["authorize"] + "&prompt=none")
        assert "error=login_required" in silent.headers["location"]
    finally:
        browser.close()
        rp.close()
    assert result["metadata"]["issuer"] == server.url
    claims = result["claims"]
    assert claims["sub"] == user.user_id
    assert claims["aud"] == client.client_id
    assert claims["nonce"] == start["nonce"]
    assert claims["email"] == "grace@example.org"
    assert result["userinfo"] == {
        "sub": user.user_id,
        "email": "grace@example.org",
        "email_verified": True,
        "name": "Grace Hopper",
        "preferred_username": user.username,
        "updated_at": result["userinfo"]["updated_at"],
    }
    assert result["refreshed_claims"]["sub"] == user.user_id
    assert result["refreshed_claims"]["auth_time"] == claims["auth_time"]
    assert result["rotated"] is True
