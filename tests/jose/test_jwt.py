"""JWT encode/decode: the claims rules of RFC 7519 and RFC 8725, and key/algorithm binding."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tessera
from tessera.jose._b64 import b64encode_str
from tessera.jose.jwa import JWS_ALGORITHMS

NOW = 1_700_000_000
ISS = "https://issuer.example"
AUD = "https://api.example"


@pytest.fixture(scope="module")
def hs_key() -> tessera.Key:
    return tessera.Key.from_secret(b"k" * 32, "HS256", kid="hs")


@pytest.fixture(scope="module")
def es_key() -> tessera.Key:
    return tessera.Key.generate("ES256")


def claims(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": ISS, "sub": "alice", "aud": AUD, "iat": NOW, "exp": NOW + 60}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def decode(token: str, key: tessera.Key | tessera.KeySet, **kw: Any) -> dict[str, Any]:
    kw.setdefault("issuer", ISS)
    kw.setdefault("audience", AUD)
    kw.setdefault("now", NOW)
    return tessera.decode(token, key, **kw)


def forge(header: dict[str, Any], payload: bytes, key: tessera.Key) -> str:
    """Sign an arbitrary header/payload pair with the raw HMAC, bypassing encode's checks."""
    signing_input = b64encode_str(json.dumps(header).encode()) + "." + b64encode_str(payload)
    sig = key._signer(JWS_ALGORITHMS["HS256"])(signing_input.encode())
    return signing_input + "." + b64encode_str(sig)


def test_round_trip_returns_the_claims(hs_key: tessera.Key) -> None:
    assert decode(tessera.encode(claims(), hs_key), hs_key) == claims()


def test_header_carries_alg_typ_and_kid(hs_key: tessera.Key) -> None:
    header, _ = tessera.decode_unverified(tessera.encode(claims(), hs_key))
    assert header == {"alg": "HS256", "kid": "hs", "typ": "JWT"}


def test_typ_none_omits_the_header(hs_key: tessera.Key) -> None:
    header, _ = tessera.decode_unverified(tessera.encode(claims(), hs_key, typ=None))
    assert "typ" not in header


def test_rejects_expired_token(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(exp=NOW - 1), hs_key)
    with pytest.raises(tessera.ExpiredTokenError) as info:
        decode(token, hs_key)
    assert info.value.claim == "exp"


def test_exp_equal_to_now_is_expired(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.ExpiredTokenError):
        decode(tessera.encode(claims(exp=NOW), hs_key), hs_key)


def test_leeway_accepts_recently_expired_token(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(exp=NOW - 30), hs_key)
    assert decode(token, hs_key, leeway=60)["sub"] == "alice"
    assert decode(token, hs_key, leeway=timedelta(seconds=31))["sub"] == "alice"


@pytest.mark.parametrize("leeway", [-1, 301, float("nan"), float("inf"), True, "5"])
def test_rejects_unreasonable_leeway(hs_key: tessera.Key, leeway: Any) -> None:
    with pytest.raises(tessera.ConfigurationError):
        decode(tessera.encode(claims(), hs_key), hs_key, leeway=leeway)


def test_exp_is_required_by_default(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.MissingClaimError) as info:
        decode(tessera.encode(claims(exp=None), hs_key), hs_key)
    assert info.value.claim == "exp"
    assert decode(tessera.encode(claims(exp=None), hs_key), hs_key, require=())["sub"] == "alice"


def test_require_names_extra_claims(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.MissingClaimError):
        decode(tessera.encode(claims(), hs_key), hs_key, require=("exp", "jti"))


def test_rejects_token_not_yet_valid(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.NotYetValidError):
        decode(tessera.encode(claims(nbf=NOW + 10), hs_key), hs_key)
    assert decode(tessera.encode(claims(nbf=NOW + 10), hs_key), hs_key, leeway=10)


def test_rejects_token_issued_in_the_future(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.NotYetValidError) as info:
        decode(tessera.encode(claims(iat=NOW + 3600), hs_key), hs_key)
    assert info.value.claim == "iat"


def test_max_age_bounds_the_age_of_iat(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(iat=NOW - 100, exp=NOW + 1000), hs_key)
    assert decode(token, hs_key, max_age=200)
    with pytest.raises(tessera.ExpiredTokenError):
        decode(token, hs_key, max_age=50)


@pytest.mark.parametrize("bad", ["1700003600", True, None, [1], {"a": 1}, 2**80])
def test_rejects_non_numeric_exp(hs_key: tessera.Key, bad: Any) -> None:
    payload = json.dumps(claims(exp=0) | {"exp": bad}).encode()
    token = forge({"alg": "HS256"}, payload, hs_key)
    with pytest.raises(tessera.ClaimError):
        decode(token, hs_key)


def test_float_exp_is_a_valid_numeric_date(hs_key: tessera.Key) -> None:
    assert decode(tessera.encode(claims(exp=NOW + 0.5), hs_key), hs_key)


def test_now_accepts_a_datetime(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(), hs_key)
    assert decode(token, hs_key, now=datetime.fromtimestamp(NOW, UTC))


def test_issuer_must_match_exactly(hs_key: tessera.Key) -> None:
    for iss in ("https://issuer.example/", "https://issuer.exampl", "HTTPS://ISSUER.EXAMPLE"):
        with pytest.raises(tessera.InvalidIssuerError):
            decode(tessera.encode(claims(iss=iss), hs_key), hs_key)


def test_issuer_may_be_one_of_several(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(iss="https://b.example"), hs_key)
    assert decode(token, hs_key, issuer=["https://a.example", "https://b.example"])


def test_rejects_array_issuer_even_if_it_contains_the_expected_one(hs_key: tessera.Key) -> None:
    payload = json.dumps(claims() | {"iss": [ISS]}).encode()
    with pytest.raises(tessera.InvalidIssuerError):
        decode(forge({"alg": "HS256"}, payload, hs_key), hs_key)


def test_audience_list_must_contain_the_expected_audience(hs_key: tessera.Key) -> None:
    assert decode(tessera.encode(claims(aud=["x", AUD]), hs_key), hs_key)
    with pytest.raises(tessera.InvalidAudienceError):
        decode(tessera.encode(claims(aud=["x", "y"]), hs_key), hs_key)


def test_audience_is_never_a_substring_match(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.InvalidAudienceError):
        decode(tessera.encode(claims(aud=AUD + ".evil"), hs_key), hs_key)
    with pytest.raises(tessera.InvalidAudienceError):
        decode(tessera.encode(claims(aud="https://api"), hs_key), hs_key)


def test_token_with_aud_is_rejected_when_verifier_names_no_audience(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.InvalidAudienceError):
        tessera.decode(tessera.encode(claims(), hs_key), hs_key, now=NOW)


def test_missing_aud_is_rejected_when_an_audience_is_expected(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.InvalidAudienceError):
        decode(tessera.encode(claims(aud=None), hs_key), hs_key)


def test_subject_must_match_when_given(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(), hs_key)
    assert decode(token, hs_key, subject="alice")
    with pytest.raises(tessera.InvalidSubjectError):
        decode(token, hs_key, subject="admin")


def test_fullwidth_subject_is_not_normalised(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(sub="ａｄｍｉｎ"), hs_key)
    with pytest.raises(tessera.InvalidSubjectError):
        decode(token, hs_key, subject="admin")


def test_typ_matches_media_type_case_insensitively(es_key: tessera.Key) -> None:
    pub = es_key.public()
    for typ in ("at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"):
        token = tessera.encode(claims(), es_key, typ=typ)
        assert decode(token, pub, typ="at+jwt")
    for typ in ("JWT", "dpop+jwt", None):
        token = tessera.encode(claims(), es_key, typ=typ)
        with pytest.raises(tessera.InvalidTypeError):
            decode(token, pub, typ="at+jwt")


def test_validators_check_custom_claims(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(scope="read write"), hs_key)
    assert decode(token, hs_key, validators={"scope": lambda s: "read" in s.split()})
    with pytest.raises(tessera.ClaimError) as info:
        decode(token, hs_key, validators={"scope": lambda s: "admin" in s.split()})
    assert info.value.claim == "scope"
    with pytest.raises(tessera.MissingClaimError):
        decode(token, hs_key, validators={"tenant": lambda _: True})


def test_rejects_token_signed_with_another_key(es_key: tessera.Key) -> None:
    other = tessera.Key.generate("ES256")
    with pytest.raises(tessera.SignatureError):
        decode(tessera.encode(claims(), other), es_key.public())


def test_rejects_tampered_claims(hs_key: tessera.Key) -> None:
    h, _, s = tessera.encode(claims(), hs_key).split(".")
    forged = b64encode_str(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(tessera.SignatureError):
        decode(f"{h}.{forged}.{s}", hs_key)


def test_rejects_algorithm_outside_the_allow_list(es_key: tessera.Key) -> None:
    with pytest.raises(tessera.AlgorithmNotAllowedError):
        decode(tessera.encode(claims(), es_key), es_key.public(), algorithms=["ES384"])


def test_unbound_key_requires_algorithms() -> None:
    bound = tessera.Key.generate("ES256")
    unbound = tessera.Key.from_jwk({k: v for k, v in bound.public().to_jwk().items() if k != "alg"})
    token = tessera.encode(claims(), bound)
    with pytest.raises(tessera.ConfigurationError):
        decode(token, unbound)
    assert decode(token, unbound, algorithms=["ES256"])


def test_rejects_raw_bytes_or_str_as_a_key(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(), hs_key)
    for raw in (b"k" * 32, "k" * 32):
        with pytest.raises(tessera.ConfigurationError):
            tessera.decode(token, raw, algorithms=["HS256"])  # type: ignore[arg-type]


def test_rejects_none_in_algorithms(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.ConfigurationError):
        decode(tessera.encode(claims(), hs_key), hs_key, algorithms=["none", "HS256"])


def test_rejects_string_as_algorithm_list(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.ConfigurationError):
        decode(tessera.encode(claims(), hs_key), hs_key, algorithms="HS256")


def test_keyset_selects_by_kid() -> None:
    a, b = tessera.Key.generate("ES256", kid="a"), tessera.Key.generate("ES256", kid="b")
    keys = tessera.KeySet([a.public(), b.public()])
    assert decode(tessera.encode(claims(), b), keys)["sub"] == "alice"
    stranger = tessera.Key.generate("ES256", kid="c")
    with pytest.raises(tessera.KeyNotFoundError):
        decode(tessera.encode(claims(), stranger), keys)


def test_keyset_without_kid_tries_only_keys_of_the_right_type() -> None:
    ec = tessera.Key.generate("ES256", kid="ec")
    rsa = tessera.Key.generate("RS256", kid="rsa")
    keys = tessera.KeySet([rsa.public(), ec.public()])
    unnamed = {k: v for k, v in ec.to_jwk(private=True).items() if k != "kid"}
    token = tessera.encode(claims(), tessera.Key.from_jwk(unnamed))
    assert decode(token, keys)["sub"] == "alice"


def test_rejects_b64_and_crit_headers_in_jwt(hs_key: tessera.Key) -> None:
    payload = json.dumps(claims()).encode()
    for header in (
        {"alg": "HS256", "b64": False, "crit": ["b64"]},
        {"alg": "HS256", "crit": ["exp"], "exp": 1},
    ):
        with pytest.raises(tessera.UnsupportedHeaderError):
            decode(forge(header, payload, hs_key), hs_key)


def test_rejects_jwe_given_to_decode(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.MalformedTokenError, match="JWE"):
        decode(
            "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..AAAAAAAAAAAAAAAA.IbPrP_Y.RMjvfEocomI", hs_key
        )


@pytest.mark.parametrize("payload", [b"[]", b'"x"', b"null", b"1", b"not json"])
def test_claims_must_be_a_json_object(hs_key: tessera.Key, payload: bytes) -> None:
    with pytest.raises(tessera.MalformedTokenError):
        decode(forge({"alg": "HS256"}, payload, hs_key), hs_key)


def test_oversize_token_is_rejected_before_parsing(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.MalformedTokenError, match="exceeds"):
        decode("." * 1_000_000, hs_key)
    token = tessera.encode(claims(pad="x" * 2000), hs_key)
    with pytest.raises(tessera.MalformedTokenError):
        decode(token, hs_key, limits=tessera.Limits(max_token_size=1000))


def test_encode_refuses_a_contradicting_algorithm(hs_key: tessera.Key) -> None:
    with pytest.raises(tessera.ConfigurationError):
        tessera.encode(claims(), hs_key, alg="HS512")
    with pytest.raises(tessera.ConfigurationError):
        tessera.encode(claims(), hs_key, headers={"alg": "none"})


@pytest.mark.parametrize(
    "bad", [{"exp": "soon"}, {"exp": True}, {"iss": 1}, {"aud": []}, {"aud": [1]}, {"x": {1, 2}}]
)
def test_encode_refuses_malformed_registered_claims(hs_key: tessera.Key, bad: Any) -> None:
    with pytest.raises(tessera.ConfigurationError):
        tessera.encode(claims() | bad, hs_key)


def test_public_key_cannot_sign(es_key: tessera.Key) -> None:
    with pytest.raises(tessera.InvalidKey):
        tessera.encode(claims(), es_key.public())


def test_decode_unverified_reads_even_alg_none_but_checks_shape() -> None:
    header = b64encode_str(b'{"alg":"none"}')
    body = b64encode_str(b'{"sub":"x"}')
    assert tessera.decode_unverified(f"{header}.{body}.") == ({"alg": "none"}, {"sub": "x"})
    with pytest.raises(tessera.MalformedTokenError):
        tessera.decode_unverified(f"{header}.{body}")


def test_error_messages_never_contain_the_token_or_key(hs_key: tessera.Key) -> None:
    token = tessera.encode(claims(exp=NOW - 5), hs_key)
    for kw in ({}, {"audience": "other"}, {"issuer": "other"}):
        with pytest.raises(tessera.InvalidToken) as info:
            decode(token, hs_key, **kw)
        text = str(info.value)
        assert token.split(".")[2] not in text
        assert "k" * 32 not in text
