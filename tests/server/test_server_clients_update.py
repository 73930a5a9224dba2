"""``tessera clients update``: a client's scopes, audiences and redirect URIs fixed in place
(same id, same secret), checked like ``clients add``, recorded in the audit trail; and the
``clients`` help a newcomer reads."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
from serverhelp import Databases, ServeProcess, cli, running_server

import tessera
from tessera.server import registry
from tessera.server.errors import AdminError

API = "https://api.example"
CALLBACK = "https://app.example/callback"


@pytest.fixture
def db(databases: Databases, backend: str) -> str:
    return databases.new(backend)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def add(db: str, name: str, *args: str) -> dict:
    return dict(json.loads(ok(cli("clients", "add", name, *args, "--json", "--database", db))))


def update(db: str, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("clients", "update", name, *args, "--json", "--database", db)


def test_update_changes_each_list_and_keeps_the_client_id(db: str) -> None:
    added = add(db, "web", "--scope", "read:docs offline_access", "--audience", API,
                "--redirect-uri", CALLBACK)  # fmt: skip
    changed = json.loads(
        ok(
            update(
                db,
                "web",
                "--add-scope",
                "write:docs",
                "--remove-scope",
                "offline_access",
                "--add-audience",
                "https://reports.example",
                "--remove-redirect-uri",
                CALLBACK,
                "--add-redirect-uri",
                "https://app.example/cb2",
            )
        )
    )
    assert changed["client_id"] == added["client_id"]
    assert changed["scope"] == "read:docs write:docs"
    assert changed["audiences"] == [API, "https://reports.example"]
    assert changed["redirect_uris"] == ["https://app.example/cb2"]
    assert changed["token_endpoint_auth_methods"] == added["token_endpoint_auth_methods"]
    assert "client_secret" not in changed
    replaced = json.loads(
        ok(update(db, added["client_id"], "--scope", "admin:docs", "--audience", API,
                  "--redirect-uri", CALLBACK, "--redirect-uri", "com.example.app:/cb"))
    )  # fmt: skip
    assert replaced["scope"] == "admin:docs"
    assert replaced["audiences"] == [API]
    assert replaced["redirect_uris"] == [CALLBACK, "com.example.app:/cb"]
    shown = json.loads(ok(cli("clients", "show", "web", "--json", "--database", db)))
    assert {k: shown[k] for k in ("scope", "audiences", "redirect_uris")} == {
        k: replaced[k] for k in ("scope", "audiences", "redirect_uris")
    }
    human = ok(cli("clients", "update", "web", "--add-scope", "admin:docs", "--database", db))
    assert "nothing changed" in human


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to change"),
        (["--remove-scope", "write:dcos"], "'write:dcos' is not among its scopes"),
        (["--remove-audience", "https://nowhere.example"], "is not among its audiences"),
        (["--add-scope", 'bad"scope'], "not a valid scope token"),
        (["--add-audience", "not a uri"], "must be an absolute URI"),
        (["--add-redirect-uri", "http://app.example/cb"], "must be https"),
        (["--remove-redirect-uri", CALLBACK], "needs at least one redirect URI"),
        (["--remove-audience", API], "no --audience and no default_audience"),
        (["--audience", "https://x.example", "--remove-audience", "https://x.example"],
         "no --audience and no default_audience"),
    ],
)  # fmt: skip
def test_update_refuses_what_add_would_refuse(db: str, args: list[str], message: str) -> None:
    add(db, "web", "--scope", "read:docs write:docs", "--audience", API, "--redirect-uri", CALLBACK)
    before = ok(cli("clients", "show", "web", "--json", "--database", db))
    refused(update(db, "web", *args), message)
    assert ok(cli("clients", "show", "web", "--json", "--database", db)) == before


def test_update_of_an_unknown_client_is_refused(db: str) -> None:
    refused(update(db, "nobody", "--add-scope", "read:docs"), "no client 'nobody'")


def test_removing_the_last_audience_is_fine_with_a_default_audience(databases: Databases) -> None:
    db = databases.new("sqlite")
    add(db, "svc", "--scope", "read:docs", "--audience", API)
    env = {"TESSERA_DEFAULT_AUDIENCE": API}
    result = cli("clients", "update", "svc", "--remove-audience", API, "--json", "--database", db,
                 env=env)  # fmt: skip
    assert json.loads(ok(result))["audiences"] == []


def test_a_fixed_audience_takes_effect_with_the_same_secret(
    databases: Databases, tmp_path: Path
) -> None:
    db = databases.new("sqlite")
    typo = add(db, "reports", "--scope", "read:docs", "--audience", "https://api.exmaple")
    server = ServeProcess(db, {"TESSERA_KEK": ""}, tmp_path)
    credentials = (typo["client_id"], typo["client_secret"])
    grant = {"grant_type": "client_credentials"}
    try:
        server.wait_ready()
        wrong = httpx.post(server.url + "/token", data={**grant, "resource": API}, auth=credentials)
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_target"
        ok(update(db, "reports", "--audience", API))
        fixed = httpx.post(server.url + "/token", data={**grant, "resource": API}, auth=credentials)
        assert fixed.status_code == 200, fixed.text
        assert tessera.decode_unverified(fixed.json()["access_token"])[1]["aud"] == API
    finally:
        server.stop()


def test_a_self_registered_client_is_not_updated_by_the_cli(databases: Databases) -> None:
    with running_server(databases.new("sqlite"), "sqlite", registration=True) as served:
        reply = served.http.post(
            "/register",
            json={"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"},
        )
        assert reply.status_code == 201, reply.text
        with pytest.raises(AdminError, match="registration access token"):
            registry.update_client(
                served.db,
                reply.json()["client_id"],
                redirect_uris=registry.ListChange(add=("https://app.example/other",)),
                now=served.clock(),
            )


# -- the help a newcomer reads ---------------------------------------------------------------


def _examples(help_text: str) -> list[str]:
    """The example commands of a help page, continuation lines joined."""
    text = help_text.split("examples:", 1)[1].replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.strip()]


def _parser() -> argparse.ArgumentParser:
    from tessera.cli._parser import build_parser

    return build_parser()


@pytest.mark.parametrize("command", [["clients"], ["clients", "update"]])
def test_help_examples_are_whole_commands_that_parse(command: list[str]) -> None:
    out = ok(cli(*command, "--help"))
    epilog = out.split("examples:", 1)[1]
    for line in epilog.splitlines():
        assert len(line) <= 100, line  # no continuation folded into one long line
        if line.rstrip().endswith("\\"):
            assert line.endswith(" \\"), line
    examples = _examples(out)
    assert len(examples) >= 3
    parser = _parser()
    for example in examples:
        words = shlex.split(example)
        assert words[0] == "tessera", example
        parser.parse_args(words[1:])  # SystemExit (a failure) if it does not parse


def test_help_names_the_grants_the_server_has() -> None:
    from tessera.server.grants import GRANT_TYPES

    for command in (["serve"], ["clients"], ["clients", "add"]):
        text = re.sub(r"\s+", " ", ok(cli(*command, "--help")))
        for grant in GRANT_TYPES:
            assert grant in text, (command, grant)


# -- tessera.db ------------------------------------------------------------------------------


def test_an_existing_database_readable_by_others_is_named_in_a_warning(tmp_path: Path) -> None:
    ok(cli("clients", "list", "--database", "tessera.db", cwd=tmp_path))
    file = tmp_path / "tessera.db"
    quiet = cli("clients", "list", "--database", "tessera.db", cwd=tmp_path)
    assert "warning" not in quiet.stderr, quiet.stderr
    file.chmod(0o644)  # made by an older Tessera, before new databases were 0600
    warned = cli("clients", "list", "--database", "tessera.db", cwd=tmp_path)
    ok(warned)
    assert warned.stderr.count("tessera: warning: ") == 1, warned.stderr
    assert "tessera.db is readable by others (mode 644)" in warned.stderr, warned.stderr
    assert "chmod 600" in warned.stderr
    assert stat.S_IMODE(file.stat().st_mode) == 0o644  # the owner's choice is left alone
    server = ServeProcess("tessera.db", {"TESSERA_KEK": ""}, tmp_path, "--log-format", "json")
    try:
        server.wait_ready()
        logged = [json.loads(line) for line in server.output if "readable by others" in line]
        assert [line["level"] for line in logged] == ["WARNING"], server.output
    finally:
        server.stop()
    file.chmod(0o600)
    assert "warning" not in cli("clients", "list", "--database", "tessera.db", cwd=tmp_path).stderr


def test_a_new_sqlite_database_is_created_0600(tmp_path: Path) -> None:
    result = cli("clients", "list", "--database", "tessera.db", cwd=tmp_path)
    ok(result)
    assert stat.S_IMODE((tmp_path / "tessera.db").stat().st_mode) == 0o600
    server = ServeProcess("served.db", {"TESSERA_KEK": ""}, tmp_path)
    try:
        server.wait_ready()
        files = sorted(tmp_path.glob("served.db*"))
        assert {"served.db", "served.db-wal"} <= {f.name for f in files}
        for file in files:  # the database and its -wal and -shm while it runs
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    finally:
        server.stop()
