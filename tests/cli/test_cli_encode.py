"""``tessera encode``: claims from JSON, files, stdin and flags; keys and secrets; typing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from clihelp import KeyFiles, Runner, clean_env

import tessera


def _claims(token: str) -> dict[str, object]:
    return tessera.decode_unverified(token)[1]


def test_encode_signs_a_token_the_core_verifies(run: Runner, keys: KeyFiles) -> None:
    result = run(
        "encode", "--key", str(keys.ec_private),
        "--iss", "https://issuer.example", "--sub", "alice", "--aud", "api",
    )  # fmt: skip
    assert result.code == 0, result.err
    claims = tessera.decode(
        result.out.strip(), keys.ec.public(), issuer="https://issuer.example", audience="api"
    )
    assert claims["sub"] == "alice"


def test_encode_defaults_iat_now_and_exp_in_15_minutes(run: Runner, keys: KeyFiles) -> None:
    before = int(time.time())
    claims = _claims(run("encode", "--key", str(keys.ec_private)).out.strip())
    after = int(time.time())
    assert isinstance(claims["iat"], int)
    assert before <= claims["iat"] <= after
    assert claims["exp"] == claims["iat"] + 900


@pytest.mark.parametrize(
    ("flag", "seconds"),
    [("15m", 900), ("1h", 3600), ("2d", 172800), ("3600", 3600), ("1h30m", 5400)],
)
def test_encode_exp_accepts_durations(run: Runner, keys: KeyFiles, flag: str, seconds: int) -> None:
    claims = _claims(
        run("encode", "--key", str(keys.ec_private), "--exp", flag, "--now", "@1700000000")
        .out.strip()
    )  # fmt: skip
    assert claims["exp"] == 1_700_000_000 + seconds
    assert claims["iat"] == 1_700_000_000


def test_encode_exp_accepts_iso_dates_as_utc(run: Runner, keys: KeyFiles) -> None:
    token = run("encode", "--key", str(keys.ec_private), "--exp", "2100-01-01").out.strip()
    assert _claims(token)["exp"] == 4_102_444_800
    token = run("encode", "--key", str(keys.ec_private), "--exp", "2100-01-01T00:00:00Z")
    assert _claims(token.out.strip())["exp"] == 4_102_444_800


def test_encode_exp_none_omits_exp(run: Runner, keys: KeyFiles) -> None:
    claims = _claims(run("encode", "--key", str(keys.ec_private), "--exp", "none").out.strip())
    assert "exp" not in claims


def test_encode_rejects_an_unparseable_time_as_usage_error(run: Runner, keys: KeyFiles) -> None:
    result = run("encode", "--key", str(keys.ec_private), "--exp", "soon")
    assert result.code == 2
    assert "invalid --exp 'soon'" in result.err


def test_encode_claim_values_are_typed(run: Runner, keys: KeyFiles) -> None:
    result = run(
        "encode", "--key", str(keys.ec_private),
        "--claim", "n=3", "--claim", "f=1.5", "--claim", "ok=true", "--claim", "none=null",
        "--claim", "list=[1,2]", "--claim", 'obj={"a":1}', "--claim", 'quoted="42"',
        "--claim", "word=admin", "--claim", "date=2024-01-01",
    )  # fmt: skip
    assert result.code == 0, result.err
    claims = _claims(result.out.strip())
    assert claims["n"] == 3
    assert claims["f"] == 1.5
    assert claims["ok"] is True
    assert claims["none"] is None
    assert claims["list"] == [1, 2]
    assert claims["obj"] == {"a": 1}
    assert claims["quoted"] == "42"
    assert claims["word"] == "admin"
    assert claims["date"] == "2024-01-01"


def test_encode_takes_claims_from_argument_file_and_stdin(
    run: Runner, keys: KeyFiles, tmp_path: Path
) -> None:
    key = str(keys.ec_private)
    assert _claims(run("encode", '{"a": 1}', "--key", key).out.strip())["a"] == 1
    (tmp_path / "claims.json").write_text('{"b": 2}')
    assert _claims(run("encode", "@claims.json", "--key", key, cwd=tmp_path).out.strip())["b"] == 2
    assert _claims(run("encode", "-", "--key", key, stdin='{"c": 3}').out.strip())["c"] == 3


def test_encode_flags_override_claims_and_build_aud_and_scope(run: Runner, keys: KeyFiles) -> None:
    result = run(
        "encode", '{"iss": "old", "aud": "x"}', "--key", str(keys.ec_private),
        "--iss", "new", "--aud", "a", "--aud", "b", "--scope", "read", "--scope", "write",
        "--jti", "auto",
    )  # fmt: skip
    claims = _claims(result.out.strip())
    assert claims["iss"] == "new"
    assert claims["aud"] == ["a", "b"]
    assert claims["scope"] == "read write"
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16


def test_encode_rejects_claims_that_are_not_an_object(run: Runner, keys: KeyFiles) -> None:
    result = run("encode", "-", "--key", str(keys.ec_private), stdin="[1, 2]")
    assert result.code == 2
    assert "JSON object" in result.err


def test_encode_rejects_duplicate_claim_names_in_json(run: Runner, keys: KeyFiles) -> None:
    result = run("encode", '{"sub": "a", "sub": "b"}', "--key", str(keys.ec_private))
    assert result.code == 2


def test_encode_headers_typ_and_kid(run: Runner, keys: KeyFiles) -> None:
    result = run(
        "encode", "--key", str(keys.ec_private), "--typ", "at+jwt", "--header", "x5t=abc"
    )  # fmt: skip
    header = tessera.decode_unverified(result.out.strip())[0]
    assert header == {"alg": "ES256", "kid": keys.ec.kid, "typ": "at+jwt", "x5t": "abc"}
    result = run("encode", "--key", str(keys.ec_private), "--typ", "")
    assert "typ" not in tessera.decode_unverified(result.out.strip())[0]


def test_encode_with_secret_from_env_never_shows_the_secret(run: Runner, keys: KeyFiles) -> None:
    secret = keys.secret.decode()
    env = clean_env(TESSERA_TEST_SECRET=secret)
    result = run("encode", "--secret-env", "TESSERA_TEST_SECRET", "--sub", "svc", "--json", env=env)
    assert result.code == 0, result.err
    assert secret not in result.out + result.err
    assert all(secret not in arg for arg in result.argv)
    token = result.json()["token"]
    key = tessera.Key.from_secret(keys.secret, "HS256")
    assert tessera.decode(token, key)["sub"] == "svc"


def test_encode_with_secret_file_strips_one_trailing_newline(
    run: Runner, keys: KeyFiles, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_bytes(keys.secret + b"\n")
    result = run("encode", "--secret-file", "secret", "--alg", "HS384", cwd=tmp_path)
    assert result.code == 0, result.err
    key = tessera.Key.from_secret(keys.secret, "HS384")
    assert tessera.decode(result.out.strip(), key)["exp"]


def test_encode_refuses_a_short_secret_without_echoing_it(run: Runner) -> None:
    env = clean_env(WEAK="hunter2hunter2")
    result = run("encode", "--secret-env", "WEAK", env=env)
    assert result.code == 2
    assert "hunter2" not in result.out + result.err
    assert "at least 32 bytes" in result.err


def test_encode_reports_a_missing_secret_variable(run: Runner) -> None:
    result = run("encode", "--secret-env", "TESSERA_SURELY_UNSET_VARIABLE")
    assert result.code == 2
    assert "TESSERA_SURELY_UNSET_VARIABLE" in result.err


def test_encode_has_no_option_that_takes_a_secret_in_argv(run: Runner) -> None:
    help_text = run("encode", "--help").out
    assert "--secret-env" in help_text
    assert "--secret " not in help_text
    assert run("encode", "--secret", "x").code == 2


def test_encode_with_unbound_pem_needs_alg_when_ambiguous(run: Runner, keys: KeyFiles) -> None:
    result = run("encode", "--key", str(keys.rsa_private_pem))
    assert result.code == 2
    assert "--alg" in result.err
    result = run("encode", "--key", str(keys.rsa_private_pem), "--alg", "PS256")
    assert result.code == 0, result.err
    assert tessera.decode_unverified(result.out.strip())[0]["alg"] == "PS256"


def test_encode_with_public_key_fails_as_usage_error(run: Runner, keys: KeyFiles) -> None:
    result = run("encode", "--key", str(keys.ec_public))
    assert result.code == 2
    assert result.err.startswith("tessera: ")


def test_encode_json_output_parses(run: Runner, keys: KeyFiles) -> None:
    result = run("encode", "--key", str(keys.ec_private), "--sub", "a", "--json")
    doc = result.json()
    assert set(doc) == {"token", "header", "claims"}
    assert doc["claims"]["sub"] == "a"
    assert json.loads(json.dumps(doc)) == doc


def test_encode_accepts_past_times_in_the_equals_form(run: Runner, keys: KeyFiles) -> None:
    result = run("encode", "--key", str(keys.ec_private), "--now", "@1700000000",
                 "--iat=-1h", "--nbf=-5m", "--exp", "1h")  # fmt: skip
    assert result.code == 0, result.err
    claims = _claims(result.out.strip())
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        1_700_000_000 - 3600,
        1_700_000_000 - 300,
        1_700_000_000 + 3600,
    )
