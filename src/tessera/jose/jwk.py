"""JSON Web Keys (RFC 7517): :class:`Key`, bound to one algorithm, and :class:`KeySet`.

A key's algorithm comes from :meth:`Key.generate`, the JWK's ``alg`` or the ``alg=`` argument,
and every use is checked against it (RFC 8725 sec. 3.1). Type, curve and size are checked when
the key is built, so an unusable key never reaches a verification.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

from tessera.errors import InvalidKey
from tessera.jose._b64 import b64encode_str
from tessera.jose.jwa import JWE_ALGORITHMS, JWE_CEK_SIZES, JWS_ALGORITHMS, Algorithm, Family

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from typing import Any

    from tessera.jose._crypto import Material, Signer, Verifier

__all__ = ["Key", "KeySet"]

_SIG_OPS = frozenset({"sign", "verify"})
_ENC_OPS = frozenset({"encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits"})
_PRIVATE_OPS = frozenset({"sign", "decrypt", "unwrapKey", "deriveKey", "deriveBits"})
_PUBLIC_COUNTERPART = {"sign": "verify", "decrypt": "encrypt", "unwrapKey": "wrapKey"}
_KEY_MEMBERS = frozenset({"kty", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi",
                          "k", "oth"})  # fmt: skip
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
                       "OKP": ("crv", "kty", "x"), "oct": ("k", "kty")}  # fmt: skip
_PUBLIC_KEY_PREFIXES = (b"-----BEGIN", b"ssh-", b"ecdsa-sha2-")
MAX_KID_LENGTH = 256
MAX_JWKS_KEYS = 100


def _crypto() -> Any:
    # Loaded on first use so that ``import tessera`` stays cheap (the CLI starts fast).
    from tessera.jose import _crypto

    return _crypto


def _load_json(data: Mapping[str, Any] | str | bytes, what: str) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, str | bytes):
        from tessera.jose import _json

        try:
            raw = data.encode("utf-8") if isinstance(data, str) else data
            value = _json.loads(raw)
        except (ValueError, UnicodeError):
            raise InvalidKey(f"{what} is not valid JSON") from None
        if isinstance(value, dict):
            return value
    raise InvalidKey(f"{what} must be a JSON object")


def _resolve(alg: str) -> Algorithm:
    if not isinstance(alg, str):
        raise InvalidKey("alg must be a string")
    found = JWS_ALGORITHMS.get(alg) or JWE_ALGORITHMS.get(alg)
    if found is None:
        raise InvalidKey(f"unsupported algorithm {alg!r}")
    return found


class Key:
    """A JOSE key: material plus its ``kty``, optional ``crv``, ``kid`` and bound ``alg``.

    Build one with :meth:`generate`, :meth:`from_jwk`, :meth:`from_pem` or
    :meth:`from_secret`; the constructor is internal.
    """

    __slots__ = (
        "_algorithm",
        "_bound_pairs",
        "_enc",
        "_header_segments",
        "_is_private",
        "_key_ops",
        "_kid",
        "_material",
        "_signers",
        "_use",
        "_verifiers",
        "crv",
        "kty",
    )

    def __init__(
        self,
        material: Material,
        *,
        alg: str | None = None,
        kid: str | None = None,
        use: str | None = None,
        key_ops: Iterable[str] | None = None,
    ) -> None:
        described: tuple[str, str | None, bool] = _crypto().describe(material)
        kty, crv, is_private = described
        self._material = material
        self.kty: str = kty
        self.crv: str | None = crv
        self._is_private: bool = is_private
        self._signers: dict[str, Signer] = {}
        self._verifiers: dict[str, Verifier] = {}
        self._header_segments: dict[str | None, tuple[bytes, Signer]] = {}
        self._bound_pairs: list[tuple[Key, Verifier]] | None = None
        if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
            raise InvalidKey(f"kid must be a string of at most {MAX_KID_LENGTH} characters")
        self._kid: str | None = kid
        if use is not None and use not in ("sig", "enc"):
            raise InvalidKey("use must be 'sig' or 'enc'")
        self._use: str | None = use
        ops: frozenset[str] | None = None
        if key_ops is not None:
            op_list = list(key_ops)
            if not all(isinstance(op, str) for op in op_list) or len(set(op_list)) != len(op_list):
                raise InvalidKey("key_ops must be a list of unique strings")
            ops = frozenset(op_list)
            if (use == "sig" and not ops <= _SIG_OPS) or (use == "enc" and not ops <= _ENC_OPS):
                raise InvalidKey("use and key_ops disagree")
        self._key_ops: frozenset[str] | None = ops
        self._algorithm: Algorithm | None = None
        self._enc: str | None = None
        if alg is not None and not isinstance(alg, str):
            raise InvalidKey("alg must be a string")
        if alg in JWE_CEK_SIZES:
            # A content-encryption key (RFC 7520 sec. 3.6): used directly, as with "dir".
            if kty != "oct" or len(material) != JWE_CEK_SIZES[alg]:  # type: ignore[arg-type]
                raise InvalidKey(f"{alg} keys are {JWE_CEK_SIZES[alg]}-byte symmetric keys")
            self._enc, alg = alg, "dir"
        if kty == "oct" and not material:
            raise InvalidKey("a symmetric key cannot be empty")
        if kty == "RSA":
            _crypto().check_rsa(material)
        if alg is not None:
            algorithm = _resolve(alg)
            self._check_fits(algorithm)
            is_jws = algorithm.name in JWS_ALGORITHMS
            if use is not None and use != ("sig" if is_jws else "enc"):
                raise InvalidKey(f"use {use!r} contradicts alg {algorithm.name}")
            if ops is not None and not ops <= (_SIG_OPS if is_jws else _ENC_OPS):
                raise InvalidKey(f"key_ops contradict alg {algorithm.name}")
            self._algorithm = algorithm

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        alg: str,
        *,
        kid: str | None = None,
        size: int | None = None,
        crv: str | None = None,
    ) -> Key:
        """A new private key bound to ``alg``; ``kid`` defaults to the RFC 7638 thumbprint.

        ``size`` is the RSA modulus in bits (default 2048) or the HMAC key length in bytes
        (default: the hash length); ``crv`` picks Ed448 for ``EdDSA`` or an ECDH-ES curve.

        >>> key = Key.generate("ES256")
        >>> key.alg, key.kty
        ('ES256', 'EC')
        """
        import secrets

        algorithm = _resolve(alg)
        if algorithm.kty == "oct" and size is not None:
            material: Material = secrets.token_bytes(size)
        else:
            material = _crypto().generate(algorithm, rsa_size=size or 2048, crv=crv)
        key = cls(material, alg=algorithm.name)
        if kid is None:
            # A thumbprint of a secret key would publish a hash of the secret: use a random kid.
            kid = secrets.token_urlsafe(16) if key.kty == "oct" else key.thumbprint()
        key._kid = kid
        return key

    @classmethod
    def from_secret(
        cls, secret: bytes | bytearray, alg: str = "HS256", *, kid: str | None = None
    ) -> Key:
        """An HMAC (or AES) key from secret bytes. Strings are refused: a secret is bytes.

        Raises:
            InvalidKey: not bytes, empty, or shorter than ``alg`` requires (RFC 7518 sec. 3.2).
        """
        if not isinstance(secret, bytes | bytearray):
            raise InvalidKey("a secret must be bytes (encode text explicitly, and prefer random)")
        head = bytes(secret[:32]).lstrip()
        if head.startswith(_PUBLIC_KEY_PREFIXES) or (head.startswith(b"{") and b'"kty"' in secret):
            # Defence in depth for attack catalogue #3-#5: key files are not secrets.
            raise InvalidKey(
                "this looks like a PEM, SSH or JWK key, not a secret; load it as a key"
            )
        return cls(bytes(secret), alg=alg, kid=kid)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any] | str | bytes, *, alg: str | None = None) -> Key:
        """A key from a JWK object or its JSON text (RFC 7517 sec. 4).

        ``alg`` binds an algorithm when the JWK has none; if both are given they must agree.

        Raises:
            InvalidKey: malformed members, inconsistent values, or an unsafe key.
        """
        data = _load_json(jwk, "JWK")
        if "keys" in data and "kty" not in data:
            raise InvalidKey("this is a JWK Set; use KeySet.from_jwks")
        kty = data.get("kty")
        if not isinstance(kty, str):
            raise InvalidKey("JWK needs a string kty")
        for member in ("alg", "kid", "use", "key_ops"):
            if member in data and data[member] is None:
                raise InvalidKey(f"JWK member {member!r} must not be null")
        if "key_ops" in data and not isinstance(data["key_ops"], list):
            raise InvalidKey("key_ops must be an array of strings")
        jwk_alg = data.get("alg")
        if jwk_alg is not None and alg is not None and jwk_alg != alg:
            raise InvalidKey(f"the JWK is bound to {jwk_alg!r}, not {alg!r}")
        material = _crypto().from_jwk(data)
        return cls(
            material,
            alg=jwk_alg if jwk_alg is not None else alg,
            kid=data.get("kid"),
            use=data.get("use"),
            key_ops=data.get("key_ops"),
        )

    @classmethod
    def from_pem(
        cls,
        pem: bytes | str,
        password: bytes | None = None,
        alg: str | None = None,
        *,
        kid: str | None = None,
    ) -> Key:
        """A key from PEM: PKCS#8, SPKI, PKCS#1, SEC1 or an X.509 certificate's public key.

        Raises:
            InvalidKey: not PEM, wrong password, unsupported or unsafe key.
        """
        data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
        if not isinstance(data, bytes):
            raise InvalidKey("PEM must be bytes or str")
        return cls(_crypto().from_pem(data, password), alg=alg, kid=kid)

    # -- properties -------------------------------------------------------------------

    @property
    def kid(self) -> str | None:
        """The key ID, or None. Keys are immutable: see :meth:`with_kid`."""
        return self._kid

    @property
    def use(self) -> str | None:
        """The JWK ``use`` ("sig" or "enc"), or None."""
        return self._use

    @property
    def key_ops(self) -> frozenset[str] | None:
        """The JWK ``key_ops``, or None."""
        return self._key_ops

    def with_kid(self, kid: str | None) -> Key:
        """A copy of this key with another ``kid`` (keys are immutable)."""
        return Key(self._material, alg=self.alg, kid=kid, use=self._use, key_ops=self._key_ops)

    @property
    def alg(self) -> str | None:
        """The algorithm this key is bound to, or None when unbound."""
        if self._enc is not None:
            return self._enc
        return self._algorithm.name if self._algorithm is not None else None

    @property
    def is_private(self) -> bool:
        """True when the key can sign (private or symmetric)."""
        return self._is_private

    def __repr__(self) -> str:
        kind = "private" if self._is_private and self.kty != "oct" else "public"
        if self.kty == "oct":
            kind = "secret"
        crv = f" {self.crv}" if self.crv else ""
        return f"<Key {self.kty}{crv} {kind} alg={self.alg!r} kid={self.kid!r}>"

    # -- export -----------------------------------------------------------------------

    def to_jwk(self, private: bool = False) -> dict[str, Any]:
        """The JWK as a dict: public members only unless ``private=True``."""
        out: dict[str, Any] = _crypto().to_jwk(self._material, private)
        if self.kid is not None:
            out["kid"] = self.kid
        if self.alg is not None:
            out["alg"] = self.alg
        if self.use is not None:
            out["use"] = self.use
        if self.key_ops is not None:
            ops = self.key_ops if private or not self._is_private else self.public().key_ops
            out["key_ops"] = sorted(ops or ())
        return out

    def to_pem(self, private: bool = False, password: bytes | None = None) -> bytes:
        """PEM: SPKI for the public key, PKCS#8 (encrypted with ``password``) when private."""
        return _crypto().to_pem(self._material, private, password)  # type: ignore[no-any-return]

    def public(self) -> Key:
        """The public key with the same ``alg``, ``kid`` and ``use``.

        Raises:
            InvalidKey: a symmetric key has no public half.
        """
        if self.kty == "oct":
            raise InvalidKey("a symmetric key has no public half")
        ops = None
        if self.key_ops is not None:
            # The public half does what the private half's operations are checked with.
            ops = (self.key_ops - _PRIVATE_OPS) | {
                public for private, public in _PUBLIC_COUNTERPART.items() if private in self.key_ops
            }
        return Key(
            _crypto().public_of(self._material),
            alg=self.alg,
            kid=self.kid,
            use=self.use,
            key_ops=ops,
        )

    def thumbprint(self) -> str:
        """The RFC 7638 JWK thumbprint (SHA-256, base64url)."""
        members = _crypto().to_jwk(self._material, self.kty == "oct")
        required = {name: members[name] for name in _THUMBPRINT_MEMBERS[self.kty]}
        canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
        return b64encode_str(_crypto().sha256(canonical.encode("utf-8")))

    def thumbprint_uri(self) -> str:
        """The RFC 9278 thumbprint URI (``urn:ietf:params:oauth:jwk-thumbprint:sha-256:...``)."""
        return f"urn:ietf:params:oauth:jwk-thumbprint:sha-256:{self.thumbprint()}"

    # -- internal: checks and cached operations --------------------------------------

    def _check_fits(self, algorithm: Algorithm) -> None:
        """Raise InvalidKey unless this key's type, curve and size fit ``algorithm``."""
        kty_ok = self.kty == algorithm.kty or (
            algorithm.family is Family.ECDH_ES and self.kty == "OKP"
        )
        if not kty_ok:
            raise InvalidKey(f"{algorithm.name} needs a {algorithm.kty} key, not {self.kty}")
        if algorithm.curves and self.crv not in algorithm.curves:
            raise InvalidKey(f"{algorithm.name} cannot use curve {self.crv}")
        if self.kty == "oct":
            assert isinstance(self._material, bytes)
            size = len(self._material)
            if algorithm.family is Family.HMAC and size < algorithm.min_key_size:
                raise InvalidKey(
                    f"{algorithm.name} keys must be at least {algorithm.min_key_size} bytes"
                )
            if algorithm.key_size and size != algorithm.key_size:
                raise InvalidKey(f"{algorithm.name} keys must be {algorithm.key_size} bytes")

    def _usable_for(self, algorithm: Algorithm, op: str) -> bool:
        """True if this key may perform ``op`` ('sign'/'verify') with ``algorithm``."""
        if self._algorithm is not None and self._algorithm is not algorithm:
            return False
        if self.use is not None and self.use != "sig":
            return False
        return self.key_ops is None or op in self.key_ops

    def _verifier(self, algorithm: Algorithm) -> Verifier:
        """The cached verification function for ``algorithm`` (checked on first use)."""
        fn = self._verifiers.get(algorithm.name)
        if fn is None:
            if algorithm.name not in JWS_ALGORITHMS:
                raise InvalidKey(f"{algorithm.name} is not a signature algorithm")
            self._check_fits(algorithm)
            fn = _crypto().make_verifier(algorithm, self._material)
            self._verifiers[algorithm.name] = fn
        return fn

    def _signer(self, algorithm: Algorithm) -> Signer:
        """The cached signing function for ``algorithm``."""
        fn = self._signers.get(algorithm.name)
        if fn is None:
            if not self._is_private:
                raise InvalidKey("a public key cannot sign")
            if not self._usable_for(algorithm, "sign"):
                raise InvalidKey(f"this key may not sign with {algorithm.name}")
            if algorithm.name not in JWS_ALGORITHMS:
                raise InvalidKey(f"{algorithm.name} is not a signature algorithm")
            self._check_fits(algorithm)
            fn = _crypto().make_signer(algorithm, self._material)
            self._signers[algorithm.name] = fn
        return fn

    @property
    def _raw(self) -> Material:
        return self._material


class KeySet:
    """An ordered set of keys, looked up by ``kid`` (RFC 7517 sec. 5).

    Duplicate ``kid`` values and sets that mix symmetric with asymmetric keys are refused
    (attack catalogue #8).
    """

    __slots__ = ("_by_kid", "_keys", "rejected")

    def __init__(self, keys: Iterable[Key]) -> None:
        self._keys: tuple[Key, ...] = tuple(keys)
        self._by_kid: dict[str, Key] = {}
        self.rejected: tuple[str, ...] = ()
        """Why keys were skipped by ``from_jwks(..., skip_invalid=True)``."""
        for key in self._keys:
            if not isinstance(key, Key):
                raise InvalidKey("a KeySet holds tessera.Key objects")
            if key.kid is not None:
                if key.kid in self._by_kid:
                    raise InvalidKey(f"duplicate kid {key.kid!r} in key set")
                self._by_kid[key.kid] = key
        if len({key.kty == "oct" for key in self._keys}) > 1:
            raise InvalidKey("a key set must not mix symmetric and asymmetric keys")

    @classmethod
    def from_jwks(
        cls, jwks: Mapping[str, Any] | str | bytes, *, skip_invalid: bool = False
    ) -> KeySet:
        """A key set from a JWK Set object or JSON text.

        With ``skip_invalid=True`` keys that fail to load are left out and their reasons kept
        in :attr:`rejected` (a remote JWKS with one odd key should not break every request).

        Raises:
            InvalidKey: not a JWK Set, too many keys, or (by default) any invalid key.
        """
        data = _load_json(jwks, "JWK Set")
        entries = data.get("keys")
        if not isinstance(entries, list):
            raise InvalidKey("a JWK Set needs a 'keys' array")
        if len(entries) > MAX_JWKS_KEYS:
            raise InvalidKey(f"a JWK Set may hold at most {MAX_JWKS_KEYS} keys")
        keys: list[Key] = []
        rejected: list[str] = []
        for index, entry in enumerate(entries):
            try:
                if not isinstance(entry, dict):
                    raise InvalidKey("each key must be a JSON object")
                keys.append(Key.from_jwk(entry))
            except InvalidKey as exc:
                if not skip_invalid:
                    raise InvalidKey(f"key {index}: {exc}") from None
                rejected.append(f"key {index}: {exc}")
        if skip_invalid:
            # Set-level problems drop the keys involved, not the set (attack catalogue #52):
            # every copy of a duplicated kid, and secret keys mixed into a public key set.
            kids = [key.kid for key in keys if key.kid is not None]
            dupes = {kid for kid in kids if kids.count(kid) > 1}
            mixed = any(key.kty == "oct" for key in keys) and any(k.kty != "oct" for k in keys)
            kept = []
            for key in keys:
                if key.kid in dupes:
                    rejected.append(f"kid {key.kid!r}: duplicate kid in key set")
                elif mixed and key.kty == "oct":
                    rejected.append(f"kid {key.kid!r}: symmetric key in an asymmetric key set")
                else:
                    kept.append(key)
            keys = kept
        keyset = cls(keys)
        keyset.rejected = tuple(rejected)
        return keyset

    def to_jwks(self, private: bool = False) -> dict[str, Any]:
        """The JWK Set as a dict; public members only unless ``private=True``."""
        return {"keys": [key.to_jwk(private=private) for key in self._keys]}

    def __getitem__(self, kid: str) -> Key:
        return self._by_kid[kid]

    def get(self, kid: str) -> Key | None:
        """The key with this ``kid``, or None."""
        return self._by_kid.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"<KeySet {len(self._keys)} keys kids={list(self._by_kid)!r}>"

    def _candidates(self, kid: str | None, algorithm: Algorithm) -> list[Key]:
        """Keys that may verify a token with this ``kid`` and ``alg`` (attack #8)."""
        if kid is not None:
            # The caller checks the key's binding, so a kid naming a key of another
            # algorithm is reported as "algorithm not allowed", not "no key".
            key = self._by_kid.get(kid)
            return [key] if key is not None else []
        return [
            key
            for key in self._keys
            if key.kty == algorithm.kty
            and (not algorithm.curves or key.crv in algorithm.curves)
            and key._usable_for(algorithm, "verify")
        ]
