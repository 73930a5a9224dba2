"""Unit tests of :class:`tessera.Key` and :class:`tessera.KeySet` (RFC 7517, 7518 sec. 6, 7638,
8037, 9278): generation, JWK and PEM import/export, thumbprints, refusals and key selection.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID

import tessera
from tessera import InvalidKey, Key, KeySet

NOW = 1_750_000_000
FAR_FUTURE = 4102444800
CLAIMS = {"sub": "alice", "exp": FAR_FUTURE}
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")

# alg, crv argument, expected kty, expected crv
JWS_CASES = [
    ("HS256", None, "oct", None),
    ("HS384", None, "oct", None),
    ("HS512", None, "oct", None),
    ("RS256", None, "RSA", None),
    ("RS384", None, "RSA", None),
    ("RS512", None, "RSA", None),
    ("PS256", None, "RSA", None),
    ("PS384", None, "RSA", None),
    ("PS512", None, "RSA", None),
    ("ES256", None, "EC", "P-256"),
    ("ES384", None, "EC", "P-384"),
    ("ES512", None, "EC", "P-521"),
    ("ES256K", None, "EC", "secp256k1"),
    ("EdDSA", None, "OKP", "Ed25519"),
    ("EdDSA", "Ed448", "OKP", "Ed448"),
    ("Ed25519", None, "OKP", "Ed25519"),
    ("Ed448", None, "OKP", "Ed448"),
]
JWS_IDS = [f"{alg}-{crv}" if crv else alg for alg, crv, _, _ in JWS_CASES]
ASYMMETRIC = [c for c in JWS_CASES if c[2] != "oct"]
ASYMMETRIC_IDS = [i for i, c in zip(JWS_IDS, JWS_CASES, strict=True) if c[2] != "oct"]

RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
    "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQF"
    "h6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_uint(value: int, size: int | None = None) -> str:
    return b64u(value.to_bytes(size or max(1, (value.bit_length() + 7) // 8), "big"))


def rsa_jwk(key: rsa.RSAPrivateKey | rsa.RSAPublicKey, private: bool = True) -> dict[str, str]:
    """A JWK built here from ``cryptography`` numbers (independent of Tessera's exporter)."""
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    out = {"kty": "RSA", "n": b64u_uint(pub.public_numbers().n)}
    out["e"] = b64u_uint(pub.public_numbers().e)
    if private and isinstance(key, rsa.RSAPrivateKey):
        pn = key.private_numbers()
        for name, value in (("d", pn.d), ("p", pn.p), ("q", pn.q), ("dp", pn.dmp1),
                            ("dq", pn.dmq1), ("qi", pn.iqmp)):  # fmt: skip
            out[name] = b64u_uint(value)
    return out


def ec_jwk(key: ec.EllipticCurvePrivateKey, crv: str, size: int) -> dict[str, str]:
    pub = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64u_uint(pub.x, size),
        "y": b64u_uint(pub.y, size),
        "d": b64u_uint(key.private_numbers().private_value, size),
    }


def without(jwk: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k not in names}


@pytest.fixture(scope="module")
def rsa_1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


# -- generation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "crv", "kty", "curve"), JWS_CASES, ids=JWS_IDS)
def test_generate_binds_alg_and_uses_thumbprint_as_kid(
    alg: str, crv: str | None, kty: str, curve: str | None
) -> None:
    """Key.generate makes a private key of the right type, bound to ``alg``.

    The default kid is the RFC 7638 thumbprint for asymmetric keys; for a secret key it is
    random, because a thumbprint of an ``oct`` key is a published hash of the secret.
    """
    key = Key.generate(alg, crv=crv)
    assert (key.alg, key.kty, key.crv) == (alg, kty, curve)
    assert key.is_private
    assert key.use is None
    assert key.key_ops is None
    if kty == "oct":
        assert key.kid
        assert key.kid != key.thumbprint()
        assert key.kid != Key.generate(alg).kid
    else:
        assert key.kid == key.thumbprint()


@pytest.mark.parametrize(("alg", "crv", "kty", "curve"), JWS_CASES, ids=JWS_IDS)
def test_generated_key_signs_and_verifies(
    alg: str, crv: str | None, kty: str, curve: str | None, make_key: Any
) -> None:
    """Every generated key signs a JWT that its public half (or itself, for HMAC) verifies."""
    key = make_key(alg, crv)
    verifier = key if kty == "oct" else key.public()
    assert tessera.decode(tessera.encode(CLAIMS, key), verifier, now=NOW) == CLAIMS


def test_generate_rsa_defaults_to_2048_bits(make_key: Any) -> None:
    """The default RSA modulus is 2048 bits (RFC 7518 sec. 3.3 minimum)."""
    n = b64u_decode(make_key("RS256").to_jwk()["n"])
    assert len(n) == 256
    assert n[0] & 0x80


def test_generate_rsa_accepts_larger_size() -> None:
    """``size`` picks a larger RSA modulus."""
    key = Key.generate("PS256", size=3072)
    assert len(b64u_decode(key.to_jwk()["n"])) == 384


def test_generate_rsa_refuses_size_below_2048() -> None:
    """RSA keys under 2048 bits are never generated."""
    with pytest.raises(InvalidKey):
        Key.generate("RS256", size=1024)


@pytest.mark.parametrize(("alg", "length"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_generate_hmac_key_length_equals_hash_length(alg: str, length: int) -> None:
    """RFC 7518 sec. 3.2: an HMAC key is at least as long as the hash output; default equal."""
    key = Key.generate(alg)
    assert len(b64u_decode(key.to_jwk(private=True)["k"])) == length


def test_generate_hmac_accepts_longer_size() -> None:
    """``size`` in bytes picks a longer HMAC secret."""
    key = Key.generate("HS256", size=64)
    assert len(b64u_decode(key.to_jwk(private=True)["k"])) == 64


@pytest.mark.parametrize(("alg", "size"), [("HS256", 31), ("HS384", 32), ("HS512", 48)])
def test_generate_hmac_refuses_size_below_hash_length(alg: str, size: int) -> None:
    """A short HMAC secret is refused even when asked for explicitly."""
    with pytest.raises(InvalidKey):
        Key.generate(alg, size=size)


def test_generate_keeps_explicit_kid() -> None:
    """An explicit kid replaces the thumbprint default."""
    assert Key.generate("ES256", kid="key-1").kid == "key-1"


@pytest.mark.parametrize(("alg", "crv"), [("EdDSA", "P-256"), ("Ed25519", "Ed448"), ("EdDSA", "X")])
def test_generate_refuses_curve_that_does_not_fit_alg(alg: str, crv: str) -> None:
    """``crv`` must be one the algorithm allows."""
    with pytest.raises(InvalidKey):
        Key.generate(alg, crv=crv)


@pytest.mark.parametrize("alg", ["none", "HS1024", "hs256", "RSA1_5", "", "ES521"])
def test_generate_refuses_unknown_alg(alg: str) -> None:
    """Unknown, differently-cased and deliberately unsupported names are refused."""
    with pytest.raises(InvalidKey):
        Key.generate(alg)


# -- JWK export and import ----------------------------------------------------------------


@pytest.mark.parametrize(("alg", "crv", "kty", "curve"), JWS_CASES, ids=JWS_IDS)
def test_private_jwk_round_trips(
    alg: str, crv: str | None, kty: str, curve: str | None, make_key: Any
) -> None:
    """from_jwk(to_jwk(private=True)) gives back the same key, alg and kid."""
    key = make_key(alg, crv)
    jwk = key.to_jwk(private=True)
    again = Key.from_jwk(jwk)
    assert again.to_jwk(private=True) == jwk
    assert (again.alg, again.kid, again.kty, again.crv) == (key.alg, key.kid, kty, curve)
    assert again.is_private
    assert again.thumbprint() == key.thumbprint()


@pytest.mark.parametrize(("alg", "crv", "kty", "curve"), ASYMMETRIC, ids=ASYMMETRIC_IDS)
def test_public_jwk_round_trips_without_private_members(
    alg: str, crv: str | None, kty: str, curve: str | None, make_key: Any
) -> None:
    """to_jwk() (public by default) has no private member; it imports as a public key."""
    key = make_key(alg, crv)
    jwk = key.to_jwk()
    assert jwk == key.to_jwk(private=False) == key.public().to_jwk()
    assert not set(PRIVATE_MEMBERS) & jwk.keys()
    again = Key.from_jwk(jwk)
    assert not again.is_private
    assert again.to_jwk() == jwk
    assert (again.alg, again.kid) == (alg, key.kid)


@pytest.mark.parametrize(("alg", "crv", "kty", "curve"), ASYMMETRIC, ids=ASYMMETRIC_IDS)
def test_private_jwk_has_private_members_only_when_asked(
    alg: str, crv: str | None, kty: str, curve: str | None, make_key: Any
) -> None:
    """Private members appear only with private=True (RSA: all CRT members)."""
    jwk = make_key(alg, crv).to_jwk(private=True)
    expected = set(PRIVATE_MEMBERS) if kty == "RSA" else {"d"}
    assert set(PRIVATE_MEMBERS) & jwk.keys() == expected


def test_symmetric_key_has_no_public_jwk(make_key: Any) -> None:
    """An oct key exports only with private=True: ``k`` is the secret."""
    key = make_key("HS256")
    with pytest.raises(InvalidKey):
        key.to_jwk()
    assert key.to_jwk(private=True)["kty"] == "oct"


def test_public_key_refuses_private_export(make_key: Any) -> None:
    """A public key has no private members to export (JWK or PEM)."""
    public = make_key("ES256").public()
    with pytest.raises(InvalidKey):
        public.to_jwk(private=True)
    with pytest.raises(InvalidKey):
        public.to_pem(private=True)


def test_from_jwk_accepts_json_text_and_bytes(make_key: Any) -> None:
    """A JWK may be given as a mapping, JSON text or UTF-8 bytes."""
    jwk = make_key("ES256").to_jwk()
    text = json.dumps(jwk)
    assert Key.from_jwk(text).to_jwk() == Key.from_jwk(text.encode()).to_jwk() == jwk


@pytest.mark.parametrize(
    "text", ["", "[]", '"kty"', "{", '{"kty":"oct","kty":"oct"}', "\ufeff{}", "\ud800"]
)
def test_from_jwk_refuses_text_that_is_not_a_json_object(text: str) -> None:
    """Not JSON, not an object, duplicate members, BOM, or not encodable: InvalidKey only."""
    with pytest.raises(InvalidKey):
        Key.from_jwk(text)


def test_from_jwk_refuses_invalid_utf8_bytes() -> None:
    """JSON bytes must be UTF-8."""
    with pytest.raises(InvalidKey):
        Key.from_jwk(b'{"kty":"oct","k":"\xff"}')


def test_from_jwk_alg_argument_binds_an_unbound_jwk(make_key: Any) -> None:
    """``alg=`` binds a JWK that has no ``alg`` member."""
    jwk = without(make_key("ES256").to_jwk(), "alg")
    assert Key.from_jwk(jwk).alg is None
    assert Key.from_jwk(jwk, alg="ES256").alg == "ES256"


def test_from_jwk_alg_argument_must_agree_with_jwk_alg(make_key: Any) -> None:
    """A JWK bound to one algorithm is not silently rebound to another."""
    jwk = make_key("RS256").to_jwk()
    assert Key.from_jwk(jwk, alg="RS256").alg == "RS256"
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk, alg="PS256")


def test_from_jwk_refuses_a_jwk_set(make_key: Any) -> None:
    """A JWK Set passed where one key is expected is refused, not half-read."""
    with pytest.raises(InvalidKey):
        Key.from_jwk({"keys": [make_key("ES256").to_jwk()]})


def test_from_jwk_keeps_kid_use_and_key_ops(make_key: Any) -> None:
    """kid, use and key_ops survive import and export."""
    jwk = {**make_key("ES256").to_jwk(), "kid": "k1", "use": "sig", "key_ops": ["verify"]}
    key = Key.from_jwk(jwk)
    assert (key.kid, key.use, key.key_ops) == ("k1", "sig", frozenset({"verify"}))
    assert key.to_jwk() == jwk


def test_rsa_private_jwk_without_crt_members_is_completed(make_key: Any) -> None:
    """An RSA private JWK with only n, e, d loads; the CRT members are recomputed."""
    full = make_key("RS256").to_jwk(private=True)
    key = Key.from_jwk(without(full, "p", "q", "dp", "dq", "qi"))
    exported = key.to_jwk(private=True)
    assert {k: exported[k] for k in ("n", "e", "d")} == {k: full[k] for k in ("n", "e", "d")}
    assert tessera.decode(tessera.encode(CLAIMS, key), Key.from_jwk(full).public(), now=NOW)


# -- public() ------------------------------------------------------------------------------


def test_public_keeps_alg_kid_and_use(make_key: Any) -> None:
    """public() keeps the binding and identity of the private key."""
    key = Key.from_jwk({**make_key("ES384").to_jwk(private=True), "use": "sig", "kid": "k"})
    public = key.public()
    assert not public.is_private
    assert (public.alg, public.kid, public.use, public.kty, public.crv) == (
        "ES384",
        "k",
        "sig",
        "EC",
        "P-384",
    )


def test_public_strips_private_key_ops(make_key: Any) -> None:
    """public() and to_jwk() drop private operations (sign) and keep public ones (verify)."""
    jwk = {**make_key("ES256").to_jwk(private=True), "key_ops": ["sign", "verify"]}
    key = Key.from_jwk(jwk)
    assert key.key_ops == frozenset({"sign", "verify"})
    assert key.public().key_ops == frozenset({"verify"})
    assert key.to_jwk()["key_ops"] == ["verify"]
    assert key.to_jwk(private=True)["key_ops"] == ["sign", "verify"]


def test_public_half_of_sign_only_key_still_verifies(make_key: Any) -> None:
    """``key_ops: ["sign"]`` (as PyJWT exports private keys): the public half can verify.

    Dropping ``sign`` must not leave an empty ``key_ops`` that forbids verification; the
    public counterpart of ``sign`` is ``verify`` (RFC 7517 sec. 4.3).
    """
    key = Key.from_jwk({**make_key("ES256").to_jwk(private=True), "key_ops": ["sign"]})
    token = tessera.encode(CLAIMS, key)
    public = key.public()
    assert public.key_ops != frozenset()
    assert tessera.decode(token, public, now=NOW) == CLAIMS
    assert tessera.decode(token, Key.from_jwk(key.to_jwk()), now=NOW) == CLAIMS


def test_public_of_symmetric_key_is_refused(make_key: Any) -> None:
    """An HMAC key has no public half."""
    with pytest.raises(InvalidKey):
        make_key("HS256").public()


def test_public_key_cannot_sign(make_key: Any) -> None:
    """A public key refuses to sign."""
    with pytest.raises(InvalidKey):
        tessera.encode(CLAIMS, make_key("ES256").public())


# -- PEM -------------------------------------------------------------------------------------

_PRIVATE_KEYS = {
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "p521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ed448": ed448.Ed448PrivateKey.generate,
    "x25519": x25519.X25519PrivateKey.generate,
}
_ALG_FOR = {"rsa": "RS256", "p256": "ES256", "p384": "ES384", "p521": "ES512",
            "secp256k1": "ES256K", "ed25519": "EdDSA", "ed448": "EdDSA",
            "x25519": None}  # fmt: skip


@pytest.fixture(scope="module")
def crypto_keys() -> dict[str, Any]:
    return {name: make() for name, make in _PRIVATE_KEYS.items()}


def _pem_private(
    key: Any, fmt: serialization.PrivateFormat, password: bytes | None = None
) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption)  # type: ignore[no-any-return]


def _pem_public(key: Any, fmt: serialization.PublicFormat) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt)  # type: ignore[no-any-return]


def _self_signed_certificate(key: Any) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tessera test")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    algorithm = (
        None
        if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
        else hashes.SHA256()
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(key, algorithm)
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("name", list(_PRIVATE_KEYS))
def test_from_pem_reads_pkcs8_private_key(name: str, crypto_keys: dict[str, Any]) -> None:
    """PKCS#8 ``PRIVATE KEY`` loads as a private key with the same public half."""
    key = crypto_keys[name]
    loaded = Key.from_pem(_pem_private(key, serialization.PrivateFormat.PKCS8), alg=_ALG_FOR[name])
    assert loaded.is_private
    assert loaded.alg == _ALG_FOR[name]
    assert loaded.to_pem() == _pem_public(key, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("name", list(_PRIVATE_KEYS))
def test_from_pem_reads_spki_public_key(name: str, crypto_keys: dict[str, Any]) -> None:
    """SPKI ``PUBLIC KEY`` loads as a public key and exports identically."""
    pem = _pem_public(crypto_keys[name], serialization.PublicFormat.SubjectPublicKeyInfo)
    loaded = Key.from_pem(pem)
    assert not loaded.is_private
    assert loaded.alg is None
    assert loaded.to_pem() == pem


def test_from_pem_reads_pkcs1_rsa_private_and_public_keys(crypto_keys: dict[str, Any]) -> None:
    """PKCS#1 ``RSA PRIVATE KEY`` and ``RSA PUBLIC KEY`` load."""
    key = crypto_keys["rsa"]
    private_pem = _pem_private(key, serialization.PrivateFormat.TraditionalOpenSSL)
    public_pem = _pem_public(key, serialization.PublicFormat.PKCS1)
    assert private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert public_pem.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    private = Key.from_pem(private_pem, alg="PS256")
    public = Key.from_pem(public_pem, alg="PS256")
    assert private.is_private
    assert not public.is_private
    assert private.thumbprint() == public.thumbprint()
    assert tessera.decode(tessera.encode(CLAIMS, private), public, now=NOW) == CLAIMS


@pytest.mark.parametrize("name", ["p256", "p384", "p521", "secp256k1"])
def test_from_pem_reads_sec1_ec_private_key(name: str, crypto_keys: dict[str, Any]) -> None:
    """SEC1 ``EC PRIVATE KEY`` loads with its curve."""
    pem = _pem_private(crypto_keys[name], serialization.PrivateFormat.TraditionalOpenSSL)
    assert pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    key = Key.from_pem(pem, alg=_ALG_FOR[name])
    assert key.is_private
    assert key.kty == "EC"
    assert tessera.decode(tessera.encode(CLAIMS, key), key.public(), now=NOW) == CLAIMS


@pytest.mark.parametrize("name", ["rsa", "p256", "ed25519"])
def test_from_pem_reads_public_key_of_x509_certificate(
    name: str, crypto_keys: dict[str, Any]
) -> None:
    """An X.509 ``CERTIFICATE`` yields its subject public key."""
    key = crypto_keys[name]
    loaded = Key.from_pem(_self_signed_certificate(key), alg=_ALG_FOR[name], kid="cert")
    assert not loaded.is_private
    assert loaded.kid == "cert"
    assert loaded.to_pem() == _pem_public(key, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("name", ["rsa", "p256", "ed448"])
def test_from_pem_reads_encrypted_pkcs8_with_password(
    name: str, crypto_keys: dict[str, Any]
) -> None:
    """``ENCRYPTED PRIVATE KEY`` loads with the right password."""
    key = crypto_keys[name]
    pem = _pem_private(key, serialization.PrivateFormat.PKCS8, b"s3cret")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = Key.from_pem(pem, password=b"s3cret")
    assert loaded.is_private
    assert loaded.to_pem() == _pem_public(key, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_from_pem_refuses_wrong_or_missing_password(crypto_keys: dict[str, Any]) -> None:
    """Wrong password, no password, or a password for a clear key: InvalidKey."""
    key = crypto_keys["p256"]
    encrypted = _pem_private(key, serialization.PrivateFormat.PKCS8, b"s3cret")
    clear = _pem_private(key, serialization.PrivateFormat.PKCS8)
    for pem, password in ((encrypted, b"wrong"), (encrypted, None), (clear, b"s3cret")):
        with pytest.raises(InvalidKey):
            Key.from_pem(pem, password=password)


def test_from_pem_accepts_text(crypto_keys: dict[str, Any]) -> None:
    """PEM may be given as ``str``."""
    pem = _pem_public(crypto_keys["p256"], serialization.PublicFormat.SubjectPublicKeyInfo)
    assert Key.from_pem(pem.decode()).to_pem() == pem


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"not a pem",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN PUBLIC KEY-----\né\n-----END PUBLIC KEY-----\n",
    ],
    ids=["empty", "text", "bad-spki", "bad-pkcs8", "bad-cert", "non-ascii"],
)
def test_from_pem_refuses_garbage(pem: bytes | str) -> None:
    """Anything that is not a loadable PEM key is InvalidKey."""
    with pytest.raises(InvalidKey):
        Key.from_pem(pem)


_DSA = Path(__file__).parent.parent / "vectors" / "dsa"


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("pkcs8.pem", None),
        ("traditional.pem", None),
        ("pkcs8-encrypted.pem", b"correct horse"),
        ("spki.pem", None),
        ("certificate.pem", None),
    ],
)
def test_from_pem_refuses_dsa_key_without_a_deprecation_warning(
    name: str, password: bytes | None
) -> None:
    """DSA has no JOSE algorithm: every PEM form is InvalidKey, and no warning reaches the user
    (cryptography >= 51 warns on DSA; pytest turns warnings into errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidKey, match="DSA keys are not supported"):
            Key.from_pem((_DSA / name).read_bytes(), password=password)


def test_from_pem_refuses_encrypted_dsa_key_with_wrong_password() -> None:
    """A wrong password on an encrypted DSA key is the ordinary wrong-password error."""
    with pytest.raises(InvalidKey, match="could not be loaded"):
        Key.from_pem((_DSA / "pkcs8-encrypted.pem").read_bytes(), password=b"wrong")


def test_dsa_detection_reads_only_the_algorithm_identifier() -> None:
    """RSA and EC keys in every form are not DSA; truncated DER is left to cryptography."""
    from tessera.jose import _pem

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for key in (rsa_key, ec_key):
        for pem in (
            _pem_private(key, serialization.PrivateFormat.PKCS8),
            _pem_private(key, serialization.PrivateFormat.TraditionalOpenSSL),
            _pem_public(key, serialization.PublicFormat.SubjectPublicKeyInfo),
            _self_signed_certificate(key),
        ):
            assert not _pem.is_dsa(pem)
    dsa_pem = (_DSA / "spki.pem").read_bytes()
    assert _pem.is_dsa(dsa_pem)
    truncated = b"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
    assert not _pem.is_dsa(truncated)
    with pytest.raises(InvalidKey):
        Key.from_pem(truncated)


def test_from_pem_refuses_unsupported_curve() -> None:
    """Curves without a JOSE name (here secp224r1) are refused."""
    key = ec.generate_private_key(ec.SECP224R1())
    with pytest.raises(InvalidKey):
        Key.from_pem(_pem_private(key, serialization.PrivateFormat.PKCS8))


def test_from_pem_refuses_small_rsa_key_and_certificate(rsa_1024: rsa.RSAPrivateKey) -> None:
    """RSA under 2048 bits is refused from PKCS#8, SPKI and certificates alike."""
    for pem in (
        _pem_private(rsa_1024, serialization.PrivateFormat.PKCS8),
        _pem_public(rsa_1024, serialization.PublicFormat.SubjectPublicKeyInfo),
        _self_signed_certificate(rsa_1024),
    ):
        with pytest.raises(InvalidKey):
            Key.from_pem(pem)


def test_from_pem_refuses_curve_that_does_not_fit_alg(crypto_keys: dict[str, Any]) -> None:
    """ES384 on a P-256 PEM key is refused at load time."""
    with pytest.raises(InvalidKey):
        Key.from_pem(
            _pem_private(crypto_keys["p256"], serialization.PrivateFormat.PKCS8), alg="ES384"
        )


@pytest.mark.parametrize(("alg", "crv", "kty", "curve"), ASYMMETRIC, ids=ASYMMETRIC_IDS)
def test_to_pem_round_trips(
    alg: str, crv: str | None, kty: str, curve: str | None, make_key: Any
) -> None:
    """SPKI, PKCS#8 and encrypted PKCS#8 exports load back as the same key."""
    key = make_key(alg, crv)
    public = Key.from_pem(key.to_pem(), alg=alg)
    private = Key.from_pem(key.to_pem(private=True), alg=alg)
    encrypted_pem = key.to_pem(private=True, password=b"pw")
    assert b"ENCRYPTED" in encrypted_pem
    encrypted = Key.from_pem(encrypted_pem, password=b"pw", alg=alg)
    assert not public.is_private
    assert private.is_private
    assert encrypted.is_private
    assert public.thumbprint() == private.thumbprint() == encrypted.thumbprint() == key.thumbprint()
    assert without(private.to_jwk(private=True), "kid") == without(key.to_jwk(private=True), "kid")


def test_to_pem_of_symmetric_key_is_refused(make_key: Any) -> None:
    """HMAC secrets have no PEM form."""
    with pytest.raises(InvalidKey):
        make_key("HS256").to_pem(private=True)


# -- thumbprints ---------------------------------------------------------------------------


def test_thumbprint_matches_rfc7638_example() -> None:
    """RFC 7638 sec. 3.1: the RFC 7517 A.1 RSA key's thumbprint."""
    assert Key.from_jwk(RFC7638_JWK).thumbprint() == RFC7638_THUMBPRINT


def test_thumbprint_uri_matches_rfc9278() -> None:
    """RFC 9278 sec. 3: the thumbprint URI of the same key."""
    assert (
        Key.from_jwk(RFC7638_JWK).thumbprint_uri()
        == f"urn:ietf:params:oauth:jwk-thumbprint:sha-256:{RFC7638_THUMBPRINT}"
    )


def test_thumbprint_ignores_metadata_and_private_members(make_key: Any) -> None:
    """kid, alg, use and private members do not change the thumbprint."""
    key = make_key("ES256")
    other = Key.from_jwk({**without(key.to_jwk(), "alg"), "kid": "x", "use": "sig"})
    assert key.thumbprint() == key.public().thumbprint() == other.thumbprint()


@pytest.mark.parametrize("alg", ["HS256", "ES256", "ES256K", "EdDSA"])
def test_thumbprint_hashes_required_members_in_order(alg: str, make_key: Any) -> None:
    """RFC 7638 sec. 3.2: SHA-256 of the required members, sorted, no whitespace."""
    key = make_key(alg)
    jwk = key.to_jwk(private=True)
    required = {"oct": ("k", "kty"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    text = "{" + ",".join(f'"{m}":"{jwk[m]}"' for m in required[key.kty]) + "}"
    assert key.thumbprint() == b64u(hashlib.sha256(text.encode()).digest())


# -- refusals ----------------------------------------------------------------------------------


def test_rsa_jwk_under_2048_bits_is_refused(rsa_1024: rsa.RSAPrivateKey) -> None:
    """Attack #12: 1024-bit RSA keys are refused, public or private, bound or not."""
    for jwk in (rsa_jwk(rsa_1024), rsa_jwk(rsa_1024, private=False)):
        for alg in (None, "RS256"):
            with pytest.raises(InvalidKey):
                Key.from_jwk(jwk, alg=alg)


@pytest.mark.parametrize("e", [1, 2, 4, 65536, 65538], ids=lambda e: f"e={e}")
def test_rsa_jwk_with_weak_exponent_is_refused(e: int, make_key: Any) -> None:
    """Attack #12: e = 1 and even exponents are refused."""
    jwk = {**make_key("RS256").to_jwk(), "e": b64u_uint(e)}
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk)


@pytest.mark.parametrize(("alg", "length"), [("HS256", 31), ("HS384", 47), ("HS512", 63)])
def test_hmac_secret_shorter_than_hash_is_refused(alg: str, length: int) -> None:
    """RFC 7518 sec. 3.2: from_secret and from_jwk refuse short HMAC keys; hash length is fine."""
    with pytest.raises(InvalidKey):
        Key.from_secret(b"k" * length, alg=alg)
    with pytest.raises(InvalidKey):
        Key.from_jwk({"kty": "oct", "k": b64u(b"k" * length), "alg": alg})
    assert Key.from_secret(b"k" * (length + 1), alg=alg).alg == alg
    assert Key.from_jwk({"kty": "oct", "k": b64u(b"k" * (length + 1))}, alg=alg).alg == alg


def test_empty_secret_is_refused() -> None:
    """Attack #10: an empty secret never becomes a key, bound or not."""
    with pytest.raises(InvalidKey):
        Key.from_secret(b"")
    for alg in (None, "HS256"):
        with pytest.raises(InvalidKey):
            Key.from_jwk({"kty": "oct", "k": ""}, alg=alg)


@pytest.mark.parametrize(
    "secret", ["s" * 64, 12345, None, ["s" * 64]], ids=["str", "int", "none", "list"]
)
def test_non_bytes_secret_is_refused(secret: Any) -> None:
    """A secret is bytes: text must be encoded explicitly (attack #5)."""
    with pytest.raises(InvalidKey):
        Key.from_secret(secret)


def test_secret_may_be_bytearray() -> None:
    """bytearray secrets are copied into an immutable key."""
    data = bytearray(b"k" * 32)
    key = Key.from_secret(data)  # type: ignore[arg-type]  # accepted, though typed bytes
    data[:] = b"x" * 32
    assert b64u_decode(key.to_jwk(private=True)["k"]) == b"k" * 32


@pytest.mark.parametrize(
    ("source", "alg"),
    [("ES256", "ES384"), ("ES256", "ES512"), ("ES256", "ES256K"), ("ES256K", "ES256"),
     ("ES512", "ES256"), (("EdDSA", "Ed448"), "Ed25519"), ("EdDSA", "Ed448"),
     (("ECDH-ES", "X25519"), "EdDSA"), (("ECDH-ES", "X25519"), "Ed25519")],
    ids=lambda v: v if isinstance(v, str) else "-".join(v),
)  # fmt: skip
def test_alg_that_does_not_fit_curve_is_refused(source: Any, alg: str, make_key: Any) -> None:
    """Attack #7: ES384 on a P-256 key (and every other curve mismatch) is refused."""
    key = make_key(*source) if isinstance(source, tuple) else make_key(source)
    jwk = without(key.to_jwk(), "alg")
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk, alg=alg)
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "alg": alg})


@pytest.mark.parametrize(
    ("source", "alg"),
    [("RS256", "ES256"), ("RS256", "HS256"), ("RS256", "EdDSA"), ("ES256", "RS256"),
     ("ES256", "HS256"), ("ES256", "EdDSA"), ("EdDSA", "ES256"), ("EdDSA", "RS256"),
     ("HS256", "RS256"), ("HS256", "ES256"), ("HS256", "EdDSA"), ("HS256", "RSA-OAEP")],
)  # fmt: skip
def test_alg_for_another_key_type_is_refused(source: str, alg: str, make_key: Any) -> None:
    """Attack #3, #7: an algorithm never binds to a key of another kty."""
    jwk = without(make_key(source).to_jwk(private=True), "alg")
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk, alg=alg)


@pytest.mark.parametrize("alg", ["ES256", "HS256", "RS256", "EdDSA"])
def test_encryption_use_with_signature_alg_is_refused(alg: str, make_key: Any) -> None:
    """Attack #9: ``use: enc`` contradicts a JWS algorithm."""
    jwk = {**make_key(alg).to_jwk(private=True), "use": "enc"}
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk)


def test_signature_use_with_encryption_alg_is_refused(make_key: Any) -> None:
    """``use: sig`` contradicts a JWE algorithm."""
    jwk = {**without(make_key("ES256").to_jwk(), "alg"), "use": "sig", "alg": "ECDH-ES"}
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk)


@pytest.mark.parametrize("use", ["SIG", "signature", "", 1, ["sig"]])
def test_unknown_use_is_refused(use: Any, make_key: Any) -> None:
    """``use`` is "sig" or "enc" exactly."""
    with pytest.raises(InvalidKey):
        Key.from_jwk({**make_key("ES256").to_jwk(), "use": use})


def test_unbound_encryption_key_cannot_verify_signatures(make_key: Any) -> None:
    """Attack #9: an unbound ``use: enc`` key is refused for JWS even with an allow-list."""
    signer = make_key("ES256")
    token = tessera.encode(CLAIMS, signer)
    enc_key = Key.from_jwk({**without(signer.to_jwk(), "alg"), "use": "enc"})
    with pytest.raises(tessera.InvalidToken):
        tessera.decode(token, enc_key, algorithms=["ES256"], now=NOW)


@pytest.mark.parametrize(
    ("use", "ops", "alg"),
    [("sig", ["encrypt"], None), ("sig", ["sign", "decrypt"], None), ("enc", ["sign"], None),
     ("enc", ["verify"], None), (None, ["wrapKey"], "ES256"), (None, ["encrypt"], "ES256")],
)  # fmt: skip
def test_key_ops_inconsistent_with_use_or_alg_is_refused(
    use: str | None, ops: list[str], alg: str | None, make_key: Any
) -> None:
    """RFC 7517 sec. 4.3: use and key_ops must agree, and key_ops must fit the alg."""
    jwk: dict[str, Any] = {**without(make_key("ES256").to_jwk(private=True), "alg"), "key_ops": ops}
    if use is not None:
        jwk["use"] = use
    if alg is not None:
        jwk["alg"] = alg
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk)


@pytest.mark.parametrize(
    "ops",
    [["sign", "sign"], ["verify", "sign", "verify"], "sign", "verify", 5, {"sign": 1}, [1],
     [["sign"]]],
    ids=["dup", "dup3", "str-sign", "str-verify", "int", "object", "int-item", "nested"],
)  # fmt: skip
def test_malformed_key_ops_are_refused(ops: Any, make_key: Any) -> None:
    """key_ops is an array of unique strings (RFC 7517 sec. 4.3); anything else is InvalidKey.

    The JWK is unbound, so no alg check can hide a key_ops that is a string or an object.
    """
    jwk = without(make_key("ES256").to_jwk(private=True), "alg")
    with pytest.raises(InvalidKey):
        Key.from_jwk(json.dumps({**jwk, "key_ops": ops}))


@pytest.mark.parametrize(
    "alg",
    ["HS1024", "none", "None", "hs256", "RSA1_5", "ES521", "", 42, ["HS256"], {"HS256": 1}],
    ids=["HS1024", "none", "None", "hs256", "RSA1_5", "ES521", "empty", "int", "list", "object"],
)
def test_unknown_alg_in_jwk_is_refused(alg: Any, make_key: Any) -> None:
    """A JWK's alg must be a registered name Tessera implements, exactly as spelled.

    Lists and objects (unhashable) must give InvalidKey too, never TypeError.
    """
    jwk = without(make_key("HS256").to_jwk(private=True), "alg")
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "alg": alg})
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk, alg=alg)


@pytest.mark.parametrize("member", ["alg", "kid", "use", "key_ops"])
def test_explicit_null_metadata_member_is_refused(member: str, make_key: Any) -> None:
    """``"alg": null`` is a malformed member (RFC 7517 sec. 4 types), not an absent one."""
    text = json.dumps({**make_key("ES256").to_jwk(), member: None})
    with pytest.raises(InvalidKey):
        Key.from_jwk(text)


@pytest.mark.parametrize("kty", ["ec", "rsa", "OCT", "", "Ed25519", 1, None])
def test_unknown_kty_is_refused(kty: Any, make_key: Any) -> None:
    """kty is case-sensitive and must be RSA, EC, OKP or oct."""
    with pytest.raises(InvalidKey):
        Key.from_jwk({**without(make_key("ES256").to_jwk(), "alg"), "kty": kty})


@pytest.mark.parametrize("crv", ["P-256K", "p-256", "P-224", "X25519", "Ed25519", "", 1])
def test_unknown_or_wrong_ec_curve_is_refused(crv: Any, make_key: Any) -> None:
    """EC keys use P-256, P-384, P-521 or secp256k1, spelled exactly."""
    with pytest.raises(InvalidKey):
        Key.from_jwk({**without(make_key("ES256").to_jwk(), "alg"), "crv": crv})


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "ES256K"])
def test_ec_point_not_on_curve_is_refused(alg: str, make_key: Any) -> None:
    """Attack #45: a public point off the curve is refused at load time."""
    jwk = make_key(alg).to_jwk()
    y = b64u_decode(jwk["y"])
    bad_y = b64u_uint(int.from_bytes(y, "big") ^ 1, len(y))
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "y": bad_y})
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "x": b64u(bytes(len(y))), "y": b64u(bytes(len(y)))})


@pytest.mark.parametrize(
    ("alg", "crv"), [("ES256", None), ("ES256K", None), ("ES512", None), ("EdDSA", "Ed25519"),
                     ("EdDSA", "Ed448"), ("ECDH-ES", "X25519"), ("ECDH-ES", "X448")],
)  # fmt: skip
def test_private_key_not_matching_public_key_is_refused(
    alg: str, crv: str | None, make_key: Any
) -> None:
    """``d`` of one key with ``x``/``y`` of another is refused (EC and OKP)."""
    mine = make_key(alg, crv).to_jwk(private=True)
    other = Key.generate(alg, crv=crv).to_jwk(private=True)
    with pytest.raises(InvalidKey):
        Key.from_jwk({**mine, "d": other["d"]})


@pytest.mark.parametrize("missing", ["p", "q", "dp", "dq", "qi", "p+q", "dp+dq+qi"])
def test_rsa_private_jwk_with_partial_crt_members_is_refused(missing: str, make_key: Any) -> None:
    """RFC 7518 sec. 6.3.2: p, q, dp, dq and qi come all together or not at all."""
    jwk = without(make_key("RS256").to_jwk(private=True), *missing.split("+"))
    with pytest.raises(InvalidKey):
        Key.from_jwk(jwk)


@pytest.mark.parametrize("member", ["d", "p", "dp", "qi"])
def test_rsa_private_jwk_with_inconsistent_member_is_refused(member: str, make_key: Any) -> None:
    """Changed CRT or private members make an inconsistent key, which is refused."""
    jwk = make_key("RS256").to_jwk(private=True)
    value = int.from_bytes(b64u_decode(jwk[member]), "big")
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, member: b64u_uint(value + 2)})


def test_rsa_private_jwk_with_wrong_d_and_no_crt_is_refused(make_key: Any) -> None:
    """A d that does not factor n is refused."""
    jwk = without(make_key("RS256").to_jwk(private=True), "p", "q", "dp", "dq", "qi")
    d = int.from_bytes(b64u_decode(jwk["d"]), "big")
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "d": b64u_uint(d + 2)})


def test_rsa_multi_prime_jwk_is_refused(make_key: Any) -> None:
    """RFC 7518 sec. 6.3.2.7: ``oth`` (multi-prime) keys are not supported."""
    jwk = make_key("RS256").to_jwk(private=True)
    oth = [{"r": jwk["p"], "d": jwk["dp"], "t": jwk["qi"]}]
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "oth": oth})
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "oth": []})


def _with_unused_bits(value: str) -> str:
    """The same bytes under a lenient decoder: the last character's unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(value) % 4 in (2, 3)
    return value[:-1] + alphabet[alphabet.index(value[-1]) | 1]


def _noncanonical(value: str, variant: str) -> str:
    if variant == "padding":
        assert len(value) % 4
        return value + "=" * (-len(value) % 4)
    if variant == "standard-alphabet":
        assert "-" in value or "_" in value
        return value.replace("-", "+").replace("_", "/")
    if variant == "whitespace":
        return value[:4] + "\n" + value[4:]
    if variant == "unused-bits":
        return _with_unused_bits(value)
    if variant == "trailing-space":
        return value + " "
    raise AssertionError(variant)


def _key_for_member(
    alg: str, crv: str | None, member: str, variant: str, make_key: Any
) -> dict[str, Any]:
    """A private JWK whose ``member`` can show ``variant`` (regenerated until it can)."""
    jwk: dict[str, Any] = make_key(alg, crv).to_jwk(private=True)
    for _ in range(200):
        value = jwk[member]
        short_last_group = len(value) % 4 != 0
        url_only = "-" in value or "_" in value
        if (variant not in ("padding", "unused-bits") or short_last_group) and (
            variant != "standard-alphabet" or url_only
        ):
            return jwk
        jwk = Key.generate(alg, crv=crv).to_jwk(private=True)
    raise AssertionError("no suitable key generated")


_B64_MEMBERS = [("HS256", None, "k"), ("RS256", None, "n"), ("RS256", None, "d"),
                ("RS256", None, "qi"), ("ES256", None, "x"), ("ES256", None, "y"),
                ("ES256", None, "d"), ("EdDSA", None, "x"), ("EdDSA", None, "d"),
                ("ES384", None, "x"), ("ES512", None, "y"), ("ES256K", None, "x"),
                ("ECDH-ES", "X448", "x")]  # fmt: skip
# 48- and 66-byte members fill whole base64 groups: they cannot show padding or unused bits.
_WHOLE_GROUPS = frozenset({("ES384", "x"), ("ES512", "y")})
_B64_VARIANTS = ["padding", "standard-alphabet", "whitespace", "unused-bits", "trailing-space"]
_B64_PARAMS = [
    pytest.param(
        alg, crv, member, variant, id=f"{alg}{'-' + crv if crv else ''}-{member}-{variant}"
    )
    for alg, crv, member in _B64_MEMBERS
    for variant in _B64_VARIANTS
    if not ((alg, member) in _WHOLE_GROUPS and variant in ("padding", "unused-bits"))
]


@pytest.mark.parametrize(("alg", "crv", "member", "variant"), _B64_PARAMS)
def test_non_canonical_base64url_member_is_refused(
    alg: str, crv: str | None, member: str, variant: str, make_key: Any
) -> None:
    """Attack #29: key members are canonical unpadded base64url, nothing lenient."""
    jwk = _key_for_member(alg, crv, member, variant, make_key)
    bad = {**jwk, member: _noncanonical(jwk[member], variant)}
    assert bad != jwk
    with pytest.raises(InvalidKey):
        Key.from_jwk(bad)


def test_rsa_exponent_with_padding_or_foreign_characters_is_refused(make_key: Any) -> None:
    """Attack #29 on a member that fills whole groups ("AQAB"): padding, spaces, "+" refused."""
    jwk = make_key("RS256").to_jwk()
    for e in ("AQAB=", "AQ AB", "AQAB\n", "AQA+", "+QAB"):
        with pytest.raises(InvalidKey):
            Key.from_jwk({**jwk, "e": e})


@pytest.mark.parametrize("member", ["x", "y", "d"])
@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "ES256K"])
def test_ec_member_of_wrong_length_is_refused(alg: str, member: str, make_key: Any) -> None:
    """RFC 7518 sec. 6.2.1.2: coordinates and d are exactly the curve size, zero-padded."""
    jwk = make_key(alg).to_jwk(private=True)
    raw = b64u_decode(jwk[member])
    for bad in (b"\x00" + raw, raw[1:], raw + b"\x00"):
        with pytest.raises(InvalidKey):
            Key.from_jwk({**jwk, member: b64u(bad)})


def test_p521_coordinate_without_leading_zero_is_refused() -> None:
    """A P-521 coordinate whose top byte is zero must still be 66 bytes long."""
    for _ in range(200):
        jwk = Key.generate("ES512").to_jwk()
        raw = b64u_decode(jwk["x"])
        if raw[0] == 0:
            break
    else:
        raise AssertionError("no P-521 key with a leading zero byte in x")
    assert len(raw) == 66
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, "x": b64u(raw[1:])})


@pytest.mark.parametrize(
    ("alg", "crv"), [("EdDSA", "Ed25519"), ("EdDSA", "Ed448"), ("ECDH-ES", "X25519")]
)
def test_okp_member_of_wrong_length_is_refused(alg: str, crv: str, make_key: Any) -> None:
    """RFC 8037: OKP x and d have the exact length of the curve."""
    jwk = make_key(alg, crv).to_jwk(private=True)
    for member in ("x", "d"):
        raw = b64u_decode(jwk[member])
        for bad in (raw[1:], raw + b"\x00"):
            with pytest.raises(InvalidKey):
                Key.from_jwk({**jwk, member: b64u(bad)})


@pytest.mark.parametrize("member", ["n", "e", "k", "x", "y", "d", "crv"])
@pytest.mark.parametrize(
    "value", [None, 1, ["AQAB"], {"a": 1}, True], ids=["null", "int", "list", "object", "bool"]
)
def test_key_member_of_wrong_json_type_is_refused(member: str, value: Any, make_key: Any) -> None:
    """Key members are strings; any other JSON type is InvalidKey, never TypeError."""
    source = {"n": "RS256", "e": "RS256", "k": "HS256"}.get(member, "ES256")
    jwk = make_key(source).to_jwk(private=True)
    with pytest.raises(InvalidKey):
        Key.from_jwk({**jwk, member: value})


@pytest.mark.parametrize("kid", [1, ["a"], "k" * 257], ids=["int", "list", "too-long"])
def test_malformed_kid_is_refused(kid: Any, make_key: Any) -> None:
    """kid is a string of bounded length."""
    jwk = {**make_key("ES256").to_jwk(), "kid": kid}
    with pytest.raises(InvalidKey):
        Key.from_jwk(json.dumps(jwk))


# -- KeySet ----------------------------------------------------------------------------------


def _unnamed(key: Key, private: bool = False) -> Key:
    """The same key without a kid (tokens it signs carry no kid header)."""
    return Key.from_jwk(without(key.to_jwk(private=private), "kid"))


def test_keyset_refuses_duplicate_kid(make_key: Any) -> None:
    """Attack #8: two keys with one kid make the lookup ambiguous."""
    a = Key.from_jwk({**make_key("ES256").to_jwk(), "kid": "same"})
    b = Key.from_jwk({**make_key("RS256").to_jwk(), "kid": "same"})
    with pytest.raises(InvalidKey):
        KeySet([a, b])
    with pytest.raises(InvalidKey):
        KeySet.from_jwks({"keys": [a.to_jwk(), b.to_jwk()]})


def test_keyset_refuses_mixed_symmetric_and_asymmetric_keys(make_key: Any) -> None:
    """Attack #8: a set never mixes HMAC secrets with public keys."""
    with pytest.raises(InvalidKey):
        KeySet([make_key("HS256"), make_key("ES256").public()])
    with pytest.raises(InvalidKey):
        KeySet.from_jwks(
            {"keys": [make_key("HS256").to_jwk(private=True), make_key("ES256").to_jwk()]}
        )


def test_keyset_refuses_items_that_are_not_keys(make_key: Any) -> None:
    """A KeySet holds Key objects only."""
    with pytest.raises(InvalidKey):
        KeySet([make_key("ES256"), make_key("ES384").to_jwk()])


def test_from_jwks_skip_invalid_keeps_good_keys_and_records_rejected(make_key: Any) -> None:
    """skip_invalid=True loads the usable keys and says why the others were left out."""
    good = [make_key("ES256").to_jwk(), make_key("RS256").to_jwk(), make_key("EdDSA").to_jwk()]
    bad = [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        "not an object",
        {"kty": "unknown"},
    ]
    jwks = {"keys": [good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3]]}
    keys = KeySet.from_jwks(jwks, skip_invalid=True)
    assert [k.kid for k in keys] == [j["kid"] for j in good]
    assert len(keys) == 3
    assert len(keys.rejected) == 4
    assert [r.split(":")[0] for r in keys.rejected] == ["key 1", "key 3", "key 4", "key 6"]
    with pytest.raises(InvalidKey):
        KeySet.from_jwks(jwks)


def test_from_jwks_without_skip_invalid_has_nothing_rejected(make_key: Any) -> None:
    """A clean set loads in order, with an empty ``rejected``."""
    jwks = {"keys": [make_key("ES256").to_jwk(), make_key("ES384").to_jwk()]}
    keys = KeySet.from_jwks(json.dumps(jwks))
    assert keys.rejected == ()
    assert [k.alg for k in keys] == ["ES256", "ES384"]
    assert keys.to_jwks() == jwks


@pytest.mark.parametrize(
    "jwks",
    [
        {},
        {"keys": {}},
        {"keys": "x"},
        {"keys": None},
        [],
        "[]",
        "{",
        {"keys": [{"kty": "oct"}] * 101},
    ],
    ids=["no-keys", "object", "string", "null", "list", "json-list", "bad-json", "too-many"],
)
def test_from_jwks_refuses_malformed_sets(jwks: Any) -> None:
    """Not a JWK Set, or more keys than the limit: InvalidKey, even when skipping."""
    with pytest.raises(InvalidKey):
        KeySet.from_jwks(jwks, skip_invalid=True)


def test_keyset_looks_up_keys_by_kid(make_key: Any) -> None:
    """keys[kid], get, ``in``, len and iteration order."""
    a, b = make_key("ES256").public(), make_key("RS256").public()
    keys = KeySet([a, b])
    assert a.kid is not None
    assert b.kid is not None
    assert keys[a.kid] is a
    assert keys.get(b.kid) is b
    assert a.kid in keys
    assert "nope" not in keys
    assert keys.get("nope") is None
    with pytest.raises(KeyError):
        keys["nope"]
    assert list(keys) == [a, b]
    assert len(keys) == 2


def test_keyset_to_jwks_is_public_unless_asked(make_key: Any) -> None:
    """to_jwks() leaves out private members; private=True includes them."""
    keys = KeySet([make_key("ES256"), make_key("RS256")])
    assert all("d" not in jwk for jwk in keys.to_jwks()["keys"])
    assert all("d" in jwk for jwk in keys.to_jwks(private=True)["keys"])


def test_decode_selects_key_by_kid(make_key: Any) -> None:
    """The token's kid picks the key; both keys share the algorithm."""
    first = Key.from_jwk({**make_key("ES256").to_jwk(private=True), "kid": "one"})
    second = Key.from_jwk({**Key.generate("ES256").to_jwk(private=True), "kid": "two"})
    keys = KeySet([first.public(), second.public()])
    for signer in (first, second):
        token = tessera.encode(CLAIMS, signer)
        assert tessera.jws.verify(token, keys).key.kid == signer.kid


def test_decode_with_unknown_kid_raises_key_not_found(make_key: Any) -> None:
    """An unknown kid never falls back to another key."""
    keys = KeySet([make_key("ES256").public()])
    signer = Key.from_jwk({**make_key("ES256").to_jwk(private=True), "kid": "unknown"})
    with pytest.raises(tessera.KeyNotFoundError):
        tessera.decode(tessera.encode(CLAIMS, signer), keys, now=NOW)


def test_decode_with_kid_of_key_bound_to_other_alg_is_refused(make_key: Any) -> None:
    """A kid that names a key bound to another algorithm never verifies (attack #8)."""
    rs = make_key("RS256")
    ps = Key.from_jwk({**rs.to_jwk(private=True), "alg": "PS256"})
    keys = KeySet([rs.public()])
    with pytest.raises(tessera.AlgorithmNotAllowedError):
        tessera.decode(tessera.encode(CLAIMS, ps), keys, now=NOW)


def test_decode_selects_key_by_type_when_token_has_no_kid(make_key: Any) -> None:
    """Without a kid, only keys whose kty and curve fit the algorithm are tried."""
    signers = [
        _unnamed(make_key(alg), private=True) for alg in ("ES256", "ES384", "RS256", "EdDSA")
    ]
    keys = KeySet([s.public() for s in signers])
    for signer in signers:
        token = tessera.encode(CLAIMS, signer)
        assert "kid" not in tessera.decode_unverified(token)[0]
        result = tessera.jws.verify(token, keys)
        assert result.key.to_jwk() == signer.public().to_jwk()


def test_decode_without_kid_tries_every_key_of_the_type(make_key: Any) -> None:
    """Two same-type keys without kid: the second one verifies the token it signed."""
    first = _unnamed(make_key("ES256"), private=True)
    second = _unnamed(Key.generate("ES256"), private=True)
    keys = KeySet([first.public(), second.public()])
    assert tessera.decode(tessera.encode(CLAIMS, second), keys, now=NOW) == CLAIMS


def test_decode_without_kid_and_no_key_of_the_type_raises_key_not_found(make_key: Any) -> None:
    """No key of the token's type: KeyNotFoundError, not a signature attempt with another type."""
    keys = KeySet([_unnamed(make_key("ES256")), _unnamed(make_key("RS256"))])
    token = tessera.encode(CLAIMS, _unnamed(make_key("ES384"), private=True))
    with pytest.raises(tessera.KeyNotFoundError):
        tessera.decode(token, keys, now=NOW)
    token = tessera.encode(CLAIMS, _unnamed(make_key("EdDSA"), private=True))
    with pytest.raises(tessera.KeyNotFoundError):
        tessera.decode(token, keys, now=NOW)
