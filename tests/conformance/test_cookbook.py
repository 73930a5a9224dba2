"""RFC 7520 "JOSE Cookbook" JWK and JWS examples, plus its RFC 7797 and RFC 8037 extras.

JWK (sec. 3.1-3.6): load, export unchanged, thumbprint. JWS (sec. 4.1-4.8, RFC 8037 Ed25519):
every compact, flattened and general JSON output verifies, and the reproducible ones (RS256,
HS256, EdDSA) are re-signed byte-exactly. The two ``rfc7797/`` errata are handled as
``tests/vectors/README.md`` says.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tessera import InvalidKey, InvalidToken, Key, UnsupportedHeaderError, jws

COOKBOOK = Path(__file__).resolve().parent.parent / "vectors" / "jose-cookbook"
RFC_EXAMPLES = Path(__file__).resolve().parent.parent / "vectors" / "rfc" / "rfc-jose-examples.json"

JWK_FILES = sorted((COOKBOOK / "jwk").glob("*.json"))
JWS_FILES = [*sorted((COOKBOOK / "jws").glob("*.json")), COOKBOOK / "curve25519" / "jws.json"]
THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}
"""RFC 7638 sec. 3.2: the required members hashed for each key type."""

NOT_RESIGNABLE: dict[str, str] = {
    "4_7.protecting_content_only": "it has no protected header at all; Tessera always protects "
    "alg (RFC 8725bis), so this shape can be verified (opt-in) but not produced",
}
"""Reproducible cookbook examples that the signing API deliberately cannot produce, and why."""

_ALL_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _name(path: Path) -> str:
    return path.stem if path.parent.name in ("jws", "jwk") else f"{path.parent.name}-{path.stem}"


def _params(paths: list[Path]) -> list[Any]:
    return [pytest.param(_load(path), id=_name(path)) for path in paths]


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _independent_thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _signing_keys(example: dict[str, Any]) -> list[Key]:
    jwks = example["input"]["key"]
    algs = example["input"]["alg"]
    if isinstance(jwks, dict):
        jwks, algs = [jwks], [algs]
    return [Key.from_jwk(jwk, alg=alg) for jwk, alg in zip(jwks, algs, strict=True)]


def _verifying(key: Key) -> Key:
    return key if key.kty == "oct" else key.public()


def _payload(example: dict[str, Any]) -> bytes:
    payload: str = example["input"]["payload"]
    return payload.encode("utf-8")


# -- JWK (RFC 7520 sec. 3) --------------------------------------------------------------------


@pytest.mark.parametrize("jwk", _params(JWK_FILES))
def test_jwk_example_loads_and_round_trips(jwk: dict[str, Any]) -> None:
    """RFC 7520 sec. 3.1-3.6: each key loads and exports exactly the members it was given."""
    key = Key.from_jwk(jwk)
    assert (key.kty, key.kid, key.use, key.alg) == (
        jwk["kty"],
        jwk["kid"],
        jwk["use"],
        jwk.get("alg"),
    )
    private = key.kty == "oct" or "d" in jwk
    assert key.to_jwk(private=private) == jwk
    if key.kty != "oct":
        public = {name: value for name, value in jwk.items() if name not in _ALL_PRIVATE}
        assert key.public().to_jwk() == public
        assert Key.from_jwk(public).to_jwk() == public


@pytest.mark.parametrize("jwk", _params(JWK_FILES))
def test_jwk_example_thumbprint_matches_rfc7638(jwk: dict[str, Any]) -> None:
    """RFC 7638: the thumbprint equals an independent computation over the required members."""
    key = Key.from_jwk(jwk)
    assert key.thumbprint() == _independent_thumbprint(jwk)
    if key.kty != "oct":
        assert key.public().thumbprint() == key.thumbprint()


def test_encryption_key_example_cannot_verify_a_signature() -> None:
    """RFC 7520 sec. 3.6 is a use:enc AES key: it must never verify a JWS (RFC 8725 sec. 3.1)."""
    enc_key = Key.from_jwk(_load(COOKBOOK / "jwk" / "3_6.symmetric_key_encryption.json"))
    example = _load(COOKBOOK / "jws" / "4_4.hmac-sha2_integrity_protection.json")
    with pytest.raises((InvalidToken, InvalidKey)):
        jws.verify(example["output"]["compact"], enc_key, ["HS256"])


# -- JWS (RFC 7520 sec. 4, RFC 8037) ----------------------------------------------------------


def _with_compact() -> list[Any]:
    return [param for param in _params(JWS_FILES) if "compact" in param.values[0]["output"]]


@pytest.mark.parametrize("example", _with_compact())
def test_compact_output_verifies(example: dict[str, Any]) -> None:
    """RFC 7520 sec. 4.1-4.5, RFC 8037 A.4: the compact serialisation verifies."""
    (key,) = _signing_keys(example)
    detached = example["output"]["compact"].split(".")[1] == ""
    verified = jws.verify(
        example["output"]["compact"],
        _verifying(key),
        detached_payload=_payload(example) if detached else None,
    )
    assert verified.payload == _payload(example)


def _json_outputs() -> list[Any]:
    params = []
    for path in JWS_FILES:
        example = _load(path)
        if path.stem.startswith(("4_7", "4_8")):
            continue  # unprotected alg: tested below with and without the opt-in
        for form in ("json", "json_flat"):
            if form in example["output"]:
                params.append(pytest.param(example, form, id=f"{_name(path)}-{form}"))
    return params


@pytest.mark.parametrize(("example", "form"), _json_outputs())
def test_json_output_verifies(example: dict[str, Any], form: str) -> None:
    """RFC 7520 sec. 4.1-4.6, RFC 8037: general and flattened JSON serialisations verify."""
    (key,) = _signing_keys(example)
    obj = example["output"][form]
    detached = "payload" not in obj
    verified = jws.verify_json(
        obj, _verifying(key), detached_payload=_payload(example) if detached else None
    )
    assert verified.payload == _payload(example)
    entry = obj["signatures"][0] if form == "json" else obj
    assert verified.header == json.loads(_b64d(entry["protected"]))
    assert verified.unprotected == entry.get("header", {})


def _reproducible() -> list[Any]:
    return [
        param
        for param in _params(JWS_FILES)
        if param.values[0].get("reproducible") and param.id not in NOT_RESIGNABLE
    ]


@pytest.mark.parametrize("example", _reproducible())
def test_reproducible_example_is_resigned_byte_exactly(example: dict[str, Any]) -> None:
    """RFC 7520 sec. 4.1, 4.4-4.6, RFC 8037: deterministic signatures re-create every output."""
    (key,) = _signing_keys(example)
    output = example["output"]
    detached = "payload" not in output["json"]
    signer = jws.Signer(
        key,
        protected=example["signing"]["protected"],
        header=example["signing"].get("unprotected"),
    )
    if "compact" in output:
        assert jws.sign(_payload(example), key, detached=detached) == output["compact"]
    general = jws.sign_json(_payload(example), [signer], detached=detached)
    assert general == output["json"]
    flattened = jws.sign_json(_payload(example), [signer], flattened=True, detached=detached)
    assert flattened == output["json_flat"]


def test_content_only_example_with_unprotected_alg_is_rejected_by_default() -> None:
    """RFC 7520 sec. 4.7 puts alg in the unprotected header: refused unless opted in (8725bis)."""
    example = _load(COOKBOOK / "jws" / "4_7.protecting_content_only.json")
    (key,) = _signing_keys(example)
    for form in ("json", "json_flat"):
        with pytest.raises(UnsupportedHeaderError):
            jws.verify_json(example["output"][form], key)


def test_content_only_example_verifies_with_unprotected_alg_opt_in() -> None:
    """RFC 7520 sec. 4.7 with ``allow_unprotected_alg=True``: verifies, nothing is protected."""
    example = _load(COOKBOOK / "jws" / "4_7.protecting_content_only.json")
    (key,) = _signing_keys(example)
    for form in ("json", "json_flat"):
        verified = jws.verify_json(example["output"][form], key, allow_unprotected_alg=True)
        assert verified.payload == _payload(example)
        assert verified.header == {}
        assert verified.unprotected == example["signing"]["unprotected"]


def test_multiple_signatures_example_verifies_each_signature_with_its_key() -> None:
    """RFC 7520 sec. 4.8: RS256, ES512 (unprotected alg) and HS256 signatures, one per key."""
    example = _load(COOKBOOK / "jws" / "4_8.multiple_signatures.json")
    obj = example["output"]["json"]
    for index, key in enumerate(_signing_keys(example)):
        verified = jws.verify_json(obj, _verifying(key), allow_unprotected_alg=True)
        assert verified.index == index
        assert verified.payload == _payload(example)
        assert verified.unprotected == obj["signatures"][index].get("header", {})


def test_multiple_signatures_example_refuses_unprotected_alg_by_default() -> None:
    """RFC 7520 sec. 4.8: the ES512 signature has its alg unprotected, so it needs the opt-in."""
    example = _load(COOKBOOK / "jws" / "4_8.multiple_signatures.json")
    ec_key = _signing_keys(example)[1]
    with pytest.raises(InvalidToken):
        jws.verify_json(example["output"]["json"], ec_key.public())


def test_multiple_signatures_example_deterministic_signatures_are_resigned() -> None:
    """RFC 7520 sec. 4.8: the RS256 and HS256 entries are re-created byte-exactly."""
    example = _load(COOKBOOK / "jws" / "4_8.multiple_signatures.json")
    rsa_key, _, hmac_key = _signing_keys(example)
    signing = example["signing"]
    out = jws.sign_json(
        _payload(example),
        [
            jws.Signer(
                rsa_key, protected=signing[0]["protected"], header=signing[0]["unprotected"]
            ),
            jws.Signer(hmac_key, protected=signing[2]["protected"]),
        ],
    )
    expected = example["output"]["json"]
    assert out["payload"] == expected["payload"]
    assert out["signatures"] == [expected["signatures"][0], expected["signatures"][2]]


# -- RFC 7797 (b64 = false) -------------------------------------------------------------------


def _rfc7797_compact_example() -> tuple[dict[str, Any], Key]:
    example = _load(COOKBOOK / "rfc7797" / "hmac-sha2_b64_false.json")
    (key,) = _signing_keys(example)
    return example, key


def test_unencoded_payload_example_verifies_detached() -> None:
    """RFC 7797 sec. 5: the cookbook's b64=false token verifies with its payload detached."""
    example, key = _rfc7797_compact_example()
    header, payload, signature = example["output"]["compact"].split(".")
    assert payload.encode("utf-8") == _payload(example)
    verified = jws.verify(f"{header}..{signature}", key, detached_payload=_payload(example))
    assert verified.payload == _payload(example)
    assert verified.header == {"alg": "HS256", "b64": False, "crit": ["b64"]}


def test_unencoded_payload_example_with_inline_payload_is_refused_in_compact_form() -> None:
    """RFC 8725bis sec. 3.14: a compact token holds only base64url and dots, so the inline form
    (spaces and '!' in the payload segment) is refused; Tessera's compact b64=false is detached.
    """
    example, key = _rfc7797_compact_example()
    with pytest.raises(InvalidToken):
        jws.verify(example["output"]["compact"], key)


@pytest.mark.parametrize("form", ["json", "json_flat"])
def test_unencoded_payload_example_json_verifies(form: str) -> None:
    """RFC 7797 sec. 5: the JSON serialisations carry the raw payload and verify."""
    example, key = _rfc7797_compact_example()
    verified = jws.verify_json(example["output"][form], key)
    assert verified.payload == _payload(example)


def test_unencoded_payload_example_is_resigned_byte_exactly() -> None:
    """RFC 7797: HS256 with b64=false re-creates the compact (detached) and JSON outputs."""
    example, key = _rfc7797_compact_example()
    header, _, signature = example["output"]["compact"].split(".")
    assert jws.sign(_payload(example), key, detached=True, b64=False) == f"{header}..{signature}"
    signer = jws.Signer(key)
    assert jws.sign_json(_payload(example), [signer], b64=False) == example["output"]["json"]
    flattened = jws.sign_json(_payload(example), [signer], flattened=True, b64=False)
    assert flattened == example["output"]["json_flat"]


def test_rfc7797_section_4_2_json_form_is_signed_with_crit() -> None:
    """RFC 7797 sec. 4.2 (taken from the RFC file, not the cookbook erratum): JSON form."""
    rfc = {case["id"]: case for case in _load(RFC_EXAMPLES)["cases"]}["rfc7797-4.2"]
    key = Key.from_jwk(rfc["key"], alg=rfc["alg"])
    payload = rfc["detached_payload_utf8"].encode("utf-8")
    header, _, signature = rfc["jws"].split(".")
    out = jws.sign_json(payload, [jws.Signer(key)], flattened=True, b64=False)
    assert out == {"payload": "$.02", "protected": header, "signature": signature}
    assert jws.verify_json(out, key).payload == payload


def test_cookbook_rfc7797_4_2_erratum_without_crit_is_rejected() -> None:
    """The cookbook's 4.2 output signs b64=false without crit (RFC 7797 sec. 6 forbids it)."""
    example = _load(COOKBOOK / "rfc7797" / "4.2.hmac-sha2_b64_false.json")
    (key,) = _signing_keys(example)
    assert json.loads(_b64d(example["output"]["json_flat"]["protected"])) == {
        "alg": "HS256",
        "b64": False,
    }
    for form in ("json", "json_flat"):
        with pytest.raises(InvalidToken):
            jws.verify_json(example["output"][form], key)
