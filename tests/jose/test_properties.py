"""Property and fuzz tests (hypothesis): round trips for every algorithm, and mutated or random
input that may only ever raise the documented error types.

The fuzz invariant: a changed token is rejected with an :class:`~tessera.InvalidToken`
subclass; it is accepted only when the "mutation" left the string as it was, and then with
the same claims. Nothing else (TypeError, ValueError, RecursionError...) may escape.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tessera
from tessera import InvalidKey, InvalidToken, Key, KeySet, MalformedTokenError

NOW = 1_750_000_000
FAR_FUTURE = 4102444800
MAX_DEPTH = tessera.Limits().max_json_depth
REGISTERED = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# (alg, crv) for every JWS algorithm Tessera implements.
ALGS = [
    ("HS256", None), ("HS384", None), ("HS512", None),
    ("RS256", None), ("RS384", None), ("RS512", None),
    ("PS256", None), ("PS384", None), ("PS512", None),
    ("ES256", None), ("ES384", None), ("ES512", None), ("ES256K", None),
    ("EdDSA", None), ("EdDSA", "Ed448"), ("Ed25519", None), ("Ed448", None),
]  # fmt: skip
ALG_IDS = [f"{a}-{c}" if c else a for a, c in ALGS]
FUZZ_ALGS = [("HS256", None), ("RS256", None), ("PS256", None), ("ES256", None),
             ("ES512", None), ("EdDSA", None), ("Ed448", None)]  # fmt: skip

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(SETTINGS, max_examples=15)
FUZZ = settings(SETTINGS, max_examples=200)


def verifier(key: Key) -> Key:
    return key if key.kty == "oct" else key.public()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- JSON strategies ---------------------------------------------------------------------------

# Integers within what JSON peers agree on, plus a few beyond 2**53 that Python keeps exact.
json_ints = st.integers(min_value=-(2**63), max_value=2**63)
json_floats = st.floats(allow_nan=False, allow_infinity=False)
json_text = st.text(max_size=20)  # every code point except lone surrogates
json_scalars = st.none() | st.booleans() | json_ints | json_floats | json_text


def json_values(depth: int) -> st.SearchStrategy[Any]:
    """JSON values nested at most ``depth`` levels of arrays/objects."""
    if depth == 0:
        return json_scalars
    inner = json_values(depth - 1)
    return (
        json_scalars | st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4)
    )


private_claim_names = json_text.filter(lambda name: name not in REGISTERED)
registered_claims = st.fixed_dictionaries(
    {},
    optional={
        "iss": json_text,
        "sub": json_text,
        "jti": json_text,
        "aud": json_text | st.lists(json_text, min_size=1, max_size=3),
        "exp": st.integers(NOW + 1, FAR_FUTURE) | st.floats(NOW + 1.0, float(FAR_FUTURE)),
        "nbf": st.integers(0, NOW),
        "iat": st.integers(0, NOW),
    },
)


@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Valid registered claims plus arbitrary private claims, within the depth limit."""
    claims = draw(registered_claims)
    claims.update(draw(st.dictionaries(private_claim_names, json_values(4), max_size=6)))
    return claims


def audience_of(claims: dict[str, Any]) -> str | None:
    aud = claims.get("aud")
    return aud if isinstance(aud, str) or aud is None else aud[0]


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "crv"), ALGS, ids=ALG_IDS)
@ROUND_TRIP
@given(claims=claim_sets())
def test_every_algorithm_round_trips_json_claims(
    alg: str, crv: str | None, claims: dict[str, Any], make_key: Any
) -> None:
    """decode(encode(claims)) == claims for any JSON claims set, with every algorithm."""
    key = make_key(alg, crv)
    token = tessera.encode(claims, key)
    decoded = tessera.decode(
        token, verifier(key), audience=audience_of(claims), require=(), now=NOW
    )
    assert decoded == claims
    assert tessera.decode_unverified(token)[1] == claims


@SETTINGS
@given(depth=st.integers(1, MAX_DEPTH + 8), kind=st.sampled_from(["[", "{"]))
def test_claims_nesting_is_accepted_up_to_the_depth_limit(
    depth: int, kind: str, make_key: Any
) -> None:
    """A claims set nested ``depth`` deep decodes iff depth <= max_json_depth (attack #34)."""
    value: Any = 0
    for _ in range(depth - 1):
        value = [value] if kind == "[" else {"a": value}
    claims = {"v": value} if depth > 1 else {}
    key = make_key("HS256")
    token = tessera.encode({**claims, "exp": FAR_FUTURE}, key)
    if depth <= MAX_DEPTH:
        assert tessera.decode(token, key, now=NOW)["v" if depth > 1 else "exp"] is not None
    else:
        with pytest.raises(MalformedTokenError):
            tessera.decode(token, key, now=NOW)
        with pytest.raises(MalformedTokenError):
            tessera.decode_unverified(token)


@SETTINGS
@given(
    case=st.sampled_from(ALGS),
    payload=st.binary(max_size=300),
    mode=st.sampled_from(["attached", "detached", "unencoded-detached"]),
)
def test_jws_round_trips_arbitrary_bytes(
    case: tuple[str, str | None], payload: bytes, mode: str, make_key: Any
) -> None:
    """jws.verify(jws.sign(payload)) gives the payload back: attached, detached, b64=false."""
    key = make_key(*case)
    detached = mode != "attached"
    b64 = mode != "unencoded-detached"
    token = tessera.jws.sign(payload, key, detached=detached, b64=b64)
    header_seg, payload_seg, _ = token.split(".")
    header = json.loads(b64u_decode(header_seg))
    if detached:
        assert payload_seg == ""
        result = tessera.jws.verify(token, verifier(key), detached_payload=payload)
    else:
        assert b64u_decode(payload_seg) == payload
        result = tessera.jws.verify(token, verifier(key))
    assert result.payload == payload
    assert result.header == header
    assert (header.get("b64", True), "b64" in header.get("crit", [])) == (b64, not b64)


@SETTINGS
@given(
    case=st.sampled_from(ALGS),
    payload=st.binary(min_size=1, max_size=64),
    other=st.binary(min_size=1, max_size=64),
    b64=st.booleans(),
)
def test_detached_jws_rejects_any_other_payload(
    case: tuple[str, str | None], payload: bytes, other: bytes, b64: bool, make_key: Any
) -> None:
    """A detached signature verifies its payload and no other one."""
    key = make_key(*case)
    token = tessera.jws.sign(payload, key, detached=True, b64=b64)
    if other != payload:
        with pytest.raises(tessera.SignatureError):
            tessera.jws.verify(token, verifier(key), detached_payload=other)


# -- token mutations ---------------------------------------------------------------------------

_NOISE = st.text(alphabet=B64_ALPHABET + '.=+/ \t\r\n\x00\\"{}é€\U0001f600', min_size=1, max_size=8)


def _segment_variants(segment: str) -> list[str]:
    """The same bytes written differently: padding, standard alphabet, whitespace, stray bits."""
    out = [segment + "\n", segment[:1] + " " + segment[1:], segment + "=="]
    try:
        raw = b64u_decode(segment)
    except ValueError:  # an earlier mutation already broke it
        return out
    std = base64.b64encode(raw).decode("ascii")
    out += [std, std.rstrip("="), b64u(raw) + "=" * (-len(segment) % 4) + "="]
    if len(segment) % 4 in (2, 3) and segment[-1] in B64_ALPHABET:
        out.append(segment[:-1] + B64_ALPHABET[B64_ALPHABET.index(segment[-1]) | 1])
    return out


@st.composite
def one_mutation(draw: st.DrawFn, token: str) -> str | bytes:
    """One change to ``token``: byte flips, insertions, deletions, segment games, re-encodings."""
    kind = draw(
        st.sampled_from(
            ["flip-byte", "flip-char", "insert", "delete", "swap", "reencode", "truncate",
             "duplicate", "drop-segment", "replace-segment", "random", "case"]
        )
    )  # fmt: skip
    n = len(token)
    parts = token.split(".")
    if kind == "flip-byte":
        raw = bytearray(token.encode("utf-8", "surrogatepass"))
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] ^= draw(st.integers(1, 255))
        return bytes(raw)
    if kind == "flip-char":
        i = draw(st.integers(0, n - 1))
        return token[:i] + chr(ord(token[i]) ^ draw(st.integers(1, 0x7F))) + token[i + 1 :]
    if kind == "insert":
        i = draw(st.integers(0, n))
        return token[:i] + draw(_NOISE | st.text(min_size=1, max_size=4)) + token[i:]
    if kind == "delete":
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i + 1, min(n, i + 16)))
        return token[:i] + token[j:]
    if kind == "swap":
        return ".".join(draw(st.permutations(parts)))
    if kind == "reencode":
        i = draw(st.integers(0, len(parts) - 1))
        if not parts[i]:
            return token
        parts[i] = draw(st.sampled_from(_segment_variants(parts[i])))
        return ".".join(parts)
    if kind == "truncate":
        return token[: draw(st.integers(0, n - 1))]
    if kind == "duplicate":
        i = draw(st.integers(0, len(parts) - 1))
        j = draw(st.integers(0, len(parts)))
        return ".".join([*parts[:j], parts[i], *parts[j:]])
    if kind == "drop-segment":
        i = draw(st.integers(0, len(parts) - 1))
        return ".".join(parts[:i] + parts[i + 1 :])
    if kind == "replace-segment":
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] = draw(st.text(alphabet=B64_ALPHABET, max_size=80))
        return ".".join(parts)
    if kind == "case":
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i + 1, min(n, i + 8)))
        return token[:i] + token[i:j].swapcase() + token[j:]
    return draw(
        st.text(max_size=120)
        | st.from_regex(r"[A-Za-z0-9_\-]{0,60}(\.[A-Za-z0-9_\-=]{0,60}){0,5}", fullmatch=True)
    )


@st.composite
def mutated(draw: st.DrawFn, token: str) -> str | bytes:
    """One to three successive mutations of ``token``."""
    current: str | bytes = token
    for _ in range(draw(st.integers(1, 3))):
        text = current.decode("latin-1") if isinstance(current, bytes) else current
        if not text:
            break
        current = draw(one_mutation(text))
    return current


json_for_headers = json_values(2)


ODD_VALUES = st.one_of(
    json_for_headers,
    st.lists(json_text, min_size=1, max_size=2),
    st.dictionaries(json_text, json_text, min_size=1, max_size=2),
    st.integers(),
    st.text(min_size=250, max_size=300),
)
HEADER_EDITS = {
    "alg": st.sampled_from(["none", "None", "HS256", "RS256", "PS256", "ES256", "ES512",
                            "EdDSA", "Ed448", "hs256", "", "RSA1_5", "dir"]) | ODD_VALUES,
    "kid": json_text | ODD_VALUES,
    "typ": st.sampled_from(["JWT", "at+jwt", "JOSE", ""]) | ODD_VALUES,
    "cty": st.sampled_from(["JWT", "json"]) | ODD_VALUES,
    "crit": st.lists(st.sampled_from(["b64", "exp", "alg", "x", "kid"]), max_size=3)
    | ODD_VALUES,
    "b64": st.booleans() | ODD_VALUES,
    "jwk": ODD_VALUES,
    "jku": st.just("https://attacker.example/jwks") | ODD_VALUES,
    "x5c": ODD_VALUES,
    "zip": st.just("DEF") | ODD_VALUES,
    "enc": st.just("A128GCM") | ODD_VALUES,
}  # fmt: skip


@st.composite
def forged_header(draw: st.DrawFn, header: dict[str, Any]) -> dict[str, Any]:
    """The real protected header with members changed, retyped, removed or added."""
    forged = dict(header)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(HEADER_EDITS)))
        if name in forged and draw(st.booleans()):
            del forged[name]
        else:
            forged[name] = draw(HEADER_EDITS[name])
    if draw(st.booleans()):
        forged.update(draw(st.dictionaries(json_text, json_for_headers, max_size=2)))
    return forged


@st.composite
def token_variants(draw: st.DrawFn, token: str) -> str | bytes:
    """A mutated token, or the token with a forged header or forged claims segment."""
    choice = draw(st.integers(0, 6))
    h, p, s = token.split(".")
    if choice <= 1:
        header = draw(forged_header(json.loads(b64u_decode(h))))
        forged = b64u(json.dumps(header, ensure_ascii=draw(st.booleans())).encode())
        return ".".join([forged, p, s])
    if choice == 2:
        text = draw(json_values(3).map(json.dumps) | tricky_json(h if draw(st.booleans()) else p))
        return ".".join([h, _json_segment(text), s])
    if choice == 3:
        return ".".join([_json_segment(draw(tricky_json(h))), p, s])
    return draw(mutated(token))


REFUSED_JSON: dict[str, Callable[[str], str]] = {
    "escaped-lone-surrogate": lambda real: '{"a":"\\ud800"}',
    "escaped-reversed-pair": lambda real: '{"a":"\\udc00\\ud800"}',
    "escaped-surrogate-name": lambda real: '{"\\udfff":1}',
    "raw-surrogate": lambda real: '{"a":"\ud800"}',
    "duplicate-member": lambda real: '{"a":1,"a":2}',
    "duplicate-members": lambda real: "{" + real[1:-1] + "," + real[1:-1] + "}",
    "nan": lambda real: '{"a":NaN}',
    "infinity": lambda real: '{"a":Infinity}',
    "minus-infinity": lambda real: '{"a":-Infinity}',
    "float-overflow": lambda real: '{"a":1e400}',
    "huge-integer": lambda real: '{"a":' + "1" * 5000 + "}",
    "bom": lambda real: "\ufeff" + real,
    "trailing-garbage": lambda real: real + " x",
    "two-objects": lambda real: real + real,
    "too-deep-arrays": lambda real: '{"a":' + "[" * 40 + "]" * 40 + "}",
    "single-quotes": lambda real: real.replace('"', "'"),
    "trailing-comma": lambda real: "{" + real[1:-1] + ",}",
    "not-an-object-null": lambda real: "null",
    "not-an-object-array": lambda real: "[]",
    "not-an-object-string": lambda real: '"x"',
    "empty": lambda real: "",
    "latin1": lambda real: '{"a":"\xe9"}',
}
ACCEPTED_JSON: dict[str, Callable[[str], str]] = {
    "leading-space": lambda real: " " + real,
    "trailing-newline": lambda real: real + "\n",
    "escaped-nul": lambda real: '{"a":"\\u0000"}',
    "escaped-pair": lambda real: '{"a":"\\ud83d\\ude00"}',
}


def _json_segment(text: str) -> str:
    # latin-1 for the one case that must not be UTF-8; surrogatepass lets raw surrogates through
    raw = text.encode("latin-1") if "\xe9" in text else text.encode("utf-8", "surrogatepass")
    return b64u(raw)


@st.composite
def tricky_json(draw: st.DrawFn, segment: str) -> str:
    """JSON texts a strict parser must refuse (or get right), built around a real segment."""
    real = b64u_decode(segment).decode("utf-8")
    make = draw(st.sampled_from([*REFUSED_JSON.values(), *ACCEPTED_JSON.values()]))
    return make(real)


def _as_text(value: str | bytes) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None


@pytest.fixture(scope="module")
def fuzz_tokens(make_key: Any) -> dict[tuple[str, str | None], tuple[str, dict[str, Any], Key]]:
    """One valid token per fuzzed algorithm, with its claims and signing key."""
    claims: dict[str, Any] = {
        "sub": "alice",
        "exp": FAR_FUTURE,
        "name": "Zoë",
        "n": [1, {"a": None}],
    }
    out: dict[tuple[str, str | None], tuple[str, dict[str, Any], Key]] = {}
    for case in FUZZ_ALGS:
        key = make_key(*case)
        out[case] = (tessera.encode(claims, key), claims, key)
    return out


def _decode_only_rejects_or_returns_same(
    decode: Callable[[str | bytes], dict[str, Any]],
    candidate: str | bytes,
    token: str,
    claims: dict[str, Any],
) -> None:
    try:
        result = decode(candidate)
    except InvalidToken:
        return
    assert _as_text(candidate) == token, "a changed token was accepted"
    assert result == claims


@pytest.mark.parametrize("case", FUZZ_ALGS, ids=[f"{a}-{c}" if c else a for a, c in FUZZ_ALGS])
@FUZZ
@given(data=st.data())
def test_mutated_token_is_rejected_with_invalid_token_only(
    case: tuple[str, str | None], data: st.DataObject, fuzz_tokens: Any
) -> None:
    """Any mutation raises an InvalidToken subclass, or left the token unchanged (attack #26)."""
    token, claims, key = fuzz_tokens[case]
    candidate = data.draw(token_variants(token))
    keys = KeySet([verifier(key)])

    def by_key(value: str | bytes) -> dict[str, Any]:
        return tessera.decode(value, verifier(key), now=NOW)

    def by_keyset(value: str | bytes) -> dict[str, Any]:
        return tessera.decode(value, keys, now=NOW)

    def by_jws(value: str | bytes) -> dict[str, Any]:
        result = tessera.jws.verify(value, verifier(key))
        return dict(json.loads(result.payload))

    for decode in (by_key, by_keyset, by_jws):
        _decode_only_rejects_or_returns_same(decode, candidate, token, claims)


def _single_edits(token: str) -> set[str]:
    """Every one-character deletion, substitution (incl. the neighbouring base64 character,
    which differs in the lowest bit) and insertion, plus each segment re-encoded."""
    out: set[str] = set()
    for i, ch in enumerate(token):
        out.add(token[:i] + token[i + 1 :])
        subs = "=+/ .\n"
        if ch in B64_ALPHABET:
            subs += B64_ALPHABET[B64_ALPHABET.index(ch) ^ 1]
        out.update(token[:i] + c + token[i + 1 :] for c in subs)
    for i in range(len(token) + 1):
        out.update(token[:i] + c + token[i:] for c in "A=.")
    parts = token.split(".")
    for i, part in enumerate(parts):
        out.update(".".join([*parts[:i], v, *parts[i + 1 :]]) for v in _segment_variants(part))
    out.discard(token)
    return out


@pytest.mark.parametrize("case", FUZZ_ALGS, ids=[f"{a}-{c}" if c else a for a, c in FUZZ_ALGS])
def test_every_single_character_edit_is_rejected(
    case: tuple[str, str | None], fuzz_tokens: Any
) -> None:
    """Exhaustive sweep: no one-character edit or re-encoding of a valid token is accepted."""
    token, _, key = fuzz_tokens[case]
    keys = KeySet([verifier(key)])
    for candidate in sorted(_single_edits(token)):
        for target in (verifier(key), keys):
            with pytest.raises(InvalidToken):
                tessera.decode(candidate, target, now=NOW)


# PS256 shares the RS256 modulus (and so its kid): it cannot sit in the same key set.
KEYSET_ALGS = [c for c in FUZZ_ALGS if c[0] not in ("HS256", "PS256")]


@SETTINGS
@given(data=st.data())
def test_mutated_token_is_rejected_with_allow_list_and_asymmetric_keyset(
    data: st.DataObject, fuzz_tokens: Any, make_key: Any
) -> None:
    """Same invariant through an allow-list and a key set of several asymmetric keys."""
    token, claims, _ = fuzz_tokens[data.draw(st.sampled_from(KEYSET_ALGS))]
    keys = KeySet([make_key(*c).public() for c in KEYSET_ALGS])
    allowed = [c[0] for c in FUZZ_ALGS]
    candidate = data.draw(token_variants(token))

    def decode(value: str | bytes) -> dict[str, Any]:
        return tessera.decode(value, keys, algorithms=allowed, now=NOW)

    _decode_only_rejects_or_returns_same(decode, candidate, token, claims)


@SETTINGS
@given(data=st.data())
def test_decode_unverified_raises_only_malformed_token_error(
    data: st.DataObject, fuzz_tokens: Any
) -> None:
    """decode_unverified parses strictly: any failure is MalformedTokenError (an InvalidToken)."""
    case = data.draw(st.sampled_from(FUZZ_ALGS))
    token, claims, _ = fuzz_tokens[case]
    candidate = data.draw(token_variants(token))
    try:
        header, parsed = tessera.decode_unverified(candidate)
    except MalformedTokenError:
        return
    text = _as_text(candidate)
    assert text is not None
    assert isinstance(header, dict)
    assert isinstance(parsed, dict)
    # whatever is returned is real Unicode JSON: no lone surrogates, no NaN
    json.dumps([header, parsed], ensure_ascii=False, allow_nan=False).encode("utf-8")
    h, p, _ = text.split(".")
    assert set(h + p) <= set(B64_ALPHABET)
    original_h, original_p, _ = token.split(".")
    if p == original_p:
        assert parsed == claims
    if h == original_h:
        assert header == json.loads(b64u_decode(original_h))


@pytest.mark.parametrize("name", sorted(REFUSED_JSON))
def test_strict_json_is_enforced_in_header_and_claims(
    name: str, fuzz_tokens: Any, make_key: Any
) -> None:
    """Attacks #31, #33, #34: non-strict JSON is refused in either segment, even when signed."""
    token, _, key = fuzz_tokens[("HS256", None)]
    h, p, s = token.split(".")
    header_text = REFUSED_JSON[name](b64u_decode(h).decode())
    claims_text = REFUSED_JSON[name](b64u_decode(p).decode())
    for candidate in (
        ".".join([_json_segment(header_text), p, s]),
        ".".join([h, _json_segment(claims_text), s]),
    ):
        with pytest.raises(MalformedTokenError):
            tessera.decode_unverified(candidate)
        with pytest.raises(InvalidToken):
            tessera.decode(candidate, key, now=NOW)
    # correctly signed, so only the claims parser stands between the bytes and the caller
    raw = claims_text.encode("latin-1" if name == "latin1" else "utf-8", "surrogatepass")
    signed = tessera.jws.sign(raw, key)
    with pytest.raises(MalformedTokenError):
        tessera.decode(signed, key, now=NOW)


@pytest.mark.parametrize("name", sorted(ACCEPTED_JSON))
def test_valid_json_variants_are_accepted_when_signed(name: str, fuzz_tokens: Any) -> None:
    """Whitespace around the object and valid escapes are JSON: a signed token decodes."""
    token, _, key = fuzz_tokens[("HS256", None)]
    text = ACCEPTED_JSON[name](b64u_decode(token.split(".")[1]).decode())
    expected = json.loads(text)
    signed = tessera.jws.sign(text.encode(), key, headers={"typ": "JWT"})
    assert tessera.decode(signed, key, require=(), now=NOW) == expected
    assert tessera.decode_unverified(signed)[1] == expected


@SETTINGS
@given(value=st.text(max_size=200) | st.binary(max_size=200))
def test_random_input_never_escapes_the_error_hierarchy(value: str | bytes, make_key: Any) -> None:
    """Random strings and bytes: decode, decode_unverified and jws.verify raise InvalidToken."""
    key = make_key("ES256")
    for call in (
        lambda: tessera.decode(value, key.public(), now=NOW),
        lambda: tessera.decode_unverified(value),
        lambda: tessera.jws.verify(value, key.public()),
    ):
        with pytest.raises(InvalidToken):
            call()


# -- JWK and JWKS fuzzing ------------------------------------------------------------------------

JWK_SOURCES = [("RS256", None), ("ES256", None), ("ES384", None), ("ES512", None),
               ("ES256K", None), ("EdDSA", None), ("EdDSA", "Ed448"), ("ECDH-ES", "X25519"),
               ("ECDH-ES", "X448"), ("HS256", None)]  # fmt: skip
JWK_MEMBERS = ["kty", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k", "alg",
               "kid", "use", "key_ops", "oth", "ext", "x5c"]  # fmt: skip
ALG_NAMES = ["HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "ES384", "ES512", "ES256K",
             "EdDSA", "Ed25519", "Ed448", "ECDH-ES", "A128KW", "RSA-OAEP", "dir", "none",
             "RSA1_5", "es256", "A128GCM", "A256CBC-HS512", "A128GCMKW", "ECDH-ES+A128KW",
             "PBES2-HS256+A128KW"]  # fmt: skip
jwk_field_values = st.one_of(
    json_values(2),
    st.sampled_from(["RSA", "EC", "OKP", "oct", "P-256", "P-384", "P-521", "secp256k1",
                     "Ed25519", "Ed448", "X25519", "X448", "sig", "enc", "AQAB", "AA", ""]),
    st.sampled_from(ALG_NAMES),
    st.lists(st.sampled_from(["sign", "verify", "encrypt", "decrypt", "wrapKey", "x"]), max_size=4),
    st.text(alphabet=B64_ALPHABET + "=+/ ", max_size=90),
)  # fmt: skip


@pytest.fixture(scope="module")
def base_jwks(make_key: Any) -> list[dict[str, Any]]:
    """Valid JWKs of every type, public and private."""
    out = []
    for case in JWK_SOURCES:
        key = make_key(*case)
        out.append(key.to_jwk(private=True))
        if key.kty != "oct":
            out.append(key.to_jwk())
    return out


@st.composite
def mutated_jwk(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """A JWK with members removed, replaced, retyped, bit-flipped, or invented."""
    jwk: dict[str, Any] = dict(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["drop", "set", "flip", "swap-kty", "add"]))
        name = draw(st.sampled_from(sorted(jwk) or ["kty"])) if jwk else "kty"
        if kind == "drop" and name in jwk:
            del jwk[name]
        elif kind == "set":
            jwk[draw(st.sampled_from(JWK_MEMBERS))] = draw(jwk_field_values)
        elif kind == "flip" and isinstance(jwk.get(name), str) and jwk[name]:
            value = jwk[name]
            i = draw(st.integers(0, len(value) - 1))
            jwk[name] = value[:i] + draw(st.characters()) + value[i + 1 :]
        elif kind == "swap-kty":
            jwk["kty"] = draw(st.sampled_from(["RSA", "EC", "OKP", "oct"]))
        else:
            jwk[draw(json_text)] = draw(json_values(1))
    return jwk


@st.composite
def jwk_inputs(draw: st.DrawFn, bases: list[dict[str, Any]]) -> Any:
    """A mutated JWK (as a dict or JSON text), a random object, or random text and bytes."""
    choice = draw(st.integers(0, 9))
    if choice <= 5:
        jwk = draw(mutated_jwk(draw(st.sampled_from(bases))))
        return json.dumps(jwk) if choice == 5 else jwk
    if choice == 6:
        return draw(st.dictionaries(st.sampled_from(JWK_MEMBERS), jwk_field_values, max_size=8))
    if choice == 7:
        surrogate = st.integers(0xD800, 0xDFFF).map(chr)
        return draw(st.text(max_size=60) | st.lists(surrogate | st.characters()).map("".join))
    if choice == 8:
        return draw(st.binary(max_size=60))
    return draw(json_values(2).map(json.dumps))


@FUZZ
@given(data=st.data())
def test_key_from_jwk_raises_only_invalid_key(data: st.DataObject, base_jwks: Any) -> None:
    """Key.from_jwk on mutated or random input raises InvalidKey and nothing else.

    When it accepts, the key is usable and exports a JWK that loads back to the same key.
    """
    value = data.draw(jwk_inputs(base_jwks))
    alg = data.draw(st.none() | st.sampled_from(ALG_NAMES))
    try:
        key = Key.from_jwk(value, alg=alg)
    except InvalidKey:
        return
    exported = key.to_jwk(private=key.is_private)
    again = Key.from_jwk(exported)
    assert again.to_jwk(private=key.is_private) == exported
    assert again.thumbprint() == key.thumbprint()
    assert (again.alg, again.kid, again.use, again.key_ops) == (
        key.alg,
        key.kid,
        key.use,
        key.key_ops,
    )


@st.composite
def jwks_inputs(draw: st.DrawFn, bases: list[dict[str, Any]]) -> Any:
    """A JWK Set of valid and mutated keys, or a malformed set."""
    choice = draw(st.integers(0, 5))
    if choice <= 3:
        entries = draw(
            st.lists(st.sampled_from(bases) | mutated_jwk(draw(st.sampled_from(bases))), max_size=6)
        )
        jwks: Any = {"keys": entries}
        if choice == 3:
            jwks = json.dumps(jwks)
        return jwks
    if choice == 4:
        return {"keys": draw(json_values(2))}
    return draw(json_values(3))


@FUZZ
@given(data=st.data())
def test_keyset_from_jwks_raises_only_invalid_key(data: st.DataObject, base_jwks: Any) -> None:
    """KeySet.from_jwks raises InvalidKey only; when skipping, every entry is kept or recorded."""
    value = data.draw(jwks_inputs(base_jwks))
    skip_invalid = data.draw(st.booleans())
    try:
        keys = KeySet.from_jwks(value, skip_invalid=skip_invalid)
    except InvalidKey:
        return
    entries = (json.loads(value) if isinstance(value, str) else value)["keys"]
    assert len(keys) + len(keys.rejected) == len(entries)
    if not skip_invalid:
        assert keys.rejected == ()
    kids = [key.kid for key in keys if key.kid is not None]
    assert len(kids) == len(set(kids))
    assert len({key.kty == "oct" for key in keys}) <= 1
