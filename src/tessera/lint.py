"""Security lint for JWTs: what a reviewer would flag in a token, with the RFC section.

A pure function over a token (and optionally the key meant to verify it): no I/O, no clock
unless ``now`` is omitted. The CLI (``tessera lint``) and the debugger page both call it.

>>> from tessera import Key, encode
>>> key = Key.generate("ES256")
>>> token = encode({"sub": "alice"}, key)
>>> sorted(f.code for f in lint(token))
['missing-aud', 'missing-iss', 'no-exp']

Each :class:`Finding` has a :class:`Severity`, a stable ``code``, a fixed ``message`` and the
RFC section it rests on. Parsing is :func:`tessera.decode_unverified` (the same strict parser
as verification); a token that does not parse is an error, not a finding.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from tessera.errors import InvalidKey, InvalidToken, SignatureError
from tessera.jose.jwa import JWS_ALGORITHMS, Family
from tessera.jose.jwk import Key
from tessera.jose.jwt import decode_unverified

__all__ = ["DEFAULT_MAX_LIFETIME", "Finding", "Severity", "lint"]

DEFAULT_MAX_LIFETIME = timedelta(hours=24)
"""Tokens valid for longer than this are flagged (``long-lifetime``)."""

_FUTURE_SKEW = 60.0  # beyond this much clock skew, a future ``iat`` looks forged
_MIN_SECRET_BITS = 128  # a text secret with less estimated entropy is within cracking reach
_GIVEAWAY_WORDS = ("secret", "passw", "key", "jwt", "token", "change", "admin", "test",
                   "example", "sample", "demo", "default", "qwerty", "letmein")  # fmt: skip
_KNOWN_SECRETS = frozenset({
    b"secret", b"password", b"changeme", b"change-me", b"changeit", b"your-256-bit-secret",
    b"your-384-bit-secret", b"your-512-bit-secret", b"secretkey", b"secret-key", b"jwt-secret",
    b"jwtsecret", b"mysecret", b"my-secret", b"supersecret", b"default", b"test", b"key",
    b"shhhhh", b"gottacatchemall", b"notasecret", b"s3cr3t", b"123456", b"qwerty",
})  # fmt: skip
_SENSITIVE_PARTS = (
    "password", "passwd", "passphrase", "secret", "socialsecurity", "creditcard", "cardnumber",
    "cardno", "cvv", "cvc", "iban", "privatekey", "apikey", "accesskey", "taxid", "passport",
    "dateofbirth", "birthdate",
)  # fmt: skip
_SENSITIVE_EXACT = frozenset({"pwd", "pin", "pan", "dob", "card", "cc"})
_NOT_SENSITIVE = frozenset({"clientsecretexpiresat"})
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
# Payment card numbers: 15 or 16 digits (spaces or dashes between groups), a major network's
# prefix, and a valid Luhn check digit. Long numeric ids (snowflakes) do not qualify.
_CARD = re.compile(r"(?:\d{4}[ -]?){3}\d{3,4}")
_CARD_PREFIX = re.compile(r"4|3[47]|5[1-5]|2[2-7]|6(?:011|5)")
# Traversal (".." or a leading "/", "\\", "~"), a URL, quote, shell and control characters, and
# an SQL comment ("-- "). A "/" inside is fine (standard-base64 kids, as AWS Cognito issues,
# have them) and so is a bare "--" (base64url thumbprints contain it about 1% of the time).
_SUSPICIOUS_KID = re.compile(r"\.\.|^[/\\~]|://|[\\'\";`$|&<>{}\x00-\x1f\x7f]|--\s")
_MAX_KID = 256


class Severity(IntEnum):
    """How much a finding matters; ordered, so ``f.severity >= Severity.MEDIUM`` works."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """The lower-case name used in output and ``--fail-on`` ("medium")."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: severity, stable code, a fixed sentence and the RFC section behind it."""

    severity: Severity
    code: str
    message: str
    rfc_ref: str


def _seconds(value: float | int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _now(now: float | int | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return float(value)
    return None


def lint(
    token: str | bytes,
    key: Key | None = None,
    *,
    max_lifetime: float | int | timedelta = DEFAULT_MAX_LIFETIME,
    now: float | int | datetime | None = None,
) -> list[Finding]:
    """The security findings for ``token``, most severe first.

    With ``key`` the signature is checked too, and an HMAC key is judged for length and
    guessability. ``max_lifetime`` bounds ``exp - iat``; ``now`` defaults to the clock.

    Raises:
        MalformedTokenError: the token is not a well-formed compact JWT.
    """
    header, claims = decode_unverified(token)
    current = _now(now)
    findings = _header_findings(header)
    findings += _claim_findings(claims, _seconds(max_lifetime), current)
    if key is not None:
        findings += _key_findings(token, header, key)
    findings.sort(key=lambda f: (-f.severity, f.code))
    return findings


# -- header --------------------------------------------------------------------------------


def _header_findings(header: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        out.append(
            Finding(
                Severity.CRITICAL,
                "alg-none",
                "the token is unsecured (alg none): anyone can forge it",
                "RFC 8725 sec. 2.1, 3.1",
            )
        )
    elif not isinstance(alg, str) or alg not in JWS_ALGORITHMS:
        out.append(
            Finding(
                Severity.HIGH,
                "unknown-alg",
                "the alg header is missing or not a registered signature algorithm",
                "RFC 7515 sec. 4.1.1, RFC 8725 sec. 3.2",
            )
        )
    typ = header.get("typ")
    if typ is None:
        out.append(
            Finding(
                Severity.LOW,
                "missing-typ",
                "no typ header: explicit typing prevents one kind of JWT passing as another",
                "RFC 8725 sec. 3.11",
            )
        )
    for name in ("jku", "x5u"):
        if name in header:
            out.append(
                Finding(
                    Severity.HIGH,
                    f"header-{name}",
                    f"the {name} header points to keys at a URL: a verifier must never fetch it",
                    "RFC 8725 sec. 3.10, RFC 7515 sec. 4.1.2",
                )
            )
    if "jwk" in header:
        out.append(
            Finding(
                Severity.HIGH,
                "header-jwk",
                "the jwk header embeds a key: a verifier must never trust it",
                "RFC 7515 sec. 4.1.3, RFC 8725 sec. 2.1",
            )
        )
    if "x5c" in header:
        out.append(
            Finding(
                Severity.MEDIUM,
                "header-x5c",
                "the x5c header embeds certificates: trust only with chain validation",
                "RFC 7515 sec. 4.1.6",
            )
        )
    if "kid" in header:
        out += _kid_findings(header["kid"])
    return out


def _kid_findings(kid: Any) -> list[Finding]:
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID:
        reason = "not a non-empty string of at most 256 characters"
    elif _SUSPICIOUS_KID.search(kid):
        reason = "path, quote, URL, SQL or control characters"
    else:
        return []
    return [
        Finding(
            Severity.HIGH,
            "suspicious-kid",
            f"the kid header looks like an injection attempt ({reason})",
            "RFC 8725 sec. 2.9, 3.10",
        )
    ]


# -- claims --------------------------------------------------------------------------------


def _claim_findings(claims: dict[str, Any], max_lifetime: float, now: float) -> list[Finding]:
    out: list[Finding] = []
    times: dict[str, float | None] = {}
    for name in ("exp", "nbf", "iat"):
        if name in claims:
            times[name] = _number(claims[name])
            if times[name] is None:
                out.append(
                    Finding(
                        Severity.HIGH,
                        f"invalid-{name}",
                        f"{name} is not a NumericDate number: verifiers disagree on such tokens",
                        "RFC 7519 sec. 2, 4.1",
                    )
                )
    exp, iat = times.get("exp"), times.get("iat")
    if "exp" not in claims:
        out.append(
            Finding(
                Severity.HIGH,
                "no-exp",
                "no exp claim: the token never expires",
                "RFC 7519 sec. 4.1.4, RFC 9068 sec. 2.2",
            )
        )
    elif exp is not None:
        start = iat if iat is not None else now
        if exp - start > max_lifetime:
            span = _hours(exp - start)
            what = f"lives {span}" if iat is not None else f"is valid for {span} more"
            out.append(
                Finding(
                    Severity.MEDIUM,
                    "long-lifetime",
                    f"the token {what}, longer than {_hours(max_lifetime)}",
                    "RFC 7519 sec. 4.1.4, RFC 6819 sec. 5.1.5.3",
                )
            )
        if exp <= now:
            out.append(
                Finding(Severity.INFO, "expired", "the token has expired", "RFC 7519 sec. 4.1.4")
            )
    if iat is not None and iat > now:
        # Any future iat fails a verifier without leeway (tessera.decode's default).
        skewed = iat <= now + _FUTURE_SKEW
        out.append(
            Finding(
                Severity.LOW if skewed else Severity.MEDIUM,
                "iat-future",
                "iat is slightly in the future: clocks disagree, and verifiers without "
                "leeway reject it"
                if skewed
                else "iat is in the future: a clock is wrong or the token was forged",
                "RFC 7519 sec. 4.1.6",
            )
        )
    if "iss" not in claims:
        out.append(
            Finding(
                Severity.MEDIUM,
                "missing-iss",
                "no iss claim: verifiers cannot check who issued the token",
                "RFC 8725 sec. 3.8, RFC 7519 sec. 4.1.1",
            )
        )
    if "aud" not in claims:
        out.append(
            Finding(
                Severity.MEDIUM,
                "missing-aud",
                "no aud claim: the token can be replayed at any service that trusts the issuer",
                "RFC 8725 sec. 3.9, RFC 7519 sec. 4.1.3",
            )
        )
    out += _sensitive_findings(claims)
    return out


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.3g} days" if hours >= 48 else f"{hours:.3g} h"


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _sensitive_name(name: str) -> bool:
    flat = "".join(c for c in name.lower() if c.isalnum())
    if flat in _NOT_SENSITIVE:
        return False
    return (
        flat in _SENSITIVE_EXACT
        or flat.endswith("ssn")
        or any(part in flat for part in _SENSITIVE_PARTS)
    )


def _sensitive_value(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    if _SSN.fullmatch(text):
        return True
    if _CARD.fullmatch(text):
        digits = "".join(c for c in text if c.isdigit())
        return len(digits) in (15, 16) and bool(_CARD_PREFIX.match(digits)) and _luhn(digits)
    return False


def _walk(value: Any, path: str, names: set[str], values: set[str], depth: int = 0) -> None:
    """Collect paths of sensitive-looking member names and values (card numbers, SSNs)."""
    if depth > 8:
        return
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = [
            (f"{path}.{name}" if path else name, item) for name, item in value.items()
        ]
        for (here, item), name in zip(items, value, strict=True):
            if _sensitive_name(name):
                names.add(here)
            elif _sensitive_value(item):
                values.add(here)
            else:
                _walk(item, here, names, values, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            here = f"{path}[{index}]"
            if _sensitive_value(item):
                values.add(here)
            else:
                _walk(item, here, names, values, depth + 1)


def _sensitive_findings(claims: dict[str, Any]) -> list[Finding]:
    names: set[str] = set()
    values: set[str] = set()
    _walk(claims, "", names, values)
    if not names and not values:
        return []
    found = sorted(names | values)
    shown = ", ".join(found[:5]) + (" ..." if len(found) > 5 else "")
    what = "hold card or social security numbers" if values else "look sensitive"
    return [
        Finding(
            Severity.HIGH if values else Severity.MEDIUM,
            "sensitive-claims",
            f"claims {what} ({shown}), but a signed JWT is readable by anyone who holds it",
            "RFC 7519 sec. 12",
        )
    ]


# -- key -----------------------------------------------------------------------------------


def _key_findings(token: str | bytes, header: dict[str, Any], key: Key) -> list[Finding]:
    alg = header.get("alg")
    algorithm = JWS_ALGORITHMS.get(alg) if isinstance(alg, str) else None
    if algorithm is None:
        return []
    if algorithm.family is Family.HMAC and key.kty != "oct":
        return [
            Finding(
                Severity.CRITICAL,
                "alg-key-confusion",
                f"the token says {algorithm.name} but the key is {key.kty}: "
                "the public key may be used as an HMAC secret",
                "RFC 8725 sec. 2.1, 3.1",
            )
        ]
    if key.kty != algorithm.kty or (key.alg is not None and key.alg != algorithm.name):
        return [
            Finding(
                Severity.HIGH,
                "alg-key-mismatch",
                f"the token says {algorithm.name}, but the key is a {key.kty} key "
                f"for {key.alg or 'other algorithms'}",
                "RFC 8725 sec. 3.1",
            )
        ]
    out: list[Finding] = []
    if key.kty == "oct":
        out += _secret_findings(key, algorithm.name, algorithm.min_key_size)
    if not out:
        out += _signature_findings(token, key, algorithm.name)
    return out


def _secret_findings(key: Key, alg: str, min_size: int) -> list[Finding]:
    import base64

    encoded = key.to_jwk(private=True)["k"]
    secret = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    if secret.strip().lower() in _KNOWN_SECRETS:
        return [
            Finding(
                Severity.CRITICAL,
                "known-hmac-secret",
                "the HMAC secret is a well-known default: anyone can forge tokens",
                "RFC 8725 sec. 3.5, RFC 7518 sec. 3.2",
            )
        ]
    if len(secret) < min_size:
        return [
            Finding(
                Severity.HIGH,
                "short-hmac-secret",
                f"the HMAC secret has {len(secret)} bytes; {alg} needs at least {min_size}",
                "RFC 7518 sec. 3.2, RFC 8725 sec. 2.2",
            )
        ]
    bits = _text_entropy_bits(secret)
    if bits is not None and bits < _MIN_SECRET_BITS:
        return [
            Finding(
                Severity.MEDIUM,
                "weak-hmac-secret",
                f"the HMAC secret looks human-chosen (about {bits} bits of entropy, under "
                f"{_MIN_SECRET_BITS}): it can be cracked offline",
                "RFC 8725 sec. 3.5, RFC 7518 sec. 3.2",
            )
        ]
    return []


def _text_entropy_bits(secret: bytes) -> int | None:
    """A generous estimate of a printable secret's entropy; 0 for passphrases with spaces.

    Random bytes are not text (None); base64 or hex of enough random bytes passes.
    """
    try:
        text = secret.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.isprintable():
        return None
    if " " in text.strip():
        return 0
    for word in _GIVEAWAY_WORDS:  # words people put in secrets add nothing against a wordlist
        text = re.sub(word, "", text, flags=re.IGNORECASE)
    alphabet = 16 if all(c in "0123456789abcdefABCDEF" for c in text) else 0
    if not alphabet:
        alphabet += 26 if any(c.islower() for c in text) else 0
        alphabet += 26 if any(c.isupper() for c in text) else 0
        alphabet += 10 if any(c.isdigit() for c in text) else 0
        alphabet += 33 if any(not c.isalnum() for c in text) else 0
    # Bits per character are bounded by the characters actually used (aaaa..., abab...).
    per_char = math.log2(max(2, min(alphabet, len(set(text)))))
    return int(len(text) * per_char)


def _signature_findings(token: str | bytes, key: Key, alg: str) -> list[Finding]:
    from tessera.jose import jws

    try:
        jws.verify(token, key, algorithms=[alg])
    except SignatureError:
        reason = "the signature does not verify with this key"
    except (InvalidToken, InvalidKey) as exc:
        reason = f"the token cannot be verified with this key ({exc})"
    else:
        return []
    return [Finding(Severity.HIGH, "bad-signature", reason, "RFC 7515 sec. 5.2")]
