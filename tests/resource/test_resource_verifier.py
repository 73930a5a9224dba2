"""The Verifier: issuer allow-list before key lookup (Storm-0558), per-issuer keys, RFC 9068
checks, the typed AccessToken, the verified-token cache, and no URL ever taken from a token."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from resourcehelp import FakeClock

import tessera
from tessera.resource import (
    AccessToken,
    AsyncJWKSClient,
    JWKSClient,
    KeysUnavailableError,
    StaticKeys,
    Verifier,
)

pytestmark = pytest.mark.anyio

ISSUER_A = "https://a.example"
ISSUER_B = "https://b.example"
AUD = "https://api.example"
KEY_A = tessera.Key.generate("ES256", kid="a-1")
KEY_B = tessera.Key.generate("ES256", kid="b-1")
NOW = 1_800_000_000


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER_A,
        "sub": "alice",
        "aud": AUD,
        "client_id": "reader",
        "iat": NOW,
        "exp": NOW + 300,
        "jti": "j1",
        "scope": "docs:read docs:write",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: tessera.Key = KEY_A, typ: str | None = "at+jwt", **overrides: Any) -> str:
    return tessera.encode(claims(**overrides), key, typ=typ)


def mint_raw(**overrides: Any) -> str:
    """A token with claims the core's encoder would refuse to write."""
    payload = json.dumps(claims(**overrides)).encode()
    return tessera.jws.sign(payload, KEY_A, headers={"typ": "at+jwt"})


def verifier(**kwargs: Any) -> Verifier:
    options: dict[str, Any] = {"audience": AUD, "clock": lambda: NOW + 10}
    options.update(kwargs)
    return Verifier(issuer=ISSUER_A, keys=KEY_A.public(), **options)


def test_returns_a_typed_frozen_access_token() -> None:
    token = verifier().verify(mint())
    assert token == AccessToken(
        iss=ISSUER_A,
        sub="alice",
        client_id="reader",
        scopes=frozenset({"docs:read", "docs:write"}),
        aud=(AUD,),
        exp=NOW + 300,
        iat=NOW,
        jti="j1",
        alg="ES256",
        kid="a-1",
        claims={},
    )
    assert token.claims["scope"] == "docs:read docs:write"
    assert token.has_scopes("docs:read")
    with pytest.raises(AttributeError):
        token.sub = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        token.claims["sub"] = "mallory"  # type: ignore[index]


@pytest.mark.parametrize(
    ("extra", "scopes"),
    [
        ({"scope": None, "scp": ["a", "b"]}, {"a", "b"}),
        ({"scope": None, "scp": "a b"}, {"a", "b"}),
        ({"scope": None}, set()),
        ({"scope": ""}, set()),
    ],
)
def test_reads_scopes_from_scope_or_scp(extra: dict[str, Any], scopes: set[str]) -> None:
    assert verifier().verify(mint(**extra)).scopes == scopes


@pytest.mark.parametrize(
    "extra", [{"scope": ["a"]}, {"scope": None, "scp": [1]}, {"client_id": 7}, {"azp": 7}]
)
def test_refuses_scope_and_client_claims_of_the_wrong_type(extra: dict[str, Any]) -> None:
    extra = {"client_id": None, **extra} if "azp" in extra else extra
    with pytest.raises(tessera.ClaimError):
        verifier().verify(mint(**extra))


def test_client_id_falls_back_to_azp() -> None:
    assert verifier().verify(mint(client_id=None, azp="spa")).client_id == "spa"


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (mint(exp=NOW), tessera.ExpiredTokenError),
        (mint(aud="https://other.example"), tessera.InvalidAudienceError),
        (mint(aud=None), tessera.InvalidAudienceError),
        (mint(iss="https://evil.example"), tessera.InvalidIssuerError),
        (mint(iss=None), tessera.MissingClaimError),
        (mint_raw(iss=["https://a.example"]), tessera.InvalidIssuerError),
        (mint(typ="JWT"), tessera.InvalidTypeError),
        (mint(typ=None), tessera.InvalidTypeError),
        (mint(key=tessera.Key.generate("ES256", kid="a-1")), tessera.SignatureError),
        (mint(key=tessera.Key.generate("ES256", kid="zz")), tessera.KeyNotFoundError),
        (mint(key=tessera.Key.generate("RS256", kid="a-1")), tessera.AlgorithmNotAllowedError),
        ("not-a-token", tessera.MalformedTokenError),
    ],
)
def test_rejects(token: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        verifier().verify(token)


def test_refuses_an_hmac_token_by_default_even_with_an_hmac_key() -> None:
    secret = tessera.Key.from_secret(b"k" * 32, kid="h")
    check = Verifier(issuer=ISSUER_A, keys=secret, audience=AUD, clock=lambda: NOW)
    with pytest.raises(tessera.AlgorithmNotAllowedError):
        check.verify(mint(key=secret))
    allowed = Verifier(
        issuer=ISSUER_A, keys=secret, audience=AUD, algorithms=["HS256"], clock=lambda: NOW
    )
    assert allowed.verify(mint(key=secret)).sub == "alice"


def test_typ_none_turns_the_type_check_off() -> None:
    assert verifier(typ=None).verify(mint(typ="JWT")).sub == "alice"


def test_leeway_accepts_a_just_expired_token() -> None:
    assert verifier(leeway=30).verify(mint(exp=NOW)).sub == "alice"


def test_require_adds_claims_that_must_be_present() -> None:
    with pytest.raises(tessera.MissingClaimError):
        verifier(require=("jti", "cnf")).verify(mint())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"audience": ""},
        {"audience": []},
        {"audience": [""]},
        {"algorithms": "ES256"},
        {"algorithms": ["none"]},
        {"algorithms": []},
        {"algorithms": ["XX999"]},
        {"leeway": 301},
        {"leeway": -1},
        {"leeway": float("nan")},
        {"typ": 5},
        {"require": "exp"},
        {"token_cache_size": -1},
    ],
)
def test_refuses_unsafe_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(tessera.ConfigurationError):
        verifier(**kwargs)


def test_refuses_keys_that_are_not_keys() -> None:
    with pytest.raises(tessera.ConfigurationError):
        Verifier(issuer=ISSUER_A, keys=b"secret", audience=AUD)  # type: ignore[arg-type]


# -- several issuers (attack catalogue #40, Storm-0558) ----------------------------------------


class CountingSource:
    """A key source that records every lookup."""

    def __init__(self, key: tessera.Key) -> None:
        self.keys = tessera.KeySet([key.public()])
        self.lookups: list[str | None] = []

    def get_keys(self, kid: str | None = None) -> tessera.KeySet:
        self.lookups.append(kid)
        return self.keys

    def cached_keys(self, kid: str | None = None) -> tessera.KeySet | None:
        return self.get_keys(kid)


def multi() -> tuple[Verifier, CountingSource, CountingSource]:
    a, b = CountingSource(KEY_A), CountingSource(KEY_B)
    check = Verifier.for_issuers(
        {ISSUER_A: a, ISSUER_B: b}, audience=AUD, clock=lambda: NOW, token_cache_size=0
    )
    return check, a, b


def test_each_issuer_verifies_with_its_own_keys() -> None:
    check, a, b = multi()
    assert check.verify(mint(KEY_A, iss=ISSUER_A)).iss == ISSUER_A
    assert check.verify(mint(KEY_B, iss=ISSUER_B)).iss == ISSUER_B
    assert (a.lookups, b.lookups) == (["a-1"], ["b-1"])
    assert check.issuers == (ISSUER_A, ISSUER_B)


def test_a_key_of_issuer_b_never_vouches_for_a_token_claiming_issuer_a() -> None:
    check, a, b = multi()
    with pytest.raises(tessera.KeyNotFoundError):
        check.verify(mint(KEY_B, iss=ISSUER_A))
    assert b.lookups == []  # B's keys were never consulted
    assert a.lookups == ["b-1"]


def test_a_kidless_token_claiming_issuer_a_signed_by_b_fails_the_signature() -> None:
    check, a, b = multi()
    jwk = {k: v for k, v in KEY_B.to_jwk(private=True).items() if k != "kid"}
    kidless = tessera.Key.from_jwk(jwk)
    assert kidless.kid is None
    with pytest.raises(tessera.SignatureError):
        check.verify(mint(kidless, iss=ISSUER_A))
    assert (a.lookups, b.lookups) == ([None], [])


def test_the_issuer_is_checked_before_any_key_lookup() -> None:
    check, a, b = multi()
    with pytest.raises(tessera.InvalidIssuerError):
        check.verify(mint(KEY_A, iss="https://c.example"))
    assert a.lookups == b.lookups == []


def test_for_issuers_refuses_an_empty_mapping() -> None:
    with pytest.raises(tessera.ConfigurationError):
        Verifier.for_issuers({}, audience=AUD)


# -- the verified-token cache ------------------------------------------------------------------


def test_a_remembered_token_skips_the_signature_check() -> None:
    source = CountingSource(KEY_A)
    check = Verifier(issuer=ISSUER_A, keys=source, audience=AUD, clock=lambda: NOW)
    token = mint()
    first = check.verify(token)
    assert check.verify(token) is first
    assert len(source.lookups) == 2  # the issuer's key set is still consulted each time


def test_a_remembered_token_still_expires() -> None:
    wall = FakeClock(NOW)
    check = Verifier(issuer=ISSUER_A, keys=KEY_A.public(), audience=AUD, clock=wall)
    token = mint()
    check.verify(token)
    wall.advance(300)
    with pytest.raises(tessera.ExpiredTokenError):
        check.verify(token)


def test_a_key_set_change_verifies_remembered_tokens_again() -> None:
    source = CountingSource(KEY_A)
    check = Verifier(issuer=ISSUER_A, keys=source, audience=AUD, clock=lambda: NOW)
    token = mint()
    check.verify(token)
    source.keys = tessera.KeySet([KEY_B.public()])  # key a-1 withdrawn by the issuer
    with pytest.raises(tessera.KeyNotFoundError):
        check.verify(token)


def test_the_token_cache_is_bounded() -> None:
    check = verifier(token_cache_size=3)
    for index in range(10):
        check.verify(mint(jti=f"j{index}"))
    assert len(check._tokens) <= 3


def test_remembered_answers_only_for_the_exact_token_already_verified() -> None:
    check = Verifier(issuer=ISSUER_A, keys=KEY_A.public(), audience=AUD, clock=lambda: NOW)
    token = mint()
    assert check.remembered(token) is None
    first = check.verify(token)
    assert check.remembered(token) is first
    assert check.remembered(token + "=") is None
    assert check.remembered(mint(jti="other")) is None


def test_a_remembered_token_is_not_shared_with_another_verifier() -> None:
    token = mint()
    strict = Verifier(issuer=ISSUER_A, keys=KEY_A.public(), audience=AUD, clock=lambda: NOW)
    strict.verify(token)
    other = Verifier(
        issuer=ISSUER_A, keys=KEY_A.public(), audience="https://other.example", clock=lambda: NOW
    )
    assert other.remembered(token) is None
    with pytest.raises(tessera.InvalidAudienceError):
        other.verify(token)


def test_remembered_misses_once_the_token_expires() -> None:
    wall = FakeClock(NOW)
    check = Verifier(issuer=ISSUER_A, keys=KEY_A.public(), audience=AUD, clock=wall, leeway=5)
    token = mint()
    check.verify(token)
    wall.advance(304)
    assert check.remembered(token) is not None  # exp + leeway not reached yet
    wall.advance(1)
    assert check.remembered(token) is None


def test_remembered_misses_when_the_key_set_changes() -> None:
    source = CountingSource(KEY_A)
    check = Verifier(issuer=ISSUER_A, keys=source, audience=AUD, clock=lambda: NOW)
    token = mint()
    check.verify(token)
    source.keys = tessera.KeySet([KEY_A.public()])  # same key, but a new set: verify again
    assert check.remembered(token) is None
    assert check.verify(token).sub == "alice"
    assert check.remembered(token) is not None


def test_a_remembered_str_subclass_is_never_trusted() -> None:
    class Sneaky(str):
        __slots__ = ()

    check = Verifier(issuer=ISSUER_A, keys=KEY_A.public(), audience=AUD, clock=lambda: NOW)
    check.verify(Sneaky(mint()))
    assert check._tokens == {}


async def test_a_remembered_token_is_refused_after_a_jwks_refresh_drops_its_key() -> None:
    served = {"keys": [KEY_A.public().to_jwk()]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=served, headers={"cache-control": "max-age=60"})

    monotonic = FakeClock()
    keys = AsyncJWKSClient(
        "https://a.example/jwks", transport=httpx.MockTransport(handler), clock=monotonic
    )
    check = Verifier(issuer=ISSUER_A, keys=keys, audience=AUD, clock=lambda: NOW)
    token = mint()
    await check.averify(token)
    assert check.remembered(token) is not None
    served = {"keys": [KEY_B.public().to_jwk()]}  # the issuer rotated a-1 out
    monotonic.advance(61)
    assert check.remembered(token) is None  # stale keys: the key source must be asked
    await check.averify(token)  # answered by the current keys while the refresh runs
    task = keys._task
    assert task is not None
    await task
    assert keys.fetches == 2
    with pytest.raises(tessera.KeyNotFoundError):
        await check.averify(token)


# -- sync and async key sources ------------------------------------------------------------------


async def test_averify_uses_an_async_client(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [KEY_A.public().to_jwk()]})

    keys = AsyncJWKSClient("https://a.example/jwks", transport=httpx.MockTransport(handler))
    check = Verifier(issuer=ISSUER_A, keys=keys, audience=AUD, clock=lambda: NOW)
    assert check.is_async
    assert (await check.averify(mint())).sub == "alice"
    with pytest.raises(tessera.ConfigurationError, match="averify"):
        check.verify(mint())


async def test_averify_runs_a_blocking_fetch_off_the_event_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [KEY_A.public().to_jwk()]})

    keys = JWKSClient("https://a.example/jwks", transport=httpx.MockTransport(handler))
    check = Verifier(issuer=ISSUER_A, keys=keys, audience=AUD, clock=lambda: NOW)
    assert not check.is_async
    assert (await check.averify(mint())).sub == "alice"
    assert (await check.averify(mint(jti="second"))).jti == "second"
    assert keys.fetches == 1


async def test_averify_reports_unavailable_keys() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(503))
    keys = AsyncJWKSClient("https://a.example/jwks", transport=transport)
    check = Verifier(issuer=ISSUER_A, keys=keys, audience=AUD)
    with pytest.raises(KeysUnavailableError):
        await check.averify(mint())


def test_static_keys_accept_a_key_or_a_key_set() -> None:
    assert len(StaticKeys(KEY_A.public()).get_keys()) == 1
    with pytest.raises(tessera.ConfigurationError):
        StaticKeys("key")  # type: ignore[arg-type]


# -- never a URL from the token (attack catalogue #14) ------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"jku": "file:///etc/passwd"},
        {"jku": "http://169.254.169.254/latest/meta-data/"},
        {"jwk": tessera.Key.generate("ES256", kid="att").public().to_jwk()},
    ],
)
def test_never_fetches_a_url_named_by_the_token(header: dict[str, Any]) -> None:
    attacker = tessera.Key.generate("ES256", kid="att")
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(200, json={"keys": [KEY_A.public().to_jwk()]})

    check = Verifier.from_jwks_url(
        ISSUER_A, "https://a.example/jwks", audience=AUD, transport=httpx.MockTransport(handler)
    )
    token = tessera.encode(claims(exp=int(time.time()) + 60), attacker, headers=header)
    with pytest.raises(tessera.InvalidToken):
        check.verify(token)
    assert set(requested) == {"https://a.example/jwks"}


def test_static_keys_verify_without_any_network_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network I/O attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    attacker = tessera.Key.generate("ES256", kid="a-1")
    forged = tessera.encode(
        claims(), attacker, headers={"jku": "https://attacker.example/jwks.json"}, typ="at+jwt"
    )
    with pytest.raises(tessera.SignatureError):
        verifier().verify(forged)
    assert verifier().verify(mint()).sub == "alice"


# -- every constructor takes the same options ---------------------------------------------------


def _issuer_transport(fetched: list[str]) -> httpx.MockTransport:
    """An issuer at ISSUER_A: RFC 8414 metadata naming its JWKS, and the JWKS (KEY_A)."""

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(request.url.path)
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json={"issuer": ISSUER_A, "jwks_uri": ISSUER_A + "/jwks"})
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [KEY_A.public().to_jwk()]})
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def _build(constructor: str, fetched: list[str], **options: Any) -> Verifier:
    transport = _issuer_transport(fetched)
    if constructor == "from_issuer":
        return Verifier.from_issuer(ISSUER_A, audience=AUD, transport=transport, **options)
    return Verifier.from_jwks_url(
        ISSUER_A, ISSUER_A + "/jwks", audience=AUD, transport=transport, **options
    )


CONSTRUCTORS = ["from_issuer", "from_jwks_url"]


@pytest.mark.parametrize("constructor", CONSTRUCTORS)
def test_remote_constructors_use_the_clock_given(constructor: str) -> None:
    token = mint()  # valid from NOW to NOW + 300
    assert _build(constructor, [], clock=lambda: NOW + 10).verify(token).sub == "alice"
    with pytest.raises(tessera.ExpiredTokenError):
        _build(constructor, [], clock=lambda: NOW + 301).verify(token)


@pytest.mark.parametrize("constructor", CONSTRUCTORS)
def test_remote_constructors_honour_token_cache_size(constructor: str) -> None:
    token = mint()
    remembering = _build(constructor, [], clock=lambda: NOW + 10)
    remembering.verify(token)
    assert remembering.remembered(token) is not None
    forgetting = _build(constructor, [], clock=lambda: NOW + 10, token_cache_size=0)
    forgetting.verify(token)
    assert forgetting.remembered(token) is None


@pytest.mark.parametrize("constructor", CONSTRUCTORS)
def test_remote_constructors_honour_limits(constructor: str) -> None:
    token = mint()
    fetched: list[str] = []
    check = _build(
        constructor, fetched, clock=lambda: NOW + 10, limits=tessera.Limits(max_token_size=64)
    )
    with pytest.raises(tessera.MalformedTokenError):
        check.verify(token)
    assert fetched == []  # refused before any key lookup


@pytest.mark.parametrize("constructor", CONSTRUCTORS)
def test_remote_constructors_honour_require(constructor: str) -> None:
    check = _build(constructor, [], clock=lambda: NOW + 10, require=("jti",))
    assert check.verify(mint()).jti == "j1"
    with pytest.raises(tessera.MissingClaimError):
        check.verify(mint(jti=None))
