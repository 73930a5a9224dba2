"""IDTokenVerifier: every check of OIDC Core 3.1.3.7 and Back-Channel Logout 1.0 sec. 2.6, each
failure its typed error, on tokens signed by tessera.jose; discovery and key rotation over real
HTTP; the sync and async paths."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oidchelp import (
    CLIENT_ID,
    ISSUER,
    NOW,
    ProviderStandIn,
    half_hash,
    id_claims,
    logout_claims,
)

import tessera
from tessera.errors import (
    AlgorithmNotAllowedError,
    ClaimError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSubjectError,
    InvalidTypeError,
    KeyNotFoundError,
    MalformedTokenError,
    MissingClaimError,
    NotYetValidError,
    SignatureError,
)
from tessera.oidc import (
    AuthTimeError,
    DiscoveryError,
    IDTokenVerifier,
    InvalidAuthorizedPartyError,
    InvalidNonceError,
    LogoutTokenError,
    TokenHashError,
    discover_provider,
)
from tessera.oidc._checks import token_hash
from tessera.resource import AsyncJWKSClient, CachePolicy

pytestmark = pytest.mark.anyio

KEY = tessera.Key.generate("ES256", kid="es-1")
NONCE = "n-0S6_WzA2Mj"


def verifier(**kwargs: Any) -> IDTokenVerifier:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "keys": KEY.public(),
        "clock": lambda: NOW,
    }
    options.update(kwargs)
    return IDTokenVerifier(**options)


def mint(key: tessera.Key = KEY, typ: str | None = "JWT", **overrides: Any) -> str:
    return tessera.encode(id_claims(**overrides), key, typ=typ)


def mint_raw(claims: dict[str, Any], key: tessera.Key = KEY, typ: str = "JWT") -> str:
    """A token with claims the core's encoder would refuse to write."""
    return tessera.jws.sign(json.dumps(claims).encode(), key, headers={"typ": typ})


# -- valid tokens -------------------------------------------------------------------------------


def test_a_valid_id_token_gives_its_typed_claims() -> None:
    token = mint(acr="urn:mace:incommon:iap:silver", amr=["pwd", "otp"], sid="s-1", name="Al")
    id_token = verifier().verify(token, nonce=NONCE)
    assert (id_token.iss, id_token.sub, id_token.aud) == (ISSUER, "alice", (CLIENT_ID,))
    assert id_token.nonce == NONCE
    assert id_token.auth_time == NOW - 10
    assert id_token.amr == ("pwd", "otp")
    assert id_token.sid == "s-1"
    assert (id_token.alg, id_token.kid) == ("ES256", "es-1")
    assert id_token.claims["name"] == "Al"
    assert id_token.token == token
    assert token not in repr(id_token)


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "application/jwt"])
def test_untyped_and_jwt_typed_id_tokens_pass(typ: str | None) -> None:
    assert verifier().verify(mint(typ=typ), nonce=NONCE).sub == "alice"


async def test_averify_gives_the_same_answer_with_static_keys() -> None:
    assert (await verifier().averify(mint(), nonce=NONCE)).sub == "alice"
    with pytest.raises(InvalidNonceError):
        await verifier().averify(mint(), nonce="other")


# -- the core's checks, as the ID token rules need them ------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error", "claim"),
    [
        ({"iss": "https://evil.example"}, InvalidIssuerError, "iss"),
        ({"iss": None}, MissingClaimError, "iss"),
        ({"aud": "other-app"}, InvalidAudienceError, "aud"),
        ({"aud": None}, MissingClaimError, "aud"),
        ({"exp": NOW - 1}, ExpiredTokenError, "exp"),
        ({"exp": None}, MissingClaimError, "exp"),
        ({"iat": None}, MissingClaimError, "iat"),
        ({"iat": NOW + 60}, NotYetValidError, "iat"),
        ({"nbf": NOW + 60}, NotYetValidError, "nbf"),
        ({"sub": None}, MissingClaimError, "sub"),
        ({"sub": ""}, InvalidSubjectError, "sub"),
        ({"sub": "x" * 256}, InvalidSubjectError, "sub"),
    ],
)
def test_registered_claim_failures_have_their_error(
    overrides: dict[str, Any], error: type[ClaimError], claim: str
) -> None:
    with pytest.raises(error) as caught:
        verifier().verify(mint(**overrides), nonce=NONCE)
    assert caught.value.claim == claim


def test_a_255_character_subject_passes() -> None:
    assert verifier().verify(mint(sub="x" * 255), nonce=NONCE).sub == "x" * 255


def test_leeway_tolerates_small_clock_skew() -> None:
    token = mint(exp=NOW - 5, iat=NOW + 5)
    assert verifier(leeway=10).verify(token, nonce=NONCE).sub == "alice"
    with pytest.raises(ExpiredTokenError):
        verifier(leeway=4).verify(token, nonce=NONCE)


def test_a_token_signed_by_another_key_is_refused() -> None:
    other = tessera.Key.generate("ES256", kid="es-1")
    with pytest.raises(SignatureError):
        verifier().verify(mint(key=other), nonce=NONCE)
    with pytest.raises(KeyNotFoundError):
        verifier().verify(mint(key=tessera.Key.generate("ES256", kid="nope")), nonce=NONCE)


def test_hmac_and_none_never_pass() -> None:
    secret = tessera.Key.generate("HS256")
    with pytest.raises((AlgorithmNotAllowedError, KeyNotFoundError)):
        verifier(keys=secret).verify(mint(key=secret), nonce=NONCE)
    with pytest.raises(ConfigurationError):
        verifier(algorithms=["none"])
    unsigned = "eyJhbGciOiJub25lIn0." + mint().split(".")[1] + "."
    with pytest.raises((AlgorithmNotAllowedError, MalformedTokenError)):
        verifier().verify(unsigned, nonce=NONCE)


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "x" * 70000, "é.é.é"])
def test_malformed_tokens_are_malformed(garbage: str) -> None:
    with pytest.raises(MalformedTokenError):
        verifier().verify(garbage, nonce=NONCE)


def test_a_non_string_token_is_malformed() -> None:
    with pytest.raises(MalformedTokenError):
        verifier().verify(b"abc", nonce=NONCE)  # type: ignore[arg-type]


# -- typ ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "logout+jwt"])
def test_tokens_typed_for_another_purpose_are_not_id_tokens(typ: str) -> None:
    with pytest.raises(InvalidTypeError):
        verifier().verify(mint(typ=typ), nonce=NONCE)


def test_a_token_with_the_logout_event_is_not_an_id_token() -> None:
    token = mint(events={"http://schemas.openid.net/event/backchannel-logout": {}})
    with pytest.raises(InvalidTypeError):
        verifier().verify(token)


# -- azp and several audiences ------------------------------------------------------------------


def test_extra_audiences_must_be_trusted() -> None:
    token = mint(aud=[CLIENT_ID, "https://api.example"], azp=CLIENT_ID)
    with pytest.raises(InvalidAudienceError):
        verifier().verify(token, nonce=NONCE)
    trusted = verifier(trusted_audiences=["https://api.example"])
    assert trusted.verify(token, nonce=NONCE).aud == (CLIENT_ID, "https://api.example")


def test_several_audiences_need_azp() -> None:
    trusted = verifier(trusted_audiences=["https://api.example"])
    with pytest.raises(InvalidAuthorizedPartyError) as caught:
        trusted.verify(mint(aud=[CLIENT_ID, "https://api.example"]), nonce=NONCE)
    assert caught.value.claim == "azp"


@pytest.mark.parametrize("azp", ["other-app", 7, ""])
def test_azp_naming_another_client_is_refused(azp: Any) -> None:
    with pytest.raises(InvalidAuthorizedPartyError):
        verifier().verify(mint(azp=azp), nonce=NONCE)


def test_azp_equal_to_the_client_passes_with_one_audience() -> None:
    assert verifier().verify(mint(azp=CLIENT_ID), nonce=NONCE).azp == CLIENT_ID


def test_an_audience_array_naming_only_the_client_needs_no_azp() -> None:
    assert verifier().verify(mint(aud=[CLIENT_ID]), nonce=NONCE).aud == (CLIENT_ID,)


# -- nonce ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("nonce", [None, "n-0S6_WzA2Mk", "", "N-0S6_WZA2MJ", 12])
def test_a_missing_or_different_nonce_is_refused(nonce: Any) -> None:
    with pytest.raises(InvalidNonceError) as caught:
        verifier().verify(mint(nonce=nonce), nonce=NONCE)
    assert caught.value.claim == "nonce"


def test_without_an_expected_nonce_none_is_required_but_its_type_is_checked() -> None:
    assert verifier().verify(mint(nonce=None)).nonce is None
    with pytest.raises(ClaimError):
        verifier().verify(mint(nonce=12))


def test_the_nonce_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    from tessera.oidc import _checks

    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_checks.hmac, "compare_digest", spy)
    verifier().verify(mint(), nonce=NONCE)
    assert (NONCE.encode(), NONCE.encode()) in seen


# -- at_hash and c_hash ---------------------------------------------------------------------------


def test_token_hash_matches_the_examples_of_oidc_core_appendix_a() -> None:
    access = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
    assert token_hash(access, "sha256") == "77QmUPtjPfzWtF2AnpK9RQ"
    code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
    assert token_hash(code, "sha256") == "LDktKdoQak3Pk0cnXxCltA"


def test_eddsa_token_hash_is_the_left_half_of_sha512() -> None:
    # the EdDSA at_hash vector published with FusionAuth's JWT library
    expected = "8xltSlOGYrWy8W9yNvRlEth1i_bXW-JROWPLvCv5zog"
    assert token_hash("dNZX1hEZ9wBCzNL40Upu646bdzQA", "sha512") == expected


@pytest.mark.parametrize(
    ("alg", "crv", "hash_name"),
    [
        ("ES256", None, "sha256"),
        ("ES384", None, "sha384"),
        ("ES512", None, "sha512"),
        ("RS256", None, "sha256"),
        ("PS384", None, "sha384"),
        ("RS512", None, "sha512"),
        ("EdDSA", None, "sha512"),
        ("Ed25519", None, "sha512"),
        ("EdDSA", "Ed448", "shake256"),
    ],
)
def test_at_hash_and_c_hash_use_the_algorithms_hash(
    make_key: Any, alg: str, crv: str | None, hash_name: str
) -> None:
    key = make_key(alg, crv)
    access, code = "access-token-value", "code-value"
    token = mint(key=key, at_hash=half_hash(access, hash_name), c_hash=half_hash(code, hash_name))
    checker = verifier(keys=key.public())
    assert checker.verify(token, nonce=NONCE, access_token=access, code=code).sub == "alice"
    with pytest.raises(TokenHashError) as caught:
        checker.verify(token, nonce=NONCE, access_token="another-token")
    assert caught.value.claim == "at_hash"
    with pytest.raises(TokenHashError) as caught:
        checker.verify(token, nonce=NONCE, code="another-code")
    assert caught.value.claim == "c_hash"


def test_a_sha256_at_hash_on_a_sha512_token_is_refused(make_key: Any) -> None:
    key = make_key("ES512")
    token = mint(key=key, at_hash=half_hash("at", "sha256"))
    with pytest.raises(TokenHashError):
        verifier(keys=key.public()).verify(token, nonce=NONCE, access_token="at")


@pytest.mark.parametrize("at_hash", [7, "", None])
def test_at_hash_of_the_wrong_type_or_missing_when_required(at_hash: Any) -> None:
    token = mint(at_hash=at_hash)
    expected = MissingClaimError if at_hash is None else TokenHashError
    with pytest.raises(expected):
        verifier().verify(token, nonce=NONCE, access_token="at", require_at_hash=True)


def test_a_missing_at_hash_is_accepted_on_the_code_flow_by_default() -> None:
    assert verifier().verify(mint(), nonce=NONCE, access_token="at").sub == "alice"


# -- auth_time and max_age -----------------------------------------------------------------------


def test_max_age_needs_auth_time() -> None:
    with pytest.raises(MissingClaimError) as caught:
        verifier().verify(mint(auth_time=None), nonce=NONCE, max_age=600)
    assert caught.value.claim == "auth_time"
    with pytest.raises(MissingClaimError):
        verifier(require_auth_time=True).verify(mint(auth_time=None), nonce=NONCE)


def test_an_authentication_older_than_max_age_is_refused() -> None:
    token = mint(auth_time=NOW - 120)
    assert verifier().verify(token, nonce=NONCE, max_age=120).auth_time == NOW - 120
    with pytest.raises(AuthTimeError):
        verifier().verify(token, nonce=NONCE, max_age=119)
    assert verifier(leeway=5).verify(token, nonce=NONCE, max_age=116).sub == "alice"


@pytest.mark.parametrize("auth_time", [NOW + 60, "yesterday", True, [NOW]])
def test_auth_time_in_the_future_or_of_the_wrong_type_is_refused(auth_time: Any) -> None:
    with pytest.raises(AuthTimeError):
        verifier().verify(mint(auth_time=auth_time), nonce=NONCE)


def test_max_age_must_be_a_number() -> None:
    with pytest.raises(ConfigurationError):
        verifier().verify(mint(), nonce=NONCE, max_age=-1)


@pytest.mark.parametrize(
    ("claim", "value"), [("acr", 1), ("amr", "pwd"), ("amr", [1]), ("sid", {})]
)
def test_optional_claims_of_the_wrong_type_are_refused(claim: str, value: Any) -> None:
    with pytest.raises(ClaimError) as caught:
        verifier().verify(mint(**{claim: value}), nonce=NONCE)
    assert caught.value.claim == claim


# -- logout tokens ------------------------------------------------------------------------------


def mint_logout(typ: str | None = "logout+jwt", **overrides: Any) -> str:
    return tessera.encode(logout_claims(**overrides), KEY, typ=typ)


def test_a_valid_logout_token_names_the_session() -> None:
    logout = verifier().verify_logout_token(mint_logout(), require_typ=True)
    assert (logout.sub, logout.sid, logout.jti, logout.iss) == (
        "alice",
        "session-1",
        "logout-1",
        ISSUER,
    )
    assert logout.event == {}


@pytest.mark.parametrize(
    ("overrides", "claim"),
    [
        ({"nonce": "n"}, "nonce"),
        ({"events": None}, "events"),
        ({"events": {"urn:other": {}}}, "events"),
        ({"events": {"http://schemas.openid.net/event/backchannel-logout": "yes"}}, "events"),
        ({"events": ["http://schemas.openid.net/event/backchannel-logout"]}, "events"),
        ({"sub": None, "sid": None}, "sub"),
    ],
)
def test_logout_token_rules_of_section_2_4(overrides: dict[str, Any], claim: str) -> None:
    with pytest.raises(LogoutTokenError) as caught:
        verifier().verify_logout_token(mint_logout(**overrides))
    assert caught.value.claim == claim


def test_a_logout_token_with_only_sid_or_only_sub_passes() -> None:
    assert verifier().verify_logout_token(mint_logout(sub=None)).sid == "session-1"
    assert verifier().verify_logout_token(mint_logout(sid=None)).sub == "alice"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"jti": None}, MissingClaimError),
        ({"iat": None}, MissingClaimError),
        ({"iat": NOW - 301, "exp": None}, ExpiredTokenError),
        ({"exp": NOW - 1}, ExpiredTokenError),
        ({"aud": "other"}, InvalidAudienceError),
        ({"iss": "https://evil.example"}, InvalidIssuerError),
        ({"sid": 5}, ClaimError),
    ],
)
def test_logout_token_registered_claims(overrides: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        verifier().verify_logout_token(mint_logout(**overrides))


def test_a_logout_token_without_exp_passes_within_logout_max_age() -> None:
    assert verifier().verify_logout_token(mint_logout(exp=None, iat=NOW - 299)).jti == "logout-1"
    with pytest.raises(ExpiredTokenError):
        verifier(logout_max_age=60).verify_logout_token(mint_logout(exp=None, iat=NOW - 61))


@pytest.mark.parametrize(("typ", "strict_ok", "lax_ok"), [
    ("logout+jwt", True, True),
    ("application/logout+jwt", True, True),
    ("JWT", False, True),
    (None, False, True),
    ("at+jwt", False, False),
])  # fmt: skip
def test_logout_token_types(typ: str | None, strict_ok: bool, lax_ok: bool) -> None:
    for require_typ, ok in ((True, strict_ok), (False, lax_ok)):
        token = mint_logout(typ=typ)
        if ok:
            verifier().verify_logout_token(token, require_typ=require_typ)
        else:
            with pytest.raises(InvalidTypeError):
                verifier().verify_logout_token(token, require_typ=require_typ)


def test_an_id_token_is_not_a_logout_token_and_the_reverse() -> None:
    with pytest.raises(LogoutTokenError):
        verifier().verify_logout_token(mint())
    with pytest.raises(InvalidTypeError):
        verifier().verify(mint_logout())
    with pytest.raises(InvalidTypeError):
        verifier().verify(mint_logout(typ="JWT"))


async def test_averify_logout_token() -> None:
    assert (await verifier().averify_logout_token(mint_logout())).sid == "session-1"


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"issuer": ""},
        {"client_id": ""},
        {"keys": "not keys"},
        {"algorithms": "ES256"},
        {"algorithms": []},
        {"algorithms": ["XX256"]},
        {"leeway": -1},
        {"leeway": 301},
        {"leeway": True},
        {"trusted_audiences": "api"},
        {"logout_max_age": float("inf")},
    ],
)
def test_unsafe_settings_are_configuration_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        verifier(**kwargs)


# -- discovery and keys over real HTTP -----------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[ProviderStandIn]:
    stand_in = ProviderStandIn().start()
    yield stand_in
    stand_in.stop()


def test_from_provider_discovers_the_issuer_and_follows_key_rotation(
    provider: ProviderStandIn,
) -> None:
    checker = IDTokenVerifier.from_provider(
        provider.issuer, client_id=CLIENT_ID, cache=CachePolicy(cooldown=0)
    )
    assert checker.issuer == provider.issuer
    assert checker.algorithms == ("ES256", "RS256")  # the provider's, within ours
    assert checker.verify(provider.id_token(), nonce=NONCE).sub == "alice"
    assert provider.jwks_requests == 1
    checker.verify(provider.id_token(), nonce=NONCE)
    assert provider.jwks_requests == 1  # cached
    provider.rotate("k2")
    assert checker.verify(provider.id_token(), nonce=NONCE).kid == "k2"
    assert provider.jwks_requests == 2


async def test_afrom_provider_uses_an_async_jwks_client(provider: ProviderStandIn) -> None:
    checker = await IDTokenVerifier.afrom_provider(provider.issuer, client_id=CLIENT_ID)
    assert checker.is_async
    assert (await checker.averify(provider.id_token(), nonce=NONCE)).sub == "alice"
    with pytest.raises(ConfigurationError):
        checker.verify(provider.id_token(), nonce=NONCE)
    source = checker._source
    assert isinstance(source, AsyncJWKSClient)
    await source.aclose()


# -- every constructor takes the constructor's options ------------------------------------------


async def _discovered(constructor: str, issuer: str, **options: Any) -> IDTokenVerifier:
    if constructor == "from_metadata":
        return IDTokenVerifier.from_metadata(
            discover_provider(issuer), client_id=CLIENT_ID, **options
        )
    if constructor == "from_provider":
        return IDTokenVerifier.from_provider(issuer, client_id=CLIENT_ID, **options)
    return await IDTokenVerifier.afrom_provider(issuer, client_id=CLIENT_ID, **options)


def _signed(provider: ProviderStandIn, claims: dict[str, Any], typ: str = "JWT") -> str:
    return tessera.encode(claims, provider.signing_key, typ=typ)


async def _id_token(checker: IDTokenVerifier, token: str) -> Any:
    return await checker.averify(token, nonce=NONCE)


OPTION_CHECKS: dict[str, tuple[dict[str, Any], Callable[[ProviderStandIn], str], str, type]] = {
    # option -> (options, token maker, which verification, the error the option causes)
    "clock": (
        {"clock": lambda: time.time() + 3600},
        lambda p: p.id_token(),
        "id",
        ExpiredTokenError,
    ),
    "limits": (
        {"limits": tessera.Limits(max_token_size=64)},
        lambda p: p.id_token(),
        "id",
        MalformedTokenError,
    ),
    "require_auth_time": (
        {"require_auth_time": True},
        lambda p: p.id_token(auth_time=None),
        "id",
        MissingClaimError,
    ),
    "logout_max_age": (
        {"logout_max_age": 60},
        lambda p: _signed(
            p, logout_claims(p.issuer, time.time(), exp=None, iat=int(time.time()) - 120)
        ),
        "logout",
        ExpiredTokenError,
    ),
}


@pytest.mark.parametrize("option", sorted(OPTION_CHECKS))
@pytest.mark.parametrize("constructor", ["from_metadata", "from_provider", "afrom_provider"])
async def test_discovering_constructors_apply_each_option(
    provider: ProviderStandIn, constructor: str, option: str
) -> None:
    options, make, kind, error = OPTION_CHECKS[option]
    token = make(provider)
    plain = await _discovered(constructor, provider.issuer)
    configured = await _discovered(constructor, provider.issuer, **options)
    try:
        if kind == "id":
            assert (await _id_token(plain, token)).sub == "alice"
            with pytest.raises(error):
                await _id_token(configured, token)
        else:
            assert (await plain.averify_logout_token(token)).jti == "logout-1"
            with pytest.raises(error):
                await configured.averify_logout_token(token)
    finally:
        await plain.aclose()
        await configured.aclose()


@pytest.mark.parametrize("constructor", ["from_metadata", "from_provider", "afrom_provider"])
async def test_discovering_constructors_apply_trusted_audiences(
    provider: ProviderStandIn, constructor: str
) -> None:
    token = provider.id_token(aud=[CLIENT_ID, "https://api.example"], azp=CLIENT_ID)
    plain = await _discovered(constructor, provider.issuer)
    trusting = await _discovered(
        constructor, provider.issuer, trusted_audiences=["https://api.example"]
    )
    try:
        with pytest.raises(InvalidAudienceError):
            await _id_token(plain, token)
        assert (await _id_token(trusting, token)).aud == (CLIENT_ID, "https://api.example")
    finally:
        await plain.aclose()
        await trusting.aclose()


def test_discovery_refuses_another_issuer(provider: ProviderStandIn) -> None:
    provider.document_overrides["issuer"] = "https://evil.example"
    with pytest.raises(DiscoveryError):
        IDTokenVerifier.from_provider(provider.issuer, client_id=CLIENT_ID)


@pytest.mark.parametrize(
    "overrides",
    [
        {"jwks_uri": None},
        {"jwks_uri": "file:///etc/passwd"},
        {"jwks_uri": "http://keys.example/jwks"},
        {"authorization_endpoint": None},
        {"userinfo_endpoint": 5},
        {"token_endpoint": "https://idp.example/token#frag"},
        {"id_token_signing_alg_values_supported": "RS256"},
        {"code_challenge_methods_supported": [1]},
        {"authorization_response_iss_parameter_supported": "yes"},
    ],
)
def test_discovery_refuses_unusable_documents(
    provider: ProviderStandIn, overrides: dict[str, Any]
) -> None:
    provider.document_overrides.update(overrides)
    with pytest.raises(DiscoveryError):
        discover_provider(provider.issuer)


def test_discovery_of_a_missing_document_or_bad_issuer_url(provider: ProviderStandIn) -> None:
    with pytest.raises(DiscoveryError):
        discover_provider(provider.issuer + "/nowhere")
    with pytest.raises(ConfigurationError):
        discover_provider("http://login.example")
    with pytest.raises(ConfigurationError):
        discover_provider(provider.issuer + "?tenant=a")


def test_a_provider_signing_only_with_hmac_cannot_be_used(provider: ProviderStandIn) -> None:
    provider.document_overrides["id_token_signing_alg_values_supported"] = ["HS256", "none"]
    with pytest.raises(ConfigurationError):
        IDTokenVerifier.from_provider(provider.issuer, client_id=CLIENT_ID)


def test_a_token_from_the_provider_with_an_algorithm_it_does_not_list_is_refused(
    provider: ProviderStandIn,
) -> None:
    provider.document_overrides["id_token_signing_alg_values_supported"] = ["RS256"]
    checker = IDTokenVerifier.from_provider(provider.issuer, client_id=CLIENT_ID)
    with pytest.raises(AlgorithmNotAllowedError):
        checker.verify(provider.id_token(), nonce=NONCE)


def test_mint_raw_shapes_reach_the_verifier() -> None:
    # the encoder refuses a non-string sub; the verifier must refuse it too when signed anyway
    token = mint_raw(id_claims(sub=12))
    with pytest.raises(InvalidSubjectError):
        verifier().verify(token, nonce=NONCE)
