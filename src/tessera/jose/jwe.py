"""JSON Web Encryption (RFC 7516): compact and JSON serialisations, safe by default.

Decryption needs the key's bound ``alg`` or an allow-list of ``alg`` *and* ``enc`` values;
``alg``, ``enc``, ``zip`` and ``crit`` come from the protected header; RSA1_5 is refused
(RFC 8725 sec. 3.2) and PBES2 runs only when named in ``algorithms``, with a capped ``p2c``.
Every failure of the cryptography itself is one :class:`DecryptionError` with one message.
A decrypted JWE is confidential, not authenticated by a known party: nothing here is
"verified", and a nested JWT must still go through :func:`tessera.decode`.

>>> from tessera import Key, jwe
>>> key = Key.generate("A256KW")
>>> jwe.decrypt(jwe.encrypt(b"hello", key), key).plaintext
b'hello'
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from tessera.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    DecryptionError,
    InvalidKey,
    InvalidToken,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedHeaderError,
)
from tessera.jose import _json
from tessera.jose._b64 import (
    b64decode,
    b64decode_alphabet_checked,
    b64encode,
    is_b64url,
    is_compact_text,
)
from tessera.jose._header import MAX_KID_LENGTH, check_crit, decode_segment
from tessera.jose.jwa import JWE_ALGORITHMS, JWE_ENCRYPTIONS, Algorithm, Family
from tessera.jose.jwk import Key, KeySet
from tessera.jose.jws import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from tessera.jose._jwe_crypto import ContentCipher, KeyParams

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_PBES2_MAX_ITERATIONS",
    "DecryptedJWE",
    "Recipient",
    "decrypt",
    "decrypt_json",
    "encrypt",
    "encrypt_json",
]

DEFAULT_MAX_DECOMPRESSED = 250_000  # bytes; RFC 8725bis sec. 3.15 (attack catalogue #50)
DEFAULT_PBES2_MAX_ITERATIONS = 1_200_000  # RFC 8725bis sec. 3.13 (attack catalogue #49)
MAX_RECIPIENTS = 16
_MAX_ATTEMPTS = 32  # key-unwrapping attempts per token, across recipients and keys
_DECRYPT_OPS = frozenset({"decrypt", "unwrapKey", "deriveKey", "deriveBits"})
_ENCRYPT_OPS = frozenset({"encrypt", "wrapKey", "deriveKey", "deriveBits"})
_PROTECTED_ONLY = ("enc", "zip", "crit")
_COMPUTED = frozenset({"zip", "epk", "iv", "tag", "p2s"})  # set by Tessera, never by headers=
_DIR_ENC_BY_SIZE = {16: "A128GCM", 24: "A192GCM", 32: "A256GCM", 48: "A192CBC-HS384",
                    64: "A256CBC-HS512"}  # fmt: skip
_RSA1_5 = "RSA1_5 is not supported (RFC 8725 sec. 3.2); use RSA-OAEP-256"


@dataclass(frozen=True, slots=True)
class DecryptedJWE:
    """A decrypted JWE: its protected header, the plaintext, and the key that opened it.

    For the JSON serialisation, ``index`` is the recipient whose key worked, ``unprotected``
    the shared and per-recipient unprotected headers, and ``aad`` the JWE AAD, if any.
    """

    header: dict[str, Any]
    plaintext: bytes = field(repr=False)  # confidential: kept out of logs
    key: Key
    index: int = 0
    unprotected: dict[str, Any] = field(default_factory=dict)
    aad: bytes | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a JWE JSON serialisation: the key, its alg, and its own header."""

    key: Key
    alg: str | None = None
    header: Mapping[str, Any] | None = None


class _Policy(NamedTuple):
    algs: frozenset[str] | None
    encs: frozenset[str] | None
    max_decompressed: int
    pbes2_max_iterations: int


class _Budget:
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
        raise ConfigurationError(_RSA1_5)
    unknown = allowed - frozenset(known)
    if unknown:
        raise ConfigurationError(f"unknown or unsupported {what}: {sorted(map(str, unknown))}")
    return allowed


def _policy(
    algorithms: Iterable[str] | None,
    encryptions: Iterable[str] | None,
    max_decompressed: int,
    pbes2_max_iterations: int,
) -> _Policy:
    for name, value, least in (
        ("max_decompressed", max_decompressed, 0),
        ("pbes2_max_iterations", pbes2_max_iterations, 1000),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigurationError(f"{name} must be an integer of at least {least}")
    return _Policy(
        _names(algorithms, JWE_ALGORITHMS, "algorithms"),
        _names(encryptions, JWE_ENCRYPTIONS, "encryptions"),
        max_decompressed,
        pbes2_max_iterations,
    )


def _check_allowed(algorithm: Algorithm, enc: str, policy: _Policy) -> None:
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


def _require_lists(key: Key, policy: _Policy) -> None:
    if key._algorithm is None and (policy.algs is None or policy.encs is None):
        raise ConfigurationError(
            "this key is not bound to an algorithm: pass algorithms=[...] and encryptions=[...]"
        )


def _decryption_keys(
    key: Key | KeySet, algorithm: Algorithm, kid: str | None, policy: _Policy, enc: str
) -> list[Key]:
    """The keys that may try to decrypt a token made with ``algorithm`` (attack #8, #43)."""
    if isinstance(key, Key):
        _require_lists(key, policy)
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
        _require_lists(candidate, policy)
    if not keys:
        raise KeyNotFoundError(
            "no key matches the token's kid" if kid is not None else "no key fits the token"
        )
    return keys


# -- headers ------------------------------------------------------------------------------


def _algorithm(value: Any) -> Algorithm:
    if not isinstance(value, str):
        raise MalformedTokenError("header alg must be a string")
    if value == "RSA1_5":
        raise AlgorithmNotAllowedError(_RSA1_5)
    algorithm = JWE_ALGORITHMS.get(value)
    if algorithm is None:
        raise AlgorithmNotAllowedError(f"algorithm {value[:32]!r} is not allowed")
    return algorithm


def _check_protected(protected: dict[str, Any]) -> tuple[str, bool]:
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


def _check_common(header: dict[str, Any]) -> str | None:
    """Check ``kid``, ``typ`` and ``cty`` and return the kid."""
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise MalformedTokenError(f"kid must be a string of at most {MAX_KID_LENGTH} characters")
    for name in ("typ", "cty"):
        if name in header and not isinstance(header[name], str):
            raise MalformedTokenError(f"header {name} must be a string")
    return kid


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


def _key_params(algorithm: Algorithm, header: Mapping[str, Any], policy: _Policy) -> KeyParams:
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


# -- decryption ---------------------------------------------------------------------------


def _inflate(data: bytes, limit: int) -> bytes:
    """Raw DEFLATE (RFC 1951), never producing more than ``limit`` bytes (attack #50)."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise MalformedTokenError("the compressed plaintext is not valid DEFLATE data") from None
    if len(out) > limit:
        raise MalformedTokenError(f"the decompressed plaintext exceeds {limit} bytes")
    if not inflater.eof or inflater.unused_data:
        raise MalformedTokenError("the compressed plaintext is not valid DEFLATE data")
    return out


def _open(
    keys: list[Key],
    algorithm: Algorithm,
    cipher: ContentCipher,
    params: KeyParams,
    parts: tuple[bytes, bytes, bytes, bytes],
    aad: bytes,
    budget: _Budget,
) -> tuple[bytes, Key]:
    """Unwrap the CEK with each key in turn and decrypt; one error for every failure."""
    from tessera.jose import _jwe_crypto as jc

    encrypted_key, iv, ciphertext, tag = parts
    if encrypted_key and _is_direct(algorithm):
        raise MalformedTokenError(f"{algorithm.name} needs an empty encrypted key")
    if len(iv) != cipher.iv_size or len(tag) != cipher.tag_size:
        raise jc.fail()  # checked before any key is touched (attack catalogue #48)
    for candidate in keys:
        if not budget.spend(algorithm):
            break
        unwrapped = jc.unwrap(algorithm, candidate._raw, cipher, encrypted_key, params)
        failed = unwrapped is None or len(unwrapped) != cipher.cek_size
        # On failure carry on with a random CEK, so every failure looks like a bad tag (#46).
        cek = jc.random_cek(cipher) if unwrapped is None or failed else unwrapped
        try:
            plaintext = jc.decrypt_content(cipher, cek, iv, ciphertext, tag, aad)
        except DecryptionError:
            continue
        if not failed:
            return plaintext, candidate
    raise jc.fail()


def _segment(segment: str) -> bytes:
    try:
        return b64decode_alphabet_checked(segment)
    except ValueError:
        raise MalformedTokenError("JWE segment is not canonical base64url") from None


def _split(token: str | bytes, limits: Limits) -> list[str]:
    if isinstance(token, bytes | bytearray):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTokenError("token must be ASCII") from None
    if not isinstance(token, str):
        raise MalformedTokenError("token must be a string")
    if len(token) > limits.max_token_size:
        raise MalformedTokenError(f"token exceeds {limits.max_token_size} characters")
    if not is_compact_text(token) or token.count(".") != 4 or token.startswith("."):
        if token.count(".") == 2:
            raise MalformedTokenError("this is a JWS (3 segments), not a JWE")
        raise MalformedTokenError("a compact JWE is five base64url segments separated by dots")
    return token.split(".")


def decrypt(
    token: str | bytes,
    key: Key | KeySet,
    algorithms: Iterable[str] | None = None,
    encryptions: Iterable[str] | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    pbes2_max_iterations: int = DEFAULT_PBES2_MAX_ITERATIONS,
) -> DecryptedJWE:
    """Decrypt a compact JWE (RFC 7516 sec. 7.1) and return its header and plaintext.

    The allowed ``alg`` values are the key's bound algorithm intersected with
    ``algorithms``; an unbound key needs both ``algorithms`` and ``encryptions``. PBES2
    must be listed in ``algorithms`` even for a key bound to it.

    Raises:
        MalformedTokenError: shape, encoding, header values, size or decompression limit.
        AlgorithmNotAllowedError: ``alg`` or ``enc`` not allowed (RSA1_5 never is).
        UnsupportedHeaderError: ``crit`` or a ``zip`` other than ``DEF``.
        KeyNotFoundError: no key in the set fits the token.
        DecryptionError: the token does not decrypt (one error, one message, for every cause).
        ConfigurationError: an unbound key without ``algorithms`` and ``encryptions``.
    """
    policy = _policy(algorithms, encryptions, max_decompressed, pbes2_max_iterations)
    if isinstance(key, Key):
        _require_lists(key, policy)
    h_seg, *rest = _split(token, limits)
    header = decode_segment(h_seg, limits.max_json_depth)
    algorithm = _algorithm(header.get("alg"))
    enc, compressed = _check_protected(header)
    kid = _check_common(header)
    _check_allowed(algorithm, enc, policy)
    params = _key_params(algorithm, header, policy)
    parts = (_segment(rest[0]), _segment(rest[1]), _segment(rest[2]), _segment(rest[3]))
    keys = _decryption_keys(key, algorithm, kid, policy, enc)
    from tessera.jose import _jwe_crypto as jc

    cipher = jc.CONTENT_CIPHERS[enc]
    plaintext, used = _open(
        keys, algorithm, cipher, params, parts, h_seg.encode("ascii"), _Budget()
    )
    if compressed:
        plaintext = _inflate(plaintext, policy.max_decompressed)
    return DecryptedJWE(dict(header), plaintext, used)


# -- encryption ---------------------------------------------------------------------------


def _resolve_encryption(key: Key, alg: str | None) -> Algorithm:
    if not isinstance(key, Key):
        raise ConfigurationError("key must be a tessera.Key (wrap secrets with Key.from_secret)")
    name = alg if alg is not None else key.alg
    if name is None:
        raise ConfigurationError("the key is not bound to an algorithm: pass alg=")
    if key.alg is not None and name != key.alg:
        raise ConfigurationError(f"the key is bound to {key.alg}, not {name}")
    if name == "RSA1_5":
        raise ConfigurationError(_RSA1_5)
    algorithm = JWE_ALGORITHMS.get(name)
    if algorithm is None:
        raise ConfigurationError(f"unknown or unsupported JWE algorithm {name!r}")
    if key.use is not None and key.use != "enc":
        raise InvalidKey("this key may not be used to encrypt (use is not 'enc')")
    if key.key_ops is not None and not key.key_ops & _ENCRYPT_OPS:
        raise InvalidKey("this key may not be used to encrypt (key_ops)")
    key._check_fits(algorithm)
    return algorithm


def _cipher(enc: str | None, algorithm: Algorithm, key: Key) -> ContentCipher:
    from tessera.jose import _jwe_crypto as jc

    if enc is None:
        enc = "A256GCM"
        if algorithm.family is Family.DIRECT and isinstance(key._raw, bytes):
            enc = _DIR_ENC_BY_SIZE.get(len(key._raw), enc)
    if enc not in jc.CONTENT_CIPHERS:
        raise ConfigurationError(f"unknown content encryption {enc!r}")
    return jc.CONTENT_CIPHERS[enc]


def _user_header(headers: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ConfigurationError(f"{what} must be a mapping")
    out = dict(headers)
    computed = _COMPUTED & out.keys()
    if computed:
        raise ConfigurationError(f"{what} must not set {sorted(computed)} (Tessera sets them)")
    return out


def _wrap_options(algorithm: Algorithm, merged: Mapping[str, Any]) -> dict[str, Any]:
    """The apu/apv/p2c the caller asked for, checked."""
    options: dict[str, Any] = {}
    for name in ("apu", "apv"):
        if name in merged:
            if algorithm.family is not Family.ECDH_ES:
                raise ConfigurationError(f"{name} is only meaningful with ECDH-ES")
            try:
                options[name] = b64decode(merged[name])
            except (ValueError, TypeError):
                raise ConfigurationError(f"{name} must be a base64url string") from None
    if "p2c" in merged:
        p2c = merged["p2c"]
        if algorithm.family is not Family.PBES2:
            raise ConfigurationError("p2c is only meaningful with PBES2")
        if isinstance(p2c, bool) or not isinstance(p2c, int) or p2c < 1000:
            raise ConfigurationError("p2c must be an integer of at least 1000")
        options["p2c"] = p2c
    return options


def _seal_header(header: dict[str, Any]) -> bytes:
    try:
        check_crit(header, frozenset())
        _check_common(header)
        return b64encode(_json.dumps(header))
    except InvalidToken as exc:
        raise ConfigurationError(f"invalid header: {exc}") from None
    except (TypeError, ValueError):
        raise ConfigurationError("the header is not JSON-serialisable") from None


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _is_direct(algorithm: Algorithm) -> bool:
    family = algorithm.family
    return family is Family.DIRECT or (family is Family.ECDH_ES and not algorithm.key_size)


def encrypt(
    plaintext: bytes,
    key: Key,
    alg: str | None = None,
    enc: str | None = None,
    headers: Mapping[str, Any] | None = None,
    *,
    zip: bool = False,
) -> str:
    """Encrypt ``plaintext`` to ``key`` and return a compact JWE (RFC 7516 sec. 7.1).

    ``alg`` defaults to the key's bound algorithm; ``enc`` defaults to A256GCM (for ``dir``,
    to the cipher whose key size is the key's). ``headers`` may add ``kid``, ``typ``,
    ``cty``, ``apu``/``apv`` (ECDH-ES) or ``p2c`` (PBES2, default 600,000). ``zip=True``
    compresses first, which leaks the plaintext's compressibility (RFC 8725 sec. 3.6).

    Raises:
        ConfigurationError: no algorithm, a contradicting one, RSA1_5, or invalid headers.
        InvalidKey: the key cannot encrypt with that algorithm (type, size, use).
    """
    if not isinstance(plaintext, bytes | bytearray):
        raise ConfigurationError("plaintext must be bytes")
    algorithm = _resolve_encryption(key, alg)
    cipher = _cipher(enc, algorithm, key)
    extra = _user_header(headers, "headers")
    for name, value in (("alg", algorithm.name), ("enc", cipher.name)):
        if extra.get(name, value) != value:
            raise ConfigurationError(f"headers[{name!r}] contradicts the {name} argument")
    from tessera.jose import _jwe_crypto as jc

    cek, encrypted_key, params = jc.wrap(
        algorithm, key._raw, cipher, None, **_wrap_options(algorithm, extra)
    )
    header: dict[str, Any] = {"alg": algorithm.name, "enc": cipher.name}
    if key.kid is not None:
        header["kid"] = key.kid
    if zip:
        header["zip"] = "DEF"
    header.update(params)
    header.update(extra)
    h_seg = _seal_header(header)
    data = _deflate(bytes(plaintext)) if zip else bytes(plaintext)
    iv, ciphertext, tag = jc.encrypt_content(cipher, cek, data, h_seg)
    return b".".join(
        (h_seg, b64encode(encrypted_key), b64encode(iv), b64encode(ciphertext), b64encode(tag))
    ).decode("ascii")


# -- JSON serialisation (RFC 7516 sec. 7.2) -----------------------------------------------


def _disjoint(*headers: Mapping[str, Any]) -> bool:
    seen: set[str] = set()
    for header in headers:
        if seen & header.keys():
            return False
        seen.update(header)
    return True


def encrypt_json(
    plaintext: bytes,
    recipients: Sequence[Recipient],
    enc: str | None = None,
    *,
    protected: Mapping[str, Any] | None = None,
    unprotected: Mapping[str, Any] | None = None,
    aad: bytes | None = None,
    zip: bool = False,
    flattened: bool = False,
) -> dict[str, Any]:
    """Encrypt ``plaintext`` once to every :class:`Recipient` (RFC 7516 sec. 7.2).

    ``alg`` goes in the protected header when all recipients share it; otherwise each
    recipient's header carries it (decrypt with ``allow_unprotected_alg=True``).
    ``flattened=True`` (one recipient) gives the flattened form.

    Raises:
        ConfigurationError: no recipients, ``dir``/``ECDH-ES`` with several, clashing headers.
        InvalidKey: a key cannot encrypt with its algorithm.
    """
    if not isinstance(plaintext, bytes | bytearray):
        raise ConfigurationError("plaintext must be bytes")
    if aad is not None and not isinstance(aad, bytes | bytearray):
        raise ConfigurationError("aad must be bytes")
    if not recipients:
        raise ConfigurationError("at least one recipient is needed")
    if flattened and len(recipients) != 1:
        raise ConfigurationError("a flattened JWE has exactly one recipient")
    resolved = [(r, _resolve_encryption(r.key, r.alg)) for r in recipients]
    single = len(resolved) == 1
    if not single and any(_is_direct(algorithm) for _, algorithm in resolved):
        raise ConfigurationError("dir and ECDH-ES (without key wrap) allow one recipient only")
    cipher = _cipher(enc, resolved[0][1], resolved[0][0].key)
    shared_alg = len({algorithm.name for _, algorithm in resolved}) == 1
    prot = _user_header(protected, "protected")
    shared = _user_header(unprotected, "unprotected")
    for name in _PROTECTED_ONLY:
        if name in shared:
            raise ConfigurationError(f"{name} must be in the protected header")
    if prot.get("enc", cipher.name) != cipher.name:
        raise ConfigurationError("protected['enc'] contradicts the enc argument")
    head: dict[str, Any] = {"enc": cipher.name}
    if zip:
        head["zip"] = "DEF"
    if shared_alg:
        head["alg"] = resolved[0][1].name
    from tessera.jose import _jwe_crypto as jc

    cek: bytes | None = None if single else jc.random_cek(cipher)
    entries: list[tuple[dict[str, Any], bytes]] = []
    for recipient, algorithm in resolved:
        own = _user_header(recipient.header, "Recipient.header")
        for name in _PROTECTED_ONLY:
            if name in own:
                raise ConfigurationError(f"{name} must be in the protected header")
        merged = {**prot, **shared, **own}
        if merged.get("alg", algorithm.name) != algorithm.name:
            raise ConfigurationError("a header's alg contradicts the recipient's algorithm")
        cek, encrypted_key, params = jc.wrap(
            algorithm, recipient.key._raw, cipher, cek, **_wrap_options(algorithm, merged)
        )
        generated: dict[str, Any] = {}
        if not shared_alg:
            generated["alg"] = algorithm.name
        if recipient.key.kid is not None and "kid" not in merged:
            generated["kid"] = recipient.key.kid
        generated.update(params)
        generated = {k: v for k, v in generated.items() if k not in merged}  # e.g. p2c
        if single:
            head.update(generated)  # one recipient: protect everything
        else:
            own = {**generated, **own}
        entries.append((own, encrypted_key))
    head.update(prot)
    for own, _ in entries:
        if not _disjoint(head, shared, own):
            raise ConfigurationError(
                "protected, unprotected and recipient headers must be disjoint"
            )
    h_seg = _seal_header(head)
    full_aad = h_seg if aad is None else h_seg + b"." + b64encode(bytes(aad))
    data = _deflate(bytes(plaintext)) if zip else bytes(plaintext)
    assert cek is not None
    iv, ciphertext, tag = jc.encrypt_content(cipher, cek, data, full_aad)
    out: dict[str, Any] = {"protected": h_seg.decode("ascii")}
    if shared:
        out["unprotected"] = shared
    recipient_objects = []
    for own, encrypted_key in entries:
        entry: dict[str, Any] = {}
        if own:
            entry["header"] = own
        if encrypted_key:
            entry["encrypted_key"] = b64encode(encrypted_key).decode("ascii")
        recipient_objects.append(entry)
    if flattened:
        out.update(recipient_objects[0])
    else:
        out["recipients"] = recipient_objects
    if aad is not None:
        out["aad"] = b64encode(bytes(aad)).decode("ascii")
    out["iv"] = b64encode(iv).decode("ascii")
    out["ciphertext"] = b64encode(ciphertext).decode("ascii")
    out["tag"] = b64encode(tag).decode("ascii")
    return out


def _json_object(jwe: Mapping[str, Any] | str | bytes, limits: Limits) -> dict[str, Any]:
    if isinstance(jwe, str | bytes):
        raw = jwe.encode("utf-8") if isinstance(jwe, str) else jwe
        if len(raw) > limits.max_token_size:
            raise MalformedTokenError(f"JWE exceeds {limits.max_token_size} bytes")
        try:
            value = _json.loads(raw, limits.max_json_depth)
        except (ValueError, UnicodeError):
            raise MalformedTokenError("JWE JSON serialisation is not valid JSON") from None
    else:
        value = jwe
    if not isinstance(value, Mapping):
        raise MalformedTokenError("JWE JSON serialisation must be an object")
    return dict(value)


def _member(obj: Mapping[str, Any], name: str) -> tuple[str, bytes]:
    """A base64url member of the JSON serialisation: (text, decoded); absent means empty."""
    value = obj.get(name, "")
    if not isinstance(value, str):
        raise MalformedTokenError(f"{name} must be a base64url string")
    try:
        return value, b64decode(value)
    except ValueError:
        raise MalformedTokenError(f"{name} is not canonical base64url") from None


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedTokenError(f"{name} must be an object")
    return value


def _recipient_entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if "recipients" in obj:
        if "encrypted_key" in obj or "header" in obj:
            raise MalformedTokenError("general JWE must not also have flattened members")
        entries = obj["recipients"]
        if not isinstance(entries, list) or not entries:
            raise MalformedTokenError("recipients must be a non-empty array")
        if len(entries) > MAX_RECIPIENTS:
            raise MalformedTokenError(f"a JWE may have at most {MAX_RECIPIENTS} recipients")
        for entry in entries:
            if not isinstance(entry, dict):
                raise MalformedTokenError("each recipient must be an object")
        return entries
    return [{name: obj[name] for name in ("header", "encrypted_key") if name in obj}]


def decrypt_json(
    jwe: Mapping[str, Any] | str | bytes,
    key: Key | KeySet,
    algorithms: Iterable[str] | None = None,
    encryptions: Iterable[str] | None = None,
    *,
    allow_unprotected_alg: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    pbes2_max_iterations: int = DEFAULT_PBES2_MAX_ITERATIONS,
) -> DecryptedJWE:
    """Decrypt a general or flattened JWE JSON serialisation.

    Recipients are tried in order and the first that decrypts is returned with its own
    headers. ``enc``, ``zip`` and ``crit`` must be protected; ``alg`` too, unless
    ``allow_unprotected_alg=True`` (needed for recipients with different algorithms).

    Raises:
        InvalidToken: a subclass saying why, as for :func:`decrypt`; when no recipient
            works, the most telling recipient error (decryption first).
        ConfigurationError: an unbound key without ``algorithms`` and ``encryptions``.
    """
    policy = _policy(algorithms, encryptions, max_decompressed, pbes2_max_iterations)
    if isinstance(key, Key):
        _require_lists(key, policy)
    obj = _json_object(jwe, limits)
    if "ciphertext" not in obj:
        raise MalformedTokenError("not a JWE JSON serialisation (no ciphertext)")
    entries = _recipient_entries(obj)
    h_seg = obj.get("protected", "")
    if not isinstance(h_seg, str) or not is_b64url(h_seg):
        raise MalformedTokenError("protected must be a base64url string")
    protected = decode_segment(h_seg, limits.max_json_depth) if h_seg else {}
    shared = _object(obj.get("unprotected"), "unprotected")
    for name in _PROTECTED_ONLY:
        if name in shared or any(name in _object(e.get("header"), "header") for e in entries):
            raise UnsupportedHeaderError(f"{name} must be in the protected header")
    enc, compressed = _check_protected(protected)
    parts = [_member(obj, name)[1] for name in ("iv", "ciphertext", "tag")]
    aad_text, aad = _member(obj, "aad")
    full_aad = h_seg.encode("ascii") + (b"." + aad_text.encode("ascii") if "aad" in obj else b"")
    from tessera.jose import _jwe_crypto as jc

    cipher = jc.CONTENT_CIPHERS[enc]
    budget = _Budget()
    errors: list[InvalidToken] = []
    for index, entry in enumerate(entries):
        own = _object(entry.get("header"), "header")
        if not _disjoint(protected, shared, own):
            raise MalformedTokenError("protected, unprotected and recipient headers overlap")
        merged = {**protected, **shared, **own}
        try:
            if "alg" not in protected and not allow_unprotected_alg:
                raise UnsupportedHeaderError("alg must be in the protected header")
            algorithm = _algorithm(merged.get("alg"))
            kid = _check_common(merged)
            _check_allowed(algorithm, enc, policy)
            params = _key_params(algorithm, merged, policy)
            encrypted_key = _member(entry, "encrypted_key")[1]
            keys = _decryption_keys(key, algorithm, kid, policy, enc)
            plaintext, used = _open(
                keys,
                algorithm,
                cipher,
                params,
                (encrypted_key, parts[0], parts[1], parts[2]),
                full_aad,
                budget,
            )
        except (
            AlgorithmNotAllowedError,
            DecryptionError,
            KeyNotFoundError,
            UnsupportedHeaderError,
        ) as exc:
            errors.append(exc)
            continue
        if compressed:
            plaintext = _inflate(plaintext, policy.max_decompressed)
        unprotected = {**shared, **own}
        return DecryptedJWE(
            dict(protected), plaintext, used, index, unprotected, aad if "aad" in obj else None
        )
    decryption = [e for e in errors if isinstance(e, DecryptionError)]
    raise (decryption or errors)[0]
