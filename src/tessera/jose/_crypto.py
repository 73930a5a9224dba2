"""The only module that touches ``cryptography.hazmat``: key material, generation, export,
and the sign/verify operations behind each JWS algorithm.

Everything raised here is a Tessera error or ``ValueError`` for the caller to translate;
``cryptography``'s own exceptions never leak (style: raise ... from at the boundary).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tessera.errors import InvalidKey
from tessera.jose import _pem
from tessera.jose._b64 import b64decode, b64encode_str
from tessera.jose.jwa import Algorithm, Family

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | x25519.X25519PrivateKey
    | x448.X448PrivateKey
)
PublicKey = (
    rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey
    | ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
    | x25519.X25519PublicKey
    | x448.X448PublicKey
)
Material = bytes | PrivateKey | PublicKey
Signer = Callable[[bytes], bytes]
Verifier = Callable[[bytes, bytes], bool]

_CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {
    "P-256": (ec.SECP256R1, 32),
    "P-384": (ec.SECP384R1, 48),
    "P-521": (ec.SECP521R1, 66),
    "secp256k1": (ec.SECP256K1, 32),
}
_CURVE_NAMES = {cls().name: crv for crv, (cls, _) in _CURVES.items()}
_OKP_SIZES = {"Ed25519": 32, "Ed448": 57, "X25519": 32, "X448": 56}
_OKP_PRIVATE: dict[str, Any] = {
    "Ed25519": ed25519.Ed25519PrivateKey,
    "Ed448": ed448.Ed448PrivateKey,
    "X25519": x25519.X25519PrivateKey,
    "X448": x448.X448PrivateKey,
}
_OKP_PUBLIC: dict[str, Any] = {
    "Ed25519": ed25519.Ed25519PublicKey,
    "Ed448": ed448.Ed448PublicKey,
    "X25519": x25519.X25519PublicKey,
    "X448": x448.X448PublicKey,
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
# ROCA (CVE-2017-15361): an affected modulus is, modulo each small prime, a power of 65537.
_ROCA_PRIMES = (
    *(3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83),
    *(89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167),
)
_ROCA_GROUPS = tuple((p, frozenset(pow(65537, k, p) for k in range(p - 1))) for p in _ROCA_PRIMES)


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """A fresh ``cryptography`` hash object for a JWA hash name."""
    return _HASHES[name]()


def sha256(data: bytes) -> bytes:
    """SHA-256 digest (thumbprints, ``jti`` helpers)."""
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


# -- key facts ---------------------------------------------------------------------------


def describe(material: Material) -> tuple[str, str | None, bool]:
    """(kty, crv, is_private) of key material."""
    if isinstance(material, bytes):
        return "oct", None, True
    if isinstance(material, rsa.RSAPrivateKey):
        return "RSA", None, True
    if isinstance(material, rsa.RSAPublicKey):
        return "RSA", None, False
    if isinstance(material, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        crv = _CURVE_NAMES.get(material.curve.name)
        if crv is None:
            raise InvalidKey(f"unsupported elliptic curve {material.curve.name}")
        return "EC", crv, isinstance(material, ec.EllipticCurvePrivateKey)
    for crv, cls in _OKP_PRIVATE.items():
        if isinstance(material, cls):
            return "OKP", crv, True
    for crv, cls in _OKP_PUBLIC.items():
        if isinstance(material, cls):
            return "OKP", crv, False
    raise InvalidKey(f"unsupported key type {type(material).__name__}")


def public_of(material: Material) -> Material:
    """The public half of a private key (``oct`` keys have none and are returned as is)."""
    if isinstance(material, bytes):
        return material
    if isinstance(
        material,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey
        | x25519.X25519PrivateKey
        | x448.X448PrivateKey,
    ):
        return material.public_key()
    return material


def rsa_bits(material: Material) -> int:
    """Modulus size in bits of an RSA key (0 for other types)."""
    if isinstance(material, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return material.key_size
    return 0


def check_rsa(material: Material) -> None:
    """Refuse RSA keys under 2048 bits, with a weak exponent, or with a ROCA modulus.

    Raises:
        InvalidKey: the key must not be trusted (attack catalogue #12).
    """
    if not isinstance(material, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return
    numbers = (
        material.public_key().public_numbers()
        if isinstance(material, rsa.RSAPrivateKey)
        else material.public_numbers()
    )
    if material.key_size < 2048:
        raise InvalidKey(f"RSA keys must be at least 2048 bits (got {material.key_size})")
    if numbers.e < 3 or numbers.e % 2 == 0:
        raise InvalidKey("RSA public exponent must be odd and at least 3")
    n = numbers.n
    if all(n % p in group for p, group in _ROCA_GROUPS):
        raise InvalidKey("RSA modulus has the ROCA fingerprint (CVE-2017-15361)")


# -- generation --------------------------------------------------------------------------


def generate(alg: Algorithm, *, rsa_size: int = 2048, crv: str | None = None) -> Material:
    """New key material suited to ``alg``."""
    import secrets

    if alg.kty == "oct":
        size = alg.key_size or max(alg.min_key_size, 32)
        return secrets.token_bytes(size)
    if alg.kty == "RSA":
        if rsa_size < 2048:
            raise InvalidKey("RSA keys must be at least 2048 bits")
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_size)
    if alg.family is Family.ECDSA:
        (crv_name,) = alg.curves
        return ec.generate_private_key(_CURVES[crv_name][0]())
    if alg.family is Family.EDDSA:
        name = crv or ("Ed25519" if "Ed25519" in alg.curves else "Ed448")
        if name not in alg.curves:
            raise InvalidKey(f"{alg.name} keys use {' or '.join(sorted(alg.curves))}")
        return _OKP_PRIVATE[name].generate()  # type: ignore[no-any-return]
    if alg.family is Family.ECDH_ES:
        name = crv or "P-256"
        if name in _CURVES:
            return ec.generate_private_key(_CURVES[name][0]())
        if name in ("X25519", "X448"):
            return _OKP_PRIVATE[name].generate()  # type: ignore[no-any-return]
        raise InvalidKey(f"unsupported curve {name} for {alg.name}")
    raise InvalidKey(f"cannot generate a key for {alg.name}")


# -- JWK import/export (RFC 7517, RFC 7518 sec. 6, RFC 8037) ---------------------------


def _member(jwk: dict[str, Any], name: str, size: int | None = None) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidKey(f"JWK member {name!r} must be a base64url string")
    try:
        raw = b64decode(value)
    except ValueError:
        raise InvalidKey(f"JWK member {name!r} is not canonical base64url") from None
    if size is not None and len(raw) != size:
        raise InvalidKey(f"JWK member {name!r} must be {size} bytes")
    return raw


def _uint(jwk: dict[str, Any], name: str) -> int:
    raw = _member(jwk, name)
    if not raw:
        raise InvalidKey(f"JWK member {name!r} is empty")
    return int.from_bytes(raw, "big")


def _uint_bytes(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64encode_str(value.to_bytes(length, "big"))


def from_jwk(jwk: dict[str, Any]) -> Material:
    """Key material from a JWK's key members (``kty`` already checked to be a string)."""
    kty = jwk["kty"]
    try:
        if kty == "oct":
            return _member(jwk, "k")
        if kty == "RSA":
            return _rsa_from_jwk(jwk)
        if kty == "EC":
            return _ec_from_jwk(jwk)
        if kty == "OKP":
            return _okp_from_jwk(jwk)
    except (ValueError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, InvalidKey):
            raise
        raise InvalidKey(f"invalid {kty} JWK: the key values are inconsistent") from None
    raise InvalidKey(f"unsupported JWK kty {kty!r}")


def _rsa_from_jwk(jwk: dict[str, Any]) -> Material:
    if "oth" in jwk:
        raise InvalidKey("multi-prime RSA keys ('oth') are not supported")
    public = rsa.RSAPublicNumbers(_uint(jwk, "e"), _uint(jwk, "n"))
    if "d" not in jwk:
        return public.public_key()
    d = _uint(jwk, "d")
    crt = ("p", "q", "dp", "dq", "qi")
    present = [name in jwk for name in crt]
    if all(present):
        p, q, dp, dq, qi = (_uint(jwk, name) for name in crt)
    elif not any(present):
        p, q = rsa.rsa_recover_prime_factors(public.n, public.e, d)
        dp, dq, qi = rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)
    else:
        raise InvalidKey("RSA private JWK must have all of p, q, dp, dq, qi or none")
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public).private_key()


def _ec_from_jwk(jwk: dict[str, Any]) -> Material:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _CURVES:
        raise InvalidKey(f"unsupported EC curve {crv!r}")
    curve_cls, size = _CURVES[crv]
    x = int.from_bytes(_member(jwk, "x", size), "big")
    y = int.from_bytes(_member(jwk, "y", size), "big")
    public = ec.EllipticCurvePublicNumbers(x, y, curve_cls())
    pub_key = public.public_key()  # validates that the point is on the curve
    if "d" not in jwk:
        return pub_key
    d = int.from_bytes(_member(jwk, "d", size), "big")
    private = ec.derive_private_key(d, curve_cls())
    if private.public_key().public_numbers() != public:
        raise InvalidKey("EC private key does not match its public point")
    return private


def _okp_from_jwk(jwk: dict[str, Any]) -> Material:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _OKP_SIZES:
        raise InvalidKey(f"unsupported OKP curve {crv!r}")
    size = _OKP_SIZES[crv]
    x = _member(jwk, "x", size)
    if "d" not in jwk:
        return _OKP_PUBLIC[crv].from_public_bytes(x)  # type: ignore[no-any-return]
    private = _OKP_PRIVATE[crv].from_private_bytes(_member(jwk, "d", size))
    derived = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    if derived != x:
        raise InvalidKey("OKP private key does not match its public key")
    return private  # type: ignore[no-any-return]


def to_jwk(material: Material, private: bool) -> dict[str, str]:
    """The key members of a JWK (``kty`` first; private members only when asked)."""
    if isinstance(material, bytes):
        if not private:
            raise InvalidKey("a symmetric key has no public form; use private=True to export it")
        return {"kty": "oct", "k": b64encode_str(material)}
    _, crv, is_private = describe(material)
    if private and not is_private:
        raise InvalidKey("this is a public key: there are no private members to export")
    if isinstance(material, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        pub = material.public_key() if isinstance(material, rsa.RSAPrivateKey) else material
        pn = pub.public_numbers()
        out = {"kty": "RSA", "n": _uint_bytes(pn.n), "e": _uint_bytes(pn.e)}
        if private and isinstance(material, rsa.RSAPrivateKey):
            sn = material.private_numbers()
            for name, value in (("d", sn.d), ("p", sn.p), ("q", sn.q), ("dp", sn.dmp1),
                                ("dq", sn.dmq1), ("qi", sn.iqmp)):  # fmt: skip
                out[name] = _uint_bytes(value)
        return out
    if isinstance(material, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        assert crv is not None
        size = _CURVES[crv][1]
        pub_ec = (
            material.public_key() if isinstance(material, ec.EllipticCurvePrivateKey) else material
        )
        en = pub_ec.public_numbers()
        out = {"kty": "EC", "crv": crv, "x": _uint_bytes(en.x, size), "y": _uint_bytes(en.y, size)}
        if private and isinstance(material, ec.EllipticCurvePrivateKey):
            out["d"] = _uint_bytes(material.private_numbers().private_value, size)
        return out
    assert crv is not None
    pub_okp: Any = public_of(material)
    out = {
        "kty": "OKP",
        "crv": crv,
        "x": b64encode_str(
            pub_okp.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ),
    }
    if private:
        priv_okp: Any = material
        out["d"] = b64encode_str(
            priv_okp.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )
    return out


# -- PEM -----------------------------------------------------------------------------------


_DSA_REFUSED = "DSA keys are not supported: JOSE has no DSA algorithm (use ES256 or EdDSA)"


def _load_encrypted(data: bytes, password: bytes | None) -> Any:
    """An encrypted PKCS#8 key: its algorithm is only known once decrypted, so the DSA
    deprecation warning of ``cryptography`` >= 51 is silenced here and DSA refused after."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DSA is deprecated", category=Warning)
        return serialization.load_pem_private_key(data, password=password)


def from_pem(data: bytes, password: bytes | None) -> Material:
    """Key material from PEM: PKCS#8, SPKI, PKCS#1, SEC1 or an X.509 certificate."""
    if b"-----BEGIN" not in data:
        raise InvalidKey("not PEM data (expected a -----BEGIN ...----- block)")
    if _pem.is_dsa(data):
        raise InvalidKey(_DSA_REFUSED)
    try:
        if b"ENCRYPTED PRIVATE KEY-----" in data:
            key: Any = _load_encrypted(data, password)
        elif b"PRIVATE KEY-----" in data:
            key = serialization.load_pem_private_key(data, password=password)
        elif b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except TypeError as exc:
        raise InvalidKey(str(exc)) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKey(
            "the PEM data could not be loaded (wrong password or corrupt key)"
        ) from None
    if type(key).__name__.startswith("DSA"):  # only an encrypted PKCS#8 gets this far
        raise InvalidKey(_DSA_REFUSED)
    describe(key)  # refuses DH and unsupported curves
    return key  # type: ignore[no-any-return]


def to_pem(material: Material, private: bool, password: bytes | None) -> bytes:
    """PEM export: PKCS#8 for private keys (encrypted when a password is given), SPKI else."""
    if isinstance(material, bytes):
        raise InvalidKey("symmetric keys have no PEM form; export them as a JWK")
    _, _, is_private = describe(material)
    if private:
        if not is_private:
            raise InvalidKey("this is a public key: there is no private key to export")
        priv: Any = material
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return priv.private_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
    pub: Any = public_of(material)
    return pub.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# -- signing and verification -------------------------------------------------------------


def _secret(material: Material) -> bytes:
    if not isinstance(material, bytes):
        raise InvalidKey("HMAC needs a symmetric key")
    return material


def _hash_name(alg: Algorithm) -> str:
    if alg.hash is None:
        raise InvalidKey(f"{alg.name} has no hash")
    return alg.hash


def make_signer(alg: Algorithm, material: Material) -> Signer:
    """A function that signs bytes with ``alg`` (key already checked against ``alg``)."""
    family = alg.family
    if family is Family.HMAC:
        # Keyed once; copy() clones the keyed state, which halves the cost of each MAC.
        keyed_sign = hmac.HMAC(_secret(material), hash_algorithm(_hash_name(alg)))

        def sign_hmac(data: bytes) -> bytes:
            mac = keyed_sign.copy()
            mac.update(data)
            return mac.finalize()

        return sign_hmac
    if family is Family.RSA_PKCS1 or family is Family.RSA_PSS:
        if not isinstance(material, rsa.RSAPrivateKey):
            raise InvalidKey("signing needs an RSA private key")
        rh = hash_algorithm(_hash_name(alg))
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if family is Family.RSA_PKCS1
            else padding.PSS(padding.MGF1(rh), rh.digest_size)
        )
        rkey = material
        return lambda data: rkey.sign(data, pad, rh)
    if family is Family.ECDSA:
        if not isinstance(material, ec.EllipticCurvePrivateKey):
            raise InvalidKey("signing needs an EC private key")
        size = alg.signature_size // 2
        sig_alg = _ecdsa(_hash_name(alg))
        ekey = material

        def sign_ec(data: bytes) -> bytes:
            r, s = decode_dss_signature(ekey.sign(data, sig_alg))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")

        return sign_ec
    if family is Family.EDDSA:
        if not isinstance(material, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            raise InvalidKey("signing needs an Ed25519 or Ed448 private key")
        return material.sign
    raise InvalidKey(f"{alg.name} is not a signature algorithm")


def _ecdsa(hash_name: str) -> ec.ECDSA:
    # RFC 8725 sec. 3.2: deterministic nonces (RFC 6979) where OpenSSL offers them.
    from cryptography.hazmat.backends.openssl.backend import backend

    deterministic = backend.ecdsa_deterministic_supported()
    return ec.ECDSA(hash_algorithm(hash_name), deterministic_signing=deterministic)


def make_verifier(alg: Algorithm, material: Material) -> Verifier:
    """A function ``(data, signature) -> bool`` for ``alg``; lengths are checked exactly."""
    family = alg.family
    if family is Family.HMAC:
        keyed = hmac.HMAC(_secret(material), hash_algorithm(_hash_name(alg)))

        def verify_hmac(data: bytes, signature: bytes) -> bool:
            mac = keyed.copy()
            mac.update(data)
            try:
                mac.verify(signature)  # constant-time comparison
            except InvalidSignature:
                return False
            return True

        return verify_hmac
    pub: Any = public_of(material)
    if family is Family.RSA_PKCS1 or family is Family.RSA_PSS:
        rh = hash_algorithm(_hash_name(alg))
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if family is Family.RSA_PKCS1
            else padding.PSS(padding.MGF1(rh), rh.digest_size)
        )
        modulus_bytes = (pub.key_size + 7) // 8

        def verify_rsa(data: bytes, signature: bytes) -> bool:
            if len(signature) != modulus_bytes:
                return False
            try:
                pub.verify(signature, data, pad, rh)
            except InvalidSignature:
                return False
            return True

        return verify_rsa
    if family is Family.ECDSA:
        size = alg.signature_size // 2
        sig_alg = ec.ECDSA(hash_algorithm(_hash_name(alg)))

        def verify_ec(data: bytes, signature: bytes) -> bool:
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            try:
                pub.verify(encode_dss_signature(r, s), data, sig_alg)
            except InvalidSignature:
                return False
            return True

        return verify_ec
    if family is Family.EDDSA:
        expected = 64 if isinstance(pub, ed25519.Ed25519PublicKey) else 114

        def verify_ed(data: bytes, signature: bytes) -> bool:
            if len(signature) != expected:
                return False
            try:
                pub.verify(signature, data)
            except InvalidSignature:
                return False
            return True

        return verify_ed
    raise InvalidKey(f"{alg.name} is not a signature algorithm")
