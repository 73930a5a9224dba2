"""JSON Web Signature (RFC 7515): compact and JSON serialisations, detached payloads and
RFC 7797 unencoded payloads.

Verification is strict: canonical base64url only, the allow-list intersected with each key's
bound algorithm, exact signature lengths, ``crit`` enforced, and header keys (``jwk``, ``jku``,
``x5u``, ``x5c``) never trusted.

>>> from tessera import Key, jws
>>> key = Key.generate("HS256")
>>> jws.verify(jws.sign(b"hello", key), key).payload
b'hello'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tessera.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidKey,
    InvalidToken,
    KeyNotFoundError,
    MalformedTokenError,
    SignatureError,
    UnsupportedHeaderError,
)
from tessera.jose import _json
from tessera.jose._b64 import (
    b64decode_alphabet_checked,
    b64encode,
    is_b64url,
)
from tessera.jose._compact import DEFAULT_LIMITS as DEFAULT_LIMITS
from tessera.jose._compact import Limits as Limits
from tessera.jose._compact import load_serialisation, split_segments
from tessera.jose._header import (
    ParsedHeader,
    check_crit,
    check_header,
    decode_segment,
    parse_protected,
)
from tessera.jose.jwa import JWS_ALGORITHMS, Algorithm
from tessera.jose.jwk import Key, KeySet

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "Limits",
    "Signer",
    "VerifiedJWS",
    "sign",
    "sign_json",
    "verify",
    "verify_json",
]

_UNDERSTOOD = frozenset({"b64"})


class VerifiedJWS:
    """The result of a successful verification: what was signed, and by which key.

    For JSON serialisation, ``index`` is the signature that verified, ``header`` its protected
    header and ``unprotected`` its unprotected one (never merged across signatures).
    """

    __slots__ = ("header", "index", "key", "payload", "unprotected")

    def __init__(
        self,
        header: dict[str, Any],
        payload: bytes,
        key: Key,
        index: int = 0,
        unprotected: dict[str, Any] | None = None,
    ) -> None:
        self.header = header
        self.payload = payload
        self.key = key
        self.index = index
        self.unprotected: dict[str, Any] = unprotected if unprotected is not None else {}

    def __repr__(self) -> str:
        return f"<VerifiedJWS alg={self.header.get('alg')!r} index={self.index} key={self.key!r}>"


class Signer:
    """One signature of a JWS JSON serialisation: the key, its alg, and both headers."""

    __slots__ = ("alg", "header", "key", "protected")

    def __init__(
        self,
        key: Key,
        alg: str | None = None,
        protected: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> None:
        self.key = key
        self.alg = alg
        self.protected = protected
        self.header = header

    def __repr__(self) -> str:
        return f"Signer({self.key!r}, alg={self.alg!r})"


# -- key resolution (shared by JWS and JWT) -------------------------------------------------


def _allowed(algorithms: Iterable[str] | None) -> frozenset[str] | None:
    if algorithms is None:
        return None
    if isinstance(algorithms, str):
        raise ConfigurationError("algorithms must be a list of names, not a string")
    allowed = frozenset(algorithms)
    if "none" in allowed:
        raise ConfigurationError("'none' can never be an allowed algorithm")
    unknown = allowed - JWS_ALGORITHMS.keys()
    if unknown:
        raise ConfigurationError(f"unknown algorithms: {sorted(unknown)}")
    return allowed


def resolve_verifier(
    key: Key | KeySet,
    algorithm: Algorithm,
    kid: str | None,
    allowed: frozenset[str] | None,
) -> list[tuple[Key, Any]]:
    """The (key, verify function) pairs that may check a signature made with ``algorithm``.

    Raises:
        AlgorithmNotAllowedError: ``alg`` outside the allow-list or the key's binding.
        KeyNotFoundError: no key in the set fits ``kid`` and ``alg``.
    """
    if allowed is not None and algorithm.name not in allowed:
        raise AlgorithmNotAllowedError(f"algorithm {algorithm.name} is not allowed")
    if type(key) is Key and key._algorithm is algorithm and key._bound_pairs is not None:
        return key._bound_pairs  # this key passed every check below for its own algorithm
    if isinstance(key, Key):
        keys = [key]
    elif isinstance(key, KeySet):
        keys = key._candidates(kid, algorithm)
        if not keys:
            raise KeyNotFoundError(
                "no key matches the token's kid" if kid is not None else "no key fits the token"
            )
    else:
        raise ConfigurationError(
            "key must be a tessera.Key or tessera.KeySet (wrap secrets with Key.from_secret)"
        )
    pairs = []
    for candidate in keys:
        bound = candidate._algorithm
        if bound is None:
            if allowed is None:
                raise ConfigurationError(
                    "this key is not bound to an algorithm: pass algorithms=[...] or bind one"
                )
        elif bound is not algorithm:
            raise AlgorithmNotAllowedError(
                f"algorithm {algorithm.name} is not the key's algorithm ({bound.name})"
            )
        if not candidate._usable_for(algorithm, "verify"):
            raise AlgorithmNotAllowedError("this key may not be used to verify signatures")
        try:
            pairs.append((candidate, candidate._verifier(algorithm)))
        except InvalidKey:
            raise AlgorithmNotAllowedError(
                f"algorithm {algorithm.name} does not fit the key"
            ) from None
        if bound is algorithm and candidate._bound_pairs is None:
            candidate._bound_pairs = [(candidate, pairs[-1][1])]
    return pairs


def _check(pairs: list[tuple[Key, Any]], signing_input: bytes, signature: bytes) -> Key:
    for candidate, verify_fn in pairs:
        if verify_fn(signing_input, signature):
            return candidate
    raise SignatureError("signature verification failed")


def _resolve_signing(key: Key, alg: str | None) -> Algorithm:
    if not isinstance(key, Key):
        raise ConfigurationError("key must be a tessera.Key (wrap secrets with Key.from_secret)")
    name = alg if alg is not None else key.alg
    if name is None:
        raise ConfigurationError("the key is not bound to an algorithm: pass alg=")
    if key.alg is not None and name != key.alg:
        raise ConfigurationError(f"the key is bound to {key.alg}, not {name}")
    algorithm = JWS_ALGORITHMS.get(name)
    if algorithm is None:
        raise ConfigurationError(f"unknown or unsupported algorithm {name!r}")
    return algorithm


# -- compact serialisation ------------------------------------------------------------------


def _protected_header(
    key: Key,
    algorithm: Algorithm,
    headers: Mapping[str, Any] | None,
    b64: bool,
) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": algorithm.name}
    if key.kid is not None:
        header["kid"] = key.kid
    if headers:
        if headers.get("alg", algorithm.name) != algorithm.name:
            raise ConfigurationError("headers['alg'] contradicts the signing algorithm")
        header.update(headers)
    if not b64:
        header["b64"] = False
        crit = list(header.get("crit", []))
        if "b64" not in crit:
            crit.append("b64")
        header["crit"] = crit
    try:
        check_crit(header, _UNDERSTOOD)
        check_header(header)
    except (MalformedTokenError, UnsupportedHeaderError, AlgorithmNotAllowedError) as exc:
        raise ConfigurationError(f"invalid header: {exc}") from None
    return header


def sign(
    payload: bytes,
    key: Key,
    alg: str | None = None,
    headers: Mapping[str, Any] | None = None,
    *,
    detached: bool = False,
    b64: bool = True,
) -> str:
    """Sign ``payload`` and return a compact JWS (RFC 7515 sec. 7.1).

    ``detached=True`` leaves the payload segment empty (RFC 7515 App. F); ``b64=False``
    signs the raw payload (RFC 7797) and, in compact form, requires ``detached=True``.

    Raises:
        ConfigurationError: no algorithm, a contradicting one, or invalid extra headers.
        InvalidKey: the key cannot sign with that algorithm.
    """
    if not isinstance(payload, bytes | bytearray):
        raise ConfigurationError("payload must be bytes")
    algorithm = _resolve_signing(key, alg)
    signer = key._signer(algorithm)
    if not b64 and not detached:
        raise ConfigurationError("compact JWS with b64=false must be detached")
    header = _protected_header(key, algorithm, headers, b64)
    h_seg = b64encode(_json.dumps(header))
    p_seg = b64encode(bytes(payload)) if b64 else bytes(payload)
    signature = signer(h_seg + b"." + p_seg)
    body = b"" if detached else p_seg
    return (h_seg + b"." + body + b"." + b64encode(signature)).decode("ascii")


def verify(
    token: str | bytes,
    key: Key | KeySet,
    algorithms: Iterable[str] | None = None,
    *,
    detached_payload: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedJWS:
    """Verify a compact JWS and return its header and payload.

    The allowed algorithms are each key's bound ``alg`` intersected with ``algorithms``.

    Raises:
        InvalidToken: a subclass saying why (malformed, algorithm, key, signature, crit).
        ConfigurationError: an unbound key and no ``algorithms``.
    """
    allowed = _allowed(algorithms)
    parsed, h_seg, p_seg, s_seg, token = split_compact(token, limits)
    check_crit(parsed.header, _UNDERSTOOD)
    pairs = resolve_verifier(key, parsed.algorithm, parsed.kid, allowed)
    signature = _signature(s_seg)
    if detached_payload is not None:
        if p_seg:
            raise MalformedTokenError("a detached JWS must have an empty payload segment")
        payload = bytes(detached_payload)
        body = b64encode(payload) if parsed.b64 else payload
        signing_input = h_seg.encode("ascii") + b"." + body
    else:
        if not parsed.b64:
            raise MalformedTokenError("a compact JWS with b64=false must be verified detached")
        signing_input = token[: len(h_seg) + 1 + len(p_seg)].encode("ascii")
        payload = _payload(p_seg)
    used = _check(pairs, signing_input, signature)
    return VerifiedJWS(dict(parsed.header), payload, used)


def split_compact(token: str | bytes, limits: Limits) -> tuple[ParsedHeader, str, str, str, str]:
    """Check a compact JWS's shape and parse and check its protected header.

    Raises:
        MalformedTokenError: size, characters, segment count, header encoding.
        AlgorithmNotAllowedError: ``alg`` is not a JWS algorithm Tessera implements.
    """
    h_seg, p_seg, s_seg, token = split_segments(token, limits)
    return parse_protected(h_seg, limits.max_json_depth), h_seg, p_seg, s_seg, token


def _payload(segment: str) -> bytes:
    try:
        return b64decode_alphabet_checked(segment)
    except ValueError:
        raise MalformedTokenError("payload is not canonical base64url") from None


def _signature(segment: str) -> bytes:
    try:
        return b64decode_alphabet_checked(segment)
    except ValueError:
        raise MalformedTokenError("signature is not canonical base64url") from None


# -- JSON serialisation (RFC 7515 sec. 7.2) -------------------------------------------------


def sign_json(
    payload: bytes,
    signers: Sequence[Signer],
    *,
    flattened: bool = False,
    detached: bool = False,
    b64: bool = True,
) -> dict[str, Any]:
    """Sign ``payload`` once per :class:`Signer` and return the JSON serialisation.

    ``flattened=True`` (one signer only) gives the flattened form (RFC 7515 sec. 7.2.2).

    Raises:
        ConfigurationError: no signers, several for a flattened JWS, clashing headers.
    """
    if not isinstance(payload, bytes | bytearray):
        raise ConfigurationError("payload must be bytes")
    if not signers:
        raise ConfigurationError("at least one signer is needed")
    if flattened and len(signers) != 1:
        raise ConfigurationError("a flattened JWS has exactly one signature")
    body = b64encode(bytes(payload)) if b64 else bytes(payload)
    entries = []
    for signer in signers:
        algorithm = _resolve_signing(signer.key, signer.alg)
        sign_fn = signer.key._signer(algorithm)
        protected = _protected_header(signer.key, algorithm, signer.protected, b64)
        unprotected = dict(signer.header or {})
        if "kid" in unprotected and "kid" not in (signer.protected or {}):
            protected.pop("kid", None)  # the caller chose to send kid unprotected
        if protected.keys() & unprotected.keys():
            raise ConfigurationError("protected and unprotected headers must be disjoint")
        h_seg = b64encode(_json.dumps(protected))
        entry: dict[str, Any] = {
            "protected": h_seg.decode("ascii"),
            "signature": b64encode(sign_fn(h_seg + b"." + body)).decode("ascii"),
        }
        if unprotected:
            entry["header"] = unprotected
        entries.append(entry)
    out: dict[str, Any] = {}
    if not detached:
        out["payload"] = body.decode("utf-8") if not b64 else body.decode("ascii")
    if flattened:
        out.update(entries[0])
    else:
        out["signatures"] = entries
    return out


def verify_json(
    jws: Mapping[str, Any] | str | bytes,
    key: Key | KeySet,
    algorithms: Iterable[str] | None = None,
    *,
    detached_payload: bytes | None = None,
    require_all: bool = False,
    allow_unprotected_alg: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedJWS:
    """Verify a general or flattened JWS JSON serialisation.

    Returns the first signature that verifies, with its own headers (never merged across
    signatures, attack catalogue #20). ``require_all=True`` demands that every signature
    verifies. ``alg`` must be in the protected header unless ``allow_unprotected_alg=True``
    (RFC 8725bis; RFC 7520 sec. 4.7 shows the unprotected form).

    Raises:
        InvalidToken: a subclass saying why.
    """
    allowed = _allowed(algorithms)
    obj = load_serialisation(jws, limits, "JWS")
    if "signatures" in obj:
        if "signature" in obj or "protected" in obj or "header" in obj:
            raise MalformedTokenError("general JWS must not also have flattened members")
        entries = obj["signatures"]
        if not isinstance(entries, list) or not entries:
            raise MalformedTokenError("signatures must be a non-empty array")
    elif "signature" in obj:
        entries = [{k: obj[k] for k in ("protected", "header", "signature") if k in obj}]
    else:
        raise MalformedTokenError("not a JWS JSON serialisation")
    raw_payload = obj.get("payload")
    if detached_payload is not None:
        if raw_payload not in (None, ""):
            raise MalformedTokenError("a detached JWS must not carry a payload")
    elif not isinstance(raw_payload, str):
        raise MalformedTokenError("payload must be a string")
    parsed_entries = [_parse_entry(entry, allow_unprotected_alg, limits) for entry in entries]
    if len({entry[2].b64 for entry in parsed_entries}) > 1:
        # RFC 7797 sec. 3: one payload member must mean the same bytes for every signature.
        raise MalformedTokenError("all signatures must use the same b64 value")
    first_error: InvalidToken | None = None
    result: VerifiedJWS | None = None
    for index, (protected, unprotected, parsed, h_seg, s_seg) in enumerate(parsed_entries):
        try:
            pairs = resolve_verifier(key, parsed.algorithm, parsed.kid, allowed)
            if detached_payload is not None:
                payload = bytes(detached_payload)
                body = b64encode(payload) if parsed.b64 else payload
            elif parsed.b64:
                if not isinstance(raw_payload, str) or not is_b64url(raw_payload):
                    raise MalformedTokenError("payload is not base64url")
                body = raw_payload.encode("ascii")
                payload = _payload(raw_payload)
            else:
                body = payload = str(raw_payload).encode("utf-8")
            used = _check(pairs, h_seg.encode("ascii") + b"." + body, _signature(s_seg))
        except (SignatureError, KeyNotFoundError, AlgorithmNotAllowedError) as exc:
            if require_all:
                raise
            first_error = first_error or exc
            continue
        if result is None:
            result = VerifiedJWS(protected, payload, used, index, unprotected)
    if result is None:
        if first_error is None:  # unreachable: every entry either verified or failed
            raise SignatureError("signature verification failed")
        raise first_error
    return result


def _parse_entry(
    entry: Any, allow_unprotected_alg: bool, limits: Limits
) -> tuple[dict[str, Any], dict[str, Any], ParsedHeader, str, str]:
    """Check one signature object's headers (RFC 7515 sec. 7.2.1) before any crypto."""
    if not isinstance(entry, dict):
        raise MalformedTokenError("each signature must be an object")
    h_seg = entry.get("protected", "")
    unprotected = entry.get("header", {})
    s_seg = entry.get("signature")
    if not isinstance(h_seg, str) or not isinstance(s_seg, str):
        raise MalformedTokenError("protected and signature must be strings")
    if not isinstance(unprotected, dict):
        raise MalformedTokenError("header must be an object")
    if not is_b64url(h_seg) or not is_b64url(s_seg):
        raise MalformedTokenError("protected header and signature must be base64url")
    protected: dict[str, Any] = decode_segment(h_seg, limits.max_json_depth) if h_seg else {}
    if protected.keys() & unprotected.keys():
        raise MalformedTokenError("protected and unprotected headers must be disjoint")
    for name in ("crit", "b64"):
        if name in unprotected:
            raise UnsupportedHeaderError(f"{name} must be in the protected header")
    if "alg" in unprotected and not allow_unprotected_alg:
        raise UnsupportedHeaderError("alg must be in the protected header")
    parsed = check_header({**protected, **unprotected})
    check_crit(protected, _UNDERSTOOD)
    return protected, dict(unprotected), parsed, h_seg, s_seg
