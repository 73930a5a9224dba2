"""The JWE primitives (RFC 7518 sec. 4 and 5): content encryption, key wrapping, key agreement.

The only JWE module that imports ``cryptography.hazmat``. Content decryption has one failure,
:class:`DecryptionError` with one fixed message (attack catalogue #46, #47); key unwrapping
returns ``None`` on failure so that the caller carries on with a random CEK and fails at the
tag like any other forgery.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hmac, keywrap, padding
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from tessera.errors import DecryptionError, InvalidKey
from tessera.jose import _crypto
from tessera.jose._b64 import b64encode_str
from tessera.jose._crypto import Material, hash_algorithm
from tessera.jose.jwa import Algorithm, Family

__all__ = [
    "CONTENT_CIPHERS",
    "DECRYPTION_FAILED",
    "PBES2_DEFAULT_ITERATIONS",
    "ContentCipher",
    "KeyParams",
    "decrypt_content",
    "encrypt_content",
    "fail",
    "load_epk",
    "random_cek",
    "unwrap",
    "wrap",
]

DECRYPTION_FAILED = "JWE decryption failed"
PBES2_DEFAULT_ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256
_GCM_IV = 12
_GCM_TAG = 16
_CBC_IV = 16


class ContentCipher(NamedTuple):
    """One ``enc`` (RFC 7518 sec. 5): CEK, IV and tag sizes, and the HMAC hash for CBC."""

    name: str
    cek_size: int
    iv_size: int
    tag_size: int
    hash: str | None  # None: AES-GCM


CONTENT_CIPHERS: dict[str, ContentCipher] = {
    c.name: c
    for c in (
        ContentCipher("A128GCM", 16, _GCM_IV, _GCM_TAG, None),
        ContentCipher("A192GCM", 24, _GCM_IV, _GCM_TAG, None),
        ContentCipher("A256GCM", 32, _GCM_IV, _GCM_TAG, None),
        ContentCipher("A128CBC-HS256", 32, _CBC_IV, 16, "SHA256"),
        ContentCipher("A192CBC-HS384", 48, _CBC_IV, 24, "SHA384"),
        ContentCipher("A256CBC-HS512", 64, _CBC_IV, 32, "SHA512"),
    )
}
# PBES2 names its key-wrap size; the descriptor's key_size stays 0 so any password length fits.
_PBES2_KW_SIZE = {"PBES2-HS256+A128KW": 16, "PBES2-HS384+A192KW": 24, "PBES2-HS512+A256KW": 32}


class KeyParams(NamedTuple):
    """Key-management header parameters, already decoded and checked for shape."""

    epk: Material | None = None
    apu: bytes = b""
    apv: bytes = b""
    iv: bytes = b""
    tag: bytes = b""
    p2s: bytes = b""
    p2c: int = 0


def fail() -> DecryptionError:
    """The one decryption error: the same type and message for every cause."""
    return DecryptionError(DECRYPTION_FAILED)


def random_cek(cipher: ContentCipher) -> bytes:
    """A fresh random content-encryption key for ``cipher``."""
    return secrets.token_bytes(cipher.cek_size)


# -- content encryption (RFC 7518 sec. 5) --------------------------------------------------


def _cbc_tag(cipher: ContentCipher, mac_key: bytes, aad: bytes, iv: bytes, ct: bytes) -> bytes:
    assert cipher.hash is not None
    # AL: the AAD length in bits as a 64-bit big-endian integer, computed in Python ints
    # (Nimbus CVE-2017-12972, go-jose CVE-2016-9123 overflowed here).
    al = (len(aad) * 8).to_bytes(8, "big")
    mac = hmac.HMAC(mac_key, hash_algorithm(cipher.hash))
    mac.update(aad + iv + ct + al)
    return mac.finalize()[: cipher.tag_size]


def encrypt_content(
    cipher: ContentCipher, cek: bytes, plaintext: bytes, aad: bytes
) -> tuple[bytes, bytes, bytes]:
    """(iv, ciphertext, tag) for ``plaintext`` under ``cek`` with ``aad`` authenticated."""
    iv = secrets.token_bytes(cipher.iv_size)
    if cipher.hash is None:
        sealed = AESGCM(cek).encrypt(iv, plaintext, aad)
        return iv, sealed[: -cipher.tag_size], sealed[-cipher.tag_size :]
    half = cipher.cek_size // 2
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cek[half:]), modes.CBC(iv)).encryptor()
    ct = encryptor.update(padded) + encryptor.finalize()
    return iv, ct, _cbc_tag(cipher, cek[:half], aad, iv, ct)


def decrypt_content(
    cipher: ContentCipher, cek: bytes, iv: bytes, ct: bytes, tag: bytes, aad: bytes
) -> bytes:
    """The plaintext, after checking the full tag; sizes are checked before any decryption.

    Raises:
        DecryptionError: any failure at all, always with the same message.
    """
    if len(cek) != cipher.cek_size or len(iv) != cipher.iv_size or len(tag) != cipher.tag_size:
        raise fail()
    if cipher.hash is None:
        try:
            return AESGCM(cek).decrypt(iv, ct + tag, aad)
        except InvalidTag:
            raise fail() from None
    half = cipher.cek_size // 2
    # The tag is checked in full, in constant time, before CBC decryption (attack #47).
    if not secrets.compare_digest(_cbc_tag(cipher, cek[:half], aad, iv, ct), tag):
        raise fail()
    if not ct or len(ct) % 16:
        raise fail()
    decryptor = Cipher(algorithms.AES(cek[half:]), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ct) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise fail() from None


# -- key management (RFC 7518 sec. 4) ---------------------------------------------------------


def _oct(material: Material) -> bytes:
    if not isinstance(material, bytes):
        raise InvalidKey("this algorithm needs a symmetric key")
    return material


def _aes_unwrap(kek: bytes, wrapped: bytes) -> bytes | None:
    try:
        return keywrap.aes_key_unwrap(kek, wrapped)
    except (keywrap.InvalidUnwrap, ValueError):
        return None


def _oaep(alg: Algorithm) -> asym_padding.OAEP:
    assert alg.hash is not None
    return asym_padding.OAEP(
        asym_padding.MGF1(hash_algorithm(alg.hash)), hash_algorithm(alg.hash), None
    )


def _pbes2_kek(alg: Algorithm, password: bytes, p2s: bytes, p2c: int) -> bytes:
    assert alg.hash is not None
    salt = alg.name.encode("ascii") + b"\x00" + p2s  # RFC 7518 sec. 4.8.1.1
    kdf = PBKDF2HMAC(hash_algorithm(alg.hash), _PBES2_KW_SIZE[alg.name], salt, p2c)
    return kdf.derive(password)


def _concat_kdf(z: bytes, algorithm_id: str, apu: bytes, apv: bytes, size: int) -> bytes:
    """The Concat KDF of RFC 7518 sec. 4.6.2 (NIST SP 800-56A), SHA-256, ``size`` bytes."""

    def field(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    other_info = (
        field(algorithm_id.encode("ascii"))
        + field(apu)
        + field(apv)
        + (size * 8).to_bytes(4, "big")
    )
    return ConcatKDFHash(hash_algorithm("SHA256"), size, other_info).derive(z)


def _exchange(private: Any, public: Any) -> bytes | None:
    """The ECDH shared secret, or None for a mismatched pair or an all-zero X25519/X448 result."""
    try:
        if isinstance(private, ec.EllipticCurvePrivateKey):
            if not isinstance(public, ec.EllipticCurvePublicKey):
                return None
            if public.curve.name != private.curve.name:
                return None
            z: bytes = private.exchange(ec.ECDH(), public)
        elif isinstance(private, x25519.X25519PrivateKey):
            if not isinstance(public, x25519.X25519PublicKey):
                return None
            z = private.exchange(public)
        elif isinstance(private, x448.X448PrivateKey):
            if not isinstance(public, x448.X448PublicKey):
                return None
            z = private.exchange(public)
        else:
            return None
    except ValueError:  # OpenSSL refuses low-order X25519/X448 points
        return None
    # RFC 7748 sec. 6.1: an all-zero shared secret means a low-order peer point.
    if not any(z):
        return None
    return z


def _ephemeral_for(public: Any) -> Any:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return ec.generate_private_key(public.curve)
    if isinstance(public, x25519.X25519PublicKey):
        return x25519.X25519PrivateKey.generate()
    if isinstance(public, x448.X448PublicKey):
        return x448.X448PrivateKey.generate()
    raise InvalidKey("ECDH-ES needs a P-256, P-384, P-521, X25519 or X448 key")


def _agreement_size(alg: Algorithm, cipher: ContentCipher) -> tuple[str, int]:
    # Direct ECDH-ES derives the CEK (AlgorithmID = enc); ECDH-ES+AxxxKW derives the KEK.
    if alg.key_size:
        return alg.name, alg.key_size
    return cipher.name, cipher.cek_size


def load_epk(epk: Mapping[str, Any]) -> Material:
    """The public key of an ``epk`` header, with its point validated (attack catalogue #45).

    Raises:
        InvalidKey: not an EC P-256/384/521 or OKP X25519/X448 public key, or off the curve.
    """
    kty, crv = epk.get("kty"), epk.get("crv")
    members: tuple[str, ...]
    if kty == "EC" and crv in ("P-256", "P-384", "P-521"):
        members = ("kty", "crv", "x", "y")
    elif kty == "OKP" and crv in ("X25519", "X448"):
        members = ("kty", "crv", "x")
    else:
        raise InvalidKey("epk must be an EC P-256/P-384/P-521 or OKP X25519/X448 key")
    # Only the public members: constructing the key is what validates the point.
    material: Material = _crypto.from_jwk({name: epk.get(name) for name in members})
    return material


def wrap(
    alg: Algorithm,
    material: Material,
    cipher: ContentCipher,
    cek: bytes | None,
    *,
    apu: bytes = b"",
    apv: bytes = b"",
    p2c: int = PBES2_DEFAULT_ITERATIONS,
) -> tuple[bytes, bytes, dict[str, Any]]:
    """(CEK, encrypted key, header parameters) for one recipient.

    ``cek`` is None for a single recipient; the direct modes (``dir``, ``ECDH-ES``) choose
    the CEK themselves and refuse a given one.

    Raises:
        InvalidKey: the key cannot be used this way (size, type).
    """
    family = alg.family
    direct = family is Family.DIRECT or (family is Family.ECDH_ES and not alg.key_size)
    if direct and cek is not None:
        raise InvalidKey(f"{alg.name} cannot share a content key with other recipients")
    if family is Family.DIRECT:
        secret = _oct(material)
        if len(secret) != cipher.cek_size:
            raise InvalidKey(f"a dir key for {cipher.name} must be {cipher.cek_size} bytes")
        return secret, b"", {}
    if family is Family.ECDH_ES:
        public = _crypto.public_of(material)
        ephemeral = _ephemeral_for(public)
        z = _exchange(ephemeral, public)
        if z is None:
            raise InvalidKey("ECDH-ES key agreement failed for this key")
        params: dict[str, Any] = {"epk": _crypto.to_jwk(ephemeral.public_key(), False)}
        algorithm_id, size = _agreement_size(alg, cipher)
        derived = _concat_kdf(z, algorithm_id, apu, apv, size)
        if direct:
            return derived, b"", params
        cek = cek if cek is not None else random_cek(cipher)
        return cek, keywrap.aes_key_wrap(derived, cek), params
    cek = cek if cek is not None else random_cek(cipher)
    if family is Family.AES_KW:
        return cek, keywrap.aes_key_wrap(_oct(material), cek), {}
    if family is Family.AES_GCM_KW:
        iv = secrets.token_bytes(_GCM_IV)
        sealed = AESGCM(_oct(material)).encrypt(iv, cek, b"")
        gcm_params: dict[str, Any] = {
            "iv": b64encode_str(iv),
            "tag": b64encode_str(sealed[-_GCM_TAG:]),
        }
        return cek, sealed[:-_GCM_TAG], gcm_params
    if family is Family.RSA_OAEP:
        public = _crypto.public_of(material)
        if not isinstance(public, rsa.RSAPublicKey):
            raise InvalidKey(f"{alg.name} needs an RSA key")
        return cek, public.encrypt(cek, _oaep(alg)), {}
    if family is Family.PBES2:
        p2s = secrets.token_bytes(16)
        kek = _pbes2_kek(alg, _oct(material), p2s, p2c)
        pbes2_params: dict[str, Any] = {"p2s": b64encode_str(p2s), "p2c": p2c}
        return cek, keywrap.aes_key_wrap(kek, cek), pbes2_params
    raise InvalidKey(f"{alg.name} is not a key-management algorithm")


def unwrap(
    alg: Algorithm,
    material: Material,
    cipher: ContentCipher,
    encrypted_key: bytes,
    params: KeyParams,
) -> bytes | None:
    """The CEK, or None if it cannot be recovered (the caller then fails at the tag)."""
    family = alg.family
    try:
        if family is Family.DIRECT:
            return material if isinstance(material, bytes) else None
        if family is Family.AES_KW:
            return _aes_unwrap(_oct(material), encrypted_key)
        if family is Family.AES_GCM_KW:
            if len(params.iv) != _GCM_IV or len(params.tag) != _GCM_TAG:
                return None
            try:
                return AESGCM(_oct(material)).decrypt(params.iv, encrypted_key + params.tag, b"")
            except InvalidTag:
                return None
        if family is Family.RSA_OAEP:
            if not isinstance(material, rsa.RSAPrivateKey):
                return None
            try:
                return material.decrypt(encrypted_key, _oaep(alg))
            except ValueError:
                return None
        if family is Family.ECDH_ES:
            z = _exchange(material, params.epk)
            if z is None:
                return None
            algorithm_id, size = _agreement_size(alg, cipher)
            derived = _concat_kdf(z, algorithm_id, params.apu, params.apv, size)
            return derived if not alg.key_size else _aes_unwrap(derived, encrypted_key)
        if family is Family.PBES2:
            kek = _pbes2_kek(alg, _oct(material), params.p2s, params.p2c)
            return _aes_unwrap(kek, encrypted_key)
    except (InvalidKey, UnsupportedAlgorithm, ValueError):
        return None
    return None
