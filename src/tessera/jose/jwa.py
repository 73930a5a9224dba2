"""JSON Web Algorithms (RFC 7518, RFC 8037, RFC 8812, RFC 9864) as frozen descriptors.

An ``alg`` string is resolved once, at the edge, into an :class:`Algorithm`; nothing below
handles the string again. The descriptor fixes the key type, curves, hash, minimum key size
and exact signature size, so "RSA public key + HS256" cannot be expressed.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "JWE_ALGORITHMS",
    "JWE_CEK_SIZES",
    "JWE_ENCRYPTIONS",
    "JWS_ALGORITHMS",
    "Algorithm",
    "Family",
    "jws_algorithm",
]


class Family(Enum):
    """The primitive behind an algorithm."""

    HMAC = "HMAC"
    RSA_PKCS1 = "RSASSA-PKCS1-v1_5"
    RSA_PSS = "RSASSA-PSS"
    ECDSA = "ECDSA"
    EDDSA = "EdDSA"
    # JWE key management (RFC 7518 sec. 4)
    DIRECT = "dir"
    AES_KW = "AES-KW"
    AES_GCM_KW = "AES-GCM-KW"
    RSA_OAEP = "RSA-OAEP"
    ECDH_ES = "ECDH-ES"
    PBES2 = "PBES2"


class Algorithm:
    """One registered algorithm and the key it needs (immutable; compare by identity).

    ``min_key_size`` is bytes for ``oct`` keys and bits for RSA; ``signature_size`` is the
    exact length of a JWS signature, or 0 where it depends on the key (RSA: modulus length).
    """

    __slots__ = (
        "curves",
        "family",
        "hash",
        "key_size",
        "kty",
        "min_key_size",
        "name",
        "signature_size",
    )

    def __init__(
        self,
        name: str,
        family: Family,
        kty: str,
        hash: str | None = None,
        curves: frozenset[str] = frozenset(),
        min_key_size: int = 0,
        signature_size: int = 0,
        key_size: int = 0,
    ) -> None:
        self.name = name
        self.family = family
        self.kty = kty
        self.hash = hash
        self.curves = curves
        self.min_key_size = min_key_size
        self.signature_size = signature_size
        self.key_size = key_size  # exact key length in bytes for AES-based JWE algorithms

    def __repr__(self) -> str:
        return f"<Algorithm {self.name}>"

    @property
    def is_symmetric(self) -> bool:
        """True for algorithms keyed with an ``oct`` key."""
        return self.kty == "oct"


def _jws() -> dict[str, Algorithm]:
    algs = [
        Algorithm("HS256", Family.HMAC, "oct", "SHA256", min_key_size=32, signature_size=32),
        Algorithm("HS384", Family.HMAC, "oct", "SHA384", min_key_size=48, signature_size=48),
        Algorithm("HS512", Family.HMAC, "oct", "SHA512", min_key_size=64, signature_size=64),
        Algorithm("ES256", Family.ECDSA, "EC", "SHA256", frozenset({"P-256"}), signature_size=64),
        Algorithm("ES384", Family.ECDSA, "EC", "SHA384", frozenset({"P-384"}), signature_size=96),
        Algorithm("ES512", Family.ECDSA, "EC", "SHA512", frozenset({"P-521"}), signature_size=132),
        Algorithm(
            "ES256K", Family.ECDSA, "EC", "SHA256", frozenset({"secp256k1"}), signature_size=64
        ),
        Algorithm(
            "EdDSA", Family.EDDSA, "OKP", None, frozenset({"Ed25519", "Ed448"}), signature_size=0
        ),
        Algorithm("Ed25519", Family.EDDSA, "OKP", None, frozenset({"Ed25519"}), signature_size=64),
        Algorithm("Ed448", Family.EDDSA, "OKP", None, frozenset({"Ed448"}), signature_size=114),
    ]
    for bits in (256, 384, 512):
        algs.append(
            Algorithm(f"RS{bits}", Family.RSA_PKCS1, "RSA", f"SHA{bits}", min_key_size=2048)
        )
        algs.append(Algorithm(f"PS{bits}", Family.RSA_PSS, "RSA", f"SHA{bits}", min_key_size=2048))
    return {a.name: a for a in algs}


def _jwe() -> dict[str, Algorithm]:
    algs = [Algorithm("dir", Family.DIRECT, "oct")]
    for bits in (128, 192, 256):
        algs.append(Algorithm(f"A{bits}KW", Family.AES_KW, "oct", key_size=bits // 8))
        algs.append(Algorithm(f"A{bits}GCMKW", Family.AES_GCM_KW, "oct", key_size=bits // 8))
        algs.append(
            Algorithm(
                f"ECDH-ES+A{bits}KW",
                Family.ECDH_ES,
                "EC",
                curves=frozenset({"P-256", "P-384", "P-521", "X25519", "X448"}),
                key_size=bits // 8,
            )
        )
    # PBES2 keys are passwords of any length: key_size stays 0 (the wrap size is in the name).
    for hs in (256, 384, 512):
        algs.append(Algorithm(f"PBES2-HS{hs}+A{hs // 2}KW", Family.PBES2, "oct", f"SHA{hs}"))
    algs.append(
        Algorithm(
            "ECDH-ES",
            Family.ECDH_ES,
            "EC",
            curves=frozenset({"P-256", "P-384", "P-521", "X25519", "X448"}),
        )
    )
    algs.append(Algorithm("RSA-OAEP", Family.RSA_OAEP, "RSA", "SHA1", min_key_size=2048))
    algs.append(Algorithm("RSA-OAEP-256", Family.RSA_OAEP, "RSA", "SHA256", min_key_size=2048))
    return {a.name: a for a in algs}


JWS_ALGORITHMS: dict[str, Algorithm] = _jws()
"""Every JWS ``alg`` Tessera implements, by name (``none`` is deliberately absent)."""

JWE_ALGORITHMS: dict[str, Algorithm] = _jwe()
"""Every JWE key-management ``alg`` Tessera knows, by name."""

JWE_ENCRYPTIONS: frozenset[str] = frozenset(
    {"A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"}
)
"""Every JWE content-encryption ``enc`` Tessera knows."""


JWE_CEK_SIZES: dict[str, int] = {
    "A128GCM": 16,
    "A192GCM": 24,
    "A256GCM": 32,
    "A128CBC-HS256": 32,
    "A192CBC-HS384": 48,
    "A256CBC-HS512": 64,
}
"""Content-encryption key size in bytes for each ``enc`` (RFC 7518 sec. 5)."""


def jws_algorithm(name: str) -> Algorithm:
    """The descriptor of a JWS algorithm name (exact, case-sensitive match).

    Raises:
        KeyError: not a JWS algorithm Tessera implements.
    """
    return JWS_ALGORITHMS[name]
