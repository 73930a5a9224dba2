"""JWE (RFC 7516): round trips, spec vectors, Wycheproof, attack tokens and the safety rules."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import tessera
from tessera import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    DecryptionError,
    InvalidKey,
    InvalidToken,
    Key,
    KeyNotFoundError,
    KeySet,
    Limits,
    MalformedTokenError,
    UnsupportedHeaderError,
)
from tessera.jose import _jwe_crypto, jwe
from tessera.jose._b64 import b64decode, b64encode_str
from tessera.jose.jwa import JWE_ALGORITHMS, JWE_ENCRYPTIONS

KeyMaker = Callable[..., Key]

ENCS = ("A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512")
CEK_SIZES = {"A128GCM": 16, "A192GCM": 24, "A256GCM": 32, "A128CBC-HS256": 32,
             "A192CBC-HS384": 48, "A256CBC-HS512": 64}  # fmt: skip
ECDH_CURVES = ("P-256", "P-384", "P-521", "X25519", "X448")
FAILED = "JWE decryption failed"
DIR_A128GCM = b64encode_str(b'{"alg":"dir","enc":"A128GCM"}')
# The rejections Wycheproof's "invalid" JWE cases may end in (RSA1_5 keys fail to load).
REJECTED = (DecryptionError, MalformedTokenError, InvalidKey, AlgorithmNotAllowedError)

_HERE = Path(__file__).resolve().parent
_SHARED = Path("/work/shared/vectors")


def vector_path(relative: str) -> Path:
    """A vector file: the project copy in tests/vectors if present, else the shared survey."""
    local = _HERE.parent / "vectors" / relative
    return local if local.exists() else _SHARED / relative


def load(relative: str) -> Any:
    """Parse a vector file as JSON."""
    return json.loads(vector_path(relative).read_text(encoding="utf-8"))


def jwk_for_dir(jwk: dict[str, Any]) -> dict[str, Any]:
    """RFC 7520 sec. 5.6 and Wycheproof tc132 give a dir key ``alg: A128GCM`` (an enc name).

    Tessera binds keys to key-management algorithms, so the override binds it to ``dir``.
    """
    if jwk.get("alg") in JWE_ENCRYPTIONS:
        return {**jwk, "alg": "dir"}
    return jwk


def forge(header: dict[str, Any], cek: bytes, plaintext: bytes, encrypted_key: bytes = b"") -> str:
    """A compact A*GCM JWE with an arbitrary protected header, built without Tessera."""
    h_seg = b64encode_str(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    iv = bytes(range(12))
    sealed = AESGCM(cek).encrypt(iv, plaintext, h_seg.encode("ascii"))
    parts = (encrypted_key, iv, sealed[:-16], sealed[-16:])
    return ".".join([h_seg, *(b64encode_str(p) for p in parts)])


def segments(token: str) -> list[str]:
    """The five segments of a compact JWE."""
    parts = token.split(".")
    assert len(parts) == 5
    return parts


def header_of(token: str) -> dict[str, Any]:
    """The decoded protected header of a compact JWE."""
    value: dict[str, Any] = json.loads(b64decode(segments(token)[0]))
    return value


def flip_first(segment: str) -> str:
    """The segment with its first character changed (a modified byte, still canonical)."""
    return ("B" if segment[0] != "B" else "C") + segment[1:]


@pytest.fixture(scope="module")
def dir128() -> Key:
    """A 16-byte dir key bound to dir."""
    return Key.from_secret(bytes(range(16)), alg="dir")


def recipient_key(make_key: KeyMaker, alg: str, enc: str, crv: str | None = None) -> Key:
    """A private key for ``alg`` (dir keys follow the enc's CEK size)."""
    if alg == "dir":
        return Key.generate("dir", size=CEK_SIZES[enc])
    if alg.startswith("RSA"):
        return make_key(alg)
    return make_key(alg, crv=crv) if alg.startswith("ECDH") else make_key(alg)


def options(alg: str) -> dict[str, Any]:
    """Decrypt options for ``alg``: PBES2 must be named in ``algorithms``."""
    return {"algorithms": [alg]} if alg.startswith("PBES2") else {}


def headers_for(alg: str) -> dict[str, Any] | None:
    """Encrypt headers for ``alg``: a cheap p2c keeps the PBES2 tests fast."""
    return {"p2c": 1000} if alg.startswith("PBES2") else None


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("enc", ENCS)
@pytest.mark.parametrize("alg", sorted(JWE_ALGORITHMS))
def test_round_trip_every_alg_and_enc(make_key: KeyMaker, alg: str, enc: str) -> None:
    """Every alg x enc encrypts to the public key and decrypts with the private one."""
    key = recipient_key(make_key, alg, enc)
    sender = key if key.kty == "oct" else key.public()
    plaintext = f"{alg} with {enc}: \u2013 caf\u00e9".encode()
    token = jwe.encrypt(plaintext, sender, enc=enc, headers=headers_for(alg))
    header = header_of(token)
    assert header["alg"] == alg
    assert header["enc"] == enc
    assert "zip" not in header
    result = jwe.decrypt(token, key, **options(alg))
    assert result.plaintext == plaintext
    assert result.key is key
    assert result.header == header


@pytest.mark.parametrize("crv", ECDH_CURVES)
@pytest.mark.parametrize("alg", ["ECDH-ES", "ECDH-ES+A256KW"])
def test_round_trip_ecdh_es_on_every_curve(alg: str, crv: str) -> None:
    """ECDH-ES and ECDH-ES+A*KW work on P-256/384/521, X25519 and X448, with apu/apv."""
    key = Key.generate(alg, crv=crv)
    headers = {"apu": b64encode_str(b"Alice"), "apv": b64encode_str(b"Bob")}
    token = jwe.encrypt(b"agreed", key.public(), enc="A128CBC-HS256", headers=headers)
    header = header_of(token)
    assert header["epk"]["crv"] == crv
    assert "d" not in header["epk"]
    assert jwe.decrypt(token, key).plaintext == b"agreed"


def test_generate_works_for_jwe_algorithms() -> None:
    """Key.generate binds JWE algs; dir honours size=; ECDH-ES takes crv=."""
    assert Key.generate("A256KW").alg == "A256KW"
    dir_key = Key.generate("dir", size=16)
    assert (dir_key.alg, len(dir_key.to_jwk(private=True)["k"])) == ("dir", 22)
    x_key = Key.generate("ECDH-ES", crv="X25519")
    assert (x_key.kty, x_key.crv, x_key.alg) == ("OKP", "X25519", "ECDH-ES")
    assert Key.generate("ECDH-ES+A128KW", crv="P-384").crv == "P-384"


def test_dir_enc_defaults_to_the_cipher_of_the_key_size() -> None:
    """For dir, enc=None picks the cipher whose CEK is the key's size; others get A256GCM."""
    for size, enc in ((16, "A128GCM"), (24, "A192GCM"), (32, "A256GCM"), (64, "A256CBC-HS512")):
        key = Key.generate("dir", size=size)
        assert header_of(jwe.encrypt(b"x", key))["enc"] == enc
    assert header_of(jwe.encrypt(b"x", Key.generate("A128KW")))["enc"] == "A256GCM"


def test_pbes2_accepts_a_password_of_any_length() -> None:
    """A PBES2 key is a password: its length is not tied to the wrap size."""
    key = Key.from_secret(b"correct horse battery staple", alg="PBES2-HS384+A192KW")
    token = jwe.encrypt(b"pw", key, headers={"p2c": 1000})
    assert header_of(token)["p2c"] == 1000
    assert len(b64decode(header_of(token)["p2s"])) == 16
    assert jwe.decrypt(token, key, algorithms=["PBES2-HS384+A192KW"]).plaintext == b"pw"


def test_empty_plaintext_round_trips(dir128: Key) -> None:
    """An empty plaintext gives an empty GCM ciphertext segment, which decrypts."""
    token = jwe.encrypt(b"", dir128)
    assert segments(token)[3] == ""
    assert jwe.decrypt(token, dir128).plaintext == b""


def test_decrypt_finds_the_key_in_a_key_set_by_kid() -> None:
    """A KeySet finds the key by the header's kid; an unknown kid is KeyNotFoundError."""
    first, second = Key.generate("A128KW", kid="a"), Key.generate("A128KW", kid="b")
    keys = KeySet([first, second])
    assert jwe.decrypt(jwe.encrypt(b"1", second), keys).key is second
    with pytest.raises(KeyNotFoundError):
        jwe.decrypt(jwe.encrypt(b"3", Key.generate("A128KW", kid="c")), keys)


def test_decrypt_tries_every_fitting_key_without_kid() -> None:
    """With no kid, each key of the set that fits the alg is tried in turn."""
    kw = Key.generate("A128KW", kid="a")
    wrong = Key.from_secret(bytes(range(16)), alg="dir", kid="w")
    right = Key.from_secret(bytes(16), alg="dir", kid="r")
    token = forge({"alg": "dir", "enc": "A128GCM"}, bytes(16), b"z")
    assert jwe.decrypt(token.encode("ascii"), KeySet([kw, wrong, right])).key is right
    with pytest.raises(KeyNotFoundError):
        jwe.decrypt(token, KeySet([kw]))
    signing = Key.from_jwk({"kty": "oct", "k": b64encode_str(bytes(32)), "use": "sig"})
    assert jwe.decrypt(token, KeySet([signing, right])).key is right  # unbound but unfit


def test_result_is_never_called_verified(dir128: Key) -> None:
    """A decrypted JWE is not authenticated by a known party, so nothing says 'verified'."""
    result = jwe.decrypt(jwe.encrypt(b"top secret", dir128), dir128)
    names = set(jwe.DecryptedJWE.__dataclass_fields__) | set(jwe.__all__)
    assert not [name for name in names if "verif" in name.lower()]
    assert "top secret" not in repr(result)  # the plaintext stays out of logs


# -- algorithm policy -----------------------------------------------------------------------


def test_unbound_key_needs_both_allow_lists() -> None:
    """An unbound key needs algorithms and encryptions, like the JWS rule."""
    unbound = Key.from_jwk({"kty": "oct", "k": b64encode_str(bytes(16))})
    token = forge({"alg": "dir", "enc": "A128GCM"}, bytes(16), b"ok")
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, unbound)
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, unbound, algorithms=["dir"])
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, unbound, encryptions=["A128GCM"])
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, KeySet([unbound]), algorithms=["dir"])
    result = jwe.decrypt(token, unbound, algorithms=["dir"], encryptions=["A128GCM"])
    assert result.plaintext == b"ok"
    hmac_key = Key.from_secret(bytes(32))  # from_secret binds HS256: never a JWE key
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, hmac_key, algorithms=["dir"], encryptions=["A128GCM"])


def test_rejects_alg_outside_the_allow_list(dir128: Key) -> None:
    """The key's bound alg intersected with algorithms: outside either, rejected."""
    token = jwe.encrypt(b"x", dir128)
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, dir128, algorithms=["A128KW"])
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, dir128, encryptions=["A256GCM"])
    assert jwe.decrypt(token, dir128, algorithms=["dir"], encryptions=["A128GCM"]).plaintext


def test_rejects_token_alg_other_than_the_keys_binding() -> None:
    """A key bound to A128GCMKW never unwraps an A128KW token (Wycheproof GcmKeyUsedWithKw)."""
    secret = bytes(range(16))
    gcm_key = Key.from_secret(secret, alg="A128GCMKW")
    token = jwe.encrypt(b"x", Key.from_secret(secret, alg="A128KW"))
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, gcm_key)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "RSA1_5", "dir ", "DIR", "A128kw"])
def test_rejects_alg_that_is_not_a_supported_jwe_alg(dir128: Key, alg: str) -> None:
    """none, JWS algs, RSA1_5 and differently spelled names are never accepted."""
    token = forge({"alg": alg, "enc": "A128GCM"}, bytes(range(16)), b"x")
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, dir128)


@pytest.mark.parametrize("enc", ["A128CBC", "A128GCMKW", "none", "a128gcm"])
def test_rejects_unknown_enc(dir128: Key, enc: str) -> None:
    """An enc Tessera does not implement is refused before any key is used."""
    token = forge({"alg": "dir", "enc": enc}, bytes(range(16)), b"x")
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, dir128)


@pytest.mark.parametrize("header", [{"alg": "dir"}, {"alg": "dir", "enc": 1}, {"enc": "A128GCM"}])
def test_rejects_header_without_string_alg_and_enc(dir128: Key, header: dict[str, Any]) -> None:
    """alg and enc are required strings in the protected header."""
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(forge(header, bytes(range(16)), b"x"), dir128)


def test_rsa1_5_is_refused_everywhere(make_key: KeyMaker) -> None:
    """RSA1_5 cannot be allowed, bound, or used to encrypt (RFC 8725 sec. 3.2, attack #46)."""
    with pytest.raises(ConfigurationError):
        jwe.decrypt("a.b.c.d.e", make_key("RSA-OAEP"), algorithms=["RSA1_5"])
    with pytest.raises(InvalidKey):
        Key.generate("RSA1_5")
    with pytest.raises(ConfigurationError):
        jwe.encrypt(b"x", unbound(make_key("RSA-OAEP")), alg="RSA1_5")


def test_pbes2_needs_explicit_opt_in_even_for_a_bound_key() -> None:
    """PBES2 runs only when named in algorithms (attack catalogue #49)."""
    key = Key.from_secret(b"a long enough password", alg="PBES2-HS256+A128KW")
    token = jwe.encrypt(b"x", key, headers={"p2c": 1000})
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, key)
    assert jwe.decrypt(token, key, algorithms=["PBES2-HS256+A128KW"]).plaintext == b"x"


def password_key(password: bytes) -> Key:
    """An unbound oct key holding a password (needs algorithms= and encryptions=)."""
    return Key.from_jwk({"kty": "oct", "k": b64encode_str(password)})


def unbound(key: Key) -> Key:
    """The same private key without its alg binding."""
    return Key.from_jwk({k: v for k, v in key.to_jwk(private=True).items() if k != "alg"})


def pbes2_token(p2c: Any, p2s: bytes = b"\x00" * 16) -> str:
    """A PBES2-HS256+A128KW token with the given p2c/p2s (the rest is junk)."""
    header = {"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2c": p2c, "p2s": b64encode_str(p2s)}
    return forge(header, bytes(16), b"x", encrypted_key=bytes(24))


def test_rejects_pbes2_p2c_above_the_cap_before_pbkdf2(monkeypatch: pytest.MonkeyPatch) -> None:
    """p2c = 2^31-1 is refused in well under 10 ms, and PBKDF2 never runs."""
    key = password_key(b"correct horse battery staple")
    calls: list[object] = []
    monkeypatch.setattr(_jwe_crypto, "_pbes2_kek", lambda *a: calls.append(a) or bytes(16))
    token = pbes2_token(2**31 - 1)
    allowed = {"algorithms": ["PBES2-HS256+A128KW"], "encryptions": ["A128GCM"]}
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, key, **allowed)  # warm-up (imports)
    started = time.perf_counter()
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, key, **allowed)
    assert time.perf_counter() - started < 0.010
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(pbes2_token(20_000), key, **allowed, pbes2_max_iterations=10_000)
    assert calls == []


@pytest.mark.parametrize("p2c", [0, 999, -1, 1000.0, "1000", True, None, [1000]])
def test_rejects_pbes2_p2c_that_is_not_an_integer_from_1000(p2c: Any) -> None:
    """p2c must be an int (not bool or float) of at least 1000 (RFC 7518 sec. 4.8.1.2)."""
    key = password_key(b"correct horse battery staple")
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(pbes2_token(p2c), key, ["PBES2-HS256+A128KW"], ["A128GCM"])


def test_rejects_pbes2_salt_shorter_than_8_bytes() -> None:
    """p2s must be at least 8 bytes (RFC 7518 sec. 4.8.1.1)."""
    key = password_key(b"correct horse battery staple")
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(pbes2_token(1000, b"1234567"), key, ["PBES2-HS256+A128KW"], ["A128GCM"])


def test_rejects_bad_policy_arguments(dir128: Key) -> None:
    """Allow-lists are lists of known names; limits are sane integers."""
    token = jwe.encrypt(b"x", dir128)
    for kwargs in (
        {"algorithms": "dir"},
        {"encryptions": "A128GCM"},
        {"algorithms": ["dir", "HS256"]},
        {"encryptions": ["A128GCM", "A128CBC"]},
        {"max_decompressed": -1},
        {"pbes2_max_iterations": 999},
        {"pbes2_max_iterations": True},
    ):
        with pytest.raises(ConfigurationError):
            jwe.decrypt(token, dir128, **kwargs)
    with pytest.raises(ConfigurationError):
        jwe.decrypt(token, b"\x00" * 16)  # type: ignore[arg-type]


# -- key usage ------------------------------------------------------------------------------


def test_key_with_use_sig_never_decrypts() -> None:
    """A key marked for signatures is never used to decrypt (attack catalogue #43)."""
    raw = {"kty": "oct", "k": b64encode_str(bytes(16)), "use": "sig"}
    key = Key.from_jwk(raw)
    token = forge({"alg": "dir", "enc": "A128GCM"}, bytes(16), b"x")
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, key, ["dir"], ["A128GCM"])
    with pytest.raises(KeyNotFoundError):
        jwe.decrypt(token, KeySet([key]), ["dir"], ["A128GCM"])
    with pytest.raises(InvalidKey):
        jwe.encrypt(b"x", key, alg="dir")


@pytest.mark.parametrize(
    ("ops", "works"),
    [(["encrypt"], False), (["wrapKey"], False), (["decrypt"], True), (["unwrapKey"], True)],
)
def test_key_ops_decide_whether_a_key_decrypts(ops: list[str], works: bool) -> None:
    """key_ops without decrypt/unwrapKey/deriveKey means the key never decrypts."""
    key = Key.from_jwk({"kty": "oct", "k": b64encode_str(bytes(16)), "key_ops": ops})
    token = forge({"alg": "dir", "enc": "A128GCM"}, bytes(16), b"x")
    if works:
        assert jwe.decrypt(token, key, ["dir"], ["A128GCM"]).plaintext == b"x"
    else:
        with pytest.raises(AlgorithmNotAllowedError):
            jwe.decrypt(token, key, ["dir"], ["A128GCM"])


def test_public_key_cannot_decrypt(make_key: KeyMaker) -> None:
    """Decryption needs the private key; a public one is a configuration mistake."""
    key = make_key("RSA-OAEP-256")
    token = jwe.encrypt(b"x", key.public())
    with pytest.raises(InvalidKey):
        jwe.decrypt(token, key.public())
    with pytest.raises(KeyNotFoundError):
        jwe.decrypt(token, KeySet([key.public()]))


def test_key_of_the_wrong_type_is_refused(make_key: KeyMaker) -> None:
    """An EC key does not fit RSA-OAEP; an Ed25519 key does not fit ECDH-ES."""
    token = jwe.encrypt(b"x", make_key("RSA-OAEP").public())
    ec = Key.generate("ECDH-ES")
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(token, unbound(ec), ["RSA-OAEP"], ["A256GCM"])
    ed = Key.generate("EdDSA")
    with pytest.raises(ConfigurationError):
        jwe.encrypt(b"x", ed, alg="ECDH-ES")
    with pytest.raises(InvalidKey):
        jwe.encrypt(b"x", unbound(ed), alg="ECDH-ES")


# -- encryption options ---------------------------------------------------------------------


def test_encrypt_refuses_contradicting_or_computed_headers(dir128: Key) -> None:
    """headers= cannot change alg/enc, set computed parameters, or add crit."""
    for headers in (
        {"alg": "A128KW"},
        {"enc": "A256GCM"},
        {"zip": "DEF"},
        {"iv": "AAAA"},
        {"epk": {}},
        {"crit": ["exp"], "exp": 1},
        {"p2c": 5000},
        {"apu": "QWxpY2U"},
        {"kid": 7},
        {"x": float("nan")},
    ):
        with pytest.raises(ConfigurationError):
            jwe.encrypt(b"x", dir128, enc="A128GCM", headers=headers)
    with pytest.raises(ConfigurationError):
        jwe.encrypt("text", dir128)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        jwe.encrypt(b"x", dir128, enc="A128CBC")
    with pytest.raises(ConfigurationError):
        jwe.encrypt(b"x", Key.from_secret(bytes(32)))  # bound to HS256, not a JWE alg
    with pytest.raises(ConfigurationError):
        jwe.encrypt(b"x", dir128, alg="A128KW")
    with pytest.raises(InvalidKey):
        jwe.encrypt(b"x", dir128, enc="A256GCM")  # dir key size must match the enc


def test_encrypt_keeps_extra_headers_protected(dir128: Key) -> None:
    """typ/cty/kid from headers= land in the protected header."""
    token = jwe.encrypt(b"x", dir128, headers={"typ": "JWT", "cty": "JWT", "kid": "k1"})
    assert header_of(token) == {"alg": "dir", "enc": "A128GCM", "typ": "JWT", "cty": "JWT",
                                "kid": "k1"}  # fmt: skip


# -- compression (attack catalogue #50) -----------------------------------------------------


def test_encrypt_compresses_only_when_asked(dir128: Key) -> None:
    """zip=False by default (RFC 8725 sec. 3.6); zip=True adds zip DEF and round-trips."""
    data = b"compressible " * 200
    plain = jwe.encrypt(data, dir128)
    packed = jwe.encrypt(data, dir128, zip=True)
    assert "zip" not in header_of(plain)
    assert header_of(packed)["zip"] == "DEF"
    assert len(packed) < len(plain)
    assert jwe.decrypt(packed, dir128).plaintext == data


def test_decompression_limit_is_configurable(dir128: Key) -> None:
    """max_decompressed bounds the inflated size; the limit itself is allowed."""
    token = jwe.encrypt(b"a" * 1000, dir128, zip=True)
    assert jwe.decrypt(token, dir128, max_decompressed=1000).plaintext == b"a" * 1000
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, dir128, max_decompressed=999)


@pytest.mark.parametrize("zip_value", ["GZIP", "def", "", 1, None])
def test_rejects_zip_other_than_def(dir128: Key, zip_value: Any) -> None:
    """Only zip DEF exists (RFC 7516 sec. 4.1.3)."""
    token = forge({"alg": "dir", "enc": "A128GCM", "zip": zip_value}, bytes(range(16)), b"x")
    with pytest.raises(UnsupportedHeaderError):
        jwe.decrypt(token, dir128)


@pytest.mark.parametrize(
    "payload",
    [b"not deflate at all \xff\xfe", zlib.compress(b"zlib wrapper, not raw"), b""],
)
def test_rejects_invalid_deflate_data(dir128: Key, payload: bytes) -> None:
    """Garbage, a zlib wrapper or an empty stream is not raw DEFLATE."""
    token = forge({"alg": "dir", "enc": "A128GCM", "zip": "DEF"}, bytes(range(16)), payload)
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, dir128)


def test_rejects_deflate_with_trailing_data(dir128: Key) -> None:
    """Bytes after the end of the DEFLATE stream are refused."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = packer.compress(b"hello") + packer.flush() + b"junk"
    token = forge({"alg": "dir", "enc": "A128GCM", "zip": "DEF"}, bytes(range(16)), payload)
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, dir128)


# -- one error, checked in the right order (attack catalogue #46, #47, #48) -----------------


@pytest.mark.parametrize(
    ("alg", "enc"),
    [("RSA-OAEP-256", "A128GCM"), ("RSA-OAEP", "A256CBC-HS512"), ("A128KW", "A128CBC-HS256"),
     ("A192GCMKW", "A192GCM"), ("ECDH-ES+A128KW", "A128GCM"), ("ECDH-ES", "A192CBC-HS384"),
     ("dir", "A256GCM")],
)  # fmt: skip
def test_every_decryption_failure_has_one_type_and_message(
    make_key: KeyMaker, alg: str, enc: str
) -> None:
    """Modified tag, ciphertext, IV or encrypted key, missing key, wrong key: one error."""
    key = recipient_key(make_key, alg, enc)
    sender = key if key.kty == "oct" else key.public()
    parts = segments(jwe.encrypt(b"secret", sender, enc=enc))
    variants = [
        [*parts[:4], flip_first(parts[4])],
        [*parts[:3], flip_first(parts[3]), parts[4]],
        [*parts[:2], flip_first(parts[2]), *parts[3:]],
    ]
    if parts[1]:
        variants.append([parts[0], flip_first(parts[1]), *parts[2:]])
        variants.append([parts[0], "", *parts[2:]])
    messages = set()
    for variant in variants:
        with pytest.raises(DecryptionError) as caught:
            jwe.decrypt(".".join(variant), key)
        messages.add(str(caught.value))
    if alg == "dir":
        with pytest.raises(DecryptionError) as caught:
            jwe.decrypt(".".join(parts), Key.generate("dir", size=32))
        messages.add(str(caught.value))
    assert messages == {FAILED}


def test_cbc_tag_is_checked_before_cbc_decryption(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modified CBC-HMAC tag fails before AES-CBC ever runs (no padding oracle)."""
    key = Key.generate("A128KW")
    token = jwe.encrypt(b"padding oracle", key, enc="A128CBC-HS256")
    parts = segments(token)
    real_cipher = _jwe_crypto.Cipher
    calls: list[object] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real_cipher(*args, **kwargs)

    monkeypatch.setattr(_jwe_crypto, "Cipher", spy)
    with pytest.raises(DecryptionError):
        jwe.decrypt(".".join([*parts[:4], flip_first(parts[4])]), key)
    assert calls == []
    assert jwe.decrypt(token, key).plaintext == b"padding oracle"
    assert len(calls) == 1


def test_bad_cbc_padding_under_a_valid_tag_is_the_same_error() -> None:
    """Wrong PKCS#7 padding with a correct tag still gives the one decryption error."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cek = bytes(range(32))
    key = Key.from_secret(cek, alg="dir")
    h_seg = b64encode_str(b'{"alg":"dir","enc":"A128CBC-HS256"}')
    iv = bytes(16)
    block = b"sixteen bytes!\x00\x05"  # last byte 5, but the others are not 5: bad padding
    encryptor = Cipher(algorithms.AES(cek[16:]), modes.CBC(iv)).encryptor()
    ct = encryptor.update(block) + encryptor.finalize()
    aad = h_seg.encode("ascii")
    mac = hmac.HMAC(cek[:16], hashes.SHA256())
    mac.update(aad + iv + ct + (len(aad) * 8).to_bytes(8, "big"))
    tag = mac.finalize()[:16]
    token = ".".join([h_seg, "", b64encode_str(iv), b64encode_str(ct), b64encode_str(tag)])
    with pytest.raises(DecryptionError) as caught:
        jwe.decrypt(token, key)
    assert str(caught.value) == FAILED


@pytest.mark.parametrize("tag_size", [0, 1, 4, 8, 12, 15, 17, 32])
def test_rejects_gcm_tag_that_is_not_16_bytes(dir128: Key, tag_size: int) -> None:
    """The GCM tag is exactly 16 bytes (attack catalogue #48)."""
    parts = segments(jwe.encrypt(b"x", dir128))
    tag = (b64decode(parts[4]) + bytes(16))[:tag_size]
    with pytest.raises(DecryptionError):
        jwe.decrypt(".".join([*parts[:4], b64encode_str(tag)]), dir128)


def test_gcm_sizes_are_checked_before_aes_gcm_runs(
    dir128: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short tag or long IV never reaches AES-GCM (no min_tag_length below 16)."""
    parts = segments(jwe.encrypt(b"x", dir128))
    calls: list[bytes] = []
    monkeypatch.setattr(_jwe_crypto, "AESGCM", lambda key: calls.append(key))
    short_tag = b64encode_str(b64decode(parts[4])[:12])
    long_iv = b64encode_str(bytes(16))
    for token in ([*parts[:4], short_tag], [*parts[:2], long_iv, *parts[3:]]):
        with pytest.raises(DecryptionError):
            jwe.decrypt(".".join(token), dir128)
    assert calls == []


@pytest.mark.parametrize("iv_size", [0, 8, 11, 13, 16])
def test_rejects_gcm_iv_that_is_not_12_bytes(dir128: Key, iv_size: int) -> None:
    """The GCM IV is exactly 96 bits (RFC 7518 sec. 5.3)."""
    parts = segments(jwe.encrypt(b"x", dir128))
    with pytest.raises(DecryptionError):
        jwe.decrypt(".".join([*parts[:2], b64encode_str(bytes(iv_size)), *parts[3:]]), dir128)


@pytest.mark.parametrize("tag_size", [12, 15, 17])
def test_rejects_gcmkw_header_tag_that_is_not_16_bytes(tag_size: int) -> None:
    """A*GCMKW's header tag and iv are held to the same sizes."""
    key = Key.generate("A128GCMKW")
    token = jwe.encrypt(b"x", key)
    header = header_of(token)
    tag = (b64decode(header["tag"]) + bytes(1))[:tag_size]
    forged = {**header, "tag": b64encode_str(tag)}
    parts = segments(token)
    rebuilt = ".".join([b64encode_str(json.dumps(forged).encode()), *parts[1:]])
    with pytest.raises(DecryptionError):
        jwe.decrypt(rebuilt, key)


def test_dir_key_of_the_wrong_size_fails_like_any_other_forgery(dir128: Key) -> None:
    """enc A256GCM with a 16-byte dir key is a decryption failure, not a crash."""
    token = forge({"alg": "dir", "enc": "A256GCM"}, bytes(32), b"x")
    with pytest.raises(DecryptionError):
        jwe.decrypt(token, dir128)


def test_rejects_non_empty_encrypted_key_for_direct_modes(dir128: Key) -> None:
    """dir and ECDH-ES carry an empty encrypted key (RFC 7516 sec. 5.1 step 2)."""
    token = forge({"alg": "dir", "enc": "A128GCM"}, bytes(range(16)), b"x", bytes(16))
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, dir128)


# -- ECDH-ES (attack catalogue #45) ---------------------------------------------------------


def ecdh_token(key: Key, epk: Any) -> str:
    """An ECDH-ES token whose header carries ``epk``; the rest is junk."""
    return forge({"alg": "ECDH-ES", "enc": "A128GCM", "epk": epk}, bytes(16), b"x")


def test_rejects_epk_off_the_curve() -> None:
    """An off-curve point is refused when the key is built, before any KDF."""
    key = Key.generate("ECDH-ES")
    epk = {"kty": "EC", "crv": "P-256", "x": b64encode_str(bytes(31) + b"\x01"),
           "y": b64encode_str(bytes(31) + b"\x01")}  # fmt: skip
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(ecdh_token(key, epk), key)


@pytest.mark.parametrize(
    "epk",
    [
        None,
        "epk",
        [],
        {"kty": "RSA"},
        {"kty": "EC", "crv": "secp256k1"},
        {"kty": "OKP", "crv": "Ed25519", "x": b64encode_str(bytes(32))},
        {"kty": "EC", "crv": "P-256"},
    ],
)
def test_rejects_missing_or_malformed_epk(epk: Any) -> None:
    """epk must be an EC P-256/384/521 or OKP X25519/X448 public key object."""
    key = Key.generate("ECDH-ES")
    header: dict[str, Any] = {"alg": "ECDH-ES", "enc": "A128GCM"}
    if epk is not None:
        header["epk"] = epk
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(forge(header, bytes(16), b"x"), key)


@pytest.mark.parametrize(
    ("key_crv", "epk_crv"),
    [("P-256", "P-384"), ("P-256", "X25519"), ("X25519", "X448"), ("X448", "P-521")],
)
def test_rejects_epk_on_another_curve_than_the_key(key_crv: str, epk_crv: str) -> None:
    """The epk's kty and crv must match the recipient key's."""
    key = Key.generate("ECDH-ES", crv=key_crv)
    epk = Key.generate("ECDH-ES", crv=epk_crv).public().to_jwk()
    with pytest.raises(DecryptionError):
        jwe.decrypt(ecdh_token(key, {k: epk[k] for k in ("kty", "crv", "x", "y") if k in epk}), key)


@pytest.mark.parametrize(("crv", "size"), [("X25519", 32), ("X448", 56)])
def test_rejects_low_order_point_giving_all_zero_secret(crv: str, size: int) -> None:
    """A low-order X25519/X448 point (all-zero shared secret) is refused (RFC 7748 6.1)."""
    key = Key.generate("ECDH-ES", crv=crv)
    for point in (bytes(size), (1).to_bytes(size, "little")):
        epk = {"kty": "OKP", "crv": crv, "x": b64encode_str(point)}
        with pytest.raises(DecryptionError):
            jwe.decrypt(ecdh_token(key, epk), key)


# -- malformed structure --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b.c",
        "a.b.c.d",
        "a.b.c.d.e.f",
        ".b.c.d.e",
        "eyJhbGciOiJkaXIifQ.a.b.c.d e",
        f"{DIR_A128GCM}..AAAAAAAAAAAAAAAA.AA==.AAAAAAAAAAAAAAAAAAAAAA",
        f"{DIR_A128GCM}..AAAAAAAAAAAAAAAA.AB.AAAAAAAAAAAAAAAAAAAAAA",
        f"{DIR_A128GCM}.A.AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA",
        f"{DIR_A128GCM}..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAB",
        "bm90IGpzb24..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA",
        "WyJhbGciXQ..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA",
        "\u00e9.a.b.c.d",
    ],
)
def test_rejects_malformed_compact_jwe(dir128: Key, token: str) -> None:
    """Segment count, alphabet, canonical base64url, header JSON object: all checked."""
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, dir128)


def test_rejects_oversized_token_from_its_length(dir128: Key) -> None:
    """Limits.max_token_size applies to JWE too."""
    token = jwe.encrypt(b"x" * 2000, dir128)
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, dir128, limits=Limits(max_token_size=1000))


def test_rejects_jws_given_to_decrypt(make_key: KeyMaker, dir128: Key) -> None:
    """A three-part JWS is not a JWE, and a JWE is not a JWT (attack catalogue #43)."""
    jws_token = tessera.encode({"sub": "a"}, make_key("HS256"))
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(jws_token, dir128)
    with pytest.raises(MalformedTokenError):
        tessera.decode(jwe.encrypt(b"{}", dir128), make_key("HS256"))


def test_crit_is_enforced_with_no_extension_understood(dir128: Key) -> None:
    """crit naming any extension, or malformed, is refused (RFC 7516 sec. 4.1.13)."""
    for header in (
        {"alg": "dir", "enc": "A128GCM", "crit": ["exp"], "exp": 1},
        {"alg": "dir", "enc": "A128GCM", "crit": []},
        {"alg": "dir", "enc": "A128GCM", "crit": ["enc"]},
        {"alg": "dir", "enc": "A128GCM", "crit": ["missing"]},
    ):
        with pytest.raises(UnsupportedHeaderError):
            jwe.decrypt(forge(header, bytes(range(16)), b"x"), dir128)


@pytest.mark.parametrize("header", [{"kid": 1}, {"kid": "k" * 257}, {"typ": 1}, {"cty": []}])
def test_rejects_mistyped_common_header_members(dir128: Key, header: dict[str, Any]) -> None:
    """kid, typ and cty are strings (kid bounded)."""
    token = forge({"alg": "dir", "enc": "A128GCM", **header}, bytes(range(16)), b"x")
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(token, dir128)


def test_rejects_duplicate_header_members(dir128: Key) -> None:
    """The protected header is strict JSON: no duplicate names."""
    h_seg = b64encode_str(b'{"alg":"dir","enc":"A128GCM","enc":"A256GCM"}')
    parts = segments(forge({"alg": "dir", "enc": "A128GCM"}, bytes(range(16)), b"x"))
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(".".join([h_seg, *parts[1:]]), dir128)


# -- JSON serialisation ---------------------------------------------------------------------


def test_json_round_trip_with_several_recipients_and_aad(make_key: KeyMaker) -> None:
    """One CEK wrapped for each recipient; aad and shared headers authenticated or kept."""
    rsa = make_key("RSA-OAEP-256")
    ec = Key.generate("ECDH-ES+A128KW", crv="P-384", kid="ec")
    aes = Key.generate("A256GCMKW", kid="aes")
    out = jwe.encrypt_json(
        b"to many",
        [jwe.Recipient(rsa.public()), jwe.Recipient(ec.public()), jwe.Recipient(aes)],
        "A128CBC-HS256",
        unprotected={"cty": "text/plain"},
        aad=b"extra",
        protected={"typ": "example"},
    )
    assert json.loads(b64decode(out["protected"])) == {"enc": "A128CBC-HS256", "typ": "example"}
    assert [r["header"]["alg"] for r in out["recipients"]] == [
        "RSA-OAEP-256", "ECDH-ES+A128KW", "A256GCMKW"]  # fmt: skip
    with pytest.raises(UnsupportedHeaderError):
        jwe.decrypt_json(out, aes)
    for index, key in enumerate((rsa, ec, aes)):
        result = jwe.decrypt_json(json.dumps(out), key, allow_unprotected_alg=True)
        assert (result.plaintext, result.index, result.key) == (b"to many", index, key)
        assert result.aad == b"extra"
        assert result.unprotected["cty"] == "text/plain"
    tampered = {**out, "aad": b64encode_str(b"other")}
    with pytest.raises(DecryptionError):
        jwe.decrypt_json(tampered, aes, allow_unprotected_alg=True)


def test_json_shared_alg_is_protected(make_key: KeyMaker) -> None:
    """Recipients with one alg get it in the protected header: no opt-in needed."""
    first, second = Key.generate("A128KW", kid="1"), Key.generate("A128KW", kid="2")
    out = jwe.encrypt_json(b"both", [jwe.Recipient(first), jwe.Recipient(second)])
    assert json.loads(b64decode(out["protected"]))["alg"] == "A128KW"
    assert jwe.decrypt_json(out, second).index == 1
    assert jwe.decrypt_json(out, KeySet([first, second])).index == 0


@pytest.mark.parametrize("alg", ["dir", "ECDH-ES", "PBES2-HS256+A128KW", "A192GCMKW"])
def test_json_flattened_round_trip(alg: str) -> None:
    """A flattened JWE protects alg and the key-management parameters."""
    key = Key.generate(alg) if alg != "dir" else Key.generate("dir", size=32)
    sender = key if key.kty == "oct" else key.public()
    out = jwe.encrypt_json(
        b"flat", [jwe.Recipient(sender, header={"x-note": "n"})], flattened=True, zip=True,
        protected={"p2c": 1000} if alg.startswith("PBES2") else None,
    )  # fmt: skip
    assert "recipients" not in out
    assert out["header"] == {"x-note": "n"}
    assert json.loads(b64decode(out["protected"]))["alg"] == alg
    result = jwe.decrypt_json(out, key, **options(alg))
    assert (result.plaintext, result.unprotected) == (b"flat", {"x-note": "n"})


def test_json_refuses_enc_zip_crit_outside_the_protected_header() -> None:
    """enc, zip and crit are only read from the protected header."""
    key = Key.generate("A128KW")
    out = jwe.encrypt_json(b"x", [jwe.Recipient(key)], flattened=True)
    for name, value in (("enc", "A256GCM"), ("zip", "DEF"), ("crit", ["x"])):
        with pytest.raises(UnsupportedHeaderError):
            jwe.decrypt_json({**out, "unprotected": {name: value}}, key)
        with pytest.raises(UnsupportedHeaderError):
            jwe.decrypt_json({**out, "header": {name: value}}, key)
        with pytest.raises(ConfigurationError):
            jwe.encrypt_json(b"x", [jwe.Recipient(key)], unprotected={name: value})


def test_json_rejects_malformed_serialisations() -> None:
    """Structure, disjoint headers, types and the recipient count are checked."""
    key = Key.generate("A128KW")
    out = jwe.encrypt_json(b"x", [jwe.Recipient(key)])
    protected = json.loads(b64decode(out["protected"]))
    bad: list[Any] = [
        "not json",
        "[]",
        {**out, "recipients": []},
        {**out, "recipients": ["x"]},
        {**out, "recipients": [{}] * 17},
        {**out, "encrypted_key": "AAAA"},
        {k: v for k, v in out.items() if k != "ciphertext"},
        {**out, "iv": 1},
        {**out, "tag": "AA=="},
        {**out, "protected": "e30="},
        {**out, "unprotected": []},
        {**out, "unprotected": {"kid": protected["kid"]}},
    ]
    for obj in bad:
        with pytest.raises(MalformedTokenError):
            jwe.decrypt_json(obj, key)
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_json(json.dumps(out), key, limits=Limits(max_token_size=100))


def test_json_refuses_direct_modes_with_several_recipients() -> None:
    """dir and ECDH-ES fix the CEK, so they allow one recipient only."""
    keys = [Key.generate("dir"), Key.generate("A128KW")]
    with pytest.raises(ConfigurationError):
        jwe.encrypt_json(b"x", [jwe.Recipient(k) for k in keys])
    with pytest.raises(ConfigurationError):
        jwe.encrypt_json(b"x", [])
    with pytest.raises(ConfigurationError):
        jwe.encrypt_json(b"x", [jwe.Recipient(keys[1])] * 2, flattened=True)


def test_json_tries_at_most_one_pbes2_recipient() -> None:
    """Several PBES2 recipients cost one PBKDF2 run at most (attack catalogue #49)."""
    right = Key.from_secret(b"the right password", alg="PBES2-HS256+A128KW")
    wrong = Key.from_secret(b"the wrong password", alg="PBES2-HS256+A128KW")
    out = jwe.encrypt_json(
        b"x", [jwe.Recipient(wrong), jwe.Recipient(right)], protected={"p2c": 1000}
    )
    with pytest.raises(DecryptionError):
        jwe.decrypt_json(out, right, algorithms=["PBES2-HS256+A128KW"])
    single = jwe.encrypt_json(b"x", [jwe.Recipient(right)], protected={"p2c": 1000})
    assert jwe.decrypt_json(single, right, algorithms=["PBES2-HS256+A128KW"]).plaintext == b"x"


# -- RFC 7516 App. A, RFC 7518 App. B and C, RFC 8037 A.6/A.7 ------------------------------


def rfc_cases(prefix: str) -> list[Any]:
    """The cases of the RFC examples file whose id starts with ``prefix``."""
    data = load("rfc/rfc-jose-examples.json")
    cases = [c for c in data["cases"] if c["id"].startswith(prefix)]
    return [pytest.param(case, id=case["id"]) for case in cases]


@pytest.mark.parametrize("case", rfc_cases("rfc7516-"))
def test_rfc7516_appendix_a(case: dict[str, Any]) -> None:
    """A.1, A.3 decrypt; A.2 (RSA1_5) is refused; A.4/A.5 (JSON) decrypt with the AES key."""
    expected = case["plaintext_utf8"].encode("utf-8")
    if case["kind"] == "jwe-compact":
        key = Key.from_jwk(case["key"])
        allowed = {"algorithms": [case["alg"]], "encryptions": [case["enc"]]}
        if case["alg"] == "RSA1_5":
            assert case["result"] == "valid-if-RSA1_5-enabled"
            with pytest.raises(AlgorithmNotAllowedError):
                jwe.decrypt(case["jwe"], key, ["RSA-OAEP"], [case["enc"]])
            return
        assert jwe.decrypt(case["jwe"], key, **allowed).plaintext == expected
        return
    aes = Key.from_jwk({**case["keys"]["7"], "kid": "7"})
    allowed = {"algorithms": ["A128KW"], "encryptions": ["A128CBC-HS256"]}
    result = jwe.decrypt_json(case["jwe_json"], aes, **allowed, allow_unprotected_alg=True)
    assert result.plaintext == expected
    assert result.unprotected["jku"] == "https://server.example.com/keys.jwks"
    with pytest.raises(UnsupportedHeaderError):
        jwe.decrypt_json(case["jwe_json"], aes, **allowed)
    if "2011-04-29" in case["keys"]:
        rsa = Key.from_jwk(case["keys"]["2011-04-29"])
        with pytest.raises(AlgorithmNotAllowedError):
            jwe.decrypt_json(case["jwe_json"], rsa, ["RSA-OAEP"], ["A128CBC-HS256"],
                             allow_unprotected_alg=True)  # fmt: skip


@pytest.mark.parametrize("case", rfc_cases("rfc7518-B"))
def test_rfc7518_appendix_b_aes_cbc_hmac(case: dict[str, Any]) -> None:
    """The AES_CBC_HMAC_SHA2 test cases: the tag matches and the ciphertext decrypts."""
    cipher = _jwe_crypto.CONTENT_CIPHERS[case["enc"]]
    key, iv = bytes.fromhex(case["K_hex"]), bytes.fromhex(case["IV_hex"])
    aad, ct = case["A_utf8"].encode(), bytes.fromhex(case["E_hex"])
    tag = bytes.fromhex(case["T_hex"])
    half = cipher.cek_size // 2
    assert _jwe_crypto._cbc_tag(cipher, key[:half], aad, iv, ct) == tag
    plaintext = _jwe_crypto.decrypt_content(cipher, key, iv, ct, tag, aad)
    assert plaintext == case["P_utf8"].encode()
    with pytest.raises(DecryptionError):
        _jwe_crypto.decrypt_content(cipher, key, iv, ct, tag[:-1] + bytes([tag[-1] ^ 1]), aad)


def ecdh_es_jwe(header: dict[str, Any], derived: bytes, plaintext: bytes) -> str:
    """A compact ECDH-ES/A128GCM JWE for ``header`` with an already derived CEK."""
    return forge(header, derived, plaintext)


@pytest.mark.parametrize("case", rfc_cases("rfc7518-C"))
def test_rfc7518_appendix_c_ecdh_es_concat_kdf(case: dict[str, Any]) -> None:
    """Z and the Concat KDF output match the RFC, and a JWE built on them decrypts."""
    recipient = Key.from_jwk(case["recipient_private_key"], alg="ECDH-ES")
    header = case["protected_header"]
    epk = _jwe_crypto.load_epk(header["epk"])
    z = _jwe_crypto._exchange(recipient._raw, epk)
    assert z == bytes.fromhex(case["Z_hex"])
    derived = _jwe_crypto._concat_kdf(z, "A128GCM", b"Alice", b"Bob", 16)
    assert derived == b64decode(case["derived_key_b64u"])
    token = ecdh_es_jwe(header, derived, b"RFC 7518 C")
    assert jwe.decrypt(token, recipient).plaintext == b"RFC 7518 C"


@pytest.mark.parametrize("case", rfc_cases("rfc8037-A.6") + rfc_cases("rfc8037-A.7"))
def test_rfc8037_ecdh_es_with_x25519_and_x448(case: dict[str, Any]) -> None:
    """The RFC 7748 keys give the RFC's Z, and ECDH-ES decrypts a JWE made with them."""
    module = x25519 if case["kind"] == "ecdh-es-x25519" else x448
    cls: Any = module.X25519PrivateKey if module is x25519 else module.X448PrivateKey
    private = bytes.fromhex(case["recipient_private_hex"])
    ephemeral = cls.from_private_bytes(bytes.fromhex(case["ephemeral_private_hex"]))
    public = case["recipient_public_jwk"]
    recipient = Key.from_jwk({**public, "d": b64encode_str(private)}, alg="ECDH-ES")
    z = ephemeral.exchange(cls.from_private_bytes(private).public_key())
    assert z == bytes.fromhex(case["Z_hex"])
    derived = _jwe_crypto._concat_kdf(z, "A128GCM", b"", b"", 16)
    header = {"alg": "ECDH-ES", "enc": "A128GCM", "epk": case["epk"]}
    assert jwe.decrypt(ecdh_es_jwe(header, derived, b"8037"), recipient).plaintext == b"8037"


# -- RFC 7520 (JOSE Cookbook) sec. 5 --------------------------------------------------------


def cookbook_files() -> Iterator[Any]:
    """Every JWE file of the cookbook plus the RFC 8037 X25519 example."""
    folder = vector_path("jose-cookbook/jwe")
    for path in sorted(
        folder.glob("*.json"), key=lambda p: [int(n) for n in p.stem.split(".")[0].split("_")]
    ):
        yield pytest.param(f"jose-cookbook/jwe/{path.name}", id=path.stem.split(".")[0])
    yield pytest.param("jose-cookbook/curve25519/ecdh-es.json", id="8037-ecdh-es")  # fmt: skip


def cookbook_key(inp: dict[str, Any], index: int) -> tuple[Key, str]:
    """The recipient key and alg of a cookbook input (PBES2: the password)."""
    algs = inp["alg"] if isinstance(inp["alg"], list) else [inp["alg"]]
    if "pwd" in inp:
        return Key.from_secret(inp["pwd"].encode("utf-8"), alg=algs[index]), algs[index]
    jwks = inp["key"] if isinstance(inp["key"], list) else [inp["key"]]
    return Key.from_jwk(jwk_for_dir(jwks[index])), algs[index]


@pytest.mark.parametrize("relative", list(cookbook_files()))
def test_rfc7520_cookbook(relative: str) -> None:
    """Every form decrypts with the recipient key; RSA1_5 and unprotected enc are refused."""
    data = load(relative)
    inp = data["input"]
    expected = inp["plaintext"].encode("utf-8")
    count = len(inp["alg"]) if isinstance(inp["alg"], list) else 1
    unprotected_enc = "unprotected" in data["encrypting_content"] and "enc" in data[
        "encrypting_content"]["unprotected"]  # fmt: skip
    outcomes = []
    for index in range(count):
        key, alg = cookbook_key(inp, index)
        allowed = {"algorithms": [alg if alg != "RSA1_5" else "RSA-OAEP"], "encryptions": ENCS}
        for form, token in data["output"].items():
            decrypt: Any = jwe.decrypt if form == "compact" else jwe.decrypt_json
            extra = {} if form == "compact" else {"allow_unprotected_alg": True}
            if alg == "RSA1_5":
                with pytest.raises(AlgorithmNotAllowedError):
                    decrypt(token, key, **allowed, **extra)
                outcomes.append("refused")
            elif unprotected_enc:
                with pytest.raises(UnsupportedHeaderError):
                    decrypt(token, key, **allowed, **extra)
                outcomes.append("refused")
            else:
                result = decrypt(token, key, **allowed, **extra)
                assert result.plaintext == expected
                assert result.index == (index if count > 1 else 0)
                outcomes.append("ok")
    assert outcomes


def test_rfc7520_pbes2_needs_the_opt_in() -> None:
    """RFC 7520 sec. 5.3 decrypts only with PBES2 named in algorithms."""
    data = load(
        "jose-cookbook/jwe/5_3.key_wrap_using_pbes2-aes-keywrap_with-aes-cbc-hmac-sha2.json"
    )
    key = Key.from_secret(data["input"]["pwd"].encode("utf-8"), alg=data["input"]["alg"])
    with pytest.raises(AlgorithmNotAllowedError):
        jwe.decrypt(data["output"]["compact"], key)
    with pytest.raises(MalformedTokenError):
        jwe.decrypt(data["output"]["compact"], key, [data["input"]["alg"]],
                    pbes2_max_iterations=8191)  # fmt: skip


def test_rfc7520_nested_jwt_needs_its_own_verification() -> None:
    """RFC 7520 sec. 6: decrypt, then decode the inner JWT with the signer's key."""
    data = load("jose-cookbook/6.nesting_signatures_and_encryption.json")
    enc_key = Key.from_jwk(data["encrypt"]["input"]["key"])
    result = jwe.decrypt(data["encrypt"]["output"]["compact"], enc_key, encryptions=["A128GCM"])
    assert result.header["cty"] == "JWT"
    inner = result.plaintext.decode("ascii")
    sign_key = Key.from_jwk(data["sign"]["input"]["key"], alg="PS256").public()
    claims = tessera.decode(inner, sign_key, issuer="hobbiton.example", now=1300819000)
    assert claims["http://example.com/is_root"] is True
    with pytest.raises(tessera.ExpiredTokenError):
        tessera.decode(inner, sign_key, issuer="hobbiton.example", now=1300819381)


# -- Wycheproof ------------------------------------------------------------------------------


def wycheproof_cases(relative: str) -> list[Any]:
    """(group key, test) pairs for every JWE test of a Wycheproof file."""
    data = load(relative)
    return [
        pytest.param(group["private"], test, id=f"tc{test['tcId']}")
        for group in data["testGroups"]
        for test in group["tests"]
        if "jwe" in test
    ]


def check_wycheproof(jwk: dict[str, Any], test: dict[str, Any]) -> None:
    """Valid cases decrypt (to ``pt`` when given); invalid ones are rejected.

    RSA1_5 groups count as rejected by policy: the key cannot even be loaded, and with the
    alg removed the token is refused for its alg.
    """
    if jwk.get("alg") == "RSA1_5":
        with pytest.raises(InvalidKey):
            Key.from_jwk(jwk)
        unbound = Key.from_jwk({k: v for k, v in jwk.items() if k != "alg"})
        with pytest.raises(AlgorithmNotAllowedError):
            jwe.decrypt(test["jwe"], unbound, ["RSA-OAEP", "RSA-OAEP-256"], ENCS)
        return
    if test["result"] == "valid":
        result = jwe.decrypt(test["jwe"], Key.from_jwk(jwk_for_dir(jwk)))
        if "pt" in test:
            assert result.plaintext == bytes.fromhex(test["pt"])
        return
    assert test["result"] == "invalid"
    with pytest.raises(REJECTED):
        jwe.decrypt(test["jwe"], Key.from_jwk(jwk_for_dir(jwk)))


@pytest.mark.parametrize(
    ("jwk", "test"), wycheproof_cases("wycheproof/json_web_encryption_test.json")
)
def test_wycheproof_json_web_encryption(jwk: dict[str, Any], test: dict[str, Any]) -> None:
    """All 139 cases of json_web_encryption_test.json."""
    check_wycheproof(jwk, test)


@pytest.mark.parametrize(("jwk", "test"), wycheproof_cases("wycheproof/json_web_crypto_test.json"))
def test_wycheproof_json_web_crypto_jwe(jwk: dict[str, Any], test: dict[str, Any]) -> None:
    """The 34 JWE cases of the older json_web_crypto_test.json."""
    check_wycheproof(jwk, test)


# -- attack tokens --------------------------------------------------------------------------


def attack_cases() -> list[Any]:
    """The JWE cases of attack-tokens.json."""
    data = load("attacks/attack-tokens.json")
    return [
        pytest.param(case, data["keys"], id=case["id"])
        for case in data["cases"]
        if "key_management_algorithms" in case["verifier"]
    ]


def attack_decrypt(case: dict[str, Any], **kwargs: Any) -> jwe.DecryptedJWE:
    """Decrypt an attack token as its verifier section says."""
    config = case["verifier"]
    return jwe.decrypt(
        case["token"],
        Key.from_jwk(config["key"]),
        config["key_management_algorithms"],
        config["content_encryption_algorithms"],
        **kwargs,
    )


@pytest.mark.parametrize(("case", "keys"), attack_cases())
def test_attack_token(case: dict[str, Any], keys: dict[str, Any]) -> None:
    """Controls decrypt; every attack is rejected; a nested alg:none JWT fails its decode."""
    then = case["verifier"].get("then_verify")
    if case["expected"] in ("accept", "accept-if-zip-supported"):
        assert attack_decrypt(case).plaintext == b"hello"
    elif then is not None:
        inner = attack_decrypt(case).plaintext.decode("ascii")
        assert json.loads(b64decode(inner.split(".")[0]))["alg"] == "none"
        with pytest.raises(InvalidToken):
            tessera.decode(
                inner,
                Key.from_jwk(keys[then["key"]]),
                algorithms=then["algorithms"],
                issuer=then["issuer"],
                audience=then["audience"],
                now=then["now"],
            )
    else:
        assert case["expected"] == "reject"
        with pytest.raises(InvalidToken):
            attack_decrypt(case)


def test_zip_bomb_is_rejected_fast_without_inflating_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """50 MB of zeros is refused after inflating at most limit + 1 bytes (attack #50)."""
    case = next(c.values[0] for c in attack_cases() if c.id == "zip-bomb")
    assert isinstance(case, dict)
    produced: list[int] = []
    real = zlib.decompressobj

    class Spy:
        def __init__(self, wbits: int) -> None:
            self.inner = real(wbits)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self.inner.decompress(data, max_length)
            produced.append(len(out))
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Spy)
    started = time.perf_counter()
    with pytest.raises(MalformedTokenError):
        attack_decrypt(case, limits=Limits(max_token_size=1_000_000))
    assert time.perf_counter() - started < 0.5
    assert produced
    assert sum(produced) <= jwe.DEFAULT_MAX_DECOMPRESSED + 1
