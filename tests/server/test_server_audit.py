"""The audit trail: every administrative command (clients, users, keys) is recorded in the
database with who, when, what and the changed fields, never a secret; ``tessera audit`` lists
them with --since, --action, --limit and --json; both backends."""

from __future__ import annotations

import calendar
import json
import os
import pwd
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from serverhelp import Databases, cli

from tessera.server.storage import audit
from tessera.server.storage.database import Database

ENV = {"TESSERA_KEK": "", "SUDO_USER": ""}
PASSWORD = "pw-correct-horse-battery-1"
NEW_PASSWORD = "pw-staple-and-more-words-2"
ACTOR = f"{pwd.getpwuid(os.geteuid()).pw_name}@{socket.gethostname()}"


@pytest.fixture
def db(databases: Databases, backend: str) -> str:
    return databases.new(backend)


def run(db: str, cwd: Path, *args: str, stdin: str | None = None) -> str:
    if stdin is None:
        result = cli(*args, "--database", db, env=ENV, cwd=cwd)
    else:
        result = subprocess.run(
            [sys.executable, "-m", "tessera.server", *args, "--database", db],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **ENV},
            cwd=cwd,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def events(db: str, cwd: Path, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(run(db, cwd, "audit", "--json", *args))["events"]
    return found


def test_every_admin_action_is_recorded(db: str, tmp_path: Path) -> None:
    started = time.time()
    added = json.loads(
        run(db, tmp_path, "clients", "add", "reports", "--scope", "read:docs",
            "--audience", "https://api.example", "--json")
    )  # fmt: skip
    secret = added["client_secret"]
    rotated = json.loads(run(db, tmp_path, "clients", "rotate-secret", "reports", "--json"))
    new_secret = rotated["client_secret"]
    run(db, tmp_path, "clients", "update", "reports", "--add-scope", "write:docs",
        "--add-audience", "https://reports.example")  # fmt: skip
    run(db, tmp_path, "users", "add", "alice", "--password-stdin", "--email", "a@example.com",
        stdin=PASSWORD + "\n")  # fmt: skip
    run(db, tmp_path, "users", "set-password", "alice", "--password-stdin",
        stdin=NEW_PASSWORD + "\n")  # fmt: skip
    run(db, tmp_path, "users", "update", "alice", "--name", "Alice Liddell")
    run(db, tmp_path, "users", "remove", "alice")
    key = json.loads(run(db, tmp_path, "keys", "rotate", "--json"))
    run(db, tmp_path, "keys", "retire", key["kid"], "--json")
    run(db, tmp_path, "clients", "remove", "reports")
    run(db, tmp_path, "clients", "list")  # reading is not an action
    run(db, tmp_path, "users", "list")

    listed = events(db, tmp_path)
    actions = [event["action"] for event in reversed(listed)]  # oldest first
    assert actions == [
        "clients add",
        "clients rotate-secret",
        "clients update",
        "users add",
        "users set-password",
        "users update",
        "users remove",
        "keys rotate",
        "keys retire",
        "clients remove",
    ]
    by_action = {event["action"]: event for event in listed}
    assert all(event["actor"] == ACTOR for event in listed)
    client_id = added["client_id"]
    assert by_action["clients add"]["target"] == client_id
    assert by_action["clients add"]["details"] == {
        "name": "reports",
        "client_type": "confidential",
        "token_endpoint_auth_methods": added["token_endpoint_auth_methods"],
        "grant_types": ["client_credentials"],
        "scope": "read:docs",
        "audiences": ["https://api.example"],
        "redirect_uris": [],
    }
    assert by_action["clients rotate-secret"]["target"] == client_id
    assert by_action["clients update"]["target"] == client_id
    assert by_action["clients update"]["details"] == {
        "name": "reports",
        "changed": ["scope", "audiences"],
        "scope": "read:docs write:docs",
        "audiences": ["https://api.example", "https://reports.example"],
        "was": {"scope": "read:docs", "audiences": ["https://api.example"]},
    }
    assert by_action["clients remove"]["details"] == {"name": "reports"}
    assert by_action["users add"]["target"] == "alice"
    assert by_action["users add"]["details"]["claims"] == ["email"]
    assert by_action["users update"]["details"] == {"set": ["name"], "unset": []}
    assert by_action["keys rotate"]["target"] == key["kid"]
    assert by_action["keys rotate"]["details"]["now"] is False
    assert by_action["keys retire"]["details"]["unpublish"] is False
    stamps = [calendar.timegm(time.strptime(e["at"], "%Y-%m-%dT%H:%M:%SZ")) for e in listed]
    assert all(int(started) <= stamp <= time.time() for stamp in stamps)

    database = Database(db if "://" in db else f"sqlite:///{db}")
    try:
        with database.read() as conn:
            stored = conn.exec_driver_sql("SELECT * FROM audit_events").all()
    finally:
        database.dispose()
    dump = json.dumps([list(map(str, row)) for row in stored]) + json.dumps(listed)
    for value in (secret, new_secret, PASSWORD, NEW_PASSWORD, "a@example.com", "Alice Liddell"):
        assert value not in dump  # secrets and claim values are never recorded


def test_listing_filters(db: str, tmp_path: Path) -> None:
    for name in ("one", "two", "three"):
        run(db, tmp_path, "clients", "add", name, "--scope", "read:docs",
            "--audience", "https://api.example")  # fmt: skip
    run(db, tmp_path, "keys", "rotate")
    assert events(db, tmp_path, "--action", "clients add") == events(
        db, tmp_path, "--action", "clients"
    )
    assert [e["details"]["name"] for e in events(db, tmp_path, "--action", "clients")] == [
        "three",
        "two",
        "one",
    ]
    assert [e["action"] for e in events(db, tmp_path, "--action", "keys")] == ["keys rotate"]
    assert events(db, tmp_path, "--action", "client") == []  # a group is a whole word
    assert events(db, tmp_path, "--action", "clients%") == []  # no LIKE wildcards
    assert len(events(db, tmp_path, "--limit", "2")) == 2
    assert len(events(db, tmp_path, "--since", "1h")) == 4
    assert events(db, tmp_path, "--since", "2999-01-01") == []
    assert len(events(db, tmp_path, "--since", "2000-01-01T00:00:00Z")) == 4
    text = run(db, tmp_path, "audit", "--action", "clients", "--limit", "1")
    assert text.count("\n") == 1
    assert "clients add" in text
    assert 'name="three"' in text
    assert ACTOR in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--limit", "0"), "--limit"),
        (("--since", "yesterday"), "--since"),
        (("--since", "2026-13-45"), "--since"),
    ],
)
def test_bad_listing_options_are_refused(
    args: tuple[str, ...], message: str, db: str, tmp_path: Path
) -> None:
    result = cli("audit", *args, "--database", db, env=ENV, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_trail_and_the_main_command_line(db: str, tmp_path: Path) -> None:
    assert run(db, tmp_path, "audit") == "no audit events\n"
    main = subprocess.run(
        [sys.executable, "-m", "tessera", "audit", "--json", "--database", db],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=tmp_path,
        timeout=120,
    )
    assert main.returncode == 0, main.stderr
    assert json.loads(main.stdout) == {"events": []}


def test_the_repository_escapes_and_orders(db: str) -> None:
    from tessera.server.storage import migrate

    database = Database(db)
    try:
        migrate.upgrade(database)
        with database.write() as conn:
            for n, action in enumerate(["a_b x", "axb y", "a_b"]):
                audit.record(conn, at=100.0 + n, actor="t", action=action, target=str(n),
                             details={"n": n})  # fmt: skip
        with database.read() as conn:
            assert [e.target for e in audit.list_events(conn, action="a_b")] == ["2", "0"]
            assert [e.target for e in audit.list_events(conn, since=101.0)] == ["2", "1"]
            assert audit.list_events(conn, limit=1)[0].details == {"n": 2}
    finally:
        database.dispose()
