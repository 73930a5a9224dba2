"""The sans-I/O JWKS cache: when to fetch, how long keys live, what happens when fetches fail."""

from __future__ import annotations

import json
import logging

import pytest

import tessera
from tessera.resource import CachePolicy, KeysUnavailableError
from tessera.resource._jwks_cache import Action, JWKSCache, load_keyset, parse_max_age

POLICY = CachePolicy(default_ttl=300, min_ttl=60, max_ttl=3600, cooldown=30, stale_if_error=600)


@pytest.fixture(scope="module")
def keys() -> tessera.KeySet:
    return tessera.KeySet([tessera.Key.generate("ES256", kid="a").public()])


def warm(keys: tessera.KeySet, max_age: float | None = None, now: float = 0) -> JWKSCache:
    cache = JWKSCache(POLICY)
    assert cache.plan("a", now) is Action.FETCH
    cache.begin(now)
    cache.succeeded(keys, max_age, now)
    return cache


def test_a_cold_cache_fetches() -> None:
    assert JWKSCache(POLICY).plan(None, 0) is Action.FETCH


def test_fresh_keys_answer_without_a_fetch(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    assert cache.plan("a", 299) is Action.USE
    assert cache.result("a", 299) is keys


def test_expired_keys_are_refreshed_while_still_answering(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    assert cache.plan("a", 300) is Action.REFRESH


@pytest.mark.parametrize(
    ("max_age", "lifetime"), [(None, 300), (5, 60), (120, 120), (10**9, 3600), (0, 60)]
)
def test_cache_control_max_age_is_clamped_between_floor_and_ceiling(
    keys: tessera.KeySet, max_age: float | None, lifetime: float
) -> None:
    cache = warm(keys, max_age)
    assert cache.plan("a", lifetime - 1) is Action.USE
    assert cache.plan("a", lifetime) is Action.REFRESH


def test_unknown_kid_fetches_at_most_once_per_cooldown(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    assert cache.plan("new", 10) is Action.USE  # fetched 10 s ago: cooling down
    assert cache.plan("new", 30) is Action.FETCH
    cache.begin(30)
    cache.succeeded(keys, None, 30)
    assert cache.plan("new", 59) is Action.USE
    assert cache.plan("new", 60) is Action.FETCH
    assert cache.fetches == 2


def test_requests_wait_for_the_fetch_in_flight_unless_the_keys_suffice(
    keys: tessera.KeySet,
) -> None:
    cache = warm(keys)
    cache.begin(400)
    assert cache.plan("new", 400) is Action.WAIT
    assert cache.plan("a", 400) is Action.USE
    assert cache.plan(None, 400) is Action.USE
    cold = JWKSCache(POLICY)
    cold.begin(0)
    assert cold.plan(None, 0) is Action.WAIT


def test_unknown_kid_is_a_key_error_when_the_issuer_answered(keys: tessera.KeySet) -> None:
    assert warm(keys).result("new", 10) is keys  # the verifier then reports key_not_found


def test_stale_keys_serve_while_the_issuer_is_down(
    keys: tessera.KeySet, caplog: pytest.LogCaptureFixture
) -> None:
    cache = warm(keys)
    cache.begin(300)
    with caplog.at_level(logging.WARNING, "tessera.resource"):
        cache.failed("ConnectError", 300)
    assert "serving cached JWKS keys" in caplog.text
    assert cache.plan("a", 310) is Action.USE  # cooling down after the failure
    assert cache.result("a", 310) is keys
    assert cache.plan("a", 330) is Action.REFRESH  # and then tries again


def test_stale_keys_expire_after_stale_if_error(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    cache.begin(899)
    cache.failed("down", 899)
    assert cache.result("a", 899) is keys
    with pytest.raises(KeysUnavailableError):
        cache.result("a", 900)  # expired at 300, stale for at most 600 more


def test_unknown_kid_while_the_issuer_is_down_is_unavailable_not_invalid(
    keys: tessera.KeySet,
) -> None:
    cache = warm(keys)
    cache.begin(100)
    cache.failed("down", 100)
    with pytest.raises(KeysUnavailableError):
        cache.result("new", 100)


def test_cold_cache_failure_is_unavailable_with_retry_after_and_no_retry_storm() -> None:
    cache = JWKSCache(POLICY)
    cache.begin(0)
    cache.failed("down", 0)
    assert cache.plan(None, 10) is Action.USE
    with pytest.raises(KeysUnavailableError) as caught:
        cache.result(None, 10)
    assert caught.value.retry_after == 20
    assert caught.value.status_code == 503
    assert cache.plan(None, 30) is Action.FETCH


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"cache-control": "public, max-age=600"}, 600.0),
        ({"cache-control": "max-age=600", "age": "100"}, 500.0),
        ({"cache-control": "max-age=60", "age": "100"}, 0.0),
        ({"cache-control": "no-store"}, 0.0),
        ({"cache-control": "no-cache, max-age=600"}, 0.0),
        ({"cache-control": "max-age=abc"}, None),
        ({"cache-control": "max-age=-5"}, None),
        ({"cache-control": 'max-age="90"'}, 90.0),
        ({"cache-control": "public"}, None),
    ],
)
def test_parses_cache_control(headers: dict[str, str], expected: float | None) -> None:
    assert parse_max_age(headers) == expected


@pytest.mark.parametrize(
    "field", ["default_ttl", "min_ttl", "max_ttl", "cooldown", "stale_if_error"]
)
@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), True, "60"])
def test_policy_refuses_unusable_durations(field: str, value: object) -> None:
    with pytest.raises(tessera.ConfigurationError):
        CachePolicy(**{field: value})  # type: ignore[arg-type]


def test_policy_refuses_a_floor_above_the_ceiling() -> None:
    with pytest.raises(tessera.ConfigurationError):
        CachePolicy(min_ttl=100, max_ttl=10)


def test_load_keyset_skips_bad_keys_with_a_log_entry(caplog: pytest.LogCaptureFixture) -> None:
    good = tessera.Key.generate("ES256", kid="good").public().to_jwk()
    enc = {**tessera.Key.generate("ES256", kid="enc").public().to_jwk(), "use": "enc"}
    dup = tessera.Key.generate("ES256", kid="dup").public().to_jwk()
    body = {
        "keys": [
            good,
            {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            enc,
            dup,
            dup,
            "not an object",
        ]
    }
    with caplog.at_level(logging.WARNING, "tessera.resource"):
        keyset = load_keyset(json.dumps(body).encode(), "https://idp.example/jwks")
    assert [key.kid for key in keyset] == ["good"]
    assert caplog.text.count("skipping") == 6
    assert "symmetric keys are never trusted" in caplog.text


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"keys": {}}', b'{"keys": [], "keys": []}', b'{"keys": []}'],
)
def test_load_keyset_refuses_a_document_without_usable_keys(body: bytes) -> None:
    with pytest.raises(tessera.InvalidKey):
        load_keyset(body, "x")


def test_load_keyset_refuses_too_many_keys() -> None:
    key = tessera.Key.generate("ES256").public().to_jwk()
    body = json.dumps({"keys": [{**key, "kid": str(i)} for i in range(101)]}).encode()
    with pytest.raises(tessera.InvalidKey):
        load_keyset(body, "x")
