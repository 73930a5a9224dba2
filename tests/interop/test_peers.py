"""Interoperability with PyJWT, joserfc and jwcrypto: tokens, JWKs, thumbprints and PEM.

Each direction is its own test, and every id names it: ``tessera-to-pyjwt-RS256`` means
Tessera signed (or exported) and PyJWT verified (or imported). Keys cross between libraries
only as JWK dicts or PEM text, exported by the side that made them.
"""

from __future__ import annotations

import functools
import json
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jwt as joserfc_jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, JWKRegistry, OctKey, OKPKey, RSAKey
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

import tessera

FAR_FUTURE = 4102444800  # 2100-01-01
NOW = 1_750_000_000
CLAIMS: dict[str, Any] = {
    "iss": "https://issuer.example",
    "sub": "alice",
    "exp": FAR_FUTURE,
    "iat": 1_700_000_000,
    "name": 'Zoë Ünïcødé ✓ 🎉 \u2028 "quoted" \\ </script>',
    "roles": ["admin", "ops"],
    "ctx": {"n": -12345678901234, "f": 1.5, "ok": True, "none": None, "deep": [[{"a": []}]]},
}
TESSERA_TO_PEER = "tessera-to-{peer}-{what}"
PEER_TO_TESSERA = "{peer}-to-tessera-{what}"
KEY_MEMBERS = frozenset({"kty", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k"})


@dataclass(frozen=True)
class KeySpec:
    """What key an algorithm needs: ``kty``, curve, and size in bits (RSA and oct)."""

    kty: str
    crv: str | None = None
    size: int | None = None

    @property
    def label(self) -> str:
        return f"{self.kty}-{self.crv}" if self.crv else self.kty


@dataclass(frozen=True)
class AlgCase:
    """One JWS algorithm (with a curve where the name alone does not fix it)."""

    alg: str
    spec: KeySpec
    crv: str | None = None  # passed to tessera.Key.generate

    @property
    def label(self) -> str:
        return f"{self.alg}-{self.crv}" if self.crv else self.alg


_RSA = KeySpec("RSA", size=2048)
ALG_CASES = (
    AlgCase("HS256", KeySpec("oct", size=256)),
    AlgCase("HS384", KeySpec("oct", size=384)),
    AlgCase("HS512", KeySpec("oct", size=512)),
    *(AlgCase(f"{f}{b}", _RSA) for f in ("RS", "PS") for b in (256, 384, 512)),
    AlgCase("ES256", KeySpec("EC", "P-256")),
    AlgCase("ES384", KeySpec("EC", "P-384")),
    AlgCase("ES512", KeySpec("EC", "P-521")),
    AlgCase("ES256K", KeySpec("EC", "secp256k1")),
    AlgCase("EdDSA", KeySpec("OKP", "Ed25519"), "Ed25519"),
    AlgCase("EdDSA", KeySpec("OKP", "Ed448"), "Ed448"),
    AlgCase("Ed25519", KeySpec("OKP", "Ed25519")),
    AlgCase("Ed448", KeySpec("OKP", "Ed448")),
)
# (label, Tessera algorithm used to generate it, curve)
KEY_TYPES = (
    ("RSA", "RS256", None),
    ("EC-P-256", "ES256", None),
    ("EC-P-384", "ES384", None),
    ("EC-P-521", "ES512", None),
    ("EC-secp256k1", "ES256K", None),
    ("OKP-Ed25519", "EdDSA", "Ed25519"),
    ("OKP-Ed448", "EdDSA", "Ed448"),
    ("OKP-X25519", "ECDH-ES", "X25519"),
    ("OKP-X448", "ECDH-ES", "X448"),
    ("oct", "HS256", None),
)
KEY_SPECS = {
    "RSA": _RSA,
    "EC-P-256": KeySpec("EC", "P-256"),
    "EC-P-384": KeySpec("EC", "P-384"),
    "EC-P-521": KeySpec("EC", "P-521"),
    "EC-secp256k1": KeySpec("EC", "secp256k1"),
    "OKP-Ed25519": KeySpec("OKP", "Ed25519"),
    "OKP-Ed448": KeySpec("OKP", "Ed448"),
    "OKP-X25519": KeySpec("OKP", "X25519"),
    "OKP-X448": KeySpec("OKP", "X448"),
    "oct": KeySpec("oct", size=256),
}


def key_members(jwk: dict[str, Any]) -> dict[str, Any]:
    """The members that carry key material (no kid, alg, use, key_ops...)."""
    return {name: value for name, value in jwk.items() if name in KEY_MEMBERS}


# -- peers ------------------------------------------------------------------------------


class Peer:
    """A peer library driven through JWK dicts; subclasses fill in the calls."""

    name: str
    algorithms: frozenset[str]
    key_types: frozenset[str]
    has_thumbprint: bool = True

    def generate(self, spec: KeySpec) -> dict[str, Any]:
        """A new private key made by the peer, as the peer exports it."""
        raise NotImplementedError

    def public_jwk(self, private_jwk: dict[str, Any]) -> dict[str, Any]:
        """The public JWK the peer exports for its private key (oct: the whole key)."""
        raise NotImplementedError

    def sign(self, claims: dict[str, Any], jwk: dict[str, Any], alg: str) -> str:
        raise NotImplementedError

    def verify(self, token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
        raise NotImplementedError

    def reexport(self, jwk: dict[str, Any]) -> dict[str, Any]:
        """Import ``jwk`` into the peer and export it again (private iff it was private)."""
        raise NotImplementedError

    def thumbprint(self, jwk: dict[str, Any]) -> str:
        raise NotImplementedError


def _crypto_key(spec: KeySpec) -> Any:
    if spec.kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.size or 2048)
    if spec.kty == "EC":
        curves: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(),
                                               "P-521": ec.SECP521R1(),
                                               "secp256k1": ec.SECP256K1()}  # fmt: skip
        return ec.generate_private_key(curves[spec.crv or ""])
    if spec.crv == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if spec.crv == "Ed448":
        return ed448.Ed448PrivateKey.generate()
    raise ValueError(spec)


class PyJWTPeer(Peer):
    """PyJWT: keys are ``cryptography`` objects; JWKs via ``Algorithm.to_jwk``/``PyJWK``."""

    name = "pyjwt"
    algorithms = frozenset(c.alg for c in ALG_CASES if c.alg not in ("Ed25519", "Ed448"))
    key_types = frozenset({"RSA", "EC-P-256", "EC-P-384", "EC-P-521", "EC-secp256k1",
                           "OKP-Ed25519", "OKP-Ed448", "oct"})  # fmt: skip
    has_thumbprint = False

    _EXPORTERS: ClassVar[dict[str, Any]] = {
        "RSA": RSAAlgorithm,
        "EC": ECAlgorithm,
        "OKP": OKPAlgorithm,
        "oct": HMACAlgorithm,
    }

    def _export(self, kty: str, key: Any) -> dict[str, Any]:
        return dict(self._EXPORTERS[kty].to_jwk(key, as_dict=True))

    def _key(self, jwk: dict[str, Any]) -> Any:
        # PyJWK only knows the algorithms PyJWT implements; the key object is what matters.
        data = {k: v for k, v in jwk.items() if k != "alg" or v in self.algorithms}
        # PyJWK guesses no algorithm for Ed448 keys; EdDSA covers both curves.
        return pyjwt.PyJWK(data, "EdDSA" if jwk["kty"] == "OKP" else None).key

    def generate(self, spec: KeySpec) -> dict[str, Any]:
        if spec.kty == "oct":
            return self._export("oct", secrets.token_bytes((spec.size or 256) // 8))
        return self._export(spec.kty, _crypto_key(spec))

    def public_jwk(self, private_jwk: dict[str, Any]) -> dict[str, Any]:
        if private_jwk["kty"] == "oct":
            return dict(private_jwk)
        return self._export(private_jwk["kty"], self._key(private_jwk).public_key())

    def sign(self, claims: dict[str, Any], jwk: dict[str, Any], alg: str) -> str:
        return pyjwt.encode(claims, self._key(jwk), algorithm=alg)

    def verify(self, token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
        return dict(pyjwt.decode(token, self._key(jwk), algorithms=[alg]))

    def reexport(self, jwk: dict[str, Any]) -> dict[str, Any]:
        return self._export(jwk["kty"], self._key(jwk))


@contextmanager
def _joserfc_quiet() -> Iterator[None]:
    # joserfc warns that "EdDSA" is deprecated by RFC 9864; interop with it is the point here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        yield


class JoserfcPeer(Peer):
    """joserfc: ``JWKRegistry.import_key`` / ``as_dict``; every algorithm named explicitly."""

    name = "joserfc"
    algorithms = frozenset(c.alg for c in ALG_CASES)
    key_types = frozenset(KEY_SPECS)

    def generate(self, spec: KeySpec) -> dict[str, Any]:
        key: Any
        if spec.kty == "oct":
            key = OctKey.generate_key(spec.size)
        elif spec.kty == "RSA":
            key = RSAKey.generate_key(spec.size)
        elif spec.kty == "EC":
            key = ECKey.generate_key(spec.crv)
        else:
            key = OKPKey.generate_key(spec.crv)  # type: ignore[arg-type]
        return dict(key.as_dict(private=True))

    def public_jwk(self, private_jwk: dict[str, Any]) -> dict[str, Any]:
        if private_jwk["kty"] == "oct":
            return dict(private_jwk)
        return dict(JWKRegistry.import_key(private_jwk).as_dict(private=False))

    def sign(self, claims: dict[str, Any], jwk: dict[str, Any], alg: str) -> str:
        with _joserfc_quiet():
            key = JWKRegistry.import_key(jwk)
            return joserfc_jwt.encode({"alg": alg}, claims, key, algorithms=[alg])

    def verify(self, token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
        with _joserfc_quiet():
            key = JWKRegistry.import_key(jwk)
            return dict(joserfc_jwt.decode(token, key, algorithms=[alg]).claims)

    def reexport(self, jwk: dict[str, Any]) -> dict[str, Any]:
        key = JWKRegistry.import_key(jwk)
        return dict(key.as_dict(private=jwk["kty"] == "oct" or "d" in jwk))

    def thumbprint(self, jwk: dict[str, Any]) -> str:
        return str(JWKRegistry.import_key(jwk).thumbprint())


class JwcryptoPeer(Peer):
    """jwcrypto: ``JWK(**members)``, ``JWT.make_signed_token``; every algorithm explicit."""

    name = "jwcrypto"
    algorithms = frozenset(c.alg for c in ALG_CASES)
    key_types = frozenset(KEY_SPECS)

    def generate(self, spec: KeySpec) -> dict[str, Any]:
        if spec.kty in ("oct", "RSA"):
            key = jwcrypto_jwk.JWK.generate(kty=spec.kty, size=spec.size)
        else:
            key = jwcrypto_jwk.JWK.generate(kty=spec.kty, crv=spec.crv)
        return dict(key.export(private_key=True, as_dict=True))

    def public_jwk(self, private_jwk: dict[str, Any]) -> dict[str, Any]:
        if private_jwk["kty"] == "oct":
            return dict(private_jwk)
        return dict(jwcrypto_jwk.JWK(**private_jwk).export_public(as_dict=True))

    def sign(self, claims: dict[str, Any], jwk: dict[str, Any], alg: str) -> str:
        token = jwcrypto_jwt.JWT(header={"alg": alg}, claims=claims)
        token.make_signed_token(jwcrypto_jwk.JWK(**jwk))
        return str(token.serialize())

    def verify(self, token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
        parsed = jwcrypto_jwt.JWT(jwt=token, key=jwcrypto_jwk.JWK(**jwk), algs=[alg])
        return dict(json.loads(parsed.claims))

    def reexport(self, jwk: dict[str, Any]) -> dict[str, Any]:
        key = jwcrypto_jwk.JWK(**jwk)
        if jwk["kty"] == "oct" or "d" in jwk:
            return dict(key.export(private_key=True, as_dict=True))
        return dict(key.export_public(as_dict=True))

    def thumbprint(self, jwk: dict[str, Any]) -> str:
        return str(jwcrypto_jwk.JWK(**jwk).thumbprint())


PYJWT = PyJWTPeer()
PEERS: dict[str, Peer] = {p.name: p for p in (PYJWT, JoserfcPeer(), JwcryptoPeer())}


@functools.cache
def _peer_private_jwk(peer: str, spec: KeySpec) -> str:
    return json.dumps(PEERS[peer].generate(spec))


def peer_private_jwk(peer: str, spec: KeySpec) -> dict[str, Any]:
    """A private JWK made and exported by ``peer``, cached per peer and key type."""
    return dict(json.loads(_peer_private_jwk(peer, spec)))


def _alg_params(template: str) -> list[Any]:
    """One param per (peer, algorithm); ``template`` turns peer and alg into the test id."""
    return [
        pytest.param(peer, case, id=template.format(peer=peer, what=case.label))
        for peer, impl in PEERS.items()
        for case in ALG_CASES
        if case.alg in impl.algorithms
    ]


def _key_params(template: str, *, thumbprints: bool = False) -> list[Any]:
    """One param per (peer, key type, public/private) the peer supports."""
    return [
        pytest.param(
            peer, label, alg, crv, private, id=template.format(peer=peer, what=f"{label}-{kind}")
        )
        for peer, impl in PEERS.items()
        for label, alg, crv in KEY_TYPES
        if label in impl.key_types and (impl.has_thumbprint or not thumbprints)
        for private, kind in ((False, "public"), (True, "private"))
        if not (label == "oct" and not private)
    ]


def _tessera_signing_key(make_key: Any, case: AlgCase) -> tessera.Key:
    return make_key(case.alg, case.crv)  # type: ignore[no-any-return]


def _verification_jwk(key: tessera.Key) -> dict[str, Any]:
    return key.to_jwk(private=True) if key.kty == "oct" else key.public().to_jwk()


# -- tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize(("peer", "case"), _alg_params(TESSERA_TO_PEER))
def test_tessera_token_verifies_in_peer(peer: str, case: AlgCase, make_key: Any) -> None:
    """A token Tessera signs verifies in the peer with the public JWK Tessera exports."""
    key = _tessera_signing_key(make_key, case)
    token = tessera.encode(CLAIMS, key)
    assert PEERS[peer].verify(token, _verification_jwk(key), case.alg) == CLAIMS


@pytest.mark.parametrize(("peer", "case"), _alg_params(PEER_TO_TESSERA))
def test_peer_token_verifies_in_tessera(peer: str, case: AlgCase) -> None:
    """A token the peer signs verifies in Tessera with the JWK the peer exports."""
    impl = PEERS[peer]
    private = peer_private_jwk(peer, case.spec)
    token = impl.sign(CLAIMS, private, case.alg)
    key = tessera.Key.from_jwk(impl.public_jwk(private), alg=case.alg)
    assert key.is_private is (case.spec.kty == "oct")
    assert tessera.decode(token, key, now=NOW) == CLAIMS


@pytest.mark.parametrize(("peer", "case"), _alg_params(PEER_TO_TESSERA))
def test_peer_token_with_other_key_is_rejected_by_tessera(
    peer: str, case: AlgCase, make_key: Any
) -> None:
    """Control: the peer's token does not verify under Tessera's own key of the same type."""
    token = PEERS[peer].sign(CLAIMS, peer_private_jwk(peer, case.spec), case.alg)
    other = _tessera_signing_key(make_key, case)
    with pytest.raises(tessera.SignatureError):
        tessera.decode(token, other if other.kty == "oct" else other.public(), now=NOW)


ASYMMETRIC_ALG_CASES = [c for c in ALG_CASES if c.spec.kty != "oct"]


@pytest.mark.parametrize(
    ("peer", "case"),
    [p for p in _alg_params(PEER_TO_TESSERA) if p.values[1].spec.kty != "oct"],
)
def test_public_half_of_peer_private_jwk_verifies_peer_token(peer: str, case: AlgCase) -> None:
    """Tessera loads the peer's private JWK; its ``public()`` verifies the peer's token.

    PyJWT exports RSA private JWKs with ``key_ops: ["sign"]``: the public half must keep a
    usable ``verify`` operation, not end up with an empty ``key_ops``.
    """
    private = peer_private_jwk(peer, case.spec)
    token = PEERS[peer].sign(CLAIMS, private, case.alg)
    public = tessera.Key.from_jwk(private, alg=case.alg).public()
    assert not public.is_private
    assert tessera.decode(token, public, now=NOW) == CLAIMS


# -- JWKs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("peer", "label", "alg", "crv", "private"), _key_params(TESSERA_TO_PEER))
def test_tessera_jwk_imports_in_peer(
    peer: str, label: str, alg: str, crv: str | None, private: bool, make_key: Any
) -> None:
    """The peer imports Tessera's JWK and exports the same key members."""
    key = make_key(alg, crv)
    jwk = key.to_jwk(private=True) if private else key.public().to_jwk()
    assert key_members(PEERS[peer].reexport(jwk)) == key_members(jwk)


@pytest.mark.parametrize(("peer", "label", "alg", "crv", "private"), _key_params(PEER_TO_TESSERA))
def test_peer_jwk_imports_in_tessera(
    peer: str, label: str, alg: str, crv: str | None, private: bool
) -> None:
    """Tessera imports the peer's JWK and exports the same key members."""
    impl = PEERS[peer]
    jwk = peer_private_jwk(peer, KEY_SPECS[label])
    if not private:
        jwk = impl.public_jwk(jwk)
    key = tessera.Key.from_jwk(jwk)
    assert key.is_private is private
    assert key_members(key.to_jwk(private=private)) == key_members(jwk)


@pytest.mark.parametrize(
    ("peer", "label", "alg", "crv", "private"),
    _key_params(TESSERA_TO_PEER, thumbprints=True),
)
def test_tessera_thumbprint_matches_peer(
    peer: str, label: str, alg: str, crv: str | None, private: bool, make_key: Any
) -> None:
    """RFC 7638: Tessera's thumbprint of its key equals the peer's thumbprint of the export."""
    key = make_key(alg, crv)
    jwk = key.to_jwk(private=True) if private else key.public().to_jwk()
    assert key.thumbprint() == PEERS[peer].thumbprint(jwk)
    if key.kty != "oct":  # secret keys get a random kid, never a hash of the secret
        assert key.kid == key.thumbprint()


@pytest.mark.parametrize(
    ("peer", "label", "alg", "crv", "private"),
    _key_params(PEER_TO_TESSERA, thumbprints=True),
)
def test_peer_thumbprint_matches_tessera(
    peer: str, label: str, alg: str, crv: str | None, private: bool
) -> None:
    """RFC 7638: Tessera's thumbprint of the peer's JWK equals the peer's own."""
    impl = PEERS[peer]
    jwk = peer_private_jwk(peer, KEY_SPECS[label])
    if not private:
        jwk = impl.public_jwk(jwk)
    assert tessera.Key.from_jwk(jwk).thumbprint() == impl.thumbprint(jwk)


# -- PEM with PyJWT ----------------------------------------------------------------------

PEM_CASES = [c for c in ASYMMETRIC_ALG_CASES if c.alg in PYJWT.algorithms]


@pytest.mark.parametrize("case", PEM_CASES, ids=[f"tessera-to-pyjwt-{c.label}" for c in PEM_CASES])
def test_pyjwt_verifies_tessera_token_with_spki_pem(case: AlgCase, make_key: Any) -> None:
    """PyJWT verifies a Tessera token with the SPKI PEM Tessera exports."""
    key = _tessera_signing_key(make_key, case)
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert pyjwt.decode(tessera.encode(CLAIMS, key), pem, algorithms=[case.alg]) == CLAIMS


@pytest.mark.parametrize("case", PEM_CASES, ids=[f"tessera-to-pyjwt-{c.label}" for c in PEM_CASES])
def test_pyjwt_signs_with_tessera_pkcs8_pem(case: AlgCase, make_key: Any) -> None:
    """PyJWT signs with Tessera's PKCS#8 PEM; Tessera verifies with the public key."""
    key = _tessera_signing_key(make_key, case)
    pem = key.to_pem(private=True)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    token = pyjwt.encode(CLAIMS, pem, algorithm=case.alg)
    assert tessera.decode(token, key.public(), now=NOW) == CLAIMS


@pytest.mark.parametrize("case", PEM_CASES, ids=[f"tessera-to-pyjwt-{c.label}" for c in PEM_CASES])
def test_pyjwt_signs_with_tessera_encrypted_pem(case: AlgCase, make_key: Any) -> None:
    """Tessera's password-encrypted PKCS#8 loads in ``cryptography`` and signs in PyJWT."""
    key = _tessera_signing_key(make_key, case)
    pem = key.to_pem(private=True, password=b"correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(pem, password=b"correct horse")
    token = pyjwt.encode(CLAIMS, loaded, algorithm=case.alg)  # type: ignore[arg-type]
    assert tessera.decode(token, key.public(), now=NOW) == CLAIMS


def _peer_pems(case: AlgCase) -> tuple[bytes, bytes]:
    private = PYJWT._key(peer_private_jwk("pyjwt", case.spec))
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


@pytest.mark.parametrize("case", PEM_CASES, ids=[f"pyjwt-to-tessera-{c.label}" for c in PEM_CASES])
def test_tessera_verifies_pyjwt_token_with_spki_pem(case: AlgCase) -> None:
    """A PyJWT token signed with a PKCS#8 PEM verifies in Tessera with the SPKI PEM."""
    private_pem, public_pem = _peer_pems(case)
    token = pyjwt.encode(CLAIMS, private_pem, algorithm=case.alg)
    key = tessera.Key.from_pem(public_pem, alg=case.alg)
    assert tessera.decode(token, key, now=NOW) == CLAIMS


@pytest.mark.parametrize("case", PEM_CASES, ids=[f"pyjwt-to-tessera-{c.label}" for c in PEM_CASES])
def test_tessera_signs_with_pyjwt_pem_and_pyjwt_verifies(case: AlgCase) -> None:
    """The PEM PyJWT signs with loads in Tessera; PyJWT verifies Tessera's token; PEMs agree."""
    private_pem, public_pem = _peer_pems(case)
    key = tessera.Key.from_pem(private_pem, alg=case.alg)
    token = tessera.encode(CLAIMS, key)
    assert pyjwt.decode(token, public_pem, algorithms=[case.alg]) == CLAIMS
    assert key.to_pem() == public_pem
    assert key.to_pem(private=True) == private_pem
