"""Fixtures and per-library adapters for the speed benchmarks: the same keys, claims and token
for every library, so the timings differ only by the code each library runs.

Each adapter turns a :class:`Fixture` into two zero-argument callables, ``encode`` (sign the
claims) and ``decode`` (verify the signature, then check ``exp``, ``iss`` and ``aud``), built
the way each library's documentation recommends for a hot path: keys imported once, outside the
timed call. ``check`` asserts once, before timing, that both callables really work.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import tessera
from tessera.jose._b64 import b64decode, b64encode

ALGORITHMS = (
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "ES256K", "EdDSA",
)  # fmt: skip
ISSUER = "https://issuer.example.com"
AUDIENCE = "https://api.example.com"

Op = Callable[[], Any]


def access_token_claims(now: int) -> dict[str, Any]:
    """A typical OAuth access-token claims set (RFC 9068 without client_id)."""
    return {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "scope": "openid profile email read:orders write:orders",
        "jti": "7b9f1c2e-4d3a-4f6b-9a8e-1c2d3e4f5a6b",
    }


@dataclass
class Fixture:
    """One algorithm's keys in every form, the claims, and a token Tessera signed."""

    alg: str
    private: tessera.Key
    public: tessera.Key
    private_jwk: dict[str, Any]
    public_jwk: dict[str, Any]
    claims: dict[str, Any]
    token: str = ""
    signing_input: bytes = b""
    signature: bytes = b""

    @property
    def kid(self) -> str:
        """The key id every library puts in the header."""
        assert self.private.kid is not None
        return self.private.kid


def _base_keys() -> dict[str, tessera.Key]:
    """One key per key family; RSA (slow to generate) is shared by RS* and PS*."""
    families = {"RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
    families |= {"secp256k1": "ES256K", "Ed25519": "EdDSA"}
    return {name: tessera.Key.generate(alg) for name, alg in families.items()}


_FAMILY = {"RS": "RSA", "PS": "RSA", "ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_FAMILY |= {"ES256K": "secp256k1", "EdDSA": "Ed25519"}


def make_fixtures(algs: list[str]) -> dict[str, Fixture]:
    """Keys, claims and a Tessera token for each algorithm in ``algs``."""
    base = _base_keys() if any(not a.startswith("HS") for a in algs) else {}
    claims = access_token_claims(int(time.time()))
    out = {}
    for alg in algs:
        if alg.startswith("HS"):
            private = tessera.Key.generate(alg)
            public = private
            private_jwk = private.to_jwk(private=True)
            public_jwk = private_jwk
        else:
            family = _FAMILY.get(alg) or _FAMILY[alg[:2]]
            private_jwk = {**base[family].to_jwk(private=True), "alg": alg}
            private = tessera.Key.from_jwk(private_jwk)
            public = private.public()
            public_jwk = public.to_jwk()
        fx = Fixture(alg, private, public, private_jwk, public_jwk, claims)
        fx.token = tessera.encode(claims, private)
        h_seg, p_seg, s_seg = fx.token.split(".")
        fx.signing_input = f"{h_seg}.{p_seg}".encode("ascii")
        fx.signature = b64decode(s_seg)
        out[alg] = fx
    return out


def _crypto_private(fx: Fixture) -> Any:
    if fx.alg.startswith("HS"):
        return b64decode(fx.private_jwk["k"])
    return serialization.load_pem_private_key(fx.private.to_pem(private=True), password=None)


def _crypto_public(fx: Fixture) -> Any:
    if fx.alg.startswith("HS"):
        return b64decode(fx.private_jwk["k"])
    return serialization.load_pem_public_key(fx.public.to_pem())


_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


# -- adapters -----------------------------------------------------------------------------


class Adapter:
    """A library under test: which algorithms it signs with, and its two timed operations."""

    name = ""
    algorithms: frozenset[str] = frozenset(ALGORITHMS)

    def available(self) -> bool:
        """False when the library is not installed."""
        return True

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        """(encode, decode) callables for ``fx``; keys are prepared here, not per call."""
        raise NotImplementedError

    def check(self, fx: Fixture, encode: Op, decode: Op) -> None:
        """Assert once that decode returns the claims and that encode's token verifies."""
        got = decode()
        assert dict(got) == fx.claims, (self.name, fx.alg, got)
        token = encode()
        if isinstance(token, bytes):
            token = token.decode("ascii")
        back = tessera.decode(token, fx.public, issuer=ISSUER, audience=AUDIENCE)
        assert back == fx.claims, (self.name, fx.alg, back)


class Floor(Adapter):
    """The bare ``cryptography`` primitive over the same signing input: the cost floor.

    ECDSA signs with RFC 6979 deterministic nonces where OpenSSL supports them, as Tessera
    does; the floor verifies a DER signature, so Tessera's raw-to-DER step counts as overhead.
    """

    name = "floor"

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        alg, data, sig = fx.alg, fx.signing_input, fx.signature
        priv, pub = _crypto_private(fx), _crypto_public(fx)
        if alg.startswith("HS"):
            h = _HASH[alg[2:]]()

            def sign_hmac() -> bytes:
                mac = hmac.HMAC(priv, h)
                mac.update(data)
                return mac.finalize()

            def verify_hmac() -> None:
                mac = hmac.HMAC(pub, h)
                mac.update(data)
                mac.verify(sig)

            return sign_hmac, verify_hmac
        if alg[:2] in ("RS", "PS"):
            h = _HASH[alg[2:]]()
            pad: Any = (
                padding.PKCS1v15()
                if alg.startswith("RS")
                else padding.PSS(padding.MGF1(h), h.digest_size)
            )
            return (lambda: priv.sign(data, pad, h)), (lambda: pub.verify(sig, data, pad, h))
        if alg.startswith("ES"):
            from cryptography.hazmat.backends.openssl.backend import backend

            h = _HASH[alg[2:5]]()
            det = backend.ecdsa_deterministic_supported()
            sign_alg = ec.ECDSA(h, deterministic_signing=det)
            verify_alg = ec.ECDSA(h)
            size = len(sig) // 2
            r, s = int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
            der = encode_dss_signature(r, s)
            return (lambda: priv.sign(data, sign_alg)), (lambda: pub.verify(der, data, verify_alg))
        return (lambda: priv.sign(data)), (lambda: pub.verify(sig, data))

    def check(self, fx: Fixture, encode: Op, decode: Op) -> None:
        decode()  # raises InvalidSignature if the floor does not verify Tessera's signature
        encode()


class HandWritten(Adapter):
    """A minimal decoder written for this benchmark: what the least Python around the
    primitive costs on this machine, to read Tessera's overhead against.

    It splits the token, looks the header up in a dict, decodes with ``binascii``, verifies,
    parses with ``json.loads`` and compares ``exp``, ``iss`` and ``aud``: none of Tessera's
    checks (canonical base64url, duplicate members, claim types, key binding, limits), so it
    is a lower bound, not a library to use.
    """

    name = "handwritten"
    bare = False

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        import binascii
        from base64 import urlsafe_b64encode

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        alg, claims = fx.alg, fx.claims
        priv, pub = _crypto_private(fx), _crypto_public(fx)
        to_std = bytes.maketrans(b"-_", b"+/")
        headers: dict[bytes, dict[str, Any]] = {}

        def b64d(segment: bytes) -> bytes:
            return binascii.a2b_base64(segment.translate(to_std) + b"=" * (-len(segment) % 4))

        def b64e(data: bytes) -> bytes:
            return urlsafe_b64encode(data).rstrip(b"=")

        h = _HASH[alg[2:5]]() if alg[:2] in ("HS", "RS", "PS", "ES") else None
        size = len(fx.signature) // 2
        if alg.startswith("HS"):

            def sign(data: bytes) -> bytes:
                mac = hmac.HMAC(priv, h)  # type: ignore[arg-type]
                mac.update(data)
                return mac.finalize()

            def verify(sig: bytes, data: bytes) -> None:
                mac = hmac.HMAC(pub, h)  # type: ignore[arg-type]
                mac.update(data)
                mac.verify(sig)

        elif alg[:2] in ("RS", "PS"):
            assert h is not None
            pad: Any = (
                padding.PKCS1v15()
                if alg.startswith("RS")
                else padding.PSS(padding.MGF1(h), h.digest_size)
            )

            def sign(data: bytes) -> bytes:
                return bytes(priv.sign(data, pad, h))

            def verify(sig: bytes, data: bytes) -> None:
                pub.verify(sig, data, pad, h)

        elif alg.startswith("ES"):
            sig_alg = ec.ECDSA(h)  # type: ignore[arg-type]

            def sign(data: bytes) -> bytes:
                r, s = decode_dss_signature(priv.sign(data, sig_alg))
                return r.to_bytes(size, "big") + s.to_bytes(size, "big")

            def verify(sig: bytes, data: bytes) -> None:
                r = int.from_bytes(sig[:size], "big")
                s = int.from_bytes(sig[size:], "big")
                pub.verify(encode_dss_signature(r, s), data, sig_alg)

        else:

            def sign(data: bytes) -> bytes:
                return bytes(priv.sign(data))

            def verify(sig: bytes, data: bytes) -> None:
                pub.verify(sig, data)

        header = b64e(json.dumps({"alg": alg, "kid": fx.kid, "typ": "JWT"}).encode())

        def encode() -> str:
            body = b64e(json.dumps(claims, separators=(",", ":")).encode())
            signing_input = header + b"." + body
            return (signing_input + b"." + b64e(sign(signing_input))).decode("ascii")

        token = fx.token
        if self.bare:
            scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

            def decode_bare() -> dict[str, Any]:
                raw = token.encode("ascii")
                dot = raw.rindex(b".")
                p_seg = raw[raw.index(b".") + 1 : dot]
                try:
                    verify(b64d(raw[dot + 1 :]), raw[:dot])
                except InvalidSignature:
                    raise ValueError("signature") from None
                got: dict[str, Any] = scan(b64d(p_seg).decode(), 0)[0]
                return got

            return encode, decode_bare

        def decode() -> dict[str, Any]:
            raw = token.encode("ascii")
            h_seg, p_seg, s_seg = raw.split(b".")
            head = headers.get(h_seg)
            if head is None:
                head = headers[h_seg] = json.loads(b64d(h_seg))
            if head["alg"] != alg:
                raise ValueError("algorithm")
            try:
                verify(b64d(s_seg), raw[: len(h_seg) + 1 + len(p_seg)])
            except InvalidSignature:
                raise ValueError("signature") from None
            got: dict[str, Any] = json.loads(b64d(p_seg))
            if got["exp"] <= time.time() or got["iss"] != ISSUER or got["aud"] != AUDIENCE:
                raise ValueError("claims")
            return got

        return encode, decode


class Bare(HandWritten):
    """Less than any usable decoder: split at the dots, two base64 decodes, the primitive and
    one JSON parse (the C scanner, no hooks), with no check of any kind.

    What every decoder that returns the claims spends on this machine: the decode budget
    minus this figure is all that is left for the checks. (Its encode is the hand-written one.)
    """

    name = "bare"
    bare = True


class Tessera(Adapter):
    """``tessera.encode`` / ``tessera.decode`` with keys bound to their algorithm."""

    name = "tessera"

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        claims, priv, pub, token = fx.claims, fx.private, fx.public, fx.token
        encode, decode = tessera.encode, tessera.decode
        return (
            lambda: encode(claims, priv),
            lambda: decode(token, pub, issuer=ISSUER, audience=AUDIENCE),
        )


class TesseraStubbed(Adapter):
    """Tessera with the signature primitive replaced by a constant: its own work per call.

    ``_crypto.make_signer``/``make_verifier`` are patched only while fresh keys build and cache
    their functions, so every other step (parsing, key checks, claims) runs as in production.
    """

    name = "tessera-stubbed"

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        from tessera.jose import _crypto

        priv = tessera.Key.from_jwk(fx.private_jwk)
        pub = priv if fx.alg.startswith("HS") else tessera.Key.from_jwk(fx.public_jwk)
        claims, token, sig = fx.claims, fx.token, fx.signature
        real_signer, real_verifier = _crypto.make_signer, _crypto.make_verifier
        _crypto.make_signer = lambda alg, material: lambda data: sig
        _crypto.make_verifier = lambda alg, material: lambda data, signature: True
        try:
            tessera.encode(claims, priv)
            tessera.decode(token, pub, issuer=ISSUER, audience=AUDIENCE)
        finally:
            _crypto.make_signer, _crypto.make_verifier = real_signer, real_verifier
        h_seg, p_seg, _ = token.split(".")
        forged = f"{h_seg}.{p_seg}.{b64encode(bytes(len(sig))).decode()}"
        assert tessera.decode(forged, pub, issuer=ISSUER, audience=AUDIENCE) == claims
        real = fx.private if fx.alg.startswith("HS") else fx.public
        try:
            tessera.decode(forged, real, issuer=ISSUER, audience=AUDIENCE)
        except tessera.SignatureError:
            pass
        else:
            raise AssertionError("the stub leaked into a real key")
        encode, decode = tessera.encode, tessera.decode
        return (
            lambda: encode(claims, priv),
            lambda: decode(token, pub, issuer=ISSUER, audience=AUDIENCE),
        )

    def check(self, fx: Fixture, encode: Op, decode: Op) -> None:
        assert decode() == fx.claims
        assert encode() == fx.token


class PyJWT(Adapter):
    """PyJWT with ``cryptography`` key objects (no PEM parsing per call)."""

    name = "pyjwt"

    def available(self) -> bool:
        try:
            import jwt  # noqa: F401
        except ImportError:
            return False
        return True

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        import jwt

        claims, token, alg = fx.claims, fx.token, fx.alg
        priv, pub = _crypto_private(fx), _crypto_public(fx)
        headers = {"kid": fx.kid}
        options: Any = {"require": ["exp", "iss", "aud"]}
        return (
            lambda: jwt.encode(claims, priv, algorithm=alg, headers=headers),
            lambda: jwt.decode(
                token, pub, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, options=options
            ),
        )


class Joserfc(Adapter):
    """joserfc with imported JWK objects and a claims registry built once."""

    name = "joserfc"

    def available(self) -> bool:
        try:
            import joserfc  # noqa: F401
        except ImportError:
            return False
        return True

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        from joserfc import jwk, jwt

        cls: Any = {"oct": jwk.OctKey, "RSA": jwk.RSAKey, "EC": jwk.ECKey, "OKP": jwk.OKPKey}[
            fx.private.kty
        ]
        priv = cls.import_key(fx.private_jwk)
        pub = cls.import_key(fx.public_jwk)
        claims, token, algs = fx.claims, fx.token, [fx.alg]
        header = {"alg": fx.alg, "kid": fx.kid}
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True},
        )

        def decode() -> dict[str, Any]:
            tok = jwt.decode(token, pub, algorithms=algs)
            registry.validate(tok.claims)
            return tok.claims

        return (lambda: jwt.encode(header, claims, priv, algorithms=algs)), decode


class JWCrypto(Adapter):
    """jwcrypto's ``JWT`` class; ``check_claims`` covers iss, aud and exp."""

    name = "jwcrypto"

    def available(self) -> bool:
        try:
            import jwcrypto  # noqa: F401
        except ImportError:
            return False
        return True

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        from jwcrypto import jwk, jwt

        priv = jwk.JWK(**fx.private_jwk)
        pub = jwk.JWK(**fx.public_jwk)
        claims, token, algs = fx.claims, fx.token, [fx.alg]
        header = {"alg": fx.alg, "kid": fx.kid, "typ": "JWT"}
        check = {"iss": ISSUER, "aud": AUDIENCE, "exp": None}

        def encode() -> str:
            tok = jwt.JWT(header=header, claims=claims)
            tok.make_signed_token(priv)
            return str(tok.serialize())

        def decode() -> dict[str, Any]:
            tok = jwt.JWT(jwt=token, key=pub, algs=algs, check_claims=check)
            return dict(json.loads(tok.claims))

        return encode, decode


class PythonJose(Adapter):
    """python-jose (cryptography backend) with keys constructed once via ``jwk.construct``."""

    name = "python-jose"
    algorithms = frozenset(
        ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
    )

    def available(self) -> bool:
        try:
            import jose  # noqa: F401
        except ImportError:
            return False
        return True

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        from jose import jwk, jwt

        alg, claims, token = fx.alg, fx.claims, fx.token
        priv = jwk.construct(fx.private_jwk, alg)
        pub = jwk.construct(fx.public_jwk, alg)
        headers = {"kid": fx.kid}
        options = {"require_exp": True, "require_iss": True, "require_aud": True}
        return (
            lambda: jwt.encode(claims, priv, algorithm=alg, headers=headers),
            lambda: jwt.decode(
                token, pub, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, options=options
            ),
        )


class AuthlibJose(Adapter):
    """authlib.jose (deprecated in favour of joserfc, still widely deployed)."""

    name = "authlib"

    def available(self) -> bool:
        try:
            with warnings.catch_warnings(record=True):  # authlib forces its warning to "always"
                import authlib.jose  # noqa: F401
        except ImportError:
            return False
        return True

    def build(self, fx: Fixture) -> tuple[Op, Op]:
        with warnings.catch_warnings(record=True):
            from authlib.jose import JsonWebKey, JsonWebToken

        jwt = JsonWebToken([fx.alg])
        priv = JsonWebKey.import_key(fx.private_jwk)
        pub = JsonWebKey.import_key(fx.public_jwk)
        claims, token = fx.claims, fx.token
        header = {"alg": fx.alg, "kid": fx.kid}
        options = {
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": AUDIENCE},
            "exp": {"essential": True},
        }

        def decode() -> Any:
            got = jwt.decode(token, pub, claims_options=options)
            got.validate()
            return got

        return (lambda: jwt.encode(header, claims, priv)), decode


FLOOR = Floor()
HANDWRITTEN = HandWritten()
BARE = Bare()
TESSERA = Tessera()
STUBBED = TesseraStubbed()
PEERS: tuple[Adapter, ...] = (PyJWT(), Joserfc(), JWCrypto(), PythonJose(), AuthlibJose())


def describe_token(fx: Fixture) -> str:
    """A one-line description of the benchmark token (sizes, header)."""
    header = json.loads(b64decode(fx.token.split(".")[0]))
    return f"{len(fx.token)} chars, header {header}"
