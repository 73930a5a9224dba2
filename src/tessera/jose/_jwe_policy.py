"""JWE decryption policy, key selection and header checks, all run before any key is used."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from tessera.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidKey,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedHeaderError,
)
from tessera.jose._b64 import b64decode
from tessera.jose._header import check_crit
from tessera.jose.jwa import JWE_ALGORITHMS, JWE_ENCRYPTIONS, Algorithm, Family
from tessera.jose.jwk import Key, KeySet

if TYPE_CHECKING:
    from tessera.jose._jwe_crypto import KeyParams

__all__ = [
    "PROTECTED_ONLY",
    "RSA1_5_REFUSED",
    "Budget",
    "Policy",
    "check_allowed",
    "check_protected",
    "decryption_keys",
    "header_algorithm",
    "key_params",
    "make_policy",
    "require_lists",
]

PROTECTED_ONLY = ("enc", "zip", "crit")
RSA1_5_REFUSED = "RSA1_5 is not supported (RFC 8725 sec. 3.2); use RSA-OAEP-256"
_MAX_ATTEMPTS = 32  # key-unwrapping attempts per token, across recipients and keys
_DECRYPT_OPS = frozenset({"decrypt", "unwrapKey", "deriveKey", "deriveBits"})


class Policy(NamedTuple):
    """The checked decryption options: allow-lists (None: the key decides) and limits."""

    algs: frozenset[str] | None
    encs: frozenset[str] | None
    max_decompressed: int
    pbes2_max_iterations: int


class Budget:
    """Bounds the key-unwrapping work one token can cause (at most one PBKDF2 run)."""

    __slots__ = ("attempts", "pbes2")

    def __init__(self) -> None:
        self.attempts = 0
        self.pbes2 = False

    def spend(self, algorithm: Algorithm) -> bool:
        if self.attempts >= _MAX_ATTEMPTS:
            return False
        if algorithm.family is Family.PBES2:
            if self.pbes2:
                return False
            self.pbes2 = True
        self.attempts += 1
        return True


# -- policy -------------------------------------------------------------------------------


def _names(values: Iterable[str] | None, known: Iterable[str], what: str) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ConfigurationError(f"{what} must be a list of names, not a string")
    allowed = frozenset(values)
    if "RSA1_5" in allowed:
        raise ConfigurationError(RSA1_5_REFUSED)
    unknown = allowed - frozenset(known)
    if unknown:
        raise ConfigurationError(f"unknown or unsupported {what}: {sorted(map(str, unknown))}")
    return allowed


def make_policy(
    algorithms: Iterable[str] | None,
    encryptions: Iterable[str] | None,
    max_decompressed: int,
    pbes2_max_iterations: int,
) -> Policy:
    """Check the caller's decryption options once, before the token is looked at."""
    for name, value, least in (
        ("max_decompressed", max_decompressed, 0),
        ("pbes2_max_iterations", pbes2_max_iterations, 1000),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigurationError(f"{name} must be an integer of at least {least}")
    return Policy(
        _names(algorithms, JWE_ALGORITHMS, "algorithms"),
        _names(encryptions, JWE_ENCRYPTIONS, "encryptions"),
        max_decompressed,
        pbes2_max_iterations,
    )


def check_allowed(algorithm: Algorithm, enc: str, policy: Policy) -> None:
    """Refuse an ``alg`` or ``enc`` outside the allow-lists; PBES2 must be listed."""
    if policy.algs is not None and algorithm.name not in policy.algs:
        raise AlgorithmNotAllowedError(f"algorithm {algorithm.name} is not allowed")
    if algorithm.family is Family.PBES2 and policy.algs is None:
        raise AlgorithmNotAllowedError(f"{algorithm.name} must be enabled explicitly in algorithms")
    if policy.encs is not None and enc not in policy.encs:
        raise AlgorithmNotAllowedError(f"content encryption {enc} is not allowed")


def _unfit_reason(key: Key, algorithm: Algorithm, enc: str) -> str | None:
    """Why ``key`` may not decrypt a ``algorithm`` token, or None if it may."""
    if key._enc is not None and key._enc != enc:
        return f"content encryption {enc} is not the key's ({key._enc})"
    bound = key._algorithm
    if bound is not None and bound.name != algorithm.name:
        return f"algorithm {algorithm.name} is not the key's algorithm ({bound.name})"
    if key.use is not None and key.use != "enc":
        return "this key may not be used to decrypt (use is not 'enc')"
    if key.key_ops is not None and not key.key_ops & _DECRYPT_OPS:
        return "this key may not be used to decrypt (key_ops)"
    try:
        key._check_fits(algorithm)
    except InvalidKey:
        return f"algorithm {algorithm.name} does not fit the key"
    return None


def require_lists(key: Key, policy: Policy) -> None:
    """An unbound key needs both allow-lists, as for JWS."""
    if key._algorithm is None and (policy.algs is None or policy.encs is None):
        raise ConfigurationError(
            "this key is not bound to an algorithm: pass algorithms=[...] and encryptions=[...]"
        )


def decryption_keys(
    key: Key | KeySet, algorithm: Algorithm, kid: str | None, policy: Policy, enc: str
) -> list[Key]:
    """The keys that may try to decrypt a token made with ``algorithm`` (attack #8, #43)."""
    if isinstance(key, Key):
        require_lists(key, policy)
        reason = _unfit_reason(key, algorithm, enc)
        if reason is not None:
            raise AlgorithmNotAllowedError(reason)
        if not key.is_private:
            raise InvalidKey("a public key cannot decrypt")
        return [key]
    if not isinstance(key, KeySet):
        raise ConfigurationError(
            "key must be a tessera.Key or tessera.KeySet (wrap secrets with Key.from_secret)"
        )
    if kid is not None:
        found = key.get(kid)
        pool = [found] if found is not None else []
    else:
        pool = list(key)
    keys = [k for k in pool if k.is_private and _unfit_reason(k, algorithm, enc) is None]
    for candidate in keys:
        require_lists(candidate, policy)
    if not keys:
        raise KeyNotFoundError(
            "no key matches the token's kid" if kid is not None else "no key fits the token"
        )
    return keys


# -- headers ------------------------------------------------------------------------------


def header_algorithm(value: Any) -> Algorithm:
    """The JWE algorithm a header's ``alg`` names; RSA1_5 and unknown names are refused."""
    if not isinstance(value, str):
        raise MalformedTokenError("header alg must be a string")
    if value == "RSA1_5":
        raise AlgorithmNotAllowedError(RSA1_5_REFUSED)
    algorithm = JWE_ALGORITHMS.get(value)
    if algorithm is None:
        raise AlgorithmNotAllowedError(f"algorithm {value[:32]!r} is not allowed")
    return algorithm


def check_protected(protected: dict[str, Any]) -> tuple[str, bool]:
    """Check ``enc``, ``zip`` and ``crit`` (protected only) and return (enc, compressed)."""
    enc = protected.get("enc")
    if not isinstance(enc, str):
        raise MalformedTokenError("header enc must be a string")
    if enc not in JWE_ENCRYPTIONS:
        raise AlgorithmNotAllowedError(f"content encryption {enc[:32]!r} is not allowed")
    compressed = "zip" in protected
    if compressed and protected["zip"] != "DEF":
        raise UnsupportedHeaderError("only zip 'DEF' is supported")
    check_crit(protected, frozenset())
    return enc, compressed


def _b64_param(header: Mapping[str, Any], name: str, required: bool = False) -> bytes:
    value = header.get(name)
    if value is None:
        if required:
            raise MalformedTokenError(f"header {name} is required for this algorithm")
        return b""
    if not isinstance(value, str):
        raise MalformedTokenError(f"header {name} must be a base64url string")
    try:
        return b64decode(value)
    except ValueError:
        raise MalformedTokenError(f"header {name} is not canonical base64url") from None


def key_params(algorithm: Algorithm, header: Mapping[str, Any], policy: Policy) -> KeyParams:
    """Decode and check the key-management parameters, before any key is used."""
    from tessera.jose import _jwe_crypto as jc

    family = algorithm.family
    if family is Family.ECDH_ES:
        epk = header.get("epk")
        if not isinstance(epk, dict):
            raise MalformedTokenError("ECDH-ES needs an epk object in the header")
        try:
            public = jc.load_epk(epk)  # validates the point (attack catalogue #45)
        except InvalidKey:
            raise MalformedTokenError("epk is not a valid public key") from None
        return jc.KeyParams(
            epk=public, apu=_b64_param(header, "apu"), apv=_b64_param(header, "apv")
        )
    if family is Family.AES_GCM_KW:
        return jc.KeyParams(
            iv=_b64_param(header, "iv", required=True), tag=_b64_param(header, "tag", required=True)
        )
    if family is Family.PBES2:
        # Checked before PBKDF2 ever runs (attack catalogue #49).
        p2c = header.get("p2c")
        if isinstance(p2c, bool) or not isinstance(p2c, int):
            raise MalformedTokenError("header p2c must be an integer")
        if not 1000 <= p2c <= policy.pbes2_max_iterations:
            raise MalformedTokenError(
                f"header p2c must be between 1000 and {policy.pbes2_max_iterations}"
            )
        p2s = _b64_param(header, "p2s", required=True)
        if len(p2s) < 8:
            raise MalformedTokenError("header p2s must be at least 8 bytes")
        return jc.KeyParams(p2s=p2s, p2c=p2c)
    return jc.KeyParams()
