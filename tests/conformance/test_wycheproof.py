"""Project Wycheproof JOSE vectors (JWS and JWK) run through Tessera's public API.

Every JWS case of ``json_web_signature_test`` (401), ``json_web_key_test`` (26) and the JWS
half of ``json_web_crypto_test`` (49): the group's public key (or its secret, for HMAC) is
loaded with ``Key.from_jwk``/``KeySet.from_jwks`` and the token verified with ``jws.verify``
under an allow-list equal to the key's bound ``alg``. ``valid`` must verify; ``invalid`` must
raise ``InvalidToken``, or ``InvalidKey`` when the key itself must not be used (1024-bit RSA,
ROCA, e = 1, short HMAC key, mixed key set, duplicate ``kid``, ``alg``/curve mismatch, ...).
Only the errata documented in ``tests/vectors/README.md`` are overridden, each in one dict below.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tessera
from tessera import InvalidKey, InvalidToken, Key, KeySet, jws
from tessera.jose.jwa import JWS_ALGORITHMS

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "wycheproof"

RESULT_OVERRIDES: dict[tuple[str, int], tuple[str, str]] = {
    ("json_web_signature_test", 367): (
        "valid",
        "byte-identical to tc357 (valid): the b'...' wrapper of the 2023 vector was lost in v1",
    ),
    ("json_web_signature_test", 370): (
        "valid",
        "byte-identical to tc357 (valid): the b'...' wrapper of the 2023 vector was lost in v1",
    ),
    ("json_web_signature_test", 372): (
        "invalid",
        "'?' inside the header verifies only if the decoder drops invalid characters",
    ),
    ("json_web_signature_test", 373): (
        "invalid",
        "'?' inside the payload verifies only if the decoder drops invalid characters",
    ),
}
"""Wrong Wycheproof ``result`` values (tests/vectors/README.md): case -> (result, why)."""

KEY_ALG_OVERRIDES: dict[tuple[str, int], tuple[str, str]] = {
    ("json_web_signature_test", 346): (
        "PS384",
        "RFC 7520 Figure 20 is signed with PS384; the group key says PS256",
    ),
    ("json_web_signature_test", 350): (
        "PS384",
        "RFC 7520 Figure 20 is signed with PS384; the group key says PS256",
    ),
}
"""Cases whose group key is loaded with another ``alg``: case -> (alg, why)."""

ALG_ALIASES: dict[str, str] = {"ES521": "ES512"}
"""Unregistered ``alg`` names in Wycheproof keys (P-521 is ``ES512``); used for these files only."""

UNBOUND_KEY_ALGORITHM: dict[tuple[str, str | None], str] = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
    ("EC", "P-384"): "ES384",
    ("EC", "P-521"): "ES512",
    ("oct", None): "HS256",
}
"""Allow-list for a key without ``alg`` (the ``use:enc`` groups): its family's usual algorithm."""


@dataclass(frozen=True)
class Case:
    """One Wycheproof test with its group's key."""

    file: str
    group: str
    key: dict[str, Any]
    tc_id: int
    comment: str
    token: str | dict[str, Any]
    result: str
    flags: tuple[str, ...]

    @property
    def expected(self) -> str:
        """The result after the documented errata."""
        override = RESULT_OVERRIDES.get((self.file, self.tc_id))
        return override[0] if override else self.result


def _cases(file: str) -> Iterator[Case]:
    data = json.loads((VECTORS / f"{file}.json").read_text(encoding="utf-8"))
    for group in data["testGroups"]:
        key = group.get("public") or group["private"]
        for test in group["tests"]:
            if "jws" not in test:
                continue  # JWE cases of json_web_crypto_test belong to the JWE suite
            yield Case(
                file=file,
                group=group["comment"],
                key=key,
                tc_id=test["tcId"],
                comment=test["comment"],
                token=test["jws"],
                result=test["result"],
                flags=tuple(test["flags"]),
            )


def _params(file: str) -> list[Any]:
    return [pytest.param(case, id=f"tc{case.tc_id}-{case.comment}") for case in _cases(file)]


def _prepare_jwk(jwk: dict[str, Any], alg: str | None) -> dict[str, Any]:
    jwk = dict(jwk)
    if alg is not None:
        jwk["alg"] = alg
    elif jwk.get("alg") in ALG_ALIASES:
        jwk["alg"] = ALG_ALIASES[jwk["alg"]]
    return jwk


def load_key(case: Case) -> Key | KeySet:
    """The case's key as Tessera loads it, with the documented Wycheproof key errata applied."""
    override = KEY_ALG_OVERRIDES.get((case.file, case.tc_id))
    alg = override[0] if override else None
    data = copy.deepcopy(case.key)
    if "keys" in data:
        data["keys"] = [_prepare_jwk(jwk, alg) for jwk in data["keys"]]
        return KeySet.from_jwks(data)
    return Key.from_jwk(_prepare_jwk(data, alg))


def allowed_algorithms(key: Key | KeySet) -> list[str]:
    """The allow-list: each key's bound JWS ``alg`` (or its family default when unbound)."""
    keys = list(key) if isinstance(key, KeySet) else [key]
    names = set()
    for one in keys:
        if one.alg in JWS_ALGORITHMS:
            names.add(one.alg)
        else:
            names.add(UNBOUND_KEY_ALGORITHM[(one.kty, one.crv if one.kty == "EC" else None)])
    return sorted(names)


def check_case(case: Case) -> None:
    """Load the key and verify the token; assert the (errata-corrected) expected result."""
    expected = case.expected
    assert expected in ("valid", "invalid"), f"unexpected result {expected!r}"
    try:
        key = load_key(case)
    except InvalidKey as exc:
        if expected == "valid":
            pytest.fail(f"the key of a valid case was refused: {exc}")
        return
    algorithms = allowed_algorithms(key)
    if isinstance(case.token, dict):
        check_json_serialization(case.token, key, algorithms, expected)
        return
    if expected == "valid":
        verified = jws.verify(case.token, key, algorithms)
        assert isinstance(verified.payload, bytes)
    else:
        with pytest.raises((InvalidToken, InvalidKey)):
            jws.verify(case.token, key, algorithms)


def check_json_serialization(
    obj: dict[str, Any], key: Key | KeySet, algorithms: list[str], expected: str
) -> None:
    """A JSON-serialised JWS (flag ``JsonSerialization``): compact entry points must refuse it.

    Wycheproof marks it invalid for a compact verifier; Tessera's JSON API may verify it (the
    signature is good) but must keep the unprotected ``unknown`` member out of ``header``.
    """
    assert expected == "invalid"
    text = json.dumps(obj)
    with pytest.raises(InvalidToken):
        jws.verify(text, key, algorithms)
    with pytest.raises(InvalidToken):
        tessera.decode(text, key, algorithms)
    verified = jws.verify_json(obj, key, algorithms)
    assert "unknown" not in verified.header
    assert verified.unprotected == obj["signatures"][verified.index].get("header", {})


@pytest.mark.parametrize("case", _params("json_web_signature_test"))
def test_json_web_signature(case: Case) -> None:
    """json_web_signature_test: HS/ES/RS/PS tampering, alg none, PKCS#1 and PSS encodings."""
    check_case(case)


@pytest.mark.parametrize("case", _params("json_web_key_test"))
def test_json_web_key(case: Case) -> None:
    """json_web_key_test: unsafe keys and key sets are refused, good ones verify."""
    check_case(case)


@pytest.mark.parametrize("case", _params("json_web_crypto_test"))
def test_json_web_crypto_jws(case: Case) -> None:
    """json_web_crypto_test (JWS half): the older combined set."""
    check_case(case)


def test_errata_overrides_name_existing_cases() -> None:
    """Every override points at a real case, so a vector update cannot leave a stale erratum."""
    known = {
        (case.file, case.tc_id)
        for file in ("json_web_signature_test", "json_web_key_test", "json_web_crypto_test")
        for case in _cases(file)
    }
    assert set(RESULT_OVERRIDES) <= known
    assert set(KEY_ALG_OVERRIDES) <= known
