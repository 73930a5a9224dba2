"""ID-token verification for a relying party: Tessera's IDTokenVerifier against Authlib,
joserfc, PyJWT, jwcrypto and python-jose, in one process.

Each library verifies the same ID token (RS256, then ES256), as a code-flow client does after
the token response: the signature, then ``iss``, ``aud``, ``exp``, ``iat``, ``sub``, the
``nonce`` sent in the authorization request, ``azp`` and ``at_hash`` against the access token
received with it. Where a library has no OpenID check, the adapter does it by hand in the few
lines its documentation suggests (marked "manual" below), so every library does the same work.
Method as in bench_core.py: keys imported once, every result checked against the claims before
timing, CPU time of this thread, libraries round-robin, the fastest of N rounds per cell.

    .venv/bin/python bench/bench_oidc.py [--quick] [--alg RS256] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

import _peers
import tessera
from bench_core import Result, _fmt, measure
from tessera.jose._b64 import b64decode
from tessera.oidc import IDTokenVerifier

ALGORITHMS = ("RS256", "ES256")
ISSUER = "https://login.example.com"
CLIENT_ID = "s6BhdRkqt3"
NONCE = "n-0S6_WzA2Mj"
ACCESS_TOKEN = "SlAV32hkKG-eyJhbGciOiJFUzI1NiJ9.access-token-as-received.dBjftJeZ4CVP"
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}

Verify = Callable[[], Any]


def at_hash(alg: str, access_token: str) -> str:
    """OIDC Core 3.1.3.6: left half of the alg's hash of the access token, base64url."""
    digest = _HASHES[alg[-3:]](access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def id_token_claims(alg: str, now: int) -> dict[str, Any]:
    """A typical code-flow ID token (OIDC Core 2 and 3.1.3.6)."""
    return {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "exp": now + 600,
        "iat": now,
        "auth_time": now - 30,
        "nonce": NONCE,
        "at_hash": at_hash(alg, ACCESS_TOKEN),
        "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
        "amr": ["pwd"],
    }


def make_fixtures(algs: list[str]) -> dict[str, _peers.Fixture]:
    """One key per algorithm and an ID token Tessera signed with it (header alg, kid, typ JWT)."""
    now = int(time.time())
    out = {}
    for alg in algs:
        private = tessera.Key.generate(alg)
        public = private.public()
        claims = id_token_claims(alg, now)
        fx = _peers.Fixture(
            alg, private, public, private.to_jwk(private=True), public.to_jwk(), claims
        )
        fx.token = tessera.encode(claims, private)
        h_seg, p_seg, s_seg = fx.token.split(".")
        fx.signing_input = f"{h_seg}.{p_seg}".encode("ascii")
        fx.signature = b64decode(s_seg)
        out[alg] = fx
    return out


# -- the manual OpenID checks for libraries that have none --------------------------------


def manual_oidc(claims: dict[str, Any], alg: str, *, nonce: bool = True) -> None:
    """What a relying party adds to a JWT library: nonce (constant time), azp, at_hash."""
    if nonce:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got, NONCE):
            raise ValueError("nonce")
    azp = claims.get("azp")
    if azp is not None and azp != CLIENT_ID:
        raise ValueError("azp")
    claimed = claims.get("at_hash")
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed, at_hash(alg, ACCESS_TOKEN)):
        raise ValueError("at_hash")


# -- adapters: each returns a zero-argument verify; check() compares its result ------------


def build_floor(fx: _peers.Fixture) -> Verify:
    """The bare ``cryptography`` verification of the same signature (bench_core's floor)."""
    return _peers.FLOOR.build(fx)[1]


def build_tessera(fx: _peers.Fixture) -> Verify:
    """IDTokenVerifier with the provider's key set, as configured from discovery."""
    verifier = IDTokenVerifier(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        keys=tessera.KeySet([fx.public]),
        algorithms=[fx.alg],
    )
    token = fx.token
    return lambda: (
        verifier.verify(token, nonce=NONCE, access_token=ACCESS_TOKEN, require_at_hash=True).claims
    )


def build_tessera_core(fx: _peers.Fixture) -> Verify:
    """``tessera.decode`` with iss/aud/exp/iat only: the JWT core under the OpenID layer."""
    keys, token, algs = tessera.KeySet([fx.public]), fx.token, [fx.alg]
    require = ("aud", "exp", "iat", "iss", "sub")
    return lambda: tessera.decode(
        token, keys, algorithms=algs, issuer=ISSUER, audience=CLIENT_ID, require=require
    )


def build_authlib(fx: _peers.Fixture) -> Verify:
    """authlib.jose.jwt.decode with claims_cls=CodeIDToken (nonce, azp, at_hash built in)."""
    with warnings.catch_warnings(record=True):  # authlib.jose warns it is deprecated
        from authlib.jose import JsonWebKey, JsonWebToken
        from authlib.oidc.core import CodeIDToken

    jwt = JsonWebToken([fx.alg])
    key = JsonWebKey.import_key(fx.public_jwk)
    token = fx.token
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": CLIENT_ID},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True},
    }
    params = {"nonce": NONCE, "client_id": CLIENT_ID, "access_token": ACCESS_TOKEN}

    def verify() -> Any:
        claims = jwt.decode(
            token, key, claims_cls=CodeIDToken, claims_options=options, claims_params=params
        )
        claims.validate()
        return claims

    return verify


def build_joserfc(fx: _peers.Fixture) -> Verify:
    """joserfc jwt.decode + JWTClaimsRegistry (iss, aud, exp, iat, sub, nonce, azp values);
    at_hash by hand (joserfc has no OpenID module)."""
    from joserfc import jwk, jwt

    cls: Any = jwk.RSAKey if fx.alg.startswith("RS") else jwk.ECKey
    key = cls.import_key(fx.public_jwk)
    token, algs, alg = fx.token, [fx.alg], fx.alg
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": CLIENT_ID},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": NONCE},
        azp={"value": CLIENT_ID},
    )

    def verify() -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=algs).claims
        registry.validate(claims)
        manual_oidc(claims, alg, nonce=False)
        return claims

    return verify


def build_pyjwt(fx: _peers.Fixture) -> Verify:
    """PyJWT jwt.decode (iss, aud, exp, iat required) + manual nonce, azp and at_hash."""
    import jwt

    key, token, alg = _peers._crypto_public(fx), fx.token, fx.alg
    options: Any = {"require": ["exp", "iat", "iss", "aud", "sub"]}

    def verify() -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[alg], audience=CLIENT_ID, issuer=ISSUER, options=options
        )
        manual_oidc(claims, alg)
        return claims

    return verify


def build_jwcrypto(fx: _peers.Fixture) -> Verify:
    """jwcrypto JWT with check_claims (iss, aud, exp, iat, sub, nonce) + manual azp, at_hash."""
    from jwcrypto import jwk, jwt

    key = jwk.JWK(**fx.public_jwk)
    token, alg, algs = fx.token, fx.alg, [fx.alg]
    check = {"iss": ISSUER, "aud": CLIENT_ID, "exp": None, "iat": None, "sub": None, "nonce": NONCE}

    def verify() -> dict[str, Any]:
        tok = jwt.JWT(jwt=token, key=key, algs=algs, check_claims=check)
        claims: dict[str, Any] = json.loads(tok.claims)
        manual_oidc(claims, alg, nonce=False)
        return claims

    return verify


def build_python_jose(fx: _peers.Fixture) -> Verify:
    """python-jose jwt.decode with access_token= (checks at_hash) + manual nonce and azp."""
    from jose import jwk, jwt

    alg, token = fx.alg, fx.token
    key = jwk.construct(fx.public_jwk, alg)
    options = {
        "require_exp": True,
        "require_iat": True,
        "require_iss": True,
        "require_aud": True,
        "require_sub": True,
        "require_at_hash": True,
    }

    def verify() -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=CLIENT_ID,
            issuer=ISSUER,
            access_token=ACCESS_TOKEN,
            options=options,
        )
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got, NONCE):
            raise ValueError("nonce")
        if claims.get("azp", CLIENT_ID) != CLIENT_ID:
            raise ValueError("azp")
        return claims

    return verify


# name, distribution, builder, what the library checks itself / what the adapter adds
PEERS: tuple[tuple[str, str, Callable[[_peers.Fixture], Verify], str], ...] = (
    ("authlib", "Authlib", build_authlib, "CodeIDToken: all built in"),
    ("joserfc", "joserfc", build_joserfc, "registry: nonce, azp; manual at_hash"),
    ("pyjwt", "PyJWT", build_pyjwt, "manual nonce, azp, at_hash"),
    ("jwcrypto", "jwcrypto", build_jwcrypto, "check_claims: nonce; manual azp, at_hash"),
    ("python-jose", "python-jose", build_python_jose, "at_hash built in; manual nonce, azp"),
)


def _installed(dist: str) -> bool:
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def check(name: str, fx: _peers.Fixture, verify: Verify) -> None:
    """Before timing: the library returns exactly the claims, and refuses a wrong nonce's token
    (so the nonce check really runs in the timed call)."""
    got = verify()
    if name != "floor":
        assert dict(got) == fx.claims, (name, fx.alg, got)


def refuses_other_nonce(
    name: str, builder: Callable[[_peers.Fixture], Verify], fx: _peers.Fixture
) -> None:
    """Build the same verifier for a token with another nonce and at_hash: it must refuse it
    (for each reason separately), so both checks really run in the timed call."""
    for claim, value in (("nonce", "another-nonce"), ("at_hash", at_hash(fx.alg, "other"))):
        bad = _peers.Fixture(
            fx.alg,
            fx.private,
            fx.public,
            fx.private_jwk,
            fx.public_jwk,
            {**fx.claims, claim: value},
        )
        bad.token = tessera.encode(bad.claims, fx.private)
        try:
            builder(bad)()
        except Exception:  # any refusal will do; a pass is the failure
            continue
        raise AssertionError(f"{name} accepted an ID token with a wrong {claim}")


def print_table(results: list[Result], peers: list[str], rounds: int) -> None:
    """µs per verification per library and the peer/tessera ratios."""
    print(
        f"\nverify one ID token: µs per call (CPU time, best of {rounds} rounds); "
        "(Nx) = library / tessera"
    )
    print("floor = the bare cryptography verify; core = tessera.decode with iss/aud/exp/iat only")
    head = f"{'alg':<7}{'floor':>8}{'core':>8}{'tessera':>9}{'-floor':>8}"
    head += "".join(f"{name:>19}" for name in peers)
    print(head)
    print("-" * len(head))
    for res in results:
        tess = res.cells["tessera"].best
        line = f"{res.alg:<7}{_fmt(res.cells['floor'].best):>8}"
        line += f"{_fmt(res.cells['core'].best):>8}{_fmt(tess):>9}{res.overhead:>+8.1f}"
        for name in peers:
            cell = res.cells.get(name)
            text = "-" if cell is None else f"{_fmt(cell.best)} ({cell.best / tess:.2f}x)"
            line += f"{text:>19}"
        print(line)
    print("\nabove the floor (library - floor, µs, best rounds; what each library adds):")
    for res in results:
        floor = res.cells["floor"].best
        parts = [
            f"{n} {res.cells[n].best - floor:+.1f}" for n in ["tessera", *peers] if n in res.cells
        ]
        print(f"  {res.alg}: " + ", ".join(parts))
    ratios = {
        name: statistics.geometric_mean(
            [r.cells[name].best / r.cells["tessera"].best for r in results if name in r.cells]
        )
        for name in peers
        if any(name in r.cells for r in results)
    }
    print(
        "geometric mean library/tessera: " + ", ".join(f"{n} {v:.2f}x" for n, v in ratios.items())
    )


def main(argv: list[str] | None = None) -> int:
    """Build, check, time and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--alg", action="append", choices=ALGORITHMS, help="repeatable filter")
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 15, quick 3)")
    parser.add_argument("--batch-ms", type=float, help="target batch time (default 10, quick 5)")
    parser.add_argument("--json", metavar="PATH", help="also write all samples as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)
    target_s = (args.batch_ms or (5.0 if args.quick else 10.0)) / 1000
    algs = args.alg or list(ALGORITHMS)
    started = time.perf_counter()

    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"ID-token verification benchmark, {date}, load average {load}")
    dists = ["tessera-jwt", "cryptography"] + [dist for _, dist, _, _ in PEERS]
    print(", ".join(f"{d} {metadata.version(d) if _installed(d) else 'missing'}" for d in dists))
    peers = [(n, b, what) for n, dist, b, what in PEERS if _installed(dist)]
    for name, _, what in peers:
        print(f"  {name}: {what}")

    fixtures = make_fixtures(algs)
    print(f"claims: {json.dumps(fixtures[algs[0]].claims)}")
    print(f"token ({algs[0]}): {_peers.describe_token(fixtures[algs[0]])}")
    builders: list[tuple[str, Callable[[_peers.Fixture], Verify]]] = [
        ("floor", build_floor),
        ("core", build_tessera_core),
        ("tessera", build_tessera),
        *((n, b) for n, b, _ in peers),
    ]
    results = []
    for alg in algs:
        fx = fixtures[alg]
        ops = {}
        for name, builder in builders:
            ops[name] = builder(fx)
            check(name, fx, ops[name])
            if name not in ("floor", "core"):
                refuses_other_nonce(name, builder, fx)
        results.append(measure(alg, "verify", ops, rounds, target_s))
    print("every library returned the claims and refused a wrong nonce and a wrong at_hash")
    print_table(results, [n for n, _, _ in peers], rounds)
    print(f"\ntook {time.perf_counter() - started:.0f} s")
    if args.json:
        dump = {
            "date": date,
            "load": os.getloadavg(),
            "rounds": rounds,
            "results": [
                {
                    "alg": r.alg,
                    "cells": {
                        n: {"best_us": c.best, "median_us": c.median, "samples_us": c.samples}
                        for n, c in r.cells.items()
                    },
                }
                for r in results
            ],
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(dump, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
