"""`make demo-mcp` end to end: Tessera and an MCP server as real subprocesses, the MCP SDK's
client registering, signing in, calling the tool, refreshing; the story's key lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    return subprocess.run(
        [sys.executable, "-m", "tessera._demo", "--mcp"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
    )


def test_demo_mcp_exits_zero_with_every_check_passed(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert re.search(r"Everything behaved as told: \d+ checks passed", demo.stdout)
    assert "UNEXPECTED" not in demo.stdout


def test_demo_mcp_shows_the_challenge_registration_and_tool_results(
    demo: subprocess.CompletedProcess[str],
) -> None:
    out = demo.stdout
    assert re.search(
        r'401  WWW-Authenticate: Bearer scope="mcp:tools", resource_metadata="http', out
    )
    assert re.search(r"/register \(RFC 7591\): client_id=\S+ auth=none", out)
    assert "tools/call add(2, 3) -> 5" in out
    assert "refreshed: new access token" in out
    assert "tools/call add(40, 2) -> 42" in out
    assert 'error="insufficient_scope"' in out
    assert "\033[" not in out  # no colour off a terminal
