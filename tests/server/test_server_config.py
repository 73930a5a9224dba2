"""Settings: defaults < tessera.toml < TESSERA_* < flags; bad values refused by name."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tessera.server.config import database_url, load_settings, parse_duration
from tessera.server.errors import ServerConfigError
from tessera.server.kek import KEK


def test_defaults() -> None:
    settings = load_settings(os.devnull, env={})
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.database == "sqlite:///tessera.db"
    assert settings.signing_alg == "ES256"
    assert settings.metadata_url == "http://127.0.0.1:8000/.well-known/oauth-authorization-server"


def test_database_bounds_from_environment_and_defaults() -> None:
    assert (settings := load_settings(os.devnull, env={})).database_timeout == 1.5
    assert (settings.database_lock_timeout, settings.database_idle_timeout) == (0.3, 5.0)
    env = {"TESSERA_DATABASE_TIMEOUT": "4", "TESSERA_DATABASE_LOCK_TIMEOUT": "0.5"}
    settings = load_settings(os.devnull, env=env, database_idle_timeout="30")
    assert (settings.database_timeout, settings.database_lock_timeout) == (4.0, 0.5)
    assert settings.database_idle_timeout == 30.0


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "tessera.toml"
    config.write_text('[server]\ntoken_lifetime = "5m"\nsigning_alg = "RS256"\nport = 9000\n')
    settings = load_settings(config, env={"TESSERA_SIGNING_ALG": "PS256"}, port=9100)
    assert settings.token_lifetime == 300
    assert settings.signing_alg == "PS256"
    assert settings.port == 9100


@pytest.mark.parametrize(
    ("value", "seconds"), [(90, 90), ("90", 90), ("15m", 900), ("2h", 7200), ("30d", 2592000)]
)
def test_durations(value: object, seconds: int) -> None:
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", [0, -5, "5 weeks", "1.5h", True, None, "m"])
def test_rejects_bad_durations(value: object) -> None:
    with pytest.raises(ServerConfigError):
        parse_duration(value, "x")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"signing_alg": "HS256"}, "signing_alg"),
        ({"signing_alg": "none"}, "signing_alg"),
        ({"issuer": "http://auth.example.com"}, "https"),
        ({"issuer": "https://auth.example.com?x=1"}, "query"),
        ({"issuer": "https://auth.example.com#f"}, "fragment"),
        ({"rotation_period": "10m"}, "rotation_period"),
        ({"port": "eighty"}, "port"),
        ({"allowed_origins": "not-an-origin"}, "allowed_origins"),
        ({"allowed_origins": "https://app.example/callback"}, "no path"),
        ({"allowed_origins": "ftp://app.example"}, "allowed_origins"),
        ({"allowed_origins": "https://user@app.example"}, "allowed_origins"),
        ({"database_timeout": "0"}, "database_timeout"),
        ({"database_timeout": "soon"}, "database_timeout"),
        ({"database_timeout": 0.6}, "database_lock_timeout"),  # 3 x 0.3 s no longer fit
        ({"database_lock_timeout": 1}, "third of database_timeout"),
        ({"database_idle_timeout": 1}, "database_idle_timeout"),
    ],
)
def test_rejects_bad_settings(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ServerConfigError, match=message):
        load_settings(os.devnull, env={}, **overrides)


def test_rejects_unknown_key_and_kek_in_file(tmp_path: Path) -> None:
    config = tmp_path / "tessera.toml"
    config.write_text("[server]\ntypo = 1\n")
    with pytest.raises(ServerConfigError, match=r"server\.typo"):
        load_settings(config, env={})
    config.write_text('[server]\nkek = "abc"\n')
    with pytest.raises(ServerConfigError, match=r"server\.kek"):
        load_settings(config, env={})


def test_https_issuer_keeps_path_and_drops_trailing_slash() -> None:
    settings = load_settings(os.devnull, env={}, issuer="https://auth.example.com/t1/")
    assert settings.issuer == "https://auth.example.com/t1"
    assert settings.token_endpoint == "https://auth.example.com/t1/token"
    assert settings.metadata_url == (
        "https://auth.example.com/.well-known/oauth-authorization-server/t1"
    )


def test_database_urls() -> None:
    assert database_url("x.db") == "sqlite:///x.db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ServerConfigError):
        database_url("mysql://u@h/db")


def test_kek_file_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tessera.kek"
    kek = KEK.load(None, path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = kek.seal(b"secret", "kid1")
    assert KEK.load(None, path, create=False).open(sealed, "kid1") == b"secret"
    assert repr(kek) == "<KEK>"


def test_kek_binds_ciphertext_to_kid(tmp_path: Path) -> None:
    kek = KEK.generate()
    sealed = kek.seal(b"secret", "kid1")
    with pytest.raises(ServerConfigError):
        kek.open(sealed, "kid2")
    with pytest.raises(ServerConfigError):
        kek.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "kid1")


@pytest.mark.parametrize("value", ["short", "!" * 43, "A" * 40])
def test_rejects_malformed_kek_from_environment(value: str) -> None:
    with pytest.raises(ServerConfigError, match="TESSERA_KEK"):
        KEK.load(value, "unused", create=False)


def test_missing_kek_file_without_create_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ServerConfigError, match="does not exist"):
        KEK.load(None, tmp_path / "none", create=False)


def test_allowed_origins_are_compared_as_browsers_send_them() -> None:
    settings = load_settings(
        os.devnull, env={}, allowed_origins="http://localhost:6274/ https://app.example *"
    )
    assert settings.allowed_origins == ("http://localhost:6274", "https://app.example", "*")
