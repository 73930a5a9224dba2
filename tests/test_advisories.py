"""One regression test per JWS/JWK/JWT class of the attack catalogue (security/attacks.md).

Each test is named after its catalogue entry (``test_03_hs_rs_confusion_...``) and its docstring
names the advisories it guards against. Inputs come from ``tests/vectors`` where a vector
exists and are built from the catalogue's recipe otherwise (with pyca/cryptography or the
standard library, so that the library under test never builds its own attacks).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import random
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

import tessera
from tessera import (
    AlgorithmNotAllowedError,
    ClaimError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidKey,
    InvalidSubjectError,
    InvalidToken,
    InvalidTypeError,
    Key,
    KeyNotFoundError,
    KeySet,
    Limits,
    MalformedTokenError,
    MissingClaimError,
    NotYetValidError,
    SignatureError,
    TesseraError,
    UnsupportedHeaderError,
    jws,
)

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src" / "tessera"
VECTORS = TESTS / "vectors"

ATTACKS: dict[str, Any] = json.loads(
    (VECTORS / "attacks" / "attack-tokens.json").read_text(encoding="utf-8")
)
CASES: dict[str, dict[str, Any]] = {case["id"]: case for case in ATTACKS["cases"]}
JWKS: dict[str, dict[str, Any]] = ATTACKS["keys"]
RFC: dict[str, dict[str, Any]] = {
    case["id"]: case
    for case in json.loads(
        (VECTORS / "rfc" / "rfc-jose-examples.json").read_text(encoding="utf-8")
    )["cases"]
}
WYCHEPROOF = VECTORS / "wycheproof"

NOW: int = ATTACKS["now"]
ISS = "https://issuer.example"
AUD = "https://api.example"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

RSA_PUBLIC = Key.from_jwk(JWKS["rsa"])
RSA_PRIVATE = Key.from_jwk({**RFC["rfc7515-A.2"]["key"], "alg": "RS256", "kid": "rsa-2011"})
EC_PUBLIC = Key.from_jwk(JWKS["ec"])
EC_PRIVATE = Key.from_jwk({**RFC["rfc7515-A.3"]["key"], "alg": "ES256", "kid": "ec-1"})
HMAC_KEY = Key.from_jwk(JWKS["hmac"])
HMAC_SECRET = base64.urlsafe_b64decode(JWKS["hmac"]["k"] + "==")
ATTACKER = Key.from_jwk({**JWKS["attacker_ec_private"], "alg": "ES256", "kid": "att"})

RSA_CRYPTO: Any = serialization.load_pem_private_key(RSA_PRIVATE.to_pem(private=True), None)
EC_CRYPTO: Any = serialization.load_pem_private_key(EC_PRIVATE.to_pem(private=True), None)


# -- helpers ----------------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    """Canonical unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Lenient base64url decoding, for reading trusted test data only."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: Any) -> str:
    """A token segment: bytes as they are, anything else as compact JSON."""
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64u(raw)


def forge(header: Any, claims: Any, sign: Callable[[bytes], bytes]) -> str:
    """``Tok(H, P, alg, key)`` of the catalogue, with any header, signed outside Tessera."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64u(sign(signing_input.encode('ascii')))}"


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 with any bytes as the secret (stdlib, as an attacker would)."""
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def rs256(data: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 SHA-256 with the RFC 7515 A.2 key."""
    signature: bytes = RSA_CRYPTO.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return signature


def es256_with(private: Any) -> Callable[[bytes], bytes]:
    """ECDSA P-256 SHA-256, raw R||S."""

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def claims(**overrides: Any) -> dict[str, Any]:
    """Good claims for the catalogue's verifier, with overrides (``None`` removes a claim)."""
    base: dict[str, Any] = {"iss": ISS, "sub": "alice", "aud": AUD, "iat": NOW - 60}
    base["exp"] = NOW + 3600
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def verify(token: Any, key: Any = HMAC_KEY, algorithms: Any = ("HS256",), **kw: Any) -> Any:
    """``tessera.decode`` with the catalogue's issuer, audience and clock."""
    options: dict[str, Any] = {"issuer": ISS, "audience": AUD, "now": NOW}
    options.update(kw)
    algs = list(algorithms) if algorithms is not None else None
    return tessera.decode(token, key, algs, **options)


def attack(case_id: str) -> str:
    """The token of one attack-tokens.json case."""
    token: str = CASES[case_id]["token"]
    return token


def assert_rejected(token: Any, *configs: dict[str, Any]) -> None:
    """The token is rejected with an InvalidToken under each verifier configuration."""
    for config in configs or ({},):
        with pytest.raises(InvalidToken):
            verify(token, **config)


def wycheproof(file: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(group, test) pairs of one Wycheproof file."""
    data = json.loads((WYCHEPROOF / f"{file}.json").read_text(encoding="utf-8"))
    for group in data["testGroups"]:
        for test in group["tests"]:
            yield group, test


def wycheproof_cases(file: str, *tc_ids: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (group, test) pairs of the named cases; all of them must exist."""
    found = [(group, test) for group, test in wycheproof(file) if test["tcId"] in tc_ids]
    assert sorted(test["tcId"] for _, test in found) == sorted(tc_ids)
    return found


RSA_KEY_FORMS: dict[str, bytes] = {
    "spki-pem": RSA_PUBLIC.to_pem(),
    "spki-pem-no-trailing-newline": RSA_PUBLIC.to_pem().rstrip(b"\n"),
    "spki-pem-crlf": RSA_PUBLIC.to_pem().replace(b"\n", b"\r\n"),
    "pkcs1-pem": RSA_CRYPTO.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    ),
    "spki-der": RSA_CRYPTO.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ),
    "openssh": RSA_CRYPTO.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ),
    "jwk-json": json.dumps(JWKS["rsa"]).encode(),
    "n-bytes": b64d(JWKS["rsa"]["n"]),
}
"""Every byte form of the verifier's RSA public key an HS/RS confusion attack might use."""

EC_KEY_FORMS: dict[str, bytes] = {
    "spki-pem": EC_PUBLIC.to_pem(),
    "openssh": EC_CRYPTO.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ),
    "x962-point": EC_CRYPTO.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ),
    "jwk-json": json.dumps(JWKS["ec"]).encode(),
}


# -- A. Algorithm and key selection ---------------------------------------------------------


def test_01_alg_none_rejected_under_every_config() -> None:
    """#1 ALG-NONE: McLean 2015, prime-jwt CVE-2018-1000531, jsonwebtoken CVE-2022-23540,
    Authlib CVE-2026-28802: an unsecured token is refused whatever key and allow-list is given.
    """
    body = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims(sub='admin'))}"
    good = tessera.encode(claims(sub="admin"), HMAC_KEY)
    tokens = [
        f"{body}.",
        body,
        f"{body}.{good.rsplit('.', 1)[1]}",
        attack("alg-none-none"),
        attack("alg-none-keep-sig"),
        attack("alg-missing"),
        attack("alg-not-string"),
        RFC["rfc7515-A.5"]["jws"],
    ]
    configs: list[tuple[Any, Any]] = [
        (HMAC_KEY, ["HS256"]),
        (HMAC_KEY, None),
        (RSA_PUBLIC, ["RS256"]),
        (RSA_PUBLIC, None),
        (EC_PUBLIC, ["ES256"]),
        (KeySet([RSA_PUBLIC, EC_PUBLIC]), ["RS256", "ES256"]),
        (Key.from_jwk({k: v for k, v in JWKS["hmac"].items() if k != "alg"}), ["HS256"]),
    ]
    for token in tokens:
        for key, algorithms in configs:
            with pytest.raises(InvalidToken):
                verify(token, key, algorithms)
            with pytest.raises(InvalidToken):
                jws.verify(token, key, algorithms)
        no_keys: tuple[Any, ...] = (None, b"", "", {})
        for no_key in no_keys:
            with pytest.raises(TesseraError):
                verify(token, no_key, None)
    flattened = {
        "protected": segment({"alg": "none"}),
        "payload": segment(claims()),
        "signature": "",
    }
    with pytest.raises(InvalidToken):
        jws.verify_json(flattened, HMAC_KEY)
    with pytest.raises(ConfigurationError):
        verify(good, HMAC_KEY, ["none"])


def test_02_alg_none_case_variants_rejected() -> None:
    """#2 ALG-NONE-CASE (RFC 8725bis sec. 2.11): 'None', 'NONE', 'nOnE' and any re-cased real
    algorithm name are refused; algorithm names are compared exactly (RFC 7515 sec. 4.1.1).
    """
    for case_id in ("alg-none-None", "alg-none-NONE", "alg-none-nOnE"):
        assert_rejected(attack(case_id), {"key": RSA_PUBLIC, "algorithms": ["RS256"]})
    for alg in ("None", "NONE", "nOnE", "hs256", "Hs256", "HS256 ", "hS256"):
        token = forge({"alg": alg}, claims(), hs256(HMAC_SECRET))
        with pytest.raises(AlgorithmNotAllowedError):
            verify(token)
    with pytest.raises(ConfigurationError):
        verify(tessera.encode(claims(), HMAC_KEY), algorithms=["hs256"])
    with pytest.raises(ConfigurationError):
        verify(tessera.encode(claims(), HMAC_KEY), algorithms=["NONE"])


def test_03_hs_rs_confusion_rsa_public_key_cannot_be_hmac_secret() -> None:
    """#3 HS-RS-CONFUSION: CVE-2015-9235, CVE-2016-10555, DSA-3293, CVE-2017-11424,
    CVE-2023-48223, CVE-2023-48238, CVE-2022-23541, CVE-2024-37568, CVE-2026-102268.
    """
    for secret in RSA_KEY_FORMS.values():
        token = forge({"alg": "HS256", "kid": "rsa-2011"}, claims(sub="admin"), hs256(secret))
        for algorithms in (["RS256"], ["RS256", "HS256"], None):
            with pytest.raises(InvalidToken):
                verify(token, RSA_PUBLIC, algorithms)
            with pytest.raises(InvalidToken):
                verify(token, KeySet([RSA_PUBLIC]), algorithms)
        with pytest.raises(TesseraError):
            verify(token, secret, ["HS256"])  # raw bytes are never a key
    for case_id in [c for c in CASES if c.startswith("hs-rs-")]:
        assert_rejected(attack(case_id), {"key": RSA_PUBLIC, "algorithms": ["RS256", "HS256"]})
    # "RSA public key + HS256" cannot be expressed at all, and key files are not secrets.
    for form in ("spki-pem", "spki-pem-no-trailing-newline", "spki-pem-crlf", "pkcs1-pem",
                 "openssh", "jwk-json"):  # fmt: skip
        with pytest.raises(InvalidKey):
            Key.from_secret(RSA_KEY_FORMS[form], "HS256")
    with pytest.raises(InvalidKey):
        Key.from_jwk(JWKS["rsa"], alg="HS256")
    with pytest.raises(InvalidKey):
        Key.from_pem(RSA_PUBLIC.to_pem(), alg="HS256")
    with pytest.raises(InvalidKey):
        Key.from_jwk({k: v for k, v in JWKS["rsa"].items() if k != "alg"}, alg="HS256")


def test_04_hs_ec_confusion_ec_public_key_cannot_be_hmac_secret() -> None:
    """#4 HS-EC-CONFUSION: PyJWT CVE-2022-29217, python-jose CVE-2024-33663 (OpenSSH ECDSA
    keys as HMAC secrets); Wycheproof json_web_crypto_test tc31.
    """
    for secret in EC_KEY_FORMS.values():
        token = forge({"alg": "HS256", "kid": "ec-1"}, claims(sub="admin"), hs256(secret))
        for algorithms in (["ES256"], ["ES256", "HS256"], None):
            with pytest.raises(InvalidToken):
                verify(token, EC_PUBLIC, algorithms)
    for case_id in ("hs-ec-spki-pem", "hs-ec-openssh-ecdsa", "hs-ec-x962-point"):
        assert_rejected(attack(case_id), {"key": EC_PUBLIC, "algorithms": ["ES256", "HS256"]})
    for group, test in wycheproof_cases("json_web_crypto_test", 31):
        with pytest.raises(InvalidToken):
            jws.verify(test["jws"], Key.from_jwk(group["public"]), ["ES256"])
    with pytest.raises(InvalidKey):
        Key.from_jwk(JWKS["ec"], alg="HS256")
    for form in ("spki-pem", "openssh", "jwk-json"):
        with pytest.raises(InvalidKey):
            Key.from_secret(EC_KEY_FORMS[form], "HS256")
    with pytest.raises(InvalidKey):
        Key.from_pem(EC_PUBLIC.to_pem(), alg="HS256")


def test_05_hs_jwk_confusion_jwk_text_is_never_an_hmac_secret() -> None:
    """#5 HS-JWK-CONFUSION: PyJWT CVE-2026-48526 (JWK JSON as an HS256 secret) and
    CVE-2026-102273 (nested JWK shapes): strings and mappings are never keys.
    """
    jwk_text = json.dumps(JWKS["rsa"])
    shapes = [
        jwk_text,
        json.dumps({"keys": [JWKS["rsa"]]}),
        json.dumps({"key": JWKS["rsa"]}),
    ]
    for text in shapes:
        token = forge(
            {"alg": "HS256", "kid": "rsa-2011"}, claims(sub="admin"), hs256(text.encode())
        )
        for key in (text, text.encode(), json.loads(text)):
            with pytest.raises(TesseraError):
                verify(token, key, ["RS256", "HS256"])
        with pytest.raises(InvalidToken):
            verify(token, RSA_PUBLIC, ["RS256", "HS256"])
        with pytest.raises(InvalidToken):
            verify(token, KeySet.from_jwks({"keys": [JWKS["rsa"]]}), ["RS256", "HS256"])
    with pytest.raises(InvalidKey):
        Key.from_secret(jwk_text, "HS256")  # type: ignore[arg-type]
    assert_rejected(attack("hs-rs-jwk-json"), {"key": RSA_PUBLIC, "algorithms": ["RS256", "HS256"]})


def test_06_alg_allowlist_bypass_one_algorithm_drives_check_and_crypto() -> None:
    """#6 ALG-ALLOWLIST-BYPASS: PyJWT CVE-2026-48523 (allow-list checked against the header,
    crypto run with the key's algorithm). Header alg, allow-list and key binding must agree.
    """
    ps256_public = Key.from_jwk({**JWKS["rsa"], "alg": "PS256"})
    rs_signed_as_ps = forge({"alg": "PS256"}, claims(sub="admin"), rs256)
    with pytest.raises(InvalidToken):
        verify(rs_signed_as_ps, ps256_public, ["PS256"])
    rs_token = tessera.encode(claims(), RSA_PRIVATE)
    for algorithms in (["PS256"], ["PS256", "RS256"], None):
        with pytest.raises(AlgorithmNotAllowedError):
            verify(rs_token, ps256_public, algorithms)
    with pytest.raises(AlgorithmNotAllowedError):
        verify(rs_token, RSA_PUBLIC, ["ES256"])
    assert_rejected(attack("alg-not-allowed"), {"key": RSA_PUBLIC, "algorithms": ["ES256"]})
    unbound = Key.from_jwk({k: v for k, v in JWKS["rsa"].items() if k != "alg"})
    with pytest.raises(AlgorithmNotAllowedError):
        verify(rs_token, unbound, ["PS256"])
    with pytest.raises(ConfigurationError):
        verify(rs_token, unbound, None)
    assert verify(rs_token, unbound, ["RS256"])["sub"] == "alice"


def test_07_key_alg_mismatch_type_and_curve_must_fit_the_algorithm() -> None:
    """#7 KEY-ALG-MISMATCH: jsonwebtoken CVE-2022-23539; Wycheproof mismatchedAlgAndCurve
    (json_web_key_test tc19/20/23/24): the key's type, curve and size fit its algorithm.
    """
    assert_rejected(
        attack("alg-curve-mismatch"), {"key": EC_PUBLIC, "algorithms": ["ES256", "ES384"]}
    )
    p256 = {k: v for k, v in JWKS["ec"].items() if k != "alg"}
    rsa_jwk = {k: v for k, v in JWKS["rsa"].items() if k != "alg"}
    misfits = [
        (p256, "ES384"),
        (p256, "ES512"),
        (p256, "ES256K"),
        (p256, "EdDSA"),
        (p256, "RS256"),
        (rsa_jwk, "ES256"),
        (rsa_jwk, "EdDSA"),
        ({"kty": "oct", "k": JWKS["hmac"]["k"]}, "RS256"),
        ({"kty": "oct", "k": JWKS["hmac"]["k"]}, "ES256"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC["rfc8037-A.2"]["jwk"]["x"]}, "ES256"),
    ]
    for jwk, alg in misfits:
        with pytest.raises(InvalidKey):
            Key.from_jwk(jwk, alg=alg)
    unbound_p256 = Key.from_jwk(p256)
    es384 = forge({"alg": "ES384"}, claims(), es256_with(EC_CRYPTO))
    with pytest.raises(InvalidToken):
        verify(es384, unbound_p256, ["ES256", "ES384"])
    for group, _test in wycheproof_cases("json_web_key_test", 19, 20, 23, 24):
        jwk = dict(group["public"]["keys"][0])
        if jwk.get("alg") == "ES521":
            jwk["alg"] = "ES512"  # Wycheproof's unregistered name for the P-521 algorithm
        with pytest.raises(InvalidKey):
            Key.from_jwk(jwk)


def test_08_keyset_kid_confusion_mixed_or_duplicate_sets_are_refused() -> None:
    """#8 KEYSET-KID-CONFUSION: firebase/php-jwt CVE-2021-46743; Wycheproof json_web_key_test
    tc1 (mixed symmetry) and tc4 (duplicate kid).
    """
    rsa_a = {**JWKS["rsa"], "kid": "a"}
    oct_b = {**JWKS["hmac"], "kid": "b"}
    with pytest.raises(InvalidKey):
        KeySet.from_jwks({"keys": [rsa_a, oct_b]})
    with pytest.raises(InvalidKey):
        KeySet([Key.from_jwk(rsa_a), Key.from_jwk(oct_b)])
    twin = {"kty": "oct", "k": b64u(b"\x01" * 32), "alg": "HS256", "kid": "b"}
    with pytest.raises(InvalidKey):
        KeySet.from_jwks({"keys": [oct_b, twin]})
    with pytest.raises(InvalidKey):
        KeySet.from_jwks({"keys": [JWKS["ec"], {**JWKS["rsa"], "kid": "ec-1"}]})
    keys = KeySet.from_jwks({"keys": [rsa_a, {**JWKS["ec"], "kid": "c"}]})
    forged = forge(
        {"alg": "HS256", "kid": "a"}, claims(sub="admin"), hs256(RSA_KEY_FORMS["spki-pem"])
    )
    with pytest.raises(InvalidToken):
        verify(forged, keys, ["RS256", "ES256", "HS256"])
    no_kid = forge({"alg": "HS256"}, claims(sub="admin"), hs256(RSA_KEY_FORMS["n-bytes"]))
    with pytest.raises(InvalidToken):
        verify(no_kid, keys, ["RS256", "ES256", "HS256"])
    for group, _test in wycheproof_cases("json_web_key_test", 1, 4):
        with pytest.raises(InvalidKey):
            KeySet.from_jwks(group["private"])


def test_09_key_use_ops_encryption_keys_never_verify_signatures() -> None:
    """#9 KEY-USE-OPS: jose4j verified with use:enc keys (Wycheproof rejectWrongUse /
    rejectWrongKeyOps, json_web_signature_test tc353-356, json_web_key_test tc6, tc21).
    """
    token = tessera.encode(claims(), EC_PRIVATE)
    bare = {k: v for k, v in JWKS["ec"].items() if k not in ("alg", "use")}
    for extra in ({"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": ["sign"]}):
        key = Key.from_jwk({**bare, **extra})
        with pytest.raises(InvalidToken):
            verify(token, key, ["ES256"])
        with pytest.raises(InvalidToken):
            verify(token, KeySet([key]), ["ES256"])
    bound_enc: list[dict[str, Any]] = [
        {"alg": "ES256", "use": "enc"},
        {"alg": "ES256", "key_ops": ["encrypt"]},
    ]
    for extra in bound_enc:
        with pytest.raises(InvalidKey):
            Key.from_jwk({**bare, **extra})
    for extra in ({"use": "sig"}, {"key_ops": ["verify"]}, {}):
        assert verify(token, Key.from_jwk({**bare, **extra}), ["ES256"])["sub"] == "alice"


def test_10_empty_key_is_never_a_key() -> None:
    """#10 EMPTY-KEY: InfluxDB CVE-2019-20933, ruby-jwt < 3.2.0, fast-jwt CVE-2026-107720,
    PyJWT CVE-2026-102266, Wycheproof json_web_key_test tc16-18.
    """
    with pytest.raises(InvalidKey):
        Key.from_secret(b"", "HS256")
    for alg in ("HS256", "HS384", "HS512", None):
        with pytest.raises(InvalidKey):
            Key.from_jwk({"kty": "oct", "k": ""}, alg=alg)
    token = forge({"alg": "HS256"}, claims(sub="admin"), hs256(b""))
    for no_key in (None, b"", "", 0, False):
        with pytest.raises(TesseraError):
            verify(token, no_key, ["HS256"])
    assert_rejected(attack("kid-path-traversal"))
    assert_rejected(token)


def test_11_weak_hmac_secret_short_secrets_are_refused_at_key_construction() -> None:
    """#11 WEAK-HMAC-SECRET: Kiali CVE-2020-1764, CVE-2025-45768, CVE-2025-45770, Wycheproof
    json_web_key_test tc10-12: HS256/384/512 keys are at least 32/48/64 bytes (RFC 7518 3.2).
    """
    for alg, size in (("HS256", 32), ("HS384", 48), ("HS512", 64)):
        with pytest.raises(InvalidKey):
            Key.from_secret(b"k" * (size - 1), alg)
        with pytest.raises(InvalidKey):
            Key.from_jwk({"kty": "oct", "k": b64u(b"k" * (size - 1)), "alg": alg})
        assert Key.from_secret(b"k" * size, alg).alg == alg
        assert len(b64d(Key.generate(alg).to_jwk(private=True)["k"])) >= size
    with pytest.raises(InvalidKey):
        Key.from_secret(b"secret", "HS256")
    with pytest.raises(InvalidKey):
        Key.from_secret("a string secret of more than thirty-two chars", "HS256")  # type: ignore[arg-type]


def test_12_weak_rsa_keys_are_refused() -> None:
    """#12 WEAK-RSA-KEY: ROCA CVE-2017-15361, 1024-bit moduli, public exponent 1
    (Wycheproof json_web_key_test tc7, tc8, tc9).
    """
    for group, _test in wycheproof_cases("json_web_key_test", 7, 8, 9):
        with pytest.raises(InvalidKey):
            KeySet.from_jwks(group["public"])
        with pytest.raises(InvalidKey):
            Key.from_jwk(group["public"]["keys"][0])
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = small.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKey):
        Key.from_pem(pem, alg="RS256")
    with pytest.raises(InvalidKey):
        Key.generate("RS256", size=1024)
    numbers = RSA_CRYPTO.public_key().public_numbers()
    for exponent in (1, 2, 65536):
        jwk = {
            "kty": "RSA",
            "n": JWKS["rsa"]["n"],
            "e": b64u(exponent.to_bytes(3, "big").lstrip(b"\0")),
        }
        with pytest.raises(InvalidKey):
            Key.from_jwk(jwk)
    assert numbers.e == 65537


def test_13_embedded_jwk_header_is_never_used_as_the_key() -> None:
    """#13 EMBEDDED-JWK: Cisco node-jose CVE-2018-0114, Crypt-JWT 0.023; Wycheproof
    json_web_crypto_test tc32 (rejectsAttackerProvidedEmbeddedJwk).
    """
    attacker_jwk = ATTACKER.public().to_jwk()
    for header in ({"jwk": attacker_jwk}, {"jwk": {**attacker_jwk, "kid": "ec-1"}, "kid": "ec-1"}):
        token = tessera.encode(claims(sub="admin"), ATTACKER, headers=header)
        assert verify(token, ATTACKER.public(), ["ES256"])["sub"] == "admin"  # validly signed
        for key in (EC_PUBLIC, KeySet([EC_PUBLIC])):
            with pytest.raises(InvalidToken):
                verify(token, key, ["ES256"])
    for case_id in ("embedded-jwk", "embedded-jwk-same-kid"):
        assert_rejected(attack(case_id), {"key": EC_PUBLIC, "algorithms": ["ES256"]})
    for group, test in wycheproof_cases("json_web_crypto_test", 32):
        with pytest.raises(InvalidToken):
            jws.verify(test["jws"], Key.from_jwk(group["public"]), ["ES256"])


def test_14_jku_x5u_injection_urls_in_tokens_are_never_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#14 JKU-X5U-INJECTION: RFC 8725 sec. 3.10 (SSRF, attacker keys), PyJWKClient
    CVE-2026-48522 and CVE-2026-102267: no URL taken from a token is ever dereferenced.
    """
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        attempts.append(args)
        raise OSError("network I/O during token verification")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for case_id in ("jku-attacker", "x5u-attacker"):
        assert_rejected(attack(case_id), {"key": EC_PUBLIC, "algorithms": ["ES256"]})
    for header in (
        {"jku": "https://attacker.example/jwks.json", "kid": "att"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"jku": "file:///etc/passwd"},
        {"jku": "http://169.254.169.254/latest/meta-data/"},
    ):
        forged = tessera.encode(claims(sub="admin"), ATTACKER, headers=header)
        with pytest.raises(InvalidToken):
            verify(forged, EC_PUBLIC, ["ES256"])
        # Signed by the trusted key, the URL is inert: the token verifies, nothing is fetched.
        genuine = tessera.encode(claims(), EC_PRIVATE, headers=header)
        assert verify(genuine, EC_PUBLIC, ["ES256"])["sub"] == "alice"
    assert attempts == []


def test_15_x5c_injection_self_signed_chain_in_header_is_not_trusted() -> None:
    """#15 X5C-INJECTION: a certificate chain embedded in the token is not a trust anchor."""
    token = attack("x5c-self-signed")
    assert "x5c" in json.loads(b64d(token.split(".")[0]))
    assert verify(token, ATTACKER.public(), ["ES256"])["sub"] == "admin"  # validly signed
    assert_rejected(token, {"key": EC_PUBLIC, "algorithms": ["ES256"]})
    with pytest.raises(InvalidToken):
        verify(token, KeySet([EC_PUBLIC]), ["ES256"])


def test_16_kid_injection_kid_is_an_opaque_lookup_string() -> None:
    """#16 KID-INJECTION: RFC 8725 sec. 2.9/3.10 (SQL/LDAP injection, path traversal through
    kid): kid is a bounded string used only as a key-set index, with no fallback key.
    """
    for case_id in ("kid-path-traversal", "kid-sqli", "kid-non-string"):
        assert_rejected(attack(case_id))
    keys = KeySet([HMAC_KEY])
    for kid in ("../../../../dev/null", "x' UNION SELECT 'secret' --", "HMAC-1", "hmac-1 "):
        token = tessera.encode(claims(), HMAC_KEY, headers={"kid": kid})
        with pytest.raises(KeyNotFoundError):
            verify(token, keys)
    bad_kids: list[Any] = [{"$ne": None}, ["hmac-1"], 1, True, "k" * 257]
    for bad_kid in bad_kids:
        token = forge({"alg": "HS256", "kid": bad_kid}, claims(), hs256(HMAC_SECRET))
        with pytest.raises(MalformedTokenError):
            verify(token, keys)
    assert verify(tessera.encode(claims(), HMAC_KEY), keys)["sub"] == "alice"


def test_17_crit_ignored_unknown_critical_extensions_are_rejected() -> None:
    """#17 CRIT-IGNORED: Authlib CVE-2025-59420, PyJWT CVE-2026-32597, fast-jwt CVE-2026-35042,
    python-jose issue #413; RFC 7515 sec. 4.1.11 and App. E.
    """
    for case_id in ("crit-unknown", "crit-empty", "crit-registered", "crit-missing-member"):
        assert_rejected(attack(case_id), {"key": RSA_PUBLIC, "algorithms": ["RS256"]})
    headers: list[dict[str, Any]] = [
        {"alg": "HS256", "crit": ["x-policy"], "x-policy": "mfa"},
        {"alg": "HS256", "crit": []},
        {"alg": "HS256", "crit": "x-policy", "x-policy": 1},
        {"alg": "HS256", "crit": ["alg"]},
        {"alg": "HS256", "crit": ["exp"]},
        {"alg": "HS256", "crit": ["b64", "b64"], "b64": True},
        {"alg": "HS256", "crit": [1]},
    ]
    for header in headers:
        token = forge(header, claims(), hs256(HMAC_SECRET))
        with pytest.raises(UnsupportedHeaderError):
            verify(token)
        with pytest.raises(UnsupportedHeaderError):
            jws.verify(token, HMAC_KEY)
    with pytest.raises(InvalidToken):
        jws.verify(RFC["rfc7515-E"]["jws"], HMAC_KEY)
    protected = segment({"alg": "HS256"})
    payload = segment(claims())
    signature = b64u(hs256(HMAC_SECRET)(f"{protected}.{payload}".encode()))
    unprotected_crit = {
        "protected": protected,
        "header": {"crit": ["x-policy"], "x-policy": "mfa"},
        "payload": payload,
        "signature": signature,
    }
    with pytest.raises(UnsupportedHeaderError):
        jws.verify_json(unprotected_crit, HMAC_KEY)


def test_18_b64_false_needs_crit_and_never_appears_in_a_jwt() -> None:
    """#18 B64-FALSE: RFC 7797 sec. 6 (b64 must be listed in crit) and sec. 7 (no b64=false
    JWTs); PyJWT CVE-2026-48525 (unbounded decoding on the detached b64=false path).
    """
    for case_id in ("b64-false-jwt", "b64-false-no-crit"):
        assert_rejected(attack(case_id))
    payload = b"$.02"
    no_crit = f"{segment({'alg': 'HS256', 'b64': False})}"
    signature = b64u(hs256(HMAC_SECRET)(no_crit.encode() + b"." + payload))
    with pytest.raises(UnsupportedHeaderError):
        jws.verify(f"{no_crit}..{signature}", HMAC_KEY, detached_payload=payload)
    with pytest.raises(ConfigurationError):
        tessera.encode(claims(), HMAC_KEY, headers={"b64": False, "crit": ["b64"]})
    detached = jws.sign(payload, HMAC_KEY, detached=True, b64=False)
    assert jws.verify(detached, HMAC_KEY, detached_payload=payload).payload == payload
    with pytest.raises(InvalidToken):
        verify(detached)
    # RFC 7797 sec. 3: all signatures of one JWS share one b64 value, or the same "payload"
    # member would mean different bytes depending on which key verifies.
    other = Key.from_secret(b"\x07" * 32, "HS256", kid="other")
    text = "eyJhIjoxfQ"
    encoded = jws.sign_json(b64d(text), [jws.Signer(HMAC_KEY)])["signatures"][0]
    unencoded = jws.sign_json(text.encode(), [jws.Signer(other)], b64=False)["signatures"][0]
    mixed = {"payload": text, "signatures": [encoded, unencoded]}
    for key in (HMAC_KEY, other):
        with pytest.raises(InvalidToken):
            jws.verify_json(mixed, key)
    header, _, sig = detached.split(".")
    stuffed = f"{header}.{'A' * 60_000}.{sig}"
    start = time.perf_counter()
    with pytest.raises(MalformedTokenError):
        jws.verify(stuffed, HMAC_KEY, detached_payload=payload)
    assert time.perf_counter() - start < 0.05


def test_19_unprotected_header_override_is_refused() -> None:
    """#19 UNPROTECTED-HEADER-OVERRIDE: web-token/jwt-framework GHSA-5739-39v2-5754, joserfc
    1.3.1: protected and unprotected names are disjoint and alg is protected (RFC 7515 7.2.1).
    """
    payload = segment(claims(sub="admin"))

    def flattened(
        protected: dict[str, Any], header: dict[str, Any], secret: bytes
    ) -> dict[str, Any]:
        p = segment(protected) if protected else ""
        return {
            "protected": p,
            "header": header,
            "payload": payload,
            "signature": b64u(hs256(secret)(f"{p}.{payload}".encode())),
        }

    pem = RSA_KEY_FORMS["spki-pem"]
    override = flattened({"alg": "RS256"}, {"alg": "HS256"}, pem)
    only_unprotected = flattened({}, {"alg": "HS256"}, pem)
    for obj in (override, only_unprotected):
        for allow in (False, True):
            with pytest.raises(InvalidToken):
                jws.verify_json(obj, RSA_PUBLIC, ["RS256", "HS256"], allow_unprotected_alg=allow)
    with pytest.raises(MalformedTokenError):
        jws.verify_json(flattened({"alg": "HS256"}, {"alg": "HS256"}, HMAC_SECRET), HMAC_KEY)
    with pytest.raises(MalformedTokenError):
        jws.verify_json(
            flattened({"alg": "HS256", "kid": "a"}, {"kid": "b"}, HMAC_SECRET), HMAC_KEY
        )
    with pytest.raises(UnsupportedHeaderError):
        jws.verify_json(flattened({}, {"alg": "HS256"}, HMAC_SECRET), HMAC_KEY)
    with pytest.raises(UnsupportedHeaderError):
        jws.verify_json(flattened({"alg": "HS256"}, {"crit": ["x"], "x": 1}, HMAC_SECRET), HMAC_KEY)
    # A differently-cased name is just another (ignored) member, never an alias of "alg".
    cased = jws.sign_json(b"hi", [jws.Signer(RSA_PRIVATE, header={"ALG": "HS256"})], flattened=True)
    verified = jws.verify_json(cased, RSA_PUBLIC)
    assert verified.header["alg"] == "RS256"
    assert verified.unprotected == {"ALG": "HS256"}
    forged_cased = flattened({"alg": "RS256"}, {"ALG": "HS256"}, pem)
    with pytest.raises(SignatureError):
        jws.verify_json(forged_cased, RSA_PUBLIC, ["RS256", "HS256"])


def test_20_multi_sig_confusion_result_names_the_signature_that_verified() -> None:
    """#20 MULTI-SIG-CONFUSION: go-jose CVE-2016-9122: with RFC 7515 A.6 and signature 2's
    protected header swapped for {"alg":"ES256","kid":"admin-key"}, key 1 reports entry 0 and
    its own headers only; nothing of the forged entry reaches the caller.
    """
    case = RFC["rfc7515-A.6"]
    keys = {kid: Key.from_jwk({**jwk, "kid": kid}) for kid, jwk in case["keys"].items()}
    rsa_key = keys["2010-12-29"]
    ec_key = keys["e9bc097a-ce51-4036-9562-d2ade882db0d"]
    literal = json.loads(json.dumps(case["jws_json"]))
    literal["signatures"][1]["protected"] = segment({"alg": "ES256", "kid": "admin-key"})
    # The literal recipe also repeats kid unprotected: refusing the whole JWS is as safe as
    # reporting entry 0, but it must never report the forged entry.
    try:
        result = jws.verify_json(literal, rsa_key, ["RS256", "ES256"])
    except InvalidToken:
        pass
    else:
        assert (result.index, result.header) == (0, {"alg": "RS256"})
    forged = json.loads(json.dumps(literal))
    del forged["signatures"][1]["header"]
    verified = jws.verify_json(forged, rsa_key, ["RS256", "ES256"])
    assert verified.index == 0
    assert verified.header == {"alg": "RS256"}
    assert verified.unprotected == {"kid": "2010-12-29"}
    assert "admin-key" not in repr((verified.header, verified.unprotected))
    with pytest.raises(InvalidToken):
        jws.verify_json(forged, ec_key, ["RS256", "ES256"])
    with pytest.raises(InvalidToken):
        jws.verify_json(forged, KeySet([rsa_key, ec_key]), ["RS256", "ES256"], require_all=True)
    with pytest.raises(InvalidToken):
        verify(json.dumps(forged), rsa_key, ["RS256"])
    untouched = jws.verify_json(case["jws_json"], ec_key, ["RS256", "ES256"])
    assert (untouched.index, untouched.header) == (1, {"alg": "ES256"})


def test_21_sig_strip_empty_or_truncated_signatures_are_rejected() -> None:
    """#21 SIG-STRIP: ServiceStack CVE-2020-28042; Wycheproof rejectsMissingSignature(AndSeparator)
    (tc3, 4, 20, 21, 35, 36): the signature has exactly the algorithm's length.
    """
    for case_id in ("sig-empty-hs", "sig-truncated-hs"):
        assert_rejected(attack(case_id))
    signers = [
        (HMAC_KEY, HMAC_KEY, "HS256"),
        (RSA_PRIVATE, RSA_PUBLIC, "RS256"),
        (EC_PRIVATE, EC_PUBLIC, "ES256"),
        (Key.generate("EdDSA"), None, "EdDSA"),
    ]
    for private, public, alg in signers:
        verifier = public or private.public()
        token = tessera.encode(claims(), private)
        body, _, sig = token.rpartition(".")
        raw = b64d(sig)
        assert verify(token, verifier, [alg])["sub"] == "alice"
        for bad in (b"", raw[:1], raw[:-1], raw + b"\0", b"\0" + raw, raw[: len(raw) // 2]):
            with pytest.raises(InvalidToken):
                verify(f"{body}.{b64u(bad)}", verifier, [alg])
        with pytest.raises(MalformedTokenError):
            verify(body, verifier, [alg])


def test_22_psychic_sig_ecdsa_zero_and_out_of_range_values_are_rejected() -> None:
    """#22 PSYCHIC-SIG: Java CVE-2022-21449 (r = s = 0); Wycheproof SpecialCaseEs256 tc378-401."""
    for case_id in ("ecdsa-psychic-zero", "ecdsa-r-s-n"):
        assert_rejected(attack(case_id), {"key": EC_PUBLIC, "algorithms": ["ES256"]})
    token = tessera.encode(claims(sub="admin"), EC_PRIVATE)
    body, _, sig = token.rpartition(".")
    raw = b64d(sig)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    n = P256_ORDER
    for bad_r, bad_s in ((0, 0), (0, s), (r, 0), (n, s), (r, n), (n, n), (1, 1), (n - 1, n - 1)):
        forged = b64u(bad_r.to_bytes(32, "big") + bad_s.to_bytes(32, "big"))
        with pytest.raises(SignatureError):
            verify(f"{body}.{forged}", EC_PUBLIC, ["ES256"])
    for alg, size in (("ES384", 96), ("ES512", 132)):
        key = Key.generate(alg)
        body = tessera.encode(claims(), key).rpartition(".")[0]
        with pytest.raises(SignatureError):
            verify(f"{body}.{b64u(bytes(size))}", key.public(), [alg])


def test_23_ecdsa_format_signatures_are_raw_fixed_length_r_s() -> None:
    """#23 ECDSA-FORMAT: JOSE ECDSA is fixed-length R||S (RFC 7518 sec. 3.4), never DER, and
    ES512 halves are 66 bytes (RFC 7515 A.4).
    """
    for case_id in ("ecdsa-der", "ecdsa-short", "ecdsa-padded"):
        assert_rejected(attack(case_id), {"key": EC_PUBLIC, "algorithms": ["ES256"]})
    body, _, sig = tessera.encode(claims(), EC_PRIVATE).rpartition(".")
    raw = b64d(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    with pytest.raises(InvalidToken):
        verify(f"{body}.{b64u(der)}", EC_PUBLIC, ["ES256"])
    for alg, size in (("ES256", 64), ("ES384", 96), ("ES512", 132)):
        key = Key.generate(alg)
        for _ in range(8):
            assert len(b64d(jws.sign(b"x", key).rsplit(".", 1)[1])) == size
    a4 = RFC["rfc7515-A.4"]
    assert len(b64d(a4["jws"].rsplit(".", 1)[1])) == 132
    assert jws.verify(a4["jws"], Key.from_jwk(a4["public_key"], alg="ES512")).payload == b"Payload"


def test_24_rsa_pkcs1_lax_malformed_encodings_are_rejected() -> None:
    """#24 RSA-PKCS1-LAX: Bleichenbacher 2006 (e = 3), python-rsa CVE-2016-1494, OCaml jose
    CVE-2026-89086; Wycheproof json_web_signature_test tc34-258 (225 invalid RS256 cases).
    """
    checked = 0
    for group, test in wycheproof("json_web_signature_test"):
        if group["comment"] == "rs256" and test["result"] == "invalid":
            key = Key.from_jwk(group["public"])
            with pytest.raises(InvalidToken):
                jws.verify(test["jws"], key, ["RS256"])
            checked += 1
    assert checked == 225
    body = tessera.encode(claims(sub="admin"), RSA_PRIVATE).rpartition(".")[0]
    n = RSA_CRYPTO.public_key().public_numbers().n
    for value in (0, 1, n - 1, n):
        with pytest.raises(SignatureError):
            verify(f"{body}.{b64u(value.to_bytes(256, 'big'))}", RSA_PUBLIC, ["RS256"])
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signature = other.sign(body.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(SignatureError):
        verify(f"{body}.{b64u(signature)}", RSA_PUBLIC, ["RS256"])


def test_25_pss_params_salt_and_mgf_are_fixed_by_the_algorithm() -> None:
    """#25 PSS-PARAMS: salt length equal to the hash length and MGF1 with the same hash
    (RFC 7518 sec. 3.5); Wycheproof ps256/ps512 invalid cases.
    """
    ps256 = Key.from_jwk({**JWKS["rsa"], "alg": "PS256"})
    body = f"{segment({'alg': 'PS256'})}.{segment(claims(sub='admin'))}"

    def pss(salt: int, mgf_hash: hashes.HashAlgorithm) -> str:
        signature = RSA_CRYPTO.sign(
            body.encode(), padding.PSS(padding.MGF1(mgf_hash), salt), hashes.SHA256()
        )
        return f"{body}.{b64u(signature)}"

    assert verify(pss(32, hashes.SHA256()), ps256, ["PS256"])["sub"] == "admin"
    for salt, mgf_hash in ((0, hashes.SHA256()), (20, hashes.SHA256()), (64, hashes.SHA256()),
                           (32, hashes.SHA384()), (32, hashes.SHA1())):  # fmt: skip
        with pytest.raises(SignatureError):
            verify(pss(salt, mgf_hash), ps256, ["PS256"])
    checked = 0
    for group, test in wycheproof("json_web_signature_test"):
        if group["comment"] in ("ps256", "ps384", "ps512") and test["result"] == "invalid":
            with pytest.raises(InvalidToken):
                jws.verify(test["jws"], Key.from_jwk(group["public"]), [group["public"]["alg"]])
            checked += 1
    assert checked > 40


def test_26_sig_malleability_high_s_verifies_and_encodings_are_canonical() -> None:
    """#26 SIG-MALLEABILITY: PyJWT CVE-2026-102269, joserfc CVE-2026-62995, jsrsasign
    CVE-2022-25898. ECDSA (r, n-s) verifies (JOSE has no low-S rule), so identity is jti, never
    the token string; but only canonical base64url is ever accepted.
    """
    high_s = attack("ecdsa-high-s")
    assert verify(high_s, EC_PUBLIC, ["ES256"])["iss"] == ISS
    for case_id in ("b64-unused-bits", "b64-padding", "b64-junk-suffix"):
        assert_rejected(attack(case_id))
    token = tessera.encode(claims(), HMAC_KEY)
    for seg in token.split("."):
        assert b64u(b64d(seg)) == seg


def test_27_mac_timing_hmac_verify_path_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """#27 MAC-TIMING: python-jose CVE-2016-7036 (HMAC compared with ==). The HMAC check is
    cryptography's HMAC.verify, and no signature, MAC or tag is compared with == in the core.
    """
    from cryptography.hazmat.primitives import hmac as crypto_hmac

    real = crypto_hmac.HMAC
    calls: list[str] = []

    class SpyHMAC:
        def __init__(self, key: bytes, algorithm: hashes.HashAlgorithm) -> None:
            self._mac = real(key, algorithm)

        def update(self, data: bytes) -> None:
            self._mac.update(data)

        def verify(self, signature: bytes) -> None:
            calls.append("verify")
            self._mac.verify(signature)

        def finalize(self) -> bytes:
            calls.append("finalize")
            return self._mac.finalize()

        def copy(self) -> SpyHMAC:
            clone = SpyHMAC.__new__(SpyHMAC)
            clone._mac = self._mac.copy()
            return clone

    monkeypatch.setattr(crypto_hmac, "HMAC", SpyHMAC)
    fresh = Key.from_jwk(JWKS["hmac"])  # verifiers are cached per key: build one under the spy
    token = forge({"alg": "HS256"}, claims(), hs256(HMAC_SECRET))
    assert verify(token, fresh)["sub"] == "alice"
    assert calls == ["verify"]
    body, _, sig = token.rpartition(".")
    tampered = b64u(b64d(sig)[:-1] + bytes([b64d(sig)[-1] ^ 1]))
    with pytest.raises(SignatureError):
        verify(f"{body}.{tampered}", fresh)
    assert calls == ["verify", "verify"]

    secret_names = re.compile(r"(^|_)(sig|signature|mac|tag|digest|expected|computed)s?$")
    offenders = []
    for path in sorted((SRC / "jose").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(
                isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
            ):
                if any(
                    isinstance(o, ast.Call) and isinstance(o.func, ast.Name) and o.func.id == "len"
                    for o in (node.left, *node.comparators)
                ):
                    continue  # comparing lengths is public information
                for operand in (node.left, *node.comparators):
                    name = (
                        operand.id
                        if isinstance(operand, ast.Name)
                        else (operand.attr if isinstance(operand, ast.Attribute) else None)
                    )
                    if name is not None and secret_names.search(name):
                        offenders.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == [], "non-constant-time comparisons of secret values: " + "; ".join(
        offenders
    )


def _messages(exc: BaseException) -> str:
    parts = []
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current), *map(str, current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def test_28_error_oracle_messages_never_contain_key_material_or_signatures() -> None:
    """#28 ERROR-ORACLE: Auth0-WCF-Service-JWT CVE-2019-7644 (expected signature in the error
    message), joserfc 1.4.2: errors hold no key material, expected MAC, or token.
    """
    token = tessera.encode(claims(), HMAC_KEY)
    head, payload, sig = token.split(".")
    tampered_payload = segment(claims(sub="admin"))
    tampered = f"{head}.{tampered_payload}.{sig}"
    expected_mac = hs256(HMAC_SECRET)(f"{head}.{tampered_payload}".encode())
    rsa_private = RFC["rfc7515-A.2"]["key"]
    ec_private = RFC["rfc7515-A.3"]["key"]
    wrong_d = b64u(b"\x42" * 32)
    secrets_ = [
        wrong_d,
        JWKS["hmac"]["k"],
        HMAC_SECRET.hex(),
        b64u(expected_mac),
        expected_mac.hex(),
        sig,
        payload,
        tampered_payload,
        rsa_private["d"][:24],
        rsa_private["p"][:24],
        rsa_private["q"][:24],
        ec_private["d"][:24],
        "PRIVATE KEY",
    ]
    scenarios: list[Callable[[], object]] = [
        lambda: verify(tampered),
        lambda: verify(f"{head}.{payload}.{b64u(expected_mac[:31])}"),
        lambda: verify(token, HMAC_KEY, ["HS384"]),
        lambda: verify(token, RSA_PUBLIC, ["RS256"]),
        lambda: verify(token, now=NOW + 10**6),
        lambda: verify(token, audience="https://other.example"),
        lambda: verify(f"{head}.{payload}!.{sig}"),
        lambda: verify(f"{head}.{payload}.{sig}.{sig}"),
        lambda: verify(tessera.encode(claims(), RSA_PRIVATE), RSA_PUBLIC, ["RS256"], issuer="x"),
        lambda: Key.from_jwk({**rsa_private, "d": rsa_private["p"]}),
        lambda: Key.from_jwk({**ec_private, "d": wrong_d}),
        lambda: Key.from_jwk({**JWKS["hmac"], "alg": "RS256"}),
        lambda: Key.from_jwk({**JWKS["hmac"], "alg": "HS512", "use": "enc"}),
        lambda: Key.from_secret(HMAC_SECRET[:16], "HS256"),
        lambda: RSA_PUBLIC.to_jwk(private=True),
        lambda: jws.verify_json(
            {"payload": payload, "signature": sig, "protected": head}, EC_PUBLIC
        ),
    ]
    for scenario in scenarios:
        with pytest.raises(TesseraError) as info:
            scenario()
        text = _messages(info.value)
        leaked = [value for value in secrets_ if value and value in text]
        assert leaked == [], f"error message leaks {leaked}: {text!r}"
        assert token not in text
    for key in (HMAC_KEY, RSA_PRIVATE, EC_PRIVATE):
        text = f"{key!r} {key}"
        assert not [value for value in secrets_ if value in text]


# -- D. Parsing and encoding ----------------------------------------------------------------


def test_29_noncanonical_b64_only_canonical_base64url_is_accepted() -> None:
    """#29 NONCANONICAL-B64: PyJWT CVE-2026-102269, joserfc CVE-2026-62995, jsrsasign
    CVE-2022-25898; Wycheproof base64 group (tc357-377): no padding, whitespace, junk,
    standard alphabet or non-zero unused bits in any segment.
    """
    for case_id in ("b64-padding", "b64-unused-bits", "b64-whitespace", "b64-junk-suffix",
                    "leading-space"):  # fmt: skip
        assert_rejected(attack(case_id))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    token = next(
        t
        for t in (tessera.encode(claims(jti=str(i)), HMAC_KEY) for i in range(200))
        if re.search(r"[-_]", t.rsplit(".", 1)[1])
    )
    head, payload, sig = token.split(".")
    last = alphabet[alphabet.index(sig[-1]) ^ 1]
    variants = [
        f"{head}.{payload}.{sig}=",
        f"{head}.{payload}.{sig[:-1]}{last}",
        f"{head}.{payload}.{sig.replace('-', '+').replace('_', '/')}",
        f"{head}.{payload}.{sig[:10]}\n{sig[10:]}",
        f"{head}.{payload}.{sig[:10]} {sig[10:]}",
        f"{head}.{payload}.{sig}!!!!",
        f"{head}=.{payload}.{sig}",
        f"{head}.{payload}=.{sig}",
        f" {token}",
        f"{token}\n",
    ]
    for variant in variants:
        with pytest.raises(MalformedTokenError):
            verify(variant)
        with pytest.raises(MalformedTokenError):
            jws.verify(variant, HMAC_KEY)
    assert verify(token)["sub"] == "alice"
    with pytest.raises(InvalidKey):
        Key.from_jwk({**JWKS["hmac"], "k": JWKS["hmac"]["k"] + "="})
    k = JWKS["hmac"]["k"]
    with pytest.raises(InvalidKey):
        Key.from_jwk({**JWKS["hmac"], "k": k[:-1] + alphabet[alphabet.index(k[-1]) ^ 1]})


def test_30_json_compact_polyglot_jwt_api_accepts_compact_only() -> None:
    """#30 JSON-COMPACT-POLYGLOT: python-jwt CVE-2022-39227; RFC 8725bis sec. 2.13/3.14;
    Wycheproof rejectsValidJsonSerialization (tc17).
    """
    for case_id in ("python-jwt-polyglot", "json-serialization-to-jwt"):
        assert_rejected(attack(case_id))
    token = tessera.encode(claims(), HMAC_KEY)
    head, payload, sig = token.split(".")
    flat = {"protected": head, "payload": payload, "signature": sig}
    forged = segment(claims(sub="admin"))
    polyglot = {f"  {head}.{forged}.": "", **flat}
    for obj in (flat, polyglot, {"payload": payload, "signatures": [flat]}):
        for shape in (obj, json.dumps(obj), json.dumps(obj).encode()):
            with pytest.raises(InvalidToken):
                verify(shape)
            with pytest.raises(InvalidToken):
                jws.verify(shape, HMAC_KEY)  # type: ignore[arg-type]
    with pytest.raises(InvalidToken):
        tessera.decode_unverified(json.dumps(polyglot))
    assert jws.verify_json(polyglot, HMAC_KEY).payload == b64d(payload)


def test_31_duplicate_members_are_rejected_everywhere() -> None:
    """#31 DUPLICATE-MEMBERS: RFC 7515 sec. 5.2 / RFC 7519 sec. 4: parser differentials on
    repeated names ({"alg":"HS256","alg":"none"}); also NaN/Infinity literals.
    """
    for case_id in ("dup-header-alg", "dup-claim-sub"):
        assert_rejected(attack(case_id))
    for raw_header, raw_claims in (
        (b'{"alg":"HS256","alg":"HS256"}', json.dumps(claims()).encode()),
        (b'{"alg":"HS256","kid":"a","kid":"hmac-1"}', json.dumps(claims()).encode()),
        (b'{"alg":"HS256"}', b'{"sub":"alice","sub":"admin","exp":1700003600}'),
        (b'{"alg":"HS256"}', b'{"exp":1,"exp":1700003600,"iss":"x"}'),
        (b'{"alg":"HS256"}', b'{"exp":NaN}'),
        (b'{"alg":"HS256"}', b'{"exp":Infinity}'),
        (b'{"alg":"HS256"}', b'{"exp":-Infinity}'),
    ):
        token = forge(raw_header, raw_claims, hs256(HMAC_SECRET))
        with pytest.raises(MalformedTokenError):
            verify(token)
        with pytest.raises(MalformedTokenError):
            tessera.decode_unverified(token)
    with pytest.raises(InvalidKey):
        Key.from_jwk('{"kty":"oct","k":"' + JWKS["hmac"]["k"] + '","kty":"RSA"}')
    with pytest.raises(InvalidKey):
        KeySet.from_jwks('{"keys":[],"keys":[' + json.dumps(JWKS["ec"]) + "]}")
    head, payload, sig = tessera.encode(claims(), HMAC_KEY).split(".")
    text = (
        f'{{"protected":"{head}","payload":"{payload}","payload":"{payload}","signature":"{sig}"}}'
    )
    with pytest.raises(MalformedTokenError):
        jws.verify_json(text, HMAC_KEY)


def test_32_structure_malformed_shapes_raise_invalid_token_only() -> None:
    """#32 STRUCTURE: Nimbus CVE-2019-17195 (uncaught parser exceptions), joserfc 1.7.4 (empty
    signatures array): every malformed input raises the library's own InvalidToken.
    """
    for case_id in ("extra-segment", "two-segments", "header-not-object", "payload-array",
                    "payload-string", "payload-null", "payload-number"):  # fmt: skip
        assert_rejected(attack(case_id))
    good = tessera.encode(claims(), HMAC_KEY)
    head, payload, sig = good.split(".")
    shapes: list[Any] = [
        "", ".", "..", "...", "....", f".{payload}.{sig}", f"{head}..{sig}", f"{head}.{payload}.",
        f"{segment([])}.{payload}.{sig}", f"{segment('x')}.{payload}.{sig}", f"{b64u(b'')}.e30.x",
        None, 0, 1.5, [], {}, ["a", "b", "c"], b"\xff\xfe", "é.é.é", good + "." + sig,
    ]  # fmt: skip
    for shape in shapes:
        with pytest.raises(InvalidToken):
            verify(shape)
        with pytest.raises(InvalidToken):
            jws.verify(shape, HMAC_KEY)
    flat_entry = {"protected": head, "signature": sig}
    json_shapes: list[Any] = [
        {"payload": payload, "signatures": []},
        {"payload": payload, "signatures": {}},
        {"payload": payload, "signatures": [None]},
        {"payload": payload, "signatures": ["x"]},
        {"payload": payload, "signatures": [{**flat_entry, "protected": 1}]},
        {"payload": payload, "signatures": [{**flat_entry, "header": []}]},
        {"payload": payload, "signatures": [{"protected": head}]},
        {"signatures": [flat_entry]},
        {"payload": 1, **flat_entry},
        {"payload": payload, **flat_entry, "signatures": [flat_entry]},
        {"payload": payload},
        [],
        "[]",
        "not json",
        '{"payload":',
    ]
    for obj in json_shapes:
        with pytest.raises(InvalidToken):
            jws.verify_json(obj, HMAC_KEY)
    rng = random.Random(32)
    printable = [chr(c) for c in range(32, 127)]
    for _ in range(400):
        chars = list(good)
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice(printable)
        mutated = "".join(chars)
        try:
            verify(mutated)
        except InvalidToken:
            continue


def test_33_unicode_strict_utf8_and_exact_string_comparison() -> None:
    """#33 UNICODE: RFC 8725 sec. 2.6/3.7: UTF-8 only (no overlong forms, BOM, UTF-16 or lone
    surrogates) and claims compared as exact code points (fullwidth 'admin' is not 'admin').
    """
    for case_id in ("utf8-overlong", "utf8-bom", "utf16-header", "lone-surrogate"):
        assert_rejected(attack(case_id))
    assert verify(attack("fullwidth-sub"))["sub"] != "admin"
    with pytest.raises(InvalidSubjectError):
        verify(attack("fullwidth-sub"), subject="admin")
    for raw in (
        b'{"sub":"\xc0\xaf","exp":1700003600}',
        b'\xef\xbb\xbf{"exp":1700003600}',
        '{"exp":1700003600}'.encode("utf-16-le"),
        b'{"sub":"\\udc00","exp":1700003600}',
        b'{"sub":"\\ud800\\u0041","exp":1700003600}',
        b'{"sub":"\xed\xa0\x80","exp":1700003600}',
    ):
        token = forge({"alg": "HS256"}, raw, hs256(HMAC_SECRET))
        with pytest.raises(MalformedTokenError):
            verify(token, issuer=None, audience=None)
    for iss in ("HTTPS://ISSUER.EXAMPLE", "https://issuer.example ", "https://ｉｓｓｕｅｒ.example",
                "https://issuer.examp\u200ble"):  # fmt: skip
        with pytest.raises(InvalidIssuerError):
            verify(tessera.encode(claims(iss=iss), HMAC_KEY))
    astral = tessera.encode(claims(sub="\U0001f600 ok"), HMAC_KEY)
    assert verify(astral)["sub"] == "\U0001f600 ok"


def test_34_deep_json_nesting_is_refused_without_recursion_error() -> None:
    """#34 DEEP-JSON: Nimbus CVE-2025-53864, PyJWT CVE-2026-101918 (RecursionError before the
    signature check): deep JSON is an ordinary MalformedTokenError everywhere.
    """
    assert_rejected(attack("deep-nesting"))
    big = Limits(max_token_size=10**7)
    for depth in (33, 1_000, 100_000):
        deep_claims = b'{"exp":1700003600,"x":' + b"[" * depth + b"]" * depth + b"}"
        token = forge({"alg": "HS256"}, deep_claims, hs256(HMAC_SECRET))
        with pytest.raises(MalformedTokenError):
            verify(token, limits=big, issuer=None, audience=None)
        with pytest.raises(MalformedTokenError):
            tessera.decode_unverified(token, limits=big)
        deep_header = b'{"alg":"HS256","x":' + b"[" * depth + b"]" * depth + b"}"
        with pytest.raises(MalformedTokenError):
            verify(forge(deep_header, claims(), hs256(HMAC_SECRET)), limits=big)
        with pytest.raises(InvalidKey):
            Key.from_jwk(
                '{"kty":"oct","k":"'
                + JWKS["hmac"]["k"]
                + '","x":'
                + "[" * depth
                + "]" * depth
                + "}"
            )
    shallow = tessera.encode(claims(x=[[[["ok"]]]]), HMAC_KEY)
    assert verify(shallow)["x"] == [[[["ok"]]]]


def test_35_size_dos_oversized_inputs_are_refused_cheaply() -> None:
    """#35 SIZE-DOS: go-jose CVE-2025-27144, golang-jwt CVE-2025-30204 (many dots), Authlib
    CVE-2025-61920 (500 MB header), joserfc 1.3.4: limits are checked before any parsing.
    """
    inputs = ["." * 1_000_000, "a" * 10_000_000 + ".e30.sig", "e30." * 250_000, "a." * 500_000]
    raised = Limits(max_token_size=10**8)
    for token in inputs:
        # Refused by the size check in about a microsecond; with the limit raised, still linear.
        for limits, budget in ((Limits(), 0.05), (raised, 0.25)):
            timings = []
            for _ in range(3):
                start = time.perf_counter()
                with pytest.raises(MalformedTokenError):
                    verify(token, limits=limits)
                timings.append(time.perf_counter() - start)
            best = min(timings)
            assert best < budget, f"rejecting {len(token)} characters took {best:.3f} s"
    limit = Limits().max_token_size
    filler = segment(claims(pad="x" * limit))
    with pytest.raises(MalformedTokenError):
        verify(forge({"alg": "HS256"}, claims(pad="x" * limit), hs256(HMAC_SECRET)))
    with pytest.raises(MalformedTokenError):
        jws.verify_json(
            json.dumps({"payload": filler, "protected": "e30", "signature": ""}), HMAC_KEY
        )
    big_header = forge({"alg": "HS256", "x": "y" * 20_000}, claims(), hs256(HMAC_SECRET))
    with pytest.raises(MalformedTokenError):
        verify(big_header, limits=Limits(max_token_size=10**6))
    small = Limits(max_token_size=64)
    with pytest.raises(MalformedTokenError):
        verify(tessera.encode(claims(), HMAC_KEY), limits=small)
    with pytest.raises(InvalidKey):
        KeySet.from_jwks({"keys": [{**JWKS["ec"], "kid": str(i)} for i in range(101)]})


# -- E. Claims validation -------------------------------------------------------------------


def test_36_claim_type_wrong_json_types_are_never_treated_as_absent() -> None:
    """#36 CLAIM-TYPE: Rust jsonwebtoken CVE-2026-25537 (wrong-typed exp/nbf skipped); Python's
    NaN, bool-is-int and 1e400 pitfalls: a present registered claim of the wrong type is an error.
    """
    for case_id in ("exp-string", "exp-nan", "exp-infinity", "exp-1e400", "exp-true", "exp-null",
                    "exp-array", "exp-negative", "nbf-string", "sub-missing-required"):  # fmt: skip
        config = {"require": ("sub",)} if case_id == "sub-missing-required" else {}
        assert_rejected(attack(case_id), config)
    assert verify(attack("exp-float-valid"))["exp"] % 1 != 0
    wrong: list[dict[str, Any]] = [
        {"exp": "1700003600"}, {"exp": True}, {"exp": False}, {"exp": None}, {"exp": {}},
        {"exp": 10**30}, {"nbf": "0"}, {"nbf": True}, {"nbf": None}, {"iat": "0"},
        {"iat": [NOW]}, {"iat": None}, {"iss": [ISS]}, {"sub": 1}, {"sub": ["a"]},
        {"jti": 5}, {"aud": [AUD, 1]}, {"aud": []}, {"aud": {"a": AUD}},
    ]  # fmt: skip
    for override in wrong:
        token = forge({"alg": "HS256"}, {**claims(), **override}, hs256(HMAC_SECRET))
        with pytest.raises(ClaimError):
            verify(token)
    for override in ({"iss": None}, {"sub": None}, {"jti": None}):
        token = forge({"alg": "HS256"}, {**claims(), **override}, hs256(HMAC_SECRET))
        with pytest.raises(ClaimError):
            verify(token, issuer=None)
    outgoing: list[dict[str, Any]] = [
        {"exp": "1"},
        {"nbf": True},
        {"iss": 1},
        {"aud": []},
        {"sub": None},
    ]
    for bad in outgoing:
        with pytest.raises(ConfigurationError):
            tessera.encode({**claims(), **bad}, HMAC_KEY)


def test_37_claim_time_exp_is_exclusive_and_leeway_is_bounded() -> None:
    """#37 CLAIM-TIME: exp/nbf/iat/leeway mistakes (RFC 7519 sec. 4.1.4: now must be before
    exp); leeway is finite, non-negative and capped; exp is required by default.
    """
    for case_id in ("exp-past", "exp-equal-now", "nbf-future", "iat-future"):
        assert_rejected(attack(case_id))
    assert_rejected(attack("exp-missing"), {"require": ("exp",)})
    assert_rejected(attack("exp-missing"))  # exp is required by default
    assert verify(attack("leeway-edge-accept"), leeway=60)["iss"] == ISS
    with pytest.raises(ExpiredTokenError):
        verify(tessera.encode(claims(exp=NOW), HMAC_KEY))
    assert verify(tessera.encode(claims(exp=NOW + 1), HMAC_KEY))["exp"] == NOW + 1
    with pytest.raises(ExpiredTokenError):
        verify(tessera.encode(claims(exp=NOW - 60), HMAC_KEY), leeway=60)
    assert verify(tessera.encode(claims(nbf=NOW), HMAC_KEY))["nbf"] == NOW
    with pytest.raises(NotYetValidError):
        verify(tessera.encode(claims(nbf=NOW + 1), HMAC_KEY))
    with pytest.raises(NotYetValidError):
        verify(tessera.encode(claims(iat=NOW + 86_400), HMAC_KEY))
    with pytest.raises(ExpiredTokenError):
        verify(tessera.encode(claims(iat=NOW - 600), HMAC_KEY), max_age=300)
    with pytest.raises(MissingClaimError):
        verify(tessera.encode(claims(exp=None), HMAC_KEY))
    for leeway in (-1, float("nan"), float("inf"), 301, 10**9, True, "60"):
        with pytest.raises(ConfigurationError):
            verify(tessera.encode(claims(), HMAC_KEY), leeway=leeway)


def test_38_aud_is_an_exact_member_match() -> None:
    """#38 AUD: jwt-go CVE-2020-26160 (array aud skipped): aud must contain the expected value
    exactly; a missing or unexpected aud is rejected (RFC 8725 sec. 3.9).
    """
    for case_id in ("aud-wrong", "aud-prefix", "aud-substring", "aud-array-empty",
                    "aud-array-nonstring", "aud-missing"):  # fmt: skip
        assert_rejected(attack(case_id))
    assert verify(attack("aud-array-contains"))["iss"] == ISS
    for aud in ("https://api.example/", "HTTPS://API.EXAMPLE", "https://api.exampl", ["x", "y"],
                "https://api.example.evil", f"{AUD} {AUD}"):  # fmt: skip
        with pytest.raises(InvalidAudienceError):
            verify(tessera.encode(claims(aud=aud), HMAC_KEY))
    with pytest.raises(InvalidAudienceError):
        verify(tessera.encode(claims(), HMAC_KEY), audience=None)
    with pytest.raises(InvalidAudienceError):
        verify(tessera.encode(claims(aud=None), HMAC_KEY))
    token = tessera.encode(claims(aud=["a", AUD]), HMAC_KEY)
    assert verify(token, audience=["z", AUD])["aud"] == ["a", AUD]


def test_39_iss_is_an_exact_string_match() -> None:
    """#39 ISS: PyJWT CVE-2024-53861 (substring match), joserfc CVE-2026-75509 (array iss)."""
    for case_id in ("iss-substring", "iss-array", "iss-trailing-slash"):
        assert_rejected(attack(case_id))
    for iss in ("https://issuer.exampl", "https://issuer.example/", "urn:", "", [ISS], [ISS, "x"]):
        with pytest.raises(InvalidIssuerError):
            verify(tessera.encode(claims(iss="placeholder"), HMAC_KEY), issuer=iss or "x")
        token = forge({"alg": "HS256"}, claims(iss=iss), hs256(HMAC_SECRET))
        with pytest.raises(InvalidIssuerError):
            verify(token)
    token = tessera.encode(claims(iss="urn:expected"), HMAC_KEY)
    with pytest.raises(InvalidIssuerError):
        verify(token, issuer="urn:")
    assert verify(token, issuer=["urn:other", "urn:expected"])["iss"] == "urn:expected"
    with pytest.raises(InvalidIssuerError):
        verify(tessera.encode(claims(iss=None), HMAC_KEY))


def test_41_typ_confusion_token_kinds_are_told_apart_by_typ() -> None:
    """#41 TYP-CONFUSION / CROSS-JWT: RFC 8725 sec. 2.8, 3.11, 3.12; RFC 9068 at+jwt: an ID
    token, a DPoP proof or an untyped JWT is not an access token.
    """
    at = {"key": RSA_PUBLIC, "algorithms": ["RS256"], "typ": "at+jwt"}
    for case_id in ("typ-id-token-as-at", "typ-missing-as-at", "typ-dpop-as-at"):
        assert_rejected(attack(case_id), at)
    for case_id in ("typ-at-ok", "typ-at-mediatype-ok"):
        assert verify(attack(case_id), **at)["iss"] == ISS
    for typ in ("AT+JWT", "application/at+jwt", "Application/AT+JWT"):
        token = tessera.encode(claims(), HMAC_KEY, typ=typ)
        assert verify(token, typ="at+jwt")["sub"] == "alice"
    for typ in ("at+jwt ", "jwt", "JWT", "application/jwt", "at+jwt;x=1", "application/x/at+jwt"):
        with pytest.raises(InvalidTypeError):
            verify(tessera.encode(claims(), HMAC_KEY, typ=typ), typ="at+jwt")
    with pytest.raises(InvalidTypeError):
        verify(tessera.encode(claims(), HMAC_KEY, typ=None), typ="at+jwt")
    with pytest.raises(MalformedTokenError):
        verify(
            forge({"alg": "HS256", "typ": ["at+jwt"]}, claims(), hs256(HMAC_SECRET)), typ="at+jwt"
        )


# -- F. JWE-specific (the JWT side) ---------------------------------------------------------


def test_43_jwe_jws_confusion_jwt_api_rejects_a_five_segment_token() -> None:
    """#43 JWE-JWS-CONFUSION: jwcrypto CVE-2022-3102, ruby json-jwt CVE-2023-51774, jose-jwt
    issue #236: the JWT verifier takes a 3-segment JWS only; a JWE is never "verified".
    """
    assert_rejected(attack("jwe-as-jws"))
    a3 = RFC["rfc7516-A.3"]
    for key in (Key.from_jwk(a3["key"]), Key.from_jwk({**a3["key"], "alg": "A128KW"})):
        with pytest.raises(MalformedTokenError):
            tessera.decode(a3["jwe"], key, ["HS256"])
        with pytest.raises(MalformedTokenError):
            jws.verify(a3["jwe"], key, ["HS256"])
    with pytest.raises(MalformedTokenError):
        tessera.decode_unverified(a3["jwe"])
    a1 = RFC["rfc7519-A.1"]
    for key in (RSA_PUBLIC, HMAC_KEY):
        with pytest.raises(MalformedTokenError):
            verify(a1["jwe"], key, None)
    five = tessera.encode(claims(), HMAC_KEY) + ".e30"
    with pytest.raises(MalformedTokenError):
        verify(five + ".e30")
