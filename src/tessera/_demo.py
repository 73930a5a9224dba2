"""`make demo`: the library's story end to end, printed for a person to read.

An issuer makes a key and publishes its JWKS; it issues a token; a verifier that holds only
the published JWKS accepts it, then refuses a tampered, an expired, an unsigned, a
key-confused and a misdirected token, each with its reason. Exits non-zero if any step
does not behave as told.
"""

from __future__ import annotations

import hmac
import json
import sys
import time
from collections.abc import Callable

import tessera
from tessera.jose._b64 import b64encode_str

ISSUER = "https://issuer.example"
API = "https://api.example"


def _say(title: str, body: str = "") -> None:
    print(f"\n== {title}")
    if body:
        print(body)


def _refused(label: str, attempt: Callable[[], object], expected: type[Exception]) -> bool:
    try:
        attempt()
    except expected as exc:
        code = getattr(exc, "code", "?")
        print(f"  REFUSED  {label:<44} {type(exc).__name__} [{code}]: {exc}")
        return True
    except Exception as exc:  # the demo reports any surprise, then fails
        print(f"  WRONG    {label:<44} raised {type(exc).__name__}: {exc}")
        return False
    print(f"  ACCEPTED {label:<44} (this should not happen)")
    return False


def main() -> int:
    """Run the story; return the process exit code."""
    now = int(time.time())
    _say("1. The issuer generates a signing key (ES256, P-256)")
    key = tessera.Key.generate("ES256")
    print(f"  {key!r}")
    jwks = tessera.KeySet([key.public()]).to_jwks()
    _say("2. It publishes the public half as a JWKS", json.dumps(jwks, indent=2))

    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": API,
        "scope": "lab:enter",
        "iat": now,
        "exp": now + 300,
    }
    token = tessera.encode(claims, key, typ="at+jwt")
    header, body = tessera.decode_unverified(token)
    _say("3. It issues an access token", token)
    print(f"  header: {json.dumps(header)}\n  claims: {json.dumps(body)}")

    verifier_keys = tessera.KeySet.from_jwks(json.dumps(jwks))

    def verify(candidate: str, *, audience: str = API, at: int | None = None) -> object:
        return tessera.decode(
            candidate, verifier_keys, issuer=ISSUER, audience=audience, typ="at+jwt", now=at
        )

    _say("4. The API verifies it with the published keys only")
    ok = verify(token)
    print(f"  GRANTED  signature, issuer, audience, typ and expiry all check out: {ok}")

    _say("5. Everything else is refused, each with its reason")
    h, p, s = token.split(".")
    forged_claims = dict(claims, sub="admin", scope="vault:open")
    forged = f"{h}.{b64encode_str(json.dumps(forged_claims).encode())}.{s}"
    none_header = b64encode_str(b'{"alg":"none","typ":"at+jwt"}')
    unsigned = f"{none_header}.{p}."
    # The classic HS/RS confusion forgery: HMAC keyed with the issuer's public PEM.
    confused_header = json.dumps({"alg": "HS256", "kid": key.kid, "typ": "at+jwt"})
    confused_input = f"{b64encode_str(confused_header.encode())}.{p}"
    mac = hmac.digest(key.public().to_pem(), confused_input.encode(), "sha256")
    confused = f"{confused_input}.{b64encode_str(mac)}"
    results = [
        _refused("claims edited (sub=admin)", lambda: verify(forged), tessera.SignatureError),
        _refused(
            "expired (checked 10 minutes later)",
            lambda: verify(token, at=now + 600),
            tessera.ExpiredTokenError,
        ),
        _refused("alg 'none', no signature", lambda: verify(unsigned), tessera.InvalidToken),
        _refused(
            "HS256 keyed with the public key (confusion)",
            lambda: verify(confused),
            tessera.AlgorithmNotAllowedError,
        ),
        _refused(
            "presented to another API (aud)",
            lambda: verify(token, audience="https://other.example"),
            tessera.InvalidAudienceError,
        ),
        _refused(
            "signed by a stranger's key",
            lambda: verify(tessera.encode(claims, tessera.Key.generate("ES256"), typ="at+jwt")),
            tessera.KeyNotFoundError,
        ),
    ]
    if all(results):
        _say("Done: one valid token accepted, six bad ones refused.")
        return 0
    _say("Some step did not behave as expected.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
