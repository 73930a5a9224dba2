"""`make demo` and `make serve` end to end: real subprocesses, the story's key lines, clean exit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tessera._demo"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=_env(),
    )
    done.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return done


def _door_line(output: str, client: str, method: str, path: str) -> str:
    pattern = rf"^\s+{client}\s+{method}\s+{re.escape(path)}\s+(GRANTED|DENIED)\s+(\d+)"
    match = re.search(pattern, output, re.MULTILINE)
    assert match, f"no line for {client} {method} {path}"
    return f"{match.group(1)} {match.group(2)}"


def test_demo_exits_zero_and_says_everything_behaved(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "UNEXPECTED" not in demo.stdout
    assert re.search(r"Everything behaved as told: \d+ checks passed", demo.stdout)


def test_demo_finishes_within_a_minute(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.elapsed < 60, demo.elapsed  # type: ignore[attr-defined]


def test_demo_registers_both_clients_with_the_real_cli(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert "$ tessera clients add lab-assistant --scope lab:enter --audience http" in demo.stdout
    assert "$ tessera clients add vault-courier --scope vault:open --audience http" in demo.stdout


@pytest.mark.parametrize(
    ("client", "method", "path", "expected"),
    [
        ("lab-assistant", "GET", "/lobby", "GRANTED 200"),
        ("lab-assistant", "GET", "/lab", "GRANTED 200"),
        ("lab-assistant", "POST", "/vault", "DENIED 403"),
        ("vault-courier", "GET", "/lobby", "GRANTED 200"),
        ("vault-courier", "GET", "/lab", "DENIED 403"),
        ("vault-courier", "POST", "/vault", "GRANTED 200"),
    ],
)
def test_demo_grants_and_denies_each_door_by_scope(
    demo: subprocess.CompletedProcess[str], client: str, method: str, path: str, expected: str
) -> None:
    assert _door_line(demo.stdout, client, method, path) == expected


def test_demo_explains_a_denied_door_with_the_missing_scope(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert (
        'insufficient_scope: the token lacks a scope this resource needs (needs scope="vault:open")'
        in demo.stdout
    )


@pytest.mark.parametrize(
    "reason",
    [
        "unauthorized: a bearer token is required",
        "invalid_token: the token's signature is invalid",
        "invalid_token: the token has expired",
        "invalid_token: the token is not meant for this resource",
        "invalid_token: the token is not an access token (wrong typ header)",
        "invalid_token: the token's issuer is not trusted here",
    ],
)
def test_demo_refuses_bad_badges_with_their_reason(
    demo: subprocess.CompletedProcess[str], reason: str
) -> None:
    assert f"DENIED  401  {reason}" in demo.stdout


def test_demo_rotation_verifies_old_and_new_tokens_with_different_kids(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert "$ tessera keys rotate --now" in demo.stdout
    new = re.search(r"new token\s+kid=(\S+)\s+GET /lab GRANTED 200", demo.stdout)
    old = re.search(r"old token\s+kid=(\S+)\s+GET /lab GRANTED 200", demo.stdout)
    assert new, demo.stdout
    assert old, demo.stdout
    assert new.group(1) != old.group(1)
    assert "refetched the JWKS: 1 new fetch, 2 in all" in demo.stdout


def test_demo_removes_its_folder_and_prints_no_colour_off_a_tty(
    demo: subprocess.CompletedProcess[str],
) -> None:
    folder = re.search(r"SQLite in (\S+?)\)", demo.stdout)
    assert folder
    assert not Path(folder.group(1)).exists()
    assert "removed: yes" in demo.stdout
    assert "\033[" not in demo.stdout


def _act(output: str, title: str) -> str:
    """The text of the act whose heading contains ``title``, up to the next heading."""
    match = re.search(
        rf"^== \d+\. [^\n]*{re.escape(title)}[^\n]*\n(.*?)(?=^== |\Z)", output, re.M | re.S
    )
    assert match, f"no act {title!r}"
    return match.group(1)


def test_demo_oidc_act_creates_the_person_and_the_app_with_the_real_cli(
    demo: subprocess.CompletedProcess[str],
) -> None:
    act = _act(demo.stdout, "OpenID Connect: a person signs in to a web app")
    assert (
        "$ tessera users add ada --password-stdin --email ada@example.org --name 'Ada Lovelace'"
        in act
    )
    assert re.search(
        r"\$ tessera clients add guestbook --scope 'openid profile email' --redirect-uri "
        r"http://127\.0\.0\.1:\d+/auth/callback --post-logout-redirect-uri http://127\.0\.0\.1:\d+/",
        act,
    )
    assert "(FastAPI + tessera.oidc.fastapi.SignIn" in act


def test_demo_oidc_act_signs_in_through_the_pages_and_shows_claims_and_userinfo(
    demo: subprocess.CompletedProcess[str],
) -> None:
    act = _act(demo.stdout, "OpenID Connect")
    user_id = re.search(r"ada: user_id=(\S+)", act)
    assert user_id, act
    assert "GET /me               -> 303 /auth/login?return_to=%2Fme" in act
    assert "code_challenge_method=S256" in act
    assert "GET /authorize        -> 200 Tessera's sign-in page" in act
    assert (
        "the guestbook asks to: Know who you are (openid); See your profile (profile); "
        "See your email address (email)" in act
    )
    assert "GET /me               -> 200 'Hello, Ada Lovelace'" in act
    assert "header   alg=RS256" in act
    assert "typ=JWT" in act
    assert f"sub={user_id.group(1)}" in act
    assert "amr=['pwd']" in act
    userinfo = re.search(r"UserInfo, which the app fetched[^\n]*\n\s+(.*)", act)
    assert userinfo, act
    assert userinfo.group(1).startswith(f"sub={user_id.group(1)}  email=ada@example.org")
    assert "name=Ada Lovelace" in userinfo.group(1)
    assert "GET /lobby -> DENIED  401  invalid_token: the token is not an access token" in act


def test_demo_oidc_act_signs_out_of_the_app_and_of_tessera(
    demo: subprocess.CompletedProcess[str],
) -> None:
    act = _act(demo.stdout, "OpenID Connect")
    assert re.search(
        r"GET /auth/logout      -> 303 http://127\.0\.0\.1:\d+/logout\?…  \(id_token_hint=yes", act
    )
    assert re.search(r"GET /logout           -> 303 http://127\.0\.0\.1:\d+/ ", act)
    assert "(signed out of the app)" in act
    assert "signing in again      -> 200 the password is asked again" in act


def test_demo_mcp_act_registers_signs_in_calls_the_tool_and_refreshes(
    demo: subprocess.CompletedProcess[str],
) -> None:
    pytest.importorskip("mcp")
    out = demo.stdout
    assert "(SKIPPED)" not in out
    assert re.search(
        r'401  WWW-Authenticate: Bearer scope="mcp:tools", resource_metadata="http', out
    )
    assert re.search(r"/register \(RFC 7591\): client_id=\S+ auth=none", out)
    assert "tools/call add(2, 3) -> 5" in out
    assert "refreshed: new access token" in out
    assert "tools/call add(40, 2) -> 42" in out
    assert 'error="insufficient_scope"' in out
    mcp_folder = re.search(r"both MCP-act servers stopped; (\S+) removed: yes", out)
    assert mcp_folder, out
    assert not Path(mcp_folder.group(1)).exists()


def test_demo_without_the_mcp_sdk_skips_the_mcp_act_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tessera._demo import Story, finish
    from tessera._demo_mcp import mcp_act

    monkeypatch.setitem(sys.modules, "mcp", None)  # import mcp now raises ImportError
    story = Story(colour=False)
    mcp_act(story)
    status = finish(story, time.monotonic())
    out = capsys.readouterr().out
    assert status == 0
    assert "MCP: a client with no prior setup calls a tool (SKIPPED)" in out
    assert "the mcp SDK is not installed: pip install -e '.[mcp]'" in out
    assert "checks passed" in out
    assert "(skipped: MCP)" in out
    assert story.failures == []


def run_printed_commands(text: str) -> None:
    """The "Try it" lines as a person pastes them: curl for a token, curl with it, the key
    rotation (a shell line continued with a backslash)."""
    import json
    import shlex

    curl = "/usr/bin/curl"
    if not Path(curl).exists():
        pytest.skip("no /usr/bin/curl")
    tried = text.split("Try it:", 1)[1]
    lines = [line.strip() for line in tried.splitlines() if line.strip().startswith("curl ")]
    assert len(lines) == 2, tried
    get_token, call_api = (shlex.split(line) for line in lines)
    assert "<access_token>" not in lines[0]
    issued = subprocess.run([curl, *get_token[1:]], capture_output=True, text=True, timeout=30)
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)["access_token"]
    filled = [arg.replace("<access_token>", token) for arg in call_api]
    called = subprocess.run([curl, *filled[1:]], capture_output=True, text=True, timeout=30)
    assert called.returncode == 0, called.stderr
    assert called.stdout.startswith("HTTP/1.1 200"), called.stdout
    rotate = re.search(r"^\s*(TESSERA_KEK_FILE=.*\\\n.*keys rotate.*)$", tried, re.MULTILINE)
    assert rotate, tried
    rotated = subprocess.run(
        ["/bin/sh", "-c", rotate.group(1)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "published now" in rotated.stdout


def test_serve_keeps_both_running_until_stopped_then_cleans_up() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tessera._demo", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "keys rotate --database" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(60), "".join(lines)
        text = "".join(lines)
        urls = dict(
            re.findall(r"^\s+(API docs|JWKS|metadata|token debugger)\s+(\S+)", text, re.MULTILINE)
        )
        assert set(urls) == {"API docs", "JWKS", "metadata", "token debugger"}, text
        for url in urls.values():
            assert httpx.get(url, timeout=10).status_code == 200, url
        client_id = re.search(r"lab-assistant\s+scope=lab:enter\s+client_id=(\S+)", text)
        secret = re.search(r"client_secret=(\S+)", text)
        assert client_id
        assert secret
        token_url = urls["metadata"].split("/.well-known")[0] + "/token"
        reply = httpx.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=(client_id.group(1), secret.group(1)),
        )
        assert reply.status_code == 200
        api = urls["API docs"].removesuffix("/docs")
        lab = httpx.get(
            api + "/lab", headers={"Authorization": f"Bearer {reply.json()['access_token']}"}
        )
        assert lab.status_code == 200
        run_printed_commands(text)
        folder = re.search(r"deletes (\S+?)\)", text)
        assert folder
        assert Path(folder.group(1)).exists()
    finally:
        proc.send_signal(signal.SIGTERM)  # as Ctrl-C; SIGINT may be ignored in background jobs
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0, "".join(lines)
    assert not Path(folder.group(1)).exists()
