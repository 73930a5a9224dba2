"""``tessera lint``: output, --fail-on thresholds, keys and secrets, JSON."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from clihelp import KeyFiles, Runner, clean_env

import tessera

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "attacks" / "attack-tokens.json"
CASES = {case["id"]: case for case in json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]}
NOW = ("--now", "@1700000000")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _clean(keys: KeyFiles) -> str:
    return keys.token(
        {"iss": "https://issuer.example", "aud": "api", "iat": 1_700_000_000, "exp": 1_700_000_900}
    )


def test_lint_of_a_clean_token_exits_0(run: Runner, keys: KeyFiles) -> None:
    result = run("lint", _clean(keys), *NOW)
    assert result.code == 0, result.err
    assert result.out.strip() == "no findings"


def test_lint_prints_findings_with_severity_code_and_rfc(run: Runner, keys: KeyFiles) -> None:
    token = keys.token({"sub": "alice", "password": "hunter2"})
    result = run("lint", token, *NOW)
    assert result.code == 1
    assert "HIGH" in result.out
    assert "no-exp" in result.out
    assert "RFC 7519 sec. 4.1.4" in result.out
    assert "sensitive-claims" in result.out
    assert result.err == "tessera: lint: 4 findings at or above low\n"


def test_lint_of_alg_none_is_critical(run: Runner) -> None:
    doc = run("lint", CASES["alg-none-none"]["token"], "--json", *NOW).json()
    assert doc["findings"][0]["severity"] == "critical"
    assert doc["findings"][0]["code"] == "alg-none"
    assert doc["failed"] is True


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [("info", 1), ("low", 1), ("medium", 1), ("high", 0), ("critical", 0)],
)
def test_lint_fail_on_sets_the_threshold(
    run: Runner, keys: KeyFiles, fail_on: str, code: int
) -> None:
    # Only a medium finding (missing-aud) and a low one (missing-typ).
    token = keys.token({"iss": "https://i", "iat": 1_700_000_000, "exp": 1_700_000_900}, typ=None)
    result = run("lint", token, "--fail-on", fail_on, *NOW, "--json")
    assert result.code == code
    assert {f["code"] for f in result.json()["findings"]} == {"missing-aud", "missing-typ"}
    assert result.json()["failed"] is bool(code)


def test_lint_info_findings_do_not_fail_by_default(run: Runner, keys: KeyFiles) -> None:
    token = _clean(keys)
    result = run("lint", token, "--now", "@1800000000", "--json")
    assert result.code == 0
    assert [f["code"] for f in result.json()["findings"]] == ["expired"]


def test_lint_max_lifetime(run: Runner, keys: KeyFiles) -> None:
    token = _clean(keys)
    assert run("lint", token, *NOW, "--max-lifetime", "10m").code == 1
    assert run("lint", token, *NOW, "--max-lifetime", "1h").code == 0


def test_lint_judges_a_weak_secret_from_the_environment(run: Runner) -> None:
    # Tessera refuses to sign with such a key, so the token is built by hand, as attackers do.
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(b'{"exp":1700000900}')
    mac = hmac.new(b"secret", signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + _b64(mac)
    result = run("lint", token, "--secret-env", "S", *NOW, env=clean_env(S="secret"))
    assert result.code == 1
    assert "known-hmac-secret" in result.out
    assert "CRITICAL" in result.out
    assert "secret\n" not in result.err


def test_lint_with_a_key_checks_the_signature(run: Runner, keys: KeyFiles) -> None:
    other = tessera.Key.generate("ES256", kid=keys.ec.kid)
    token = tessera.encode(
        {"iss": "https://i", "aud": "a", "iat": 1_700_000_000, "exp": 1_700_000_900}, other
    )
    result = run("lint", token, "--key", str(keys.ec_public), *NOW, "--json")
    assert result.code == 1
    assert [f["code"] for f in result.json()["findings"]] == ["bad-signature"]
    assert run("lint", _clean(keys), "--key", str(keys.jwks), *NOW).code == 0


def test_lint_of_a_malformed_token_is_rejected_not_linted(run: Runner) -> None:
    result = run("lint", "abc")
    assert result.code == 1
    assert result.err.startswith("tessera: token rejected: ")


def test_lint_rejects_an_unknown_fail_on_level(run: Runner, keys: KeyFiles) -> None:
    assert run("lint", _clean(keys), "--fail-on", "severe").code == 2


def test_lint_json_lists_every_field(run: Runner) -> None:
    doc = run("lint", CASES["jku-attacker"]["token"], "--json", *NOW).json()
    jku = next(f for f in doc["findings"] if f["code"] == "header-jku")
    assert set(jku) == {"severity", "code", "message", "rfc_ref"}
    assert jku["severity"] == "high"
