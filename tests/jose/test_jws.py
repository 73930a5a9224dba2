"""JWS: compact and JSON serialisations, detached and unencoded payloads, crit handling."""

import json
from typing import Any

import pytest

import tessera
from tessera import jws
from tessera.jose._b64 import b64encode_str


@pytest.fixture(scope="module")
def hs() -> tessera.Key:
    return tessera.Key.from_secret(b"s" * 32, "HS256", kid="hs")


@pytest.fixture(scope="module")
def ec() -> tessera.Key:
    return tessera.Key.generate("ES256", kid="ec")


def test_compact_round_trip_returns_header_payload_and_key(hs: tessera.Key) -> None:
    result = jws.verify(jws.sign(b"payload", hs, headers={"cty": "text/plain"}), hs)
    assert result.payload == b"payload"
    assert result.header == {"alg": "HS256", "kid": "hs", "cty": "text/plain"}
    assert result.key is hs


def test_detached_payload_verifies_only_with_the_same_content(ec: tessera.Key) -> None:
    token = jws.sign(b"doc", ec, detached=True)
    assert token.split(".")[1] == ""
    assert jws.verify(token, ec.public(), detached_payload=b"doc").payload == b"doc"
    with pytest.raises(tessera.SignatureError):
        jws.verify(token, ec.public(), detached_payload=b"other")


def test_unencoded_payload_needs_crit_and_detached_form(hs: tessera.Key) -> None:
    token = jws.sign(b"$.02", hs, b64=False, detached=True)
    header, _, _ = token.split(".")
    assert json.loads(tessera.jose._b64.b64decode(header)) == {
        "alg": "HS256",
        "kid": "hs",
        "b64": False,
        "crit": ["b64"],
    }
    assert jws.verify(token, hs, detached_payload=b"$.02").payload == b"$.02"
    with pytest.raises(tessera.ConfigurationError):
        jws.sign(b"x", hs, b64=False)
    with pytest.raises(tessera.MalformedTokenError):
        jws.verify(token, hs)


def _hs(header: dict[str, Any], payload: bytes, key: tessera.Key) -> str:
    from tessera.jose.jwa import JWS_ALGORITHMS

    h = b64encode_str(json.dumps(header).encode())
    p = b64encode_str(payload)
    sig = key._signer(JWS_ALGORITHMS["HS256"])(f"{h}.{p}".encode())
    return f"{h}.{p}.{b64encode_str(sig)}"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256", "crit": ["x-policy"], "x-policy": "mfa"},
        {"alg": "HS256", "crit": []},
        {"alg": "HS256", "crit": ["alg"]},
        {"alg": "HS256", "crit": ["exp"]},
        {"alg": "HS256", "crit": "b64", "b64": False},
        {"alg": "HS256", "crit": ["b64", "b64"], "b64": True},
        {"alg": "HS256", "b64": False},
    ],
    ids=["unknown", "empty", "registered", "absent", "not-a-list", "duplicate", "b64-no-crit"],
)
def test_crit_is_enforced(hs: tessera.Key, header: dict[str, Any]) -> None:
    with pytest.raises(tessera.InvalidToken):
        jws.verify(_hs(header, b"x", hs), hs)


def test_embedded_jwk_is_never_used_as_the_key(ec: tessera.Key) -> None:
    attacker = tessera.Key.generate("ES256", kid="ec")
    token = jws.sign(b"x", attacker, headers={"jwk": attacker.public().to_jwk()})
    with pytest.raises(tessera.SignatureError):
        jws.verify(token, ec.public())


def test_general_json_with_several_signatures_reports_which_verified(
    hs: tessera.Key, ec: tessera.Key
) -> None:
    obj = jws.sign_json(
        b"hello",
        [jws.Signer(ec, header={"kid": "ec"}), jws.Signer(hs, protected={"cty": "x"})],
    )
    assert len(obj["signatures"]) == 2
    by_hs = jws.verify_json(obj, hs)
    assert (by_hs.index, by_hs.payload, by_hs.header["alg"]) == (1, b"hello", "HS256")
    by_ec = jws.verify_json(json.dumps(obj), ec.public())
    assert (by_ec.index, by_ec.unprotected) == (0, {"kid": "ec"})
    with pytest.raises(tessera.InvalidToken):
        jws.verify_json(obj, ec.public(), require_all=True)


def test_flattened_json_round_trip(ec: tessera.Key) -> None:
    obj = jws.sign_json(b"flat", [jws.Signer(ec)], flattened=True)
    assert set(obj) == {"payload", "protected", "signature"}
    assert jws.verify_json(obj, ec.public()).payload == b"flat"


def test_json_rejects_alg_in_unprotected_header_by_default(hs: tessera.Key) -> None:
    good = jws.sign_json(b"x", [jws.Signer(hs)], flattened=True)
    sig_input_header = b64encode_str(b"{}")
    tampered = {
        "payload": good["payload"],
        "protected": good["protected"],
        "header": {"alg": "HS512"},
        "signature": good["signature"],
    }
    with pytest.raises(tessera.MalformedTokenError, match="disjoint"):
        jws.verify_json(tampered, hs)
    only_unprotected = {
        "payload": good["payload"],
        "protected": sig_input_header,
        "header": {"alg": "HS256"},
        "signature": good["signature"],
    }
    with pytest.raises(tessera.UnsupportedHeaderError):
        jws.verify_json(only_unprotected, hs)


def test_json_rejects_crit_outside_the_protected_header(hs: tessera.Key) -> None:
    good = jws.sign_json(b"x", [jws.Signer(hs)], flattened=True)
    bad = dict(good, header={"crit": ["x"]})
    with pytest.raises(tessera.UnsupportedHeaderError):
        jws.verify_json(bad, hs)


@pytest.mark.parametrize(
    "obj",
    [
        {"payload": "eA", "signatures": []},
        {"payload": "eA", "signatures": "x"},
        {"payload": 1, "signature": "AA", "protected": "e30"},
        {"payload": "eA"},
        [],
        "not json",
    ],
)
def test_json_rejects_malformed_structures(hs: tessera.Key, obj: Any) -> None:
    with pytest.raises(tessera.MalformedTokenError):
        jws.verify_json(obj, hs)


def test_signature_length_must_be_exact(ec: tessera.Key) -> None:
    token = jws.sign(b"x", ec)
    h, p, s = token.split(".")
    sig = tessera.jose._b64.b64decode(s)
    for bad in (sig[:-1], sig + b"\0", b"\0" + sig, b""):
        with pytest.raises(tessera.SignatureError):
            jws.verify(f"{h}.{p}.{b64encode_str(bad)}", ec.public())


def test_verify_accepts_bytes_tokens(hs: tessera.Key) -> None:
    assert jws.verify(jws.sign(b"x", hs).encode(), hs).payload == b"x"


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", " a.b.c", "a.b.c\n", "é.b.c", ".e30.x"])
def test_rejects_malformed_compact_shapes(hs: tessera.Key, token: str) -> None:
    with pytest.raises(tessera.MalformedTokenError):
        jws.verify(token, hs)
