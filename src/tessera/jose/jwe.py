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
from typing import TYPE_CHECKING, Any

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
from tessera.jose import _json, _jwe_json
from tessera.jose._b64 import b64decode, b64decode_alphabet_checked, b64encode, is_compact_text
from tessera.jose._header import check_common, check_crit, decode_segment
from tessera.jose._jwe_json import MAX_RECIPIENTS as MAX_RECIPIENTS
from tessera.jose._jwe_policy import (
    PROTECTED_ONLY,
    RSA1_5_REFUSED,
    Budget,
    check_allowed,
    check_protected,
    decryption_keys,
    header_algorithm,
    key_params,
    make_policy,
    require_lists,
)
from tessera.jose.jwa import JWE_ALGORITHMS, Algorithm, Family
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
_ENCRYPT_OPS = frozenset({"encrypt", "wrapKey", "deriveKey", "deriveBits"})
_COMPUTED = frozenset({"zip", "epk", "iv", "tag", "p2s"})  # set by Tessera, never by headers=
_DIR_ENC_BY_SIZE = {16: "A128GCM", 24: "A192GCM", 32: "A256GCM", 48: "A192CBC-HS384",
                    64: "A256CBC-HS512"}  # fmt: skip


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
    budget: Budget,
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
    policy = make_policy(algorithms, encryptions, max_decompressed, pbes2_max_iterations)
    if isinstance(key, Key):
        require_lists(key, policy)
    h_seg, *rest = _split(token, limits)
    header = decode_segment(h_seg, limits.max_json_depth)
    algorithm = header_algorithm(header.get("alg"))
    enc, compressed = check_protected(header)
    kid = check_common(header)
    check_allowed(algorithm, enc, policy)
    params = key_params(algorithm, header, policy)
    parts = (_segment(rest[0]), _segment(rest[1]), _segment(rest[2]), _segment(rest[3]))
    keys = decryption_keys(key, algorithm, kid, policy, enc)
    from tessera.jose import _jwe_crypto as jc

    cipher = jc.CONTENT_CIPHERS[enc]
    plaintext, used = _open(keys, algorithm, cipher, params, parts, h_seg.encode("ascii"), Budget())
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
        raise ConfigurationError(RSA1_5_REFUSED)
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
        check_common(header)
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
    for name in PROTECTED_ONLY:
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
        for name in PROTECTED_ONLY:
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
        if not _jwe_json.disjoint(head, shared, own):
            raise ConfigurationError(
                "protected, unprotected and recipient headers must be disjoint"
            )
    h_seg = _seal_header(head)
    full_aad = h_seg if aad is None else h_seg + b"." + b64encode(bytes(aad))
    data = _deflate(bytes(plaintext)) if zip else bytes(plaintext)
    assert cek is not None
    sealed = jc.encrypt_content(cipher, cek, data, full_aad)
    return _jwe_json.serialise(h_seg, shared, entries, aad, sealed, flattened)


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
    policy = make_policy(algorithms, encryptions, max_decompressed, pbes2_max_iterations)
    if isinstance(key, Key):
        require_lists(key, policy)
    parsed = _jwe_json.parse(jwe, limits)
    protected, shared = parsed.protected, parsed.shared
    iv, ciphertext, tag = parsed.parts
    from tessera.jose import _jwe_crypto as jc

    cipher = jc.CONTENT_CIPHERS[parsed.enc]
    budget = Budget()
    errors: list[InvalidToken] = []
    for index, entry in enumerate(parsed.entries):
        own = _jwe_json.header_object(entry.get("header"), "header")
        if not _jwe_json.disjoint(protected, shared, own):
            raise MalformedTokenError("protected, unprotected and recipient headers overlap")
        merged = {**protected, **shared, **own}
        try:
            if "alg" not in protected and not allow_unprotected_alg:
                raise UnsupportedHeaderError("alg must be in the protected header")
            algorithm = header_algorithm(merged.get("alg"))
            kid = check_common(merged)
            check_allowed(algorithm, parsed.enc, policy)
            params = key_params(algorithm, merged, policy)
            encrypted_key = _jwe_json.member(entry, "encrypted_key")[1]
            keys = decryption_keys(key, algorithm, kid, policy, parsed.enc)
            plaintext, used = _open(
                keys,
                algorithm,
                cipher,
                params,
                (encrypted_key, iv, ciphertext, tag),
                parsed.full_aad,
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
        if parsed.compressed:
            plaintext = _inflate(plaintext, policy.max_decompressed)
        unprotected = {**shared, **own}
        return DecryptedJWE(dict(protected), plaintext, used, index, unprotected, parsed.aad)
    decryption = [e for e in errors if isinstance(e, DecryptionError)]
    raise (decryption or errors)[0]
