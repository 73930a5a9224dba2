"""People who sign in: ``tessera users ...``, argon2id hashes, and sign-in throttling per user
name and per address, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from serverhelp import Browser, Databases, Pkce, RunningServer, auth_params, hidden_fields

from tessera.server import accounts
from tessera.server.accounts import SignIn
from tessera.server.config import Settings
from tessera.server.errors import AdminError
from tessera.server.storage import migrate
from tessera.server.storage.database import Database

CALLBACK = "https://app.example/callback"


def users(*args: str, stdin: str | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tessera.server", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_users_commands_lifecycle(databases: Databases, backend: str, tmp_path: Path) -> None:
    db_url = databases.new(backend)
    added = users(
        "add",
        "alice",
        "--password-stdin",
        "--json",
        "--database",
        db_url,
        stdin="s3cret-password\n",
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    view = json.loads(added.stdout)
    assert view["username"] == "alice"
    assert "password" not in added.stdout
    assert "argon2" not in added.stdout
    listed = users("list", "--json", "--database", db_url, cwd=tmp_path)
    assert [u["username"] for u in json.loads(listed.stdout)["users"]] == ["alice"]
    db = Database(db_url)
    try:
        migrate.upgrade(db)
        record = accounts.get_user(db, "alice")
        assert record.password_hash.startswith("$argon2id$")
        sign_in = SignIn(db, _settings(db_url), lambda: 1_000_000.0)
        assert sign_in.attempt("alice", "s3cret-password", "10.0.0.1").user is not None
        changed = users(
            "set-password",
            "alice",
            "--password-stdin",
            "--database",
            db_url,
            stdin="another-password\n",
            cwd=tmp_path,
        )
        assert changed.returncode == 0, changed.stderr
        assert sign_in.attempt("alice", "s3cret-password", "10.0.0.1").user is None
        assert sign_in.attempt("alice", "another-password", "10.0.0.1").user is not None
        duplicate = users(
            "add",
            "alice",
            "--password-stdin",
            "--database",
            db_url,
            stdin="whatever-password\n",
            cwd=tmp_path,
        )
        assert duplicate.returncode == 2
        assert "already exists" in duplicate.stderr
        removed = users("remove", "alice", "--database", db_url, cwd=tmp_path)
        assert removed.returncode == 0, removed.stderr
        assert sign_in.attempt("alice", "another-password", "10.0.0.1").user is None
        missing = users("remove", "alice", "--database", db_url, cwd=tmp_path)
        assert missing.returncode == 2
        assert "no user" in missing.stderr
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("name", "stdin", "message"),
    [
        ("' OR 1=1 --", "good-password\n", "user name"),
        ("a" * 65, "good-password\n", "user name"),
        ("bob", "short\n", "at least 8"),
        ("bob", "", "no password"),
    ],
)
def test_users_add_refuses_bad_input(
    databases: Databases, backend: str, tmp_path: Path, name: str, stdin: str, message: str
) -> None:
    db_url = databases.new(backend)
    result = users("add", name, "--password-stdin", "--database", db_url, stdin=stdin, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_users_add_without_a_terminal_needs_password_stdin(
    databases: Databases, backend: str, tmp_path: Path
) -> None:
    result = users("add", "bob", "--database", databases.new(backend), stdin="x\n", cwd=tmp_path)
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr


def _settings(db_url: str) -> Settings:
    from tessera.server.config import load_settings

    return load_settings("/dev/null", env={}, database=db_url)


def test_failures_lock_the_user_name_from_any_address(server: RunningServer) -> None:
    user = server.add_user()
    sign_in = SignIn(server.db, server.settings, server.clock)
    free = server.settings.login_free_failures
    for attempt in range(free):
        result = sign_in.attempt(user.username, "wrong", f"10.1.0.{attempt}")
        assert result.user is None
        assert result.retry_after == 0
    locked = sign_in.attempt(user.username, "wrong", "10.1.0.99")
    assert locked.retry_after == server.settings.login_lock
    # the right password from a fresh address is refused while locked
    assert sign_in.attempt(user.username, user.password, "10.1.0.100").user is None
    server.clock.advance(server.settings.login_lock + 1)
    assert sign_in.attempt(user.username, user.password, "10.1.0.100").user is not None
    # success forgets the user's failures
    assert sign_in.attempt(user.username, "wrong", "10.1.0.101").retry_after == 0


def test_lock_doubles_with_each_further_failure(server: RunningServer) -> None:
    user = server.add_user()
    sign_in = SignIn(server.db, server.settings, server.clock)
    lock = server.settings.login_lock
    for attempt in range(server.settings.login_free_failures):
        sign_in.attempt(user.username, "wrong", f"10.2.0.{attempt}")
    assert sign_in.attempt(user.username, "wrong", "10.2.1.1").retry_after == lock
    server.clock.advance(lock + 1)
    assert sign_in.attempt(user.username, "wrong", "10.2.1.2").retry_after == 2 * lock
    server.clock.advance(server.settings.login_window + 1)
    assert sign_in.attempt(user.username, user.password, "10.2.1.3").user is not None


def test_failures_lock_the_address_for_every_name(server: RunningServer) -> None:
    user = server.add_user()
    sign_in = SignIn(server.db, server.settings, server.clock)
    for attempt in range(server.settings.login_free_failures + 1):
        sign_in.attempt(f"guess-{attempt}", "wrong", "10.3.0.1")
    assert sign_in.attempt(user.username, user.password, "10.3.0.1").retry_after > 0
    assert sign_in.attempt(user.username, user.password, "10.3.0.2").user is not None
    server.clock.advance(server.settings.login_window + 1)


def test_throttled_sign_in_page_answers_429(server: RunningServer) -> None:
    user = server.add_user()
    client = server.add_client(redirect_uris=(CALLBACK,))
    with Browser(server) as browser:
        page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
        fields = hidden_fields(page.text)
        for _ in range(server.settings.login_free_failures):
            response = browser.post(fields, username=user.username, password="wrong")
            assert response.status_code == 400
        response = browser.post(fields, username=user.username, password="wrong")
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) == server.settings.login_lock
        assert "Too many failed attempts" in response.text
        response = browser.post(fields, username=user.username, password=user.password)
        assert response.status_code == 429
        server.clock.advance(server.settings.login_window + 1)
        response = browser.post(fields, username=user.username, password=user.password)
        assert response.status_code == 303


def test_oversize_password_is_refused_without_hashing(server: RunningServer) -> None:
    user = server.add_user()
    sign_in = SignIn(server.db, server.settings, server.clock)
    assert sign_in.attempt(user.username, "x" * 10_000, "10.4.0.1").user is None
    with pytest.raises(AdminError):
        accounts.add_user(server.db, "toolong", "x" * 2000, now=server.clock())
