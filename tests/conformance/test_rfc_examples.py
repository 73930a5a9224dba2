"""The JWS, JWK and JWT examples printed in the JOSE RFCs, as data (``rfc-jose-examples.json``).

RFC 7515 App. A.1-A.7 and App. E, RFC 7517 App. A, RFC 7519 sec. 3.1/6.1, RFC 7638 sec. 3.1,
RFC 7797 sec. 4, RFC 8037 App. A and the RFC 9278 thumbprint URI. Deterministic algorithms
(HS*, RS*, EdDSA) must reproduce the printed bytes; ECDSA examples must verify. The JWE, KDF and
PKCE cases of the same file belong to other suites and are filtered out by ``kind``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

import tessera
from tessera import ExpiredTokenError, InvalidToken, Key, KeySet, jws

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "rfc" / "rfc-jose-examples.json"
DATA: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
BY_ID: dict[str, dict[str, Any]] = {case["id"]: case for case in DATA["cases"]}

JWS_KINDS = frozenset({"jws-compact", "jws-compact-detached", "jws-json", "jwt"})
JWK_KINDS = frozenset({"jwk", "jwk-set", "jwk-thumbprint"})
OTHER_SUITES = frozenset(
    {"jwe-compact", "jwe-json", "aes-cbc-hmac", "ecdh-es-kdf", "ecdh-es-x25519", "ecdh-es-x448",
     "pkce-s256"}
)  # fmt: skip
"""Kinds tested elsewhere (JWE suite, PKCE in the server tests)."""

DETERMINISTIC = ("HS", "RS", "EdDSA")

NOT_RESIGNABLE: dict[str, str] = {
    "rfc7515-A.1": "its header has CR LF and spaces, which Tessera's compact JSON never emits; "
    "the signature is checked against an independent HMAC instead",
}
"""Deterministic examples whose exact bytes the signing API cannot produce, and why."""

A6_KEY_ALGS = {"2010-12-29": "RS256", "e9bc097a-ce51-4036-9562-d2ade882db0d": "ES256"}
"""RFC 7515 A.6 prints the keys without ``alg``: signature 1 is RS256, signature 2 ES256."""

RFC9278_EXAMPLE_URI = (
    "urn:ietf:params:oauth:jwk-thumbprint:sha-256:NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)
"""RFC 9278 sec. 3: the thumbprint URI of the RFC 7638 sec. 3.1 key."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cases(*kinds: str, results: tuple[str, ...] = ()) -> list[Any]:
    return [
        pytest.param(case, id=case["id"])
        for case in DATA["cases"]
        if case["kind"] in kinds and (not results or case["result"] in results)
    ]


def _verify_key(case: dict[str, Any]) -> Key:
    return Key.from_jwk(case.get("public_key", case["key"]), alg=case["alg"])


def test_every_case_kind_is_covered_by_some_suite() -> None:
    """A new kind of example in the file cannot be silently ignored by the filter."""
    kinds = {case["kind"] for case in DATA["cases"]}
    assert kinds <= JWS_KINDS | JWK_KINDS | OTHER_SUITES


@pytest.mark.parametrize("case", _cases("jws-compact", "jws-compact-detached", results=("valid",)))
def test_compact_example_verifies(case: dict[str, Any]) -> None:
    """RFC 7515 A.1-A.4, RFC 7797 sec. 4.1, RFC 8037 A.4: the printed token verifies."""
    key = _verify_key(case)
    verified = jws.verify(case["jws"], key, [case["alg"]])
    assert verified.payload == case["payload_utf8"].encode("utf-8")
    assert verified.header["alg"] == case["alg"]


def test_rfc7797_unencoded_detached_example_verifies() -> None:
    """RFC 7797 sec. 4.2: b64=false with crit, detached; the raw payload is signed."""
    case = BY_ID["rfc7797-4.2"]
    key = Key.from_jwk(case["key"], alg=case["alg"])
    payload = case["detached_payload_utf8"].encode("utf-8")
    verified = jws.verify(case["jws"], key, detached_payload=payload)
    assert verified.payload == payload
    assert verified.header == json.loads(case["protected_header_utf8"])
    assert case["signing_input"].startswith(case["jws"].split(".")[0] + ".")


def test_rfc7797_unencoded_example_is_not_a_jwt() -> None:
    """RFC 7797 sec. 7: JWTs must not use b64=false; as a non-detached JWS it has no payload."""
    case = BY_ID["rfc7797-4.2"]
    key = Key.from_jwk(case["key"], alg=case["alg"])
    with pytest.raises(InvalidToken):
        tessera.decode(case["jws"], key)
    with pytest.raises(InvalidToken):
        jws.verify(case["jws"], key)


def _resignable() -> list[Any]:
    return [
        param
        for param in _cases("jws-compact", "jws-compact-detached")
        if param.values[0]["alg"].startswith(DETERMINISTIC)
        and param.values[0]["result"].startswith("valid")
        and param.values[0]["id"] not in NOT_RESIGNABLE
    ]


@pytest.mark.parametrize("case", _resignable())
def test_deterministic_example_is_reproduced_byte_exactly(case: dict[str, Any]) -> None:
    """RFC 7515 A.2, RFC 7797 sec. 4, RFC 8037 A.4: re-signing gives the printed token."""
    key = Key.from_jwk(case["key"], alg=case["alg"])
    if case["kind"] == "jws-compact-detached":
        payload = case["detached_payload_utf8"].encode("utf-8")
        token = jws.sign(payload, key, detached=True, b64=False)
    else:
        token = jws.sign(case["payload_utf8"].encode("utf-8"), key)
    assert token == case["jws"]


def test_rfc7515_a1_hmac_matches_an_independent_implementation() -> None:
    """RFC 7515 A.1: the printed MAC is HMAC-SHA256 over the received bytes, and so is ours."""
    case = BY_ID["rfc7515-A.1"]
    secret = _b64d(case["key"]["k"])
    signing_input, _, signature = case["jws"].rpartition(".")
    expected = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    assert _b64d(signature) == expected
    key = Key.from_jwk(case["key"], alg="HS256")
    token = jws.sign(case["payload_utf8"].encode("utf-8"), key, headers={"typ": "JWT"})
    ours_input, _, ours = token.rpartition(".")
    assert _b64d(ours) == hmac.new(secret, ours_input.encode("ascii"), hashlib.sha256).digest()
    assert ours_input.split(".")[1] == signing_input.split(".")[1]


def test_rfc7519_example_jwt_validates_with_its_clock_and_expires_without() -> None:
    """RFC 7519 sec. 3.1: the JWT validates at a clock before exp and is expired today."""
    case = BY_ID["rfc7519-3.1"]
    key = Key.from_jwk(case["key"], alg=case["alg"])
    exp = case["claims"]["exp"]
    assert tessera.decode(case["jwt"], key, now=exp - 1) == case["claims"]
    with pytest.raises(ExpiredTokenError):
        tessera.decode(case["jwt"], key, now=exp)
    with pytest.raises(ExpiredTokenError):
        tessera.decode(case["jwt"], key)


@pytest.mark.parametrize("case", _cases("jws-compact", "jwt", results=("invalid-by-default",)))
def test_unsecured_example_is_rejected_whatever_the_key(case: dict[str, Any]) -> None:
    """RFC 7515 A.5 / RFC 7519 sec. 6.1: alg none is refused whenever a key is supplied."""
    token: str = case["jws"] if "jws" in case else case["jwt"]
    hmac_key = Key.from_jwk(BY_ID["rfc7515-A.1"]["key"], alg="HS256")
    rsa_key = Key.from_jwk(BY_ID["rfc7515-A.2"]["public_key"], alg="RS256")
    for key in (hmac_key, rsa_key):
        with pytest.raises(InvalidToken):
            jws.verify(token, key)
        with pytest.raises(InvalidToken):
            tessera.decode(token, key, now=1300819379)


def test_rfc7515_appendix_e_unknown_critical_extension_is_rejected() -> None:
    """RFC 7515 App. E: crit naming an extension nobody understands must be rejected."""
    case = BY_ID["rfc7515-E"]
    assert case["result"] == "invalid"
    hmac_key = Key.from_jwk(BY_ID["rfc7515-A.1"]["key"], alg="HS256")
    with pytest.raises(InvalidToken):
        jws.verify(case["jws"], hmac_key)
    with pytest.raises(InvalidToken):
        tessera.decode(case["jws"], hmac_key)


def _a6_keys() -> KeySet:
    keys = BY_ID["rfc7515-A.6"]["keys"]
    return KeySet(
        [Key.from_jwk({**jwk, "kid": kid}, alg=A6_KEY_ALGS[kid]) for kid, jwk in keys.items()]
    )


def test_rfc7515_a6_general_json_verifies_each_signature() -> None:
    """RFC 7515 A.6: both signatures verify, and the result names the one that did."""
    case = BY_ID["rfc7515-A.6"]
    obj = case["jws_json"]
    payload = _b64d(obj["payload"])
    keys = _a6_keys()
    verified = jws.verify_json(obj, keys, require_all=True)
    assert verified.payload == payload
    for index, entry in enumerate(obj["signatures"]):
        one = jws.verify_json(obj, keys[entry["header"]["kid"]])
        assert one.index == index
        assert one.header == json.loads(_b64d(entry["protected"]))
        assert one.unprotected == entry["header"]


def test_rfc7515_a6_rs256_signature_is_reproduced_byte_exactly() -> None:
    """RFC 7515 A.6: RS256 is deterministic, so signature 1 is re-created exactly."""
    case = BY_ID["rfc7515-A.6"]
    entry = case["jws_json"]["signatures"][0]
    private = Key.from_jwk({**BY_ID["rfc7515-A.2"]["key"], "kid": "2010-12-29"}, alg="RS256")
    out = jws.sign_json(
        _b64d(case["jws_json"]["payload"]),
        [jws.Signer(private, protected={"alg": "RS256"}, header={"kid": "2010-12-29"})],
    )
    assert out == {"payload": case["jws_json"]["payload"], "signatures": [entry]}


def test_rfc7515_a7_flattened_json_verifies() -> None:
    """RFC 7515 A.7: the flattened serialisation verifies with the kid named unprotected."""
    case = BY_ID["rfc7515-A.7"]
    obj = case["jws_json"]
    kid = obj["header"]["kid"]
    keys = KeySet([Key.from_jwk({**case["keys"][kid], "kid": kid}, alg="ES256")])
    verified = jws.verify_json(obj, keys)
    assert verified.payload == _b64d(obj["payload"])
    assert verified.unprotected == {"kid": kid}


@pytest.mark.parametrize("case", _cases("jwk-set"))
def test_jwk_set_example_loads_and_round_trips(case: dict[str, Any]) -> None:
    """RFC 7517 App. A.1-A.3: each set loads and exports to the same members."""
    keys = KeySet.from_jwks(case["jwks"])
    assert len(keys) == len(case["jwks"]["keys"])
    private = any("d" in jwk or jwk["kty"] == "oct" for jwk in case["jwks"]["keys"])
    assert keys.to_jwks(private=private) == case["jwks"]
    if not private:
        assert KeySet.from_jwks(json.dumps(keys.to_jwks())).to_jwks() == case["jwks"]


@pytest.mark.parametrize("case", _cases("jwk"))
def test_okp_jwk_example_loads_and_round_trips(case: dict[str, Any]) -> None:
    """RFC 8037 A.1/A.2: Ed25519 private and public JWKs load and export unchanged."""
    key = Key.from_jwk(case["jwk"])
    assert (key.kty, key.crv) == ("OKP", "Ed25519")
    assert key.to_jwk(private=key.is_private) == case["jwk"]
    assert key.public().to_jwk() == {k: v for k, v in case["jwk"].items() if k != "d"}


@pytest.mark.parametrize("case", _cases("jwk-thumbprint"))
def test_thumbprint_example(case: dict[str, Any]) -> None:
    """RFC 7638 sec. 3.1, RFC 8037 A.3: the SHA-256 JWK thumbprint and its RFC 9278 URI."""
    key = Key.from_jwk(case["jwk"])
    assert key.thumbprint() == case["thumbprint_sha256"]
    prefix = "urn:ietf:params:oauth:jwk-thumbprint:sha-256:"
    assert key.thumbprint_uri() == prefix + case["thumbprint_sha256"]


def test_rfc9278_thumbprint_uri_example() -> None:
    """RFC 9278 sec. 3 prints the URI of the RFC 7638 example key."""
    assert Key.from_jwk(BY_ID["rfc7638-3.1"]["jwk"]).thumbprint_uri() == RFC9278_EXAMPLE_URI


def test_rfc8037_ed25519_example_signs_and_verifies() -> None:
    """RFC 8037 A.4/A.5: Ed25519 is deterministic: the printed JWS is re-created and verifies."""
    case = BY_ID["rfc8037-A.4"]
    private = Key.from_jwk(case["key"], alg="EdDSA")
    assert jws.sign(case["payload_utf8"].encode("utf-8"), private) == case["jws"]
    assert jws.verify(case["jws"], private.public()).payload == case["payload_utf8"].encode()
