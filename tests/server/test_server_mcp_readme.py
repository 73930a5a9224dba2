"""The README's "Protect an MCP server" section works as written: its tessera.toml and
mcp_server.py (only the ports changed to free ones) run under a real ``tessera serve`` and
uvicorn, and the official SDK client registers, signs in and calls the tool."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcphelp import MemoryStorage, Person, call_add_twice_with_a_refresh, provider_for, serve_asgi
from serverhelp import ServeProcess, User, bound_socket

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "correct horse battery"


def section() -> str:
    text = README.read_text()
    return text.split("<!-- mcp:begin -->", 1)[1].split("<!-- mcp:end -->", 1)[0]


def block(kind: str) -> str:
    found = re.findall(rf"```{kind}\n(.*?)```", section(), re.DOTALL)
    assert len(found) == 1, f"one {kind} block expected in the MCP section"
    return str(found[0])


class Running:
    def __init__(self, issuer: str, mcp_url: str) -> None:
        self.issuer = issuer
        self.mcp_url = mcp_url


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("readme-mcp")
    sock = bound_socket()
    mcp_port = int(sock.getsockname()[1])
    (folder / "tessera.toml").write_text(
        block("toml").replace("127.0.0.1:8001", f"127.0.0.1:{mcp_port}")
    )
    env = {"TESSERA_CONFIG": str(folder / "tessera.toml"), "TESSERA_KEK_FILE": "tessera.kek"}
    added = subprocess.run(
        [sys.executable, "-m", "tessera", "users", "add", "alice", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, **env},
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    serve = ServeProcess("tessera.db", env, folder)
    try:
        serve.wait_ready()
        code = block("python").replace("127.0.0.1:8000", f"127.0.0.1:{serve.port}")
        code = code.replace("127.0.0.1:8001", f"127.0.0.1:{mcp_port}")
        (folder / "mcp_server.py").write_text(code)
        app = runpy.run_path(str(folder / "mcp_server.py"))["app"]
        with serve_asgi(app, sock):
            yield Running(serve.url, f"http://127.0.0.1:{mcp_port}/mcp")
    finally:
        serve.stop()


def test_readme_settings_and_server_let_the_sdk_client_call_the_tool(running: Running) -> None:
    person = Person(running.issuer, User("alice", PASSWORD, ""))
    storage = MemoryStorage()
    provider = provider_for(running.mcp_url, person, storage, None)
    result = anyio.run(call_add_twice_with_a_refresh, running.mcp_url, provider, storage)
    assert result == ("5", "42")


def test_readme_challenge_is_what_the_section_says(running: Running) -> None:
    answer = httpx.post(running.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert answer.status_code == 401
    metadata = running.mcp_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    challenge = answer.headers["www-authenticate"]
    assert 'scope="mcp:tools"' in challenge
    assert f'resource_metadata="{metadata}"' in challenge
    assert 'scope="mcp:tools", resource_metadata=' in section().replace("8001", "8001")
