"""The server commands as a person runs them: ``python -m tessera.server ...`` in a subprocess."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serverhelp import Databases, ServeProcess, cli

import tessera


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def db(databases: Databases, backend: str) -> str:
    return databases.new(backend)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_defining_parsers_imports_no_web_or_sql_library() -> None:
    code = (
        "import argparse, sys\n"
        "from tessera.server._cli import add_commands\n"
        "p = argparse.ArgumentParser(); add_commands(p.add_subparsers())\n"
        "p.parse_args(['clients', 'add', 'x', '--scope', 'a'])\n"
        "heavy = {'starlette', 'sqlalchemy', 'uvicorn', 'alembic', 'httpx', 'psycopg'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_help_lists_every_command() -> None:
    out = ok(cli("--help"))
    for command in ("serve", "db", "keys", "clients", "users", "audit"):
        assert command in out
    assert "rotate-secret" in ok(cli("clients", "--help"))
    assert "retire" in ok(cli("keys", "--help"))


def test_db_upgrade_reports_revision(db: str, workdir: Path) -> None:
    assert "revision 0008" in ok(cli("db", "upgrade", "--database", db, cwd=workdir))
    assert "revision 0008" in ok(cli("db", "upgrade", "--database", db, cwd=workdir))


def test_clients_lifecycle(db: str, workdir: Path) -> None:
    added = json.loads(
        ok(
            cli(
                "clients",
                "add",
                "reports",
                "--scope",
                "read:docs write:docs",
                "--audience",
                "https://api.example",
                "--json",
                "--database",
                db,
                cwd=workdir,
            )
        )
    )
    secret = added["client_secret"]
    assert len(secret) >= 43
    assert added["scope"] == "read:docs write:docs"
    listed = ok(cli("clients", "list", "--database", db, cwd=workdir))
    assert "reports" in listed
    assert secret not in listed
    shown = json.loads(ok(cli("clients", "show", "reports", "--json", "--database", db)))
    assert shown["client_id"] == added["client_id"]
    assert secret not in json.dumps(shown)
    assert "secret_hash" not in shown
    rotated = json.loads(ok(cli("clients", "rotate-secret", "reports", "--json", "--database", db)))
    assert rotated["client_secret"] != secret
    human = ok(cli("clients", "rotate-secret", added["client_id"], "--database", db))
    assert "shown once" in human
    duplicate = cli(
        "clients",
        "add",
        "reports",
        "--scope",
        "a",
        "--audience",
        "https://x.example",
        "--database",
        db,
    )
    assert duplicate.returncode == 2
    assert "already exists" in duplicate.stderr
    ok(cli("clients", "remove", "reports", "--database", db))
    missing = cli("clients", "show", "reports", "--database", db)
    assert missing.returncode == 2
    assert "no client" in missing.stderr


def test_clients_add_with_jwks_stores_public_keys_only(db: str, workdir: Path) -> None:
    key = tessera.Key.generate("ES256")
    jwks_file = workdir / "client.jwks"
    jwks_file.write_text(json.dumps({"keys": [key.to_jwk(private=True)]}))
    added = json.loads(
        ok(
            cli(
                "clients",
                "add",
                "batch",
                "--scope",
                "read:docs",
                "--audience",
                "https://api.example",
                "--jwks",
                str(jwks_file),
                "--json",
                "--database",
                db,
            )
        )
    )
    assert "client_secret" not in added
    assert added["token_endpoint_auth_methods"] == ["private_key_jwt"]
    assert "d" not in added["jwks"]["keys"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audience", "not a uri"], "audience"),
        (["--scope", 'bad"scope'], "scope"),
        (["--jwks", "/nonexistent.jwks"], "cannot read"),
        (["--grant", "authorization_code"], "needs at least one --redirect-uri"),
        (["--redirect-uri", "http://app.example/cb"], "must be https"),
        (["--redirect-uri", "https://app.example/cb#frag"], "without a fragment"),
        (["--redirect-uri", "/relative/cb"], "must be https"),
        (["--type", "public", "--grant", "client_credentials"], "public client cannot"),
        (["--type", "public"], "needs at least one --redirect-uri"),
        (["--grant", "password"], "invalid choice"),
    ],
)
def test_clients_add_refuses_bad_input(db: str, args: list[str], message: str) -> None:
    result = cli("clients", "add", "bad", *args, "--database", db)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_clients_add_refuses_symmetric_jwks(db: str, workdir: Path) -> None:
    jwks_file = workdir / "oct.jwks"
    secret_key = tessera.Key.from_secret(os.urandom(32), "HS256", kid="k")
    jwks_file.write_text(json.dumps({"keys": [secret_key.to_jwk(private=True)]}))
    result = cli("clients", "add", "oct", "--jwks", str(jwks_file), "--database", db)
    assert result.returncode == 2
    assert "asymmetric" in result.stderr


def test_keys_rotate_list_retire(db: str, workdir: Path) -> None:
    env = {"TESSERA_KEK_FILE": str(workdir / "kek")}
    assert "no keys yet" in ok(cli("keys", "list", "--database", db, env=env))
    first = json.loads(ok(cli("keys", "rotate", "--now", "--json", "--database", db, env=env)))
    assert first["state"] == "active"
    pending = json.loads(ok(cli("keys", "rotate", "--json", "--database", db, env=env)))
    assert pending["state"] == "pending"
    again = cli("keys", "rotate", "--database", db, env=env)
    assert again.returncode == 2
    assert "already scheduled" in again.stderr
    listed = json.loads(ok(cli("keys", "list", "--json", "--database", db, env=env)))["keys"]
    assert {k["kid"]: k["state"] for k in listed} == {
        first["kid"]: "active",
        pending["kid"]: "pending",
    }
    retired = json.loads(
        ok(cli("keys", "retire", first["kid"], "--json", "--database", db, env=env))
    )
    assert retired["state"] == "retired"
    gone = cli("keys", "retire", "no-such-kid", "--database", db, env=env)
    assert gone.returncode == 2
    assert "no key" in gone.stderr
    id_ring = cli("keys", "rotate", "--now", "--alg", "RS256", "--json", "--database", db, env=env)
    assert json.loads(ok(id_ring))["alg"] == "RS256"
    unknown = cli("keys", "rotate", "--alg", "HS256", "--database", db, env=env)
    assert unknown.returncode == 2
    assert "no HS256 keys" in unknown.stderr


def test_keys_rotate_now_warns_of_verifier_cooldowns_and_names_the_safe_way(
    db: str, workdir: Path
) -> None:
    env = {"TESSERA_KEK_FILE": str(workdir / "kek")}
    helptext = ok(cli("keys", "rotate", "--help"))
    assert "Without --now (the safe way)" in helptext
    assert "refetch cooldown" in helptext
    now = cli("keys", "rotate", "--now", "--json", "--database", db, env=env)
    kid = json.loads(ok(now))["kid"]  # stdout stays one JSON document
    warning = " ".join(now.stderr.split())
    assert f"warning: {kid} signs now" in warning
    assert "rejects every token" in warning
    assert "rotate without --now" in warning
    assert "published 930 s before it signs" in warning  # jwks_max_age 900 + 30
    scheduled = cli("keys", "rotate", "--database", db, env=env)
    assert "published now, signs from" in ok(scheduled)
    assert "warning" not in scheduled.stderr


def test_unknown_setting_in_config_file_is_refused(workdir: Path) -> None:
    (workdir / "tessera.toml").write_text('[server]\ntoken_lifetme = "10m"\n')
    result = cli("db", "upgrade", cwd=workdir)
    assert result.returncode == 2
    assert "token_lifetme" in result.stderr


def test_serve_first_start_creates_database_key_and_kek(workdir: Path) -> None:
    server = ServeProcess("tessera.db", {"TESSERA_KEK": ""}, workdir)
    try:
        server.wait_ready()
        output = "".join(server.output)
        assert f"issuer   {server.url}" in output
        assert f"metadata {server.url}/.well-known/oauth-authorization-server" in output
        kek = workdir / "tessera.kek"
        assert stat.S_IMODE(kek.stat().st_mode) == 0o600
        assert (workdir / "tessera.db").exists()
        keys = httpx.get(server.url + "/jwks.json").json()["keys"]
        assert sorted(key["alg"] for key in keys) == ["ES256", "RS256"]  # access, ID tokens
    finally:
        server.stop()
    assert kek.read_text().strip() not in "".join(server.output)


def test_serve_refuses_kek_file_readable_by_others(workdir: Path) -> None:
    kek = workdir / "tessera.kek"
    kek.write_text("A" * 43 + "\n")
    kek.chmod(0o644)
    result = cli("serve", "--port", "1", cwd=workdir, env={"TESSERA_KEK": ""})
    assert result.returncode == 2
    assert "chmod 600" in result.stderr


def test_serve_with_two_workers_answers(databases: Databases, workdir: Path) -> None:
    server = ServeProcess(databases.new("sqlite"), {"TESSERA_KEK": ""}, workdir, "--workers", "2")
    try:
        server.wait_ready()
        meta = httpx.get(server.url + "/.well-known/oauth-authorization-server").json()
        assert meta["issuer"] == server.url
    finally:
        server.stop()


def test_unreachable_database_is_one_line_and_exit_2() -> None:
    from serverhelp import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    result = cli("clients", "list", "--database", url)
    assert result.returncode == 2
    assert "the database cannot be used" in result.stderr
    assert "Traceback" not in result.stderr


def test_clients_add_public_and_code_clients(db: str, workdir: Path) -> None:
    public = json.loads(
        ok(
            cli(
                "clients",
                "add",
                "spa",
                "--audience",
                "https://api.example",
                "--type",
                "public",
                "--scope",
                "read:docs",
                "--redirect-uri",
                "http://127.0.0.1:5173/callback",
                "--redirect-uri",
                "com.example.app:/callback",
                "--json",
                "--database",
                db,
                cwd=workdir,
            )
        )
    )
    assert "client_secret" not in public
    assert public["client_type"] == "public"
    assert public["token_endpoint_auth_methods"] == ["none"]
    assert public["grant_types"] == ["authorization_code", "refresh_token"]
    assert public["redirect_uris"] == [
        "http://127.0.0.1:5173/callback",
        "com.example.app:/callback",
    ]
    rotate = cli("clients", "rotate-secret", "spa", "--database", db, cwd=workdir)
    assert rotate.returncode == 2
    assert "public client" in rotate.stderr
    web = json.loads(
        ok(
            cli(
                "clients",
                "add",
                "web",
                "--audience",
                "https://api.example",
                "--scope",
                "read:docs offline_access",
                "--redirect-uri",
                "https://app.example/callback",
                "--grant",
                "authorization_code",
                "--grant",
                "client_credentials",
                "--json",
                "--database",
                db,
                cwd=workdir,
            )
        )
    )
    assert web["client_type"] == "confidential"
    assert len(web["client_secret"]) >= 43
    assert web["grant_types"] == ["authorization_code", "client_credentials"]
    human = ok(cli("clients", "show", "web", "--database", db, cwd=workdir))
    assert "redirect uri:  https://app.example/callback" in human


def _key_rows(db: str) -> list[tuple[str, bytes]]:
    from tessera.server.config import database_url
    from tessera.server.storage import keys as key_rows
    from tessera.server.storage.database import Database

    database = Database(database_url(db), pool_size=1)
    try:
        with database.read() as conn:
            return [(row.kid, row.private_jwk) for row in key_rows.list_keys(conn)]
    finally:
        database.dispose()


def _exits(server: ServeProcess, timeout: float = 60) -> int:
    try:
        return server.proc.wait(timeout)
    finally:
        server.stop()


def test_replica_without_the_kek_refuses_to_start(db: str, workdir: Path) -> None:
    first = ServeProcess(db, {"TESSERA_KEK": ""}, workdir)
    try:
        first.wait_ready()
    finally:
        first.stop()
    stored = _key_rows(db)
    assert len(stored) == 2
    elsewhere = workdir / "replica"
    elsewhere.mkdir()
    # no TESSERA_KEK and no kek file: it must not make a new KEK and answer 503
    replica = ServeProcess(db, {"TESSERA_KEK": ""}, elsewhere)
    assert _exits(replica) == 2, "".join(replica.output)
    output = "".join(replica.output)
    assert "no key-encryption key" in output
    assert "TESSERA_KEK or kek_file" in output
    assert "Traceback" not in output
    assert not (elsewhere / "tessera.kek").exists()
    assert _key_rows(db) == stored


def test_server_with_another_kek_refuses_to_start(db: str, workdir: Path) -> None:
    first = ServeProcess(db, {"TESSERA_KEK": ""}, workdir)
    try:
        first.wait_ready()
    finally:
        first.stop()
    stored = _key_rows(db)
    wrong = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    replica = ServeProcess(db, {"TESSERA_KEK": wrong}, workdir)
    assert _exits(replica) == 2, "".join(replica.output)
    output = "".join(replica.output)
    assert "cannot decrypt stored key" in output
    assert "not the key-encryption key it was stored with" in output
    assert "Traceback" not in output
    assert _key_rows(db) == stored  # nothing sealed with the wrong KEK was added
    rotate = cli("keys", "rotate", "--database", db, env={"TESSERA_KEK": wrong}, cwd=workdir)
    assert rotate.returncode == 2
    assert "cannot decrypt stored key" in rotate.stderr
    assert _key_rows(db) == stored


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--redirect-uri", "https://app.example/cb"],
        ["--type", "public", "--redirect-uri", "https://app.example/cb"],
    ],
)
def test_clients_add_without_any_audience_is_refused(db: str, extra: list[str]) -> None:
    result = cli("clients", "add", "lost", "--scope", "read:docs", *extra, "--database", db)
    assert result.returncode == 2
    assert "--audience" in result.stderr
    assert "default_audience" in result.stderr
    assert "Traceback" not in result.stderr
    listed = json.loads(ok(cli("clients", "list", "--json", "--database", db)))
    assert listed["clients"] == []  # refused before the client exists


def test_clients_add_without_audience_gets_default_audience_tokens(
    databases: Databases, workdir: Path
) -> None:
    db = databases.new("sqlite")
    env = {"TESSERA_DEFAULT_AUDIENCE": "https://api.example", "TESSERA_KEK": ""}
    added = json.loads(
        ok(
            cli(
                "clients", "add", "svc", "--scope", "read:docs", "--json", "--database", db, env=env
            )
        )
    )
    assert added["audiences"] == []
    server = ServeProcess(db, env, workdir)
    try:
        server.wait_ready()
        reply = httpx.post(
            server.url + "/token",
            data={"grant_type": "client_credentials"},
            auth=(added["client_id"], added["client_secret"]),
        )
        assert reply.status_code == 200, reply.text
        claims = tessera.decode_unverified(reply.json()["access_token"])[1]
        assert claims["aud"] == "https://api.example"
    finally:
        server.stop()


def test_openid_client_without_audience_is_allowed(db: str) -> None:
    # an OpenID client's access token is for UserInfo: it needs no API audience
    added = cli(
        "clients", "add", "rp", "--scope", "openid profile",
        "--redirect-uri", "https://rp.example/cb", "--json", "--database", db,
    )  # fmt: skip
    assert json.loads(ok(added))["audiences"] == []
