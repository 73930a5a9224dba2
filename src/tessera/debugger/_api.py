"""The page's JSON endpoints: verify, encode, lint and generate-key, over the core library.

The page decodes tokens by itself for display; anything that decides validity or makes a
signature happens here, with :func:`tessera.decode`, :func:`tessera.encode` and
:func:`tessera.lint.lint`, so the format has one implementation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from starlette.requests import Request

from tessera import (
    ClaimError,
    InvalidKey,
    InvalidToken,
    Key,
    KeySet,
    SignatureError,
    decode,
    decode_unverified,
    encode,
    jws,
)
from tessera.jose.jwa import JWS_ALGORITHMS
from tessera.lint import Finding, lint

from ._fetch import FetchError, FetchPolicy, fetch
from ._http import RequestError, field
from ._keys import (
    KeyKind,
    KeySpec,
    ServerKeys,
    algorithms_for,
    describe,
    hmac_algorithm,
    load_key,
    parse_key_spec,
    secret_jwk,
    signing_key,
)

__all__ = ["Api", "Settings"]

_TIME_CLAIMS = ("exp", "nbf", "iat", "auth_time")
_RSA_SIZES = frozenset({2048, 3072, 4096})


@dataclass(frozen=True, slots=True)
class Settings:
    """What the endpoints depend on: the server's keys (if any) and the JWKS fetch policy."""

    server_keys: ServerKeys | None
    fetch_policy: FetchPolicy


def _finding(finding: Finding) -> dict[str, str]:
    return {
        "severity": finding.severity.label,
        "code": finding.code,
        "message": finding.message,
        "rfc_ref": finding.rfc_ref,
    }


def _algorithm(body: dict[str, Any]) -> str:
    alg = field(body, "alg", str, required=True)
    if alg not in JWS_ALGORITHMS:
        raise RequestError(400, "invalid_request", f"unsupported algorithm {alg!r}")
    return str(alg)


def _rejection(exc: InvalidToken, signature: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, ClaimError):
        error["claim"] = exc.claim
    return {"valid": False, "signature": signature, "error": error}


def _resolve_times(claims: dict[str, Any], now: float) -> dict[str, Any]:
    """Claims with "now", "+15m", "-1h", "@1700000000" or ISO dates turned into NumericDates."""
    from tessera.cli._errors import UsageError
    from tessera.cli._times import parse_time

    out = dict(claims)
    for name in _TIME_CLAIMS:
        value = out.get(name)
        if isinstance(value, str):
            try:
                out[name] = parse_time(value, now, name)
            except UsageError as exc:
                raise RequestError(400, "invalid_time", str(exc)) from None
    return out


def _lint_key(keys: Key | KeySet, header: dict[str, Any]) -> Key | None:
    """The one key lint should judge: the key itself, or the set's key for the token's kid."""
    if isinstance(keys, Key):
        return keys
    kid = header.get("kid")
    if isinstance(kid, str):
        return keys.get(kid)
    only = list(keys)
    return only[0] if len(only) == 1 else None


def _refused_secret(token: str, spec: KeySpec, exc: InvalidKey, now: float) -> dict[str, Any]:
    """A secret too short to verify with is still judged by lint (the jwt.io sample's is)."""
    findings: list[Finding] = []
    try:
        # Unbound, this key is never used to verify: lint only measures and compares it.
        unbound = Key.from_jwk(secret_jwk(spec))
    except (InvalidKey, RequestError):
        pass
    else:
        findings = lint(token, unbound, now=now)
    return {
        "valid": False,
        "signature": "not_checked",
        "error": {"code": exc.code, "message": str(exc)},
        "algorithms": [],
        "notes": [],
        "findings": [_finding(f) for f in findings],
    }


class _ClaimOptions:
    """The optional claim checks of a verify request."""

    def __init__(self, data: Any) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RequestError(400, "invalid_request", "'options' must be a JSON object")
        self.issuer: str | None = field(data, "issuer", str) or None
        self.audience: str | None = field(data, "audience", str) or None
        self.subject: str | None = field(data, "subject", str) or None
        self.typ: str | None = field(data, "typ", str) or None
        leeway = data.get("leeway", 0)
        if isinstance(leeway, bool) or not isinstance(leeway, int | float):
            raise RequestError(400, "invalid_request", "'leeway' must be a number of seconds")
        self.leeway: float = leeway
        require_exp = field(data, "require_exp", bool)
        self.require: tuple[str, ...] = () if require_exp is False else ("exp",)
        algorithms = field(data, "algorithms", list)
        if algorithms is not None and not all(isinstance(a, str) for a in algorithms):
            raise RequestError(400, "invalid_request", "'algorithms' must be a list of names")
        self.algorithms: list[str] | None = algorithms or None


class Api:
    """The endpoint handlers, bound to the app's :class:`Settings`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def _verification_keys(self, spec: KeySpec, header: dict[str, Any]) -> Key | KeySet:
        if spec.kind is KeyKind.SERVER:
            return self._server_keys()
        if spec.kind is KeyKind.JWKS_URL:
            url = spec.value.strip()
            try:
                body = await anyio.to_thread.run_sync(fetch, url, self._settings.fetch_policy)
            except FetchError as exc:
                raise RequestError(400, "jwks_fetch_failed", str(exc)) from None
            return KeySet.from_jwks(body, skip_invalid=True)
        alg = hmac_algorithm(header.get("alg")) if spec.kind is KeyKind.SECRET else None
        return load_key(spec, alg)

    def _server_keys(self) -> KeySet:
        provider = self._settings.server_keys
        if provider is None:
            raise RequestError(400, "no_server_keys", "this debugger is not part of a server")
        try:
            keys = provider()
        except Exception:
            raise RequestError(
                503, "server_keys_unavailable", "the server's keys are unavailable"
            ) from None
        if not isinstance(keys, KeySet):
            raise RequestError(503, "server_keys_unavailable", "the server's keys are unavailable")
        return keys

    async def verify(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """Verify a token with the given key and claim checks; say exactly why it fails."""
        token = field(body, "token", str, required=True).strip()
        spec = parse_key_spec(body.get("key"))
        options = _ClaimOptions(body.get("options"))
        now = time.time()
        try:
            header, _ = decode_unverified(token)
        except InvalidToken as exc:
            return _rejection(exc, "not_checked")
        try:
            keys = await self._verification_keys(spec, header)
        except InvalidKey as exc:
            if spec.kind is not KeyKind.SECRET:
                raise
            return _refused_secret(token, spec, exc, now)
        algorithms = options.algorithms or algorithms_for(keys)
        result: dict[str, Any]
        try:
            claims = decode(
                token,
                keys,
                algorithms=algorithms,
                issuer=options.issuer,
                audience=options.audience,
                subject=options.subject,
                typ=options.typ,
                leeway=options.leeway,
                require=options.require,
                now=now,
            )
            result = {"valid": True, "signature": "valid", "claims": claims}
        except ClaimError as exc:  # claims are checked only after the signature verified
            result = _rejection(exc, "valid")
        except SignatureError as exc:
            result = _rejection(exc, "invalid")
        except InvalidToken as exc:
            result = _rejection(exc, "not_checked")
        lint_key = _lint_key(keys, header)
        if result["signature"] == "valid":
            lint_key = jws.verify(token, keys, algorithms).key
            result["key"] = describe(lint_key)
        result["algorithms"] = algorithms
        notes = []
        if isinstance(keys, KeySet) and keys.rejected:
            notes += [f"skipped {reason}" for reason in keys.rejected]
        if isinstance(keys, Key) and keys.is_private and keys.kty != "oct":
            notes.append("this is a private key: verifying needs only the public half")
        result["notes"] = notes
        findings = lint(token, lint_key, now=now)
        result["findings"] = [_finding(f) for f in findings]
        return result

    async def encode(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """Sign header and claims with the chosen algorithm and key; times may be "+15m"."""
        alg = _algorithm(body)
        header = field(body, "header", dict) or {}
        claims = _resolve_times(field(body, "claims", dict, required=True), time.time())
        key = signing_key(parse_key_spec(body.get("key")), alg)
        token = encode(claims, key, alg=alg, headers=header or None, typ=None)
        out_header, out_claims = decode_unverified(token)
        return {"token": token, "header": out_header, "claims": out_claims}

    async def lint(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """The security findings for a token, judged with the key too when one is given.

        A token the strict parser refuses gets no findings and a ``malformed`` reason.
        """
        token = field(body, "token", str, required=True).strip()
        try:
            header, _ = decode_unverified(token)
        except InvalidToken as exc:
            # Not a bad request: "this token does not parse, and why" is the answer.
            return {"findings": [], "malformed": {"code": exc.code, "message": str(exc)}}
        key: Key | None = None
        if body.get("key") is not None:
            keys = await self._verification_keys(parse_key_spec(body["key"]), header)
            key = _lint_key(keys, header)
        return {"findings": [_finding(f) for f in lint(token, key)]}

    async def generate_key(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """A fresh key for ``alg``: a base64url secret, or a private JWK and its public half."""
        alg = _algorithm(body)
        size = field(body, "size", int)
        if size is not None and (not alg.startswith(("RS", "PS")) or size not in _RSA_SIZES):
            raise RequestError(400, "invalid_request", "size is 2048, 3072 or 4096 (RSA only)")
        key: Key = await anyio.to_thread.run_sync(partial(Key.generate, alg, size=size))
        private = key.to_jwk(private=True)
        if key.kty == "oct":
            return {"kind": "secret", "secret": private["k"], "encoding": "base64url", "alg": alg}
        public = key.public()
        return {
            "kind": "jwk",
            "alg": alg,
            "kid": key.kid,
            "private_jwk": private,
            "public_jwk": public.to_jwk(),
            "public_pem": public.to_pem().decode("ascii"),
            "jwks": {"keys": [public.to_jwk()]},
        }
