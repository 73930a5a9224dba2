"""``tessera debugger`` / ``python -m tessera.debugger``: a local server, browser or URL."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from debuggerhelp import Client, free_socket

from tessera.debugger import _cli

ROOT = Path(__file__).resolve().parents[2]


def _args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"port": 0, "no_browser": True, **values})


def test_no_browser_prints_the_url_and_serves_the_page() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tessera.debugger", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Tessera debugger at http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode()
            assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "<title>Tessera debugger</title>" in page
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "Traceback" not in err
    assert "GET /" not in err  # no access log: request lines are not printed


def test_run_opens_the_browser_at_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    opened: list[str] = []

    def open_browser(url: str) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr("webbrowser.open", open_browser)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    assert _cli.run(_args(no_browser=False)) == 0
    assert len(opened) == 1
    assert opened[0].startswith("http://127.0.0.1:")


def test_run_without_a_browser_says_to_open_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr("webbrowser.open", lambda url: False)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    assert _cli.run(_args(no_browser=False)) == 0
    assert "no browser found" in capsys.readouterr().out


def test_busy_port_exits_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    busy = free_socket()
    try:
        assert _cli.run(_args(port=busy.getsockname()[1])) == 2
    finally:
        busy.close()
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_invalid_port_exits_with_status_2() -> None:
    assert _cli.run(_args(port=70000)) == 2


def test_add_command_defines_the_debugger_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="tessera")
    _cli.add_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["debugger", "--port", "8123", "--no-browser"])
    assert (args.command, args.port, args.no_browser) == ("debugger", 8123, True)
    assert callable(args.handler)
    assert parser.parse_args(["debugger"]).no_browser is False


def test_local_app_refuses_requests_for_other_host_names() -> None:
    # DNS rebinding: a site whose name now points at 127.0.0.1 still sends its own Host.
    app = _cli.build_local_app()
    assert Client(app, "http://127.0.0.1:8000").get("/").status_code == 200
    assert Client(app, "http://localhost:8000").get("/").status_code == 200
    assert Client(app, "http://attacker.example").get("/").status_code == 400


def test_cli_module_imports_no_web_framework() -> None:
    code = (
        "import sys, tessera.debugger, tessera.debugger._cli;"
        "print(sorted(m for m in ('starlette', 'uvicorn', 'anyio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_install_test_tools_script_does_nothing_when_the_tools_are_there() -> None:
    script = ROOT / "scripts" / "install-test-tools.sh"
    assert os.access(script, os.X_OK)
    if not all(shutil.which(tool) for tool in ("chromium", "zsh", "fish")):
        pytest.skip("a test tool is missing here: the script would run apt-get")
    out = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "test tools: chromium, zsh, fish, node and npm present"
