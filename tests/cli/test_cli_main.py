"""The command line as a whole: help, version, errors, --debug, --json, completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from clihelp import KeyFiles, Runner

COMMANDS = ["keygen", "jwk", "encode", "decode", "verify", "lint", "completion"]


def _need(shell: str) -> None:
    """Skip without ``shell`` (fail instead with TESSERA_REQUIRE_SERVICES=1, as CI runs)."""
    if shutil.which(shell) is None:
        reason = f"{shell} is not installed: run scripts/install-test-tools.sh"
        if os.environ.get("TESSERA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


def test_help_lists_every_command_and_a_session(run: Runner) -> None:
    result = run("--help")
    assert result.code == 0
    for command in COMMANDS:
        assert command in result.out
    assert "tessera verify" in result.out


@pytest.mark.parametrize("command", ["keygen", "encode", "decode", "verify", "lint", "jwk"])
def test_each_command_has_help_with_examples(run: Runner, command: str) -> None:
    result = run(command, "--help")
    assert result.code == 0
    assert "examples:" in result.out
    if command != "jwk":
        assert "--json" in result.out


def test_version(run: Runner) -> None:
    result = run("--version")
    assert result.code == 0
    assert result.out.startswith("tessera ")


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["decode", "--frobnicate"], ["jwk"]])
def test_usage_errors_are_one_line_and_exit_2(run: Runner, argv: list[str]) -> None:
    result = run(*argv)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("tessera: ")
    assert "--help')" in result.err
    assert "Traceback" not in result.err


def test_debug_adds_a_traceback(run: Runner) -> None:
    plain = run("decode", "abc")
    debug = run("decode", "abc", "--debug")
    assert plain.code == debug.code == 1
    assert "Traceback" not in plain.err
    assert "Traceback" in debug.err
    assert debug.err.rstrip().endswith(plain.err.rstrip())


@pytest.mark.parametrize(
    "argv",
    [
        ["decode", "abc", "--json"],
        ["lint", "abc", "--json"],
        ["jwk", "thumbprint", "/nonexistent/key.jwk", "--json"],
        ["encode", "--secret-env", "TESSERA_SURELY_UNSET", "--json"],
        ["verify", "abc", "--json"],
        ["keygen", "none", "--json"],
    ],
)
def test_json_errors_are_one_json_document(run: Runner, argv: list[str]) -> None:
    result = run(*argv)
    assert result.code in (1, 2)
    error = json.loads(result.out)["error"]
    assert set(error) == {"code", "message"}


def test_every_command_speaks_json(run: Runner, keys: KeyFiles, tmp_path: Path) -> None:
    token = keys.token()
    outputs = [
        run("keygen", "ES256", "--out", "k.jwk", "--json", cwd=tmp_path),
        run("jwk", "public", str(keys.ec_private), "--json"),
        run("jwk", "thumbprint", str(keys.ec_private), "--json"),
        run("jwk", "set", str(keys.ec_public), "--json"),
        run("encode", "--key", str(keys.ec_private), "--json"),
        run("decode", token, "--json"),
        run("verify", token, "--key", str(keys.ec_public), "--aud", "api", "--json"),
        run("lint", token, "--json", "--fail-on", "critical"),
        run("completion", "bash", "--json"),
    ]
    for result in outputs:
        assert result.code == 0, (result.argv, result.err)
        assert isinstance(json.loads(result.out), dict)


def test_closed_stdout_does_not_print_a_traceback(keys: KeyFiles) -> None:
    from clihelp import COMMAND, clean_env

    proc = subprocess.Popen(
        [*COMMAND, "jwk", "set", str(keys.jwks)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err


# -- completion ----------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_mention_every_command(run: Runner, shell: str) -> None:
    result = run("completion", shell)
    assert result.code == 0
    for command in COMMANDS:
        assert command in result.out
    assert "secret-env" in result.out
    assert "thumbprint" in result.out


def test_completion_bash_is_valid_bash(run: Runner, tmp_path: Path) -> None:
    script = tmp_path / "tessera.bash"
    script.write_text(run("completion", "bash").out)
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def _bash_complete(script: Path, words: list[str], cwd: Path) -> list[str]:
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({line})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_tessera\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.splitlines() if w]


@pytest.mark.parametrize(
    ("words", "expected", "absent"),
    [
        (["tessera", "de"], ["decode"], ["encode"]),
        (["tessera", "jwk", "th"], ["thumbprint"], []),
        (["tessera", "keygen", "ES"], ["ES256", "ES384"], ["RS256"]),
        (["tessera", "keygen", "--format", ""], ["jwk", "pem"], []),
        (["tessera", "verify", "--a"], ["--alg", "--aud", "--allow-no-exp"], ["--out"]),
        (["tessera", "jwk", "convert", "--t"], ["--to"], []),
        (["tessera", "lint", "--fail-on", "c"], ["critical"], []),
        (["tessera", "completion", ""], ["bash", "zsh", "fish"], []),
        (["tessera", "verify", "--key", "ke"], ["key.jwk"], []),
    ],
)
def test_completion_bash_completes_commands_options_and_values(
    run: Runner, tmp_path: Path, words: list[str], expected: list[str], absent: list[str]
) -> None:
    script = tmp_path / "tessera.bash"
    script.write_text(run("completion", "bash").out)
    (tmp_path / "key.jwk").write_text("{}")
    offered = _bash_complete(script, words, tmp_path)
    for word in expected:
        assert word in offered
    for word in absent:
        assert word not in offered


def test_completion_zsh_is_valid_zsh(run: Runner, tmp_path: Path) -> None:
    _need("zsh")
    script = tmp_path / "_tessera"
    script.write_text(run("completion", "zsh").out)
    proc = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_completion_fish_is_valid_fish(run: Runner, tmp_path: Path) -> None:
    _need("fish")
    script = tmp_path / "tessera.fish"
    script.write_text(run("completion", "fish").out)
    proc = subprocess.run(
        ["fish", "--no-execute", str(script)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_completion_zsh_and_fish_describe_options(run: Runner) -> None:
    zsh = run("completion", "zsh").out
    assert "'--out[private key file (mode 0600), or - for stdout]:file:_files'" in zsh
    assert "compdef _tessera tessera" in zsh
    fish = run("completion", "fish").out
    assert "-l fail-on -x -a 'info low medium high critical'" in fish
    assert "__fish_seen_subcommand_from jwk; and __fish_seen_subcommand_from set" in fish


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tessera ke", "keygen"),
        ("tessera jwk ", "thumbprint"),
        ("tessera keygen ES", "ES256K"),
        ("tessera lint --fail-on ", "critical"),
        ("tessera verify --k", "--key"),
    ],
)
def test_completion_fish_completes(run: Runner, tmp_path: Path, line: str, expected: str) -> None:
    _need("fish")
    script = tmp_path / "tessera.fish"
    script.write_text(run("completion", "fish").out)
    proc = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert expected in [row.split("\t")[0] for row in proc.stdout.splitlines()]


@pytest.mark.parametrize("command", ["serve", "db", "keys", "clients", "users", "debugger"])
def test_server_and_debugger_commands_plug_into_the_same_tree(run: Runner, command: str) -> None:
    assert command in run("--help").out
    result = run(command, "--help")
    assert result.code == 0, result.err
    assert result.out.startswith(f"usage: tessera {command}")
    assert f"-a {command}" in run("completion", "fish").out
