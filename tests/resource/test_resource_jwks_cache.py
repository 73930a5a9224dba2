"""The sans-I/O JWKS cache: when to fetch, how long keys live, what happens when fetches fail."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator

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


def keyset(*kids: str) -> tessera.KeySet:
    return tessera.KeySet([tessera.Key.generate("ES256", kid=kid).public() for kid in kids])


def fetch_times(
    cache: JWKSCache,
    kids: Iterator[str],
    start: float,
    end: float,
    step: float,
    answer: Callable[[float], tessera.KeySet],
) -> list[float]:
    """Ask for a kid every ``step`` seconds; each fetch planned is answered by ``answer``."""
    times = []
    now = start
    while now < end:
        kid = next(kids)
        action = cache.plan(kid, now)
        if action in (Action.FETCH, Action.REFRESH):
            cache.begin(now, kid)
            cache.succeeded(answer(now), None, now)
            times.append(now)
        now = round(now + step, 6)
    return times


def made_up() -> Iterator[str]:
    return (f"made-up-{n}" for n in itertools.count())


def test_an_unknown_kid_fetches_once_the_short_cooldown_has_passed(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    assert cache.plan("new", 4.9) is Action.USE  # fetched 4.9 s ago: cooling down
    assert cache.plan("new", 5) is Action.FETCH  # unknown_kid_cooldown, not the 30 s cooldown
    cache.begin(5, "new")
    rotated = keyset("a", "new")
    cache.succeeded(rotated, None, 5)
    assert cache.plan("new", 5) is Action.USE
    assert cache.result("new", 5) is rotated
    assert cache.fetches == 2


def test_made_up_kids_back_off_to_one_fetch_per_cooldown(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    times = fetch_times(cache, made_up(), 0.1, 300, 0.1, lambda now: keys)
    assert times == [5, 15, 35, 65, 95, 125, 155, 185, 215, 245, 275]  # 5, 10, 20, then 30 s
    assert cache.misses == 11


def test_a_fetch_that_brings_a_new_key_ends_the_backoff(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    times = fetch_times(cache, made_up(), 0.1, 40, 0.1, lambda now: keys)
    assert times == [5, 15, 35]
    assert cache.plan("rotated", 64.9) is Action.USE  # backed off to 30 s after three misses
    assert cache.plan("rotated", 65) is Action.FETCH
    cache.begin(65, "rotated")
    cache.succeeded(keyset("a", "rotated"), None, 65)
    assert cache.misses == 0
    assert cache.plan("next", 69.9) is Action.USE
    assert cache.plan("next", 70) is Action.FETCH  # 5 s again


def test_a_refresh_of_expired_keys_ends_the_backoff(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    fetch_times(cache, made_up(), 0.1, 40, 0.1, lambda now: keys)
    assert cache.misses == 3
    assert cache.plan("a", 334.9) is Action.USE
    assert cache.plan("a", 335) is Action.REFRESH  # 300 s after the last fetch, at 35
    cache.begin(335, "a")
    cache.succeeded(keys, None, 335)
    assert cache.misses == 0  # a refresh no made-up kid caused
    assert cache.plan("rotated", 340) is Action.FETCH


def test_unknown_kids_never_fetch_more_often_than_the_cap(keys: tessera.KeySet) -> None:
    """Made-up kids cost the issuer at most max_fetches_per_minute, even when every fetch
    brings a new key (an issuer rotating constantly) and the cooldowns would allow more."""
    eager = CachePolicy(cooldown=1, unknown_kid_cooldown=0, max_fetches_per_minute=10)
    cache = JWKSCache(eager)
    serial = itertools.count()
    times = fetch_times(cache, made_up(), 0, 600, 0.05, lambda now: keyset(f"k{next(serial)}"))
    assert 95 <= len(times) <= 100
    assert all(later - earlier > 59.999 for earlier, later in zip(times, times[10:], strict=False))


def test_the_cap_counts_every_fetch_and_shows_in_retry_after(keys: tessera.KeySet) -> None:
    policy = CachePolicy(cooldown=0, unknown_kid_cooldown=0, min_ttl=0, max_fetches_per_minute=3)
    cache = JWKSCache(policy)
    for now in (0, 1):
        assert cache.plan(None, now) in (Action.FETCH, Action.REFRESH)
        cache.begin(now)
        cache.succeeded(keys, 0, now)  # expires at once: each lookup wants a refresh
    assert cache.plan("new", 2) is Action.FETCH
    cache.begin(2, "new")
    cache.failed("down", 2)
    assert cache.plan("a", 3) is Action.USE  # three fetches in the last minute: the cap
    with pytest.raises(KeysUnavailableError) as caught:
        cache.result("new", 3)
    assert caught.value.retry_after == 57  # when the fetch at 0 leaves the window
    assert cache.plan("a", 60) is Action.REFRESH


def test_after_a_failed_fetch_an_unknown_kid_waits_the_full_cooldown(
    keys: tessera.KeySet,
) -> None:
    cache = warm(keys)
    cache.begin(100, "new")
    cache.failed("down", 100)
    assert cache.plan("new", 105) is Action.USE
    with pytest.raises(KeysUnavailableError):
        cache.result("new", 105)  # the issuer cannot say whether the key is new: 503
    assert cache.plan("new", 130) is Action.FETCH


def test_the_unknown_kid_cooldown_never_exceeds_the_cooldown(keys: tessera.KeySet) -> None:
    cache = JWKSCache(CachePolicy(cooldown=0))
    cache.begin(0)
    cache.succeeded(keys, None, 0)
    assert cache.plan("new", 0) is Action.FETCH


def test_an_old_style_policy_refetches_an_unknown_kid_once_per_cooldown(
    keys: tessera.KeySet,
) -> None:
    cache = JWKSCache(CachePolicy(unknown_kid_cooldown=30))
    cache.begin(0)
    cache.succeeded(keys, None, 0)
    assert cache.plan("new", 29) is Action.USE
    assert cache.plan("new", 30) is Action.FETCH


def test_unknown_kid_lookups_are_counted(keys: tessera.KeySet) -> None:
    cache = warm(keys)
    cache.result("a", 1)
    cache.result(None, 1)
    assert cache.unknown_kids == 0
    cache.result("new", 1)
    cache.result("other", 2)
    assert cache.unknown_kids == 2


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
    "field",
    ["default_ttl", "min_ttl", "max_ttl", "cooldown", "unknown_kid_cooldown", "stale_if_error"],
)
@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), True, "60"])
def test_policy_refuses_unusable_durations(field: str, value: object) -> None:
    with pytest.raises(tessera.ConfigurationError):
        CachePolicy(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -1, 10_001, True, 1.5, "10"])
def test_policy_refuses_an_unusable_fetch_cap(value: object) -> None:
    with pytest.raises(tessera.ConfigurationError):
        CachePolicy(max_fetches_per_minute=value)  # type: ignore[arg-type]


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
