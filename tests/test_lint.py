"""The lint engine (``tessera.lint``): one test per rule, attack vectors as inputs, no I/O."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tessera
from tessera.lint import DEFAULT_MAX_LIFETIME, Finding, Severity, lint

NOW = 1_700_000_000
VECTORS = Path(__file__).resolve().parent / "vectors" / "attacks" / "attack-tokens.json"
ATTACKS: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
CASES = {case["id"]: case for case in ATTACKS["cases"]}
GOOD_CLAIMS = {
    "iss": "https://issuer.example",
    "sub": "alice",
    "aud": "https://api.example",
    "iat": NOW - 60,
    "exp": NOW + 900,
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    """A token with any header at all (lint must read what verifiers refuse)."""
    head = _b64(json.dumps(header).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


def _codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def _find(findings: list[Finding], code: str) -> Finding:
    matches = [f for f in findings if f.code == code]
    assert len(matches) == 1, findings
    return matches[0]


@pytest.fixture(scope="module")
def key() -> tessera.Key:
    return tessera.Key.generate("ES256")


def _oct(secret: bytes) -> tessera.Key:
    return tessera.Key.from_jwk({"kty": "oct", "k": _b64(secret)})


def test_a_well_formed_token_has_no_findings(key: tessera.Key) -> None:
    token = tessera.encode(GOOD_CLAIMS, key)
    assert lint(token, now=NOW) == []
    assert lint(token, key.public(), now=NOW) == []


@pytest.mark.parametrize(
    "case", ["alg-none-none", "alg-none-None", "alg-none-NONE", "alg-none-nOnE"]
)
def test_flags_alg_none_in_any_case_as_critical(case: str) -> None:
    finding = _find(lint(CASES[case]["token"], now=NOW), "alg-none")
    assert finding.severity is Severity.CRITICAL
    assert "RFC 8725" in finding.rfc_ref


def test_flags_unknown_or_missing_alg() -> None:
    assert "unknown-alg" in _codes(lint(_unsigned({"alg": "HS1"}, GOOD_CLAIMS), now=NOW))
    assert "unknown-alg" in _codes(lint(_unsigned({"typ": "JWT"}, GOOD_CLAIMS), now=NOW))


def test_flags_missing_exp_as_high(key: tessera.Key) -> None:
    claims = {k: v for k, v in GOOD_CLAIMS.items() if k != "exp"}
    finding = _find(lint(tessera.encode(claims, key), now=NOW), "no-exp")
    assert finding.severity is Severity.HIGH
    assert finding.rfc_ref.startswith("RFC 7519 sec. 4.1.4")


def test_flags_lifetime_longer_than_the_threshold(key: tessera.Key) -> None:
    long_lived = {**GOOD_CLAIMS, "iat": NOW, "exp": NOW + 2 * 86400}
    token = tessera.encode(long_lived, key)
    assert "long-lifetime" in _codes(lint(token, now=NOW))
    assert "long-lifetime" not in _codes(lint(token, now=NOW, max_lifetime=3 * 86400))
    assert DEFAULT_MAX_LIFETIME.total_seconds() == 86400


def test_long_lifetime_without_iat_counts_from_now(key: tessera.Key) -> None:
    claims = {k: v for k, v in GOOD_CLAIMS.items() if k != "iat"}
    token = tessera.encode({**claims, "exp": NOW + 7200}, key)
    assert "long-lifetime" in _codes(lint(token, now=NOW, max_lifetime=3600))
    assert "long-lifetime" not in _codes(lint(token, now=NOW + 3700, max_lifetime=3600))


def test_notes_an_expired_token_as_info(key: tessera.Key) -> None:
    token = tessera.encode({**GOOD_CLAIMS, "exp": NOW - 1}, key)
    assert _find(lint(token, now=NOW), "expired").severity is Severity.INFO


def test_flags_iat_in_the_future() -> None:
    finding = _find(lint(CASES["iat-future"]["token"], now=NOW), "iat-future")
    assert finding.severity is Severity.MEDIUM


def test_slightly_future_iat_is_low_because_strict_verifiers_reject_it(key: tessera.Key) -> None:
    token = tessera.encode({**GOOD_CLAIMS, "iat": NOW + 30}, key)
    assert _find(lint(token, now=NOW), "iat-future").severity is Severity.LOW
    with pytest.raises(tessera.NotYetValidError):
        tessera.decode(token, key, audience=GOOD_CLAIMS.get("aud"), now=NOW)


def test_random_alphanumeric_secret_is_not_called_weak() -> None:
    secret = tessera.Key.from_secret(b"kH3v9Qz1wLp8Rt6Yx2Nc5Vb7Mn4Jd0Fs", "HS256")
    token = tessera.encode({**GOOD_CLAIMS}, secret)
    assert "weak-hmac-secret" not in _codes(lint(token, secret, now=NOW))


@pytest.mark.parametrize(
    ("claim", "code"), [("iss", "missing-iss"), ("aud", "missing-aud")]
)  # fmt: skip
def test_flags_missing_iss_and_aud(key: tessera.Key, claim: str, code: str) -> None:
    claims = {k: v for k, v in GOOD_CLAIMS.items() if k != claim}
    finding = _find(lint(tessera.encode(claims, key), now=NOW), code)
    assert finding.severity is Severity.MEDIUM


def test_flags_missing_typ_as_low(key: tessera.Key) -> None:
    finding = _find(lint(tessera.encode(GOOD_CLAIMS, key, typ=None), now=NOW), "missing-typ")
    assert finding.severity is Severity.LOW
    assert finding.rfc_ref == "RFC 8725 sec. 3.11"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("jku-attacker", "header-jku"),
        ("x5u-attacker", "header-x5u"),
        ("embedded-jwk", "header-jwk"),
    ],
)
def test_flags_key_reference_headers_from_the_attack_vectors(case: str, code: str) -> None:
    assert _find(lint(CASES[case]["token"], now=NOW), code).severity is Severity.HIGH


def test_flags_x5c_header() -> None:
    token = _unsigned({"alg": "ES256", "typ": "JWT", "x5c": ["MIIB"]}, GOOD_CLAIMS, "sig")
    assert "header-x5c" in _codes(lint(token, now=NOW))


@pytest.mark.parametrize("case", ["kid-path-traversal", "kid-sqli", "kid-non-string"])
def test_flags_suspicious_kid_from_the_attack_vectors(case: str) -> None:
    assert _find(lint(CASES[case]["token"], now=NOW), "suspicious-kid").severity is Severity.HIGH


@pytest.mark.parametrize(
    "kid",
    [
        "",
        "a" * 300,
        "key\x00",
        "http://evil/jwks",
        "k$(id)",
        "a;b",
        "x' OR '1'='1",
        "1 -- x",
        "/dev/null",
        "../../key",
        "~/.ssh/id",
        "c:\\keys",
    ],
)
def test_flags_suspicious_kid_values(kid: str) -> None:
    token = _unsigned({"alg": "ES256", "typ": "JWT", "kid": kid}, GOOD_CLAIMS, "sig")
    assert "suspicious-kid" in _codes(lint(token, now=NOW))


@pytest.mark.parametrize(
    "kid",
    ["2024-01-rsa", "ec-1", "y6_Yxm2T3VZsOYXh2ek_KwDYPYp", "key.v2", "ab--cd_EF", "fgjh/EX+ba="],
)
def test_does_not_flag_ordinary_kids(kid: str) -> None:
    token = _unsigned({"alg": "ES256", "typ": "JWT", "kid": kid}, GOOD_CLAIMS, "sig")
    assert "suspicious-kid" not in _codes(lint(token, now=NOW))


@pytest.mark.parametrize(
    "extra",
    [
        {"password": "hunter2"},
        {"user": {"Passwd": "x"}},
        {"client_secret": "x"},
        {"ssn": "x"},
        {"creditCardNumber": "x"},
        {"api_key": "x"},
        {"profile": [{"date_of_birth": "1990-01-01"}]},
    ],
)
def test_flags_sensitive_looking_claim_names(key: tessera.Key, extra: dict[str, Any]) -> None:
    finding = _find(lint(tessera.encode({**GOOD_CLAIMS, **extra}, key), now=NOW),
                    "sensitive-claims")  # fmt: skip
    assert finding.severity is Severity.MEDIUM
    assert finding.rfc_ref == "RFC 7519 sec. 12"


@pytest.mark.parametrize(
    "value", ["4111 1111 1111 1111", "4111111111111111", "5500-0000-0000-0004", "378282246310005",
              "078-05-1120"],
)  # fmt: skip
def test_flags_card_and_social_security_numbers_as_high(key: tessera.Key, value: str) -> None:
    token = tessera.encode({**GOOD_CLAIMS, "note": value}, key)
    assert _find(lint(token, now=NOW), "sensitive-claims").severity is Severity.HIGH


@pytest.mark.parametrize(
    "extra",
    [
        {"passenger": "x"},
        {"client_secret_expires_at": 0},
        {"order": "4111111111111112"},
        {"tweet": "1234567890123456789"},
        {"id": "1111111111111117"},
        {"scope": "read write"},
        {"roles": ["admin"]},
    ],
)
def test_does_not_flag_ordinary_claims(key: tessera.Key, extra: dict[str, Any]) -> None:
    token = tessera.encode({**GOOD_CLAIMS, **extra}, key)
    assert "sensitive-claims" not in _codes(lint(token, now=NOW))


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": "tomorrow"}, "invalid-exp"),
        ({"exp": True}, "invalid-exp"),
        ({"nbf": "0"}, "invalid-nbf"),
    ],
)
def test_flags_time_claims_that_are_not_numbers(claims: dict[str, Any], code: str) -> None:
    token = _unsigned({"alg": "ES256", "typ": "JWT"}, {**GOOD_CLAIMS, **claims}, "sig")
    assert _find(lint(token, now=NOW), code).severity is Severity.HIGH


# -- with a key ----------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [b"secret", b"your-256-bit-secret", b"changeme"])
def test_flags_a_well_known_hmac_secret_as_critical(secret: bytes) -> None:
    token = _unsigned({"alg": "HS256", "typ": "JWT"}, GOOD_CLAIMS, "sig")
    assert _find(lint(token, _oct(secret), now=NOW), "known-hmac-secret").severity is (
        Severity.CRITICAL
    )


def test_flags_an_hmac_secret_shorter_than_the_hash() -> None:
    token = _unsigned({"alg": "HS512", "typ": "JWT"}, GOOD_CLAIMS, "sig")
    finding = _find(lint(token, _oct(bytes(range(48))), now=NOW), "short-hmac-secret")
    assert finding.severity is Severity.HIGH
    assert "48 bytes" in finding.message
    assert "RFC 7518 sec. 3.2" in finding.rfc_ref


@pytest.mark.parametrize(
    "secret",
    [b"my-super-secret-key-for-jwt-signing-2024", b"a" * 64, b"correct horse battery staple 1234"],
)
def test_flags_a_human_chosen_hmac_secret(secret: bytes) -> None:
    token = _unsigned({"alg": "HS256", "typ": "JWT"}, GOOD_CLAIMS, "sig")
    assert _find(lint(token, _oct(secret), now=NOW), "weak-hmac-secret").severity is (
        Severity.MEDIUM
    )


@pytest.mark.parametrize(
    "secret",
    [
        bytes(range(32)),
        b"TS6JUPvm5z1hFzxvT3OlWwN1jnAsJvUQa3rbZ3ALRNY",
        b"ab" * 8 + b"0123456789abcdef" * 3,
    ],
)
def test_accepts_random_hmac_secrets(secret: bytes) -> None:
    key = tessera.Key.from_secret(secret, "HS256")
    token = tessera.encode(GOOD_CLAIMS, key)
    assert lint(token, key, now=NOW) == []


def test_flags_an_hmac_token_checked_against_a_public_key_as_confusion() -> None:
    ec = tessera.Key.from_jwk(ATTACKS["keys"]["ec"])
    finding = _find(lint(CASES["hs-ec-spki-pem"]["token"], ec, now=NOW), "alg-key-confusion")
    assert finding.severity is Severity.CRITICAL


def test_flags_alg_that_does_not_match_the_key(key: tessera.Key) -> None:
    rsa_token = CASES["ctl-rs256"]["token"]
    assert "alg-key-mismatch" in _codes(lint(rsa_token, key.public(), now=NOW))


def test_flags_a_signature_that_does_not_verify(key: tessera.Key) -> None:
    token = tessera.encode(GOOD_CLAIMS, tessera.Key.generate("ES256"))
    finding = _find(lint(token, key.public(), now=NOW), "bad-signature")
    assert finding.severity is Severity.HIGH


def test_checks_the_signature_with_an_unbound_key(key: tessera.Key) -> None:
    unbound = tessera.Key.from_pem(key.public().to_pem())
    assert lint(tessera.encode(GOOD_CLAIMS, key), unbound, now=NOW) == []


# -- the API -------------------------------------------------------------------------------


def test_findings_come_most_severe_first() -> None:
    findings = lint(CASES["alg-none-none"]["token"], now=NOW)
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, reverse=True)
    assert severities[0] is Severity.CRITICAL


def test_finding_is_frozen_and_severity_is_ordered() -> None:
    finding = Finding(Severity.LOW, "x", "y", "RFC 0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.code = "z"  # type: ignore[misc]
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.MEDIUM.label == "medium"


def test_a_malformed_token_raises_rather_than_returning_findings() -> None:
    with pytest.raises(tessera.MalformedTokenError):
        lint("not a token")


def test_accepts_datetime_and_timedelta_arguments(key: tessera.Key) -> None:
    from datetime import UTC, datetime, timedelta

    token = tessera.encode({**GOOD_CLAIMS, "iat": NOW, "exp": NOW + 7200}, key)
    now = datetime.fromtimestamp(NOW, UTC)
    assert "long-lifetime" in _codes(lint(token, now=now, max_lifetime=timedelta(hours=1)))


def test_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("lint opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for case in ("jku-attacker", "x5u-attacker", "embedded-jwk"):
        assert lint(CASES[case]["token"], now=NOW)


def test_importing_lint_does_not_import_the_cli() -> None:
    probe = (
        "import sys, tessera.lint\n"
        "bad = [m for m in sys.modules if m.startswith(('tessera.cli', 'argparse', 'urllib'))]\n"
        "sys.exit(1 if bad else 0)\n"
    )
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0
