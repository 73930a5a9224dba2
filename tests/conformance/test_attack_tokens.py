"""The 115 adversarial tokens of ``attacks/attack-tokens.json``, each under its verifier config.

JWS/JWT cases go through ``tessera.decode`` with the case's allow-list, key (by name from
``keys`` or an inline JWK), issuer, audience, clock, leeway, ``typ`` and required claims. Cases
with ``key_management_algorithms`` are JWE cases and go through ``tessera.jwe.decrypt``.
``reject`` must raise :class:`tessera.InvalidToken`; ``accept`` must return the claims (or the
plaintext). ``accept-if-zip-supported`` means accept: Tessera inflates ``zip`` up to 250 KB.
"""

from __future__ import annotations

import json
import socket
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import tessera
from tessera import InvalidToken, Key

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "attacks" / "attack-tokens.json"
DATA: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
KEYS: dict[str, dict[str, Any]] = DATA["keys"]

ACCEPTED = frozenset({"accept", "accept-if-zip-supported"})
"""Tessera supports ``zip`` (with a 250 KB inflation cap), so the zip control must decrypt."""

JWE_PLAINTEXTS = {"jwe-ctl": b"hello", "zip-small-ok": b"hello"}
"""What the accepted JWE controls decrypt to (checked once with pyca/cryptography)."""

HUGE_TOKEN_SIZE = 1_000_000
HUGE_TOKEN_BUDGET = 0.05
"""Seconds allowed to refuse the 1 MB ``huge-token`` recipe (target ~1 ms; generous for CI)."""

TIME_BUDGETS = {"pbes2-p2c-huge": 0.05}
"""Seconds allowed for a rejection (the file asks < 10 ms: p2c is capped before PBKDF2 runs)."""

MEMORY_BUDGETS = {"zip-bomb": 4_000_000}
"""Peak bytes allocated while rejecting (50 MB inflated must stop at the 250 KB cap)."""


def _params() -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in DATA["cases"]]


def _key(ref: str | dict[str, Any]) -> Key:
    return Key.from_jwk(KEYS[ref] if isinstance(ref, str) else ref)


def _decode(token: str, config: dict[str, Any]) -> dict[str, Any]:
    """``tessera.decode`` under one ``verifier`` block of the file."""
    options: dict[str, Any] = {}
    if "expected_typ" in config:
        options["typ"] = config["expected_typ"]
    if "required_claims" in config:
        options["require"] = tuple(config["required_claims"])
    return tessera.decode(
        token,
        _key(config["key"]),
        algorithms=config["algorithms"],
        issuer=config.get("issuer"),
        audience=config.get("audience"),
        now=config["now"],
        leeway=config.get("leeway", 0),
        **options,
    )


def _jwe_module() -> Any:
    module = getattr(tessera, "jwe", None)
    if module is None or not callable(getattr(module, "decrypt", None)):
        pytest.fail(
            "tessera.jwe.decrypt is missing: the JWE cases of attack-tokens.json need "
            "src/tessera/jose/jwe.py exported as tessera.jwe"
        )
    return module


def _plaintext(result: Any) -> bytes:
    plaintext = result if isinstance(result, bytes) else getattr(result, "plaintext", None)
    assert isinstance(plaintext, bytes), f"jwe.decrypt returned {type(result).__name__}"
    return plaintext


def _decrypt(token: str, config: dict[str, Any]) -> bytes:
    jwe = _jwe_module()
    result = jwe.decrypt(
        token,
        _key(config["key"]),
        algorithms=config["key_management_algorithms"],
        encryptions=config["content_encryption_algorithms"],
    )
    return _plaintext(result)


def _run(case: dict[str, Any]) -> Any:
    config = case["verifier"]
    if "key_management_algorithms" in config:
        plaintext = _decrypt(case["token"], config)
        if "then_verify" in config:
            return _decode(plaintext.decode("utf-8"), config["then_verify"])
        return plaintext
    return _decode(case["token"], config)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make every socket connection fail, and record the attempts."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network I/O attempted during token verification")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.parametrize("case", _params())
def test_attack_token(case: dict[str, Any], no_network: list[object]) -> None:
    """Each token gets the catalogue's expected outcome, with no network I/O, ever."""
    expected = case["expected"]
    if case["id"] == "huge-token":
        check_huge_token(case)
    elif expected in ACCEPTED:
        result = _run(case)
        if case["id"] in JWE_PLAINTEXTS:
            assert result == JWE_PLAINTEXTS[case["id"]]
        else:
            assert isinstance(result, dict)
            assert result["iss"] == case["verifier"]["issuer"]
        if case["id"] == "fullwidth-sub":
            assert result["sub"] == "ａｄｍｉｎ"
            assert result["sub"] != "admin"
    else:
        assert expected == "reject", f"unknown expectation {expected!r}"
        check_rejected(case)
    assert no_network == [], f"verification tried to connect to {no_network}"


def check_rejected(case: dict[str, Any]) -> None:
    """The case raises InvalidToken, within its time and memory budgets if it has any."""
    measure_memory = case["id"] in MEMORY_BUDGETS
    if measure_memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(InvalidToken):
            _run(case)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
    finally:
        if measure_memory:
            tracemalloc.stop()
    if case["id"] in TIME_BUDGETS:
        assert elapsed < TIME_BUDGETS[case["id"]], f"rejection took {elapsed * 1e3:.1f} ms"
    if measure_memory:
        assert peak < MEMORY_BUDGETS[case["id"]], f"rejection allocated {peak} bytes at peak"


def check_huge_token(case: dict[str, Any]) -> None:
    """Attack #35: a 1 MB token of dots is refused from its length, in about a millisecond."""
    assert case["token"] is None
    token = "." * HUGE_TOKEN_SIZE
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        with pytest.raises(InvalidToken):
            _decode(token, case["verifier"])
        timings.append(time.perf_counter() - start)
    assert min(timings) < HUGE_TOKEN_BUDGET, f"rejecting 1 MB took {min(timings) * 1e3:.1f} ms"


def test_file_has_the_documented_number_of_cases() -> None:
    """The copy is complete: 115 cases, 102 reject, 12 accept, 1 accept-if-zip-supported."""
    assert len(DATA["cases"]) == DATA["numberOfCases"] == 115
    outcomes = [case["expected"] for case in DATA["cases"]]
    assert outcomes.count("reject") == 102
    assert outcomes.count("accept") == 12
    assert outcomes.count("accept-if-zip-supported") == 1
