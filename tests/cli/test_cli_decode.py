"""``tessera decode``: input forms, the UNVERIFIED banner, times, colour and JSON."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
from clihelp import COMMAND, KeyFiles, Runner, clean_env

import tessera


def test_decode_prints_header_claims_and_unverified_banner(run: Runner, keys: KeyFiles) -> None:
    result = run("decode", keys.token())
    assert result.code == 0, result.err
    assert result.out.startswith("UNVERIFIED")
    assert '"alg": "ES256"' in result.out
    assert '"sub": "alice"' in result.out
    assert "\x1b[" not in result.out


@pytest.mark.parametrize(
    "wrap",
    ["Bearer {}", "  {}\n", "bearer {}", "Authorization: Bearer {}", '"{}"', "\t{}\r\n"],
)
def test_decode_accepts_pasted_forms(run: Runner, keys: KeyFiles, wrap: str) -> None:
    pasted = wrap.format(keys.token())
    assert run("decode", pasted, "--json").json()["claims"]["sub"] == "alice"
    assert run("decode", "-", "--json", stdin=pasted).json()["claims"]["sub"] == "alice"


def test_decode_reads_a_pipe_when_no_token_is_given(run: Runner, keys: KeyFiles) -> None:
    result = run("decode", "--json", stdin=keys.token() + "\n")
    assert result.json()["claims"]["sub"] == "alice"


def test_decode_with_empty_input_is_a_usage_error(run: Runner) -> None:
    result = run("decode", stdin="")
    assert result.code == 2
    assert result.err == "tessera: the token is empty\n"


def test_decode_of_a_malformed_token_is_rejected_in_one_line(run: Runner) -> None:
    result = run("decode", "not.a-token")
    assert result.code == 1
    assert result.err.startswith("tessera: token rejected: ")
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err


def test_decode_of_a_jwe_says_so(run: Runner) -> None:
    result = run("decode", "eyJhbGciOiJkaXIifQ.a.b.c.d")
    assert result.code == 1
    assert "JWE" in result.err


def test_decode_shows_alg_none_tokens_without_verifying(run: Runner) -> None:
    token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."
    doc = run("decode", token, "--json").json()
    assert doc["header"] == {"alg": "none"}
    assert doc["verified"] is False


def test_decode_json_has_times_in_iso_and_relative_form(run: Runner, keys: KeyFiles) -> None:
    token = keys.token({"exp": 1_700_000_000 - 180, "iat": 1_700_000_000 - 3600})
    doc = run("decode", token, "--json", "--now", "@1700000000").json()
    assert doc["times"]["exp"] == {
        "value": 1_699_999_820,
        "iso": "2023-11-14T22:10:20Z",
        "relative": "expired 3 min ago",
    }
    assert doc["times"]["iat"]["relative"] == "issued 60 min ago"


def test_decode_human_output_shows_expiry_in_future(run: Runner, keys: KeyFiles) -> None:
    token = keys.token({"exp": 1_700_000_000 + 15 * 60})
    out = run("decode", token, "--now", "@1700000000").out
    assert "2023-11-14T22:28:20Z" in out
    assert "expires in 15 min" in out


def _decode_on_a_pty(token: str, env: dict[str, str]) -> str:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [*COMMAND, "decode", token],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(follower)
        follower = -1
        assert proc.returncode == 0, proc.stderr
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_decode_colours_a_terminal(keys: KeyFiles) -> None:
    out = _decode_on_a_pty(keys.token(), clean_env(TERM="xterm"))
    assert "\x1b[1;31mUNVERIFIED\x1b[0m" in out
    assert "\x1b[36m" in out


def test_decode_honours_no_color_on_a_terminal(keys: KeyFiles) -> None:
    out = _decode_on_a_pty(keys.token(), clean_env(TERM="xterm", NO_COLOR="1"))
    assert "UNVERIFIED" in out
    assert "\x1b[" not in out


def test_decode_color_always_forces_colour_into_a_pipe(run: Runner, keys: KeyFiles) -> None:
    assert "\x1b[" in run("decode", keys.token(), "--color", "always").out
    env = clean_env(NO_COLOR="1")
    assert "\x1b[" in run("decode", keys.token(), "--color", "always", env=env).out


def test_decode_json_is_never_coloured(run: Runner, keys: KeyFiles) -> None:
    result = run("decode", keys.token(), "--json", "--color", "always")
    assert "\x1b[" not in result.out
    assert result.json()["header"]["alg"] == "ES256"


def test_decode_does_not_import_cryptography(keys: KeyFiles) -> None:
    probe = (
        "import sys\n"
        "from tessera.cli import main\n"
        "status = main(['decode', sys.argv[1], '--json'])\n"
        "assert status == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "               ('cryptography', 'urllib', 'http', 'ssl', 'email', 'shutil'))\n"
        "print(heavy, file=sys.stderr)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, keys.token()],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_plain_decode_skips_argparse_and_prints_the_same(run: Runner, keys: KeyFiles) -> None:
    probe = (
        "import sys\n"
        "from tessera.cli import main\n"
        "assert main(['decode', sys.argv[1]]) == 0\n"
        "sys.exit(1 if 'argparse' in sys.modules else 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, keys.token()],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == run("decode", keys.token(), "--color", "auto").out
    assert run("decode", stdin=keys.token()).out == proc.stdout


def test_python_dash_m_tessera_runs_the_same_cli(keys: KeyFiles) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tessera", "decode", keys.token(), "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["claims"] == tessera.decode_unverified(keys.token())[1]
