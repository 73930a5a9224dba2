"""The README's FastAPI example works as written: its ``api.py`` (only the ports changed to
free ones) runs under ``uvicorn api:app`` against a real ``tessera serve``, and every reply its
console session shows is the one the running system gives: the 401 challenge names the RFC 9728
document, install() serves it, and a token from the issuer opens /lab."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from serverhelp import ServeProcess, cli, free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text()
    return text.split("<!-- resource:begin -->", 1)[1].split("<!-- resource:end -->", 1)[0]


def block(kind: str) -> str:
    found = re.findall(rf"```{kind}\n(.*?)```", section(), re.DOTALL)
    assert found, f"no {kind} block in the resource section"
    return str(found[0])


@dataclass
class Running:
    issuer: str
    api: str
    console: str
    client_id: str
    secret: str


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("readme-fastapi")
    serve = ServeProcess("tessera.db", {"TESSERA_KEK": ""}, folder)
    api_port = free_port()

    def ported(text: str) -> str:
        for port, free in (("8000", serve.port), ("8001", api_port)):
            text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{free}")
            text = text.replace(f"--port {port}", f"--port {free}")
        return text

    console = ported(block("console"))
    (folder / "api.py").write_text(ported(block("python")))
    api = subprocess.Popen(
        [sys.executable, "-m", *shlex.split(re.search(r"^\$ (uvicorn .*)$", console, re.M)[1])],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        serve.wait_ready()
        add = re.search(r"^\$ tessera (clients add .*)$", console, re.MULTILINE)
        assert add, console
        added = cli(*shlex.split(add[1]), "--json", "--database", "tessera.db", cwd=folder)
        assert added.returncode == 0, added.stderr
        view = json.loads(added.stdout)
        api_url = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 30
        while True:
            assert api.poll() is None, api.stdout.read() if api.stdout else ""
            try:
                httpx.get(api_url + "/docs", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn api:app did not start"
                time.sleep(0.1)
        yield Running(serve.url, api_url, console, view["client_id"], view["client_secret"])
    finally:
        api.terminate()
        api.wait(10)
        if api.stdout is not None:
            api.stdout.close()
        serve.stop()


def shown_after(console: str, command: str) -> list[str]:
    """The output lines the README shows after the command line starting with ``command``."""
    lines = console.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("$ " + command))
    shown = []
    for line in lines[start + 1 :]:
        if line.startswith("$ "):
            break
        shown.append(line)
    return shown


def test_without_a_token_the_challenge_names_the_metadata(running: Running) -> None:
    status, header = shown_after(running.console, "curl -i")
    reply = httpx.get(running.api + "/lab")
    assert status == f"HTTP/1.1 {reply.status_code} Unauthorized"
    name, value = header.split(": ", 1)
    assert reply.headers[name] == value


def test_install_serves_the_document_the_readme_shows(running: Running) -> None:
    (shown,) = shown_after(running.console, "curl http")
    reply = httpx.get(running.api + "/.well-known/oauth-protected-resource")
    assert reply.status_code == 200
    assert reply.json() == json.loads(shown)
    assert reply.json()["authorization_servers"] == [running.issuer]


def test_a_token_from_the_issuer_opens_the_lab(running: Running) -> None:
    issued = httpx.post(
        running.issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=(running.client_id, running.secret),
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    lab = httpx.get(running.api + "/lab", headers={"Authorization": f"Bearer {token}"})
    assert lab.status_code == 200, lab.text
    (shown,) = shown_after(running.console, 'curl -H "Authorization')
    assert lab.json() == json.loads(shown.replace("<the client id>", running.client_id))
