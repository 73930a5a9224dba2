"""Shared fixtures: keys generated once per session, because RSA generation is slow."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import tessera

KeyMaker = Callable[..., tessera.Key]


@pytest.fixture(scope="session")
def make_key() -> KeyMaker:
    """``make_key(alg, crv=None)``: a cached private Key bound to ``alg`` (kid = thumbprint).

    The RS*/PS* keys share one 2048-bit modulus, rebound to each algorithm.
    """
    cache: dict[tuple[str, str | None], tessera.Key] = {}

    def make(alg: str, crv: str | None = None) -> tessera.Key:
        if (alg, crv) not in cache:
            if alg[:2] in ("RS", "PS") and alg != "RS256":
                rsa_jwk = make("RS256").to_jwk(private=True)
                cache[(alg, crv)] = tessera.Key.from_jwk({**rsa_jwk, "alg": alg})
            else:
                cache[(alg, crv)] = tessera.Key.generate(alg, crv=crv)
        return cache[(alg, crv)]

    return make
