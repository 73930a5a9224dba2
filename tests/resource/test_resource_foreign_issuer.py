"""A foreign issuer: keys and tokens made by PyJWT and joserfc, the JWKS and OpenID metadata
served as static files by http.server on 127.0.0.1, verified by the same toolkit code."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import ECKey

import tessera
from tessera.resource import KeysUnavailableError, Verifier

AUDIENCE = "https://api.example"


class Quiet(SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ForeignIssuer:
    """Key material from other libraries, published as files."""

    def __init__(self, root: Path, url: str) -> None:
        self.url = url
        self.issuer = url  # the issuer identifier is the server's base URL
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key()))
        rsa_jwk.update(kid="pyjwt-rsa", alg="RS256", use="sig")
        self.ec = ECKey.generate_key("P-256", parameters={"kid": "joserfc-ec", "use": "sig"})
        ec_jwk = self.ec.as_dict(private=False)  # no "alg": tessera must take it from the list
        (root / "jwks.json").write_text(json.dumps({"keys": [rsa_jwk, ec_jwk]}))
        well_known = root / ".well-known"
        well_known.mkdir()
        (well_known / "openid-configuration").write_text(
            json.dumps({"issuer": self.issuer, "jwks_uri": url + "/jwks.json"})
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "bob",
            "aud": AUDIENCE,
            "azp": "foreign-client",
            "scp": ["orders:read"],
            "iat": now,
            "exp": now + 120,
        }
        claims.update(overrides)
        return claims

    def pyjwt_token(self, **overrides: Any) -> str:
        headers = {"kid": "pyjwt-rsa", "typ": "at+jwt"}
        return pyjwt.encode(self.claims(**overrides), self.rsa, "RS256", headers=headers)

    def joserfc_token(self, **overrides: Any) -> str:
        header = {"alg": "ES256", "kid": "joserfc-ec", "typ": "application/at+jwt"}
        return joserfc_jwt.encode(header, self.claims(**overrides), self.ec)


@pytest.fixture
def foreign(tmp_path: Path) -> Iterator[ForeignIssuer]:
    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ForeignIssuer(tmp_path, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_verifies_pyjwt_and_joserfc_tokens_from_a_jwks_file(foreign: ForeignIssuer) -> None:
    verifier = Verifier.from_jwks_url(foreign.issuer, foreign.url + "/jwks.json", audience=AUDIENCE)
    rsa_token = verifier.verify(foreign.pyjwt_token())
    assert (rsa_token.sub, rsa_token.alg, rsa_token.kid) == ("bob", "RS256", "pyjwt-rsa")
    assert rsa_token.client_id == "foreign-client"
    assert rsa_token.scopes == {"orders:read"}
    ec_token = verifier.verify(foreign.joserfc_token())
    assert (ec_token.alg, ec_token.kid) == ("ES256", "joserfc-ec")


def test_discovers_a_foreign_issuer_through_openid_configuration(foreign: ForeignIssuer) -> None:
    verifier = Verifier.from_issuer(foreign.issuer, audience=AUDIENCE)
    assert verifier.verify(foreign.pyjwt_token()).sub == "bob"
    assert verifier.verify(foreign.joserfc_token()).sub == "bob"


async def test_async_verification_of_foreign_tokens(foreign: ForeignIssuer) -> None:
    verifier = Verifier.from_issuer(foreign.issuer, audience=AUDIENCE)
    assert (await verifier.averify(foreign.joserfc_token())).sub == "bob"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"aud": "https://other.example"}, tessera.InvalidAudienceError),
        ({"exp": 1, "iat": 0}, tessera.ExpiredTokenError),
        ({"iss": "https://login.example"}, tessera.InvalidIssuerError),
    ],
)
def test_rejects_bad_foreign_tokens(
    foreign: ForeignIssuer, overrides: dict[str, Any], error: type[Exception]
) -> None:
    verifier = Verifier.from_jwks_url(foreign.issuer, foreign.url + "/jwks.json", audience=AUDIENCE)
    with pytest.raises(error):
        verifier.verify(foreign.pyjwt_token(**overrides))


def test_a_foreign_id_token_is_not_an_access_token(foreign: ForeignIssuer) -> None:
    verifier = Verifier.from_jwks_url(foreign.issuer, foreign.url + "/jwks.json", audience=AUDIENCE)
    id_token = pyjwt.encode(foreign.claims(), foreign.rsa, "RS256", headers={"kid": "pyjwt-rsa"})
    with pytest.raises(tessera.InvalidTypeError):
        verifier.verify(id_token)


def test_a_missing_jwks_file_is_unavailable_not_invalid(foreign: ForeignIssuer) -> None:
    verifier = Verifier.from_jwks_url(
        foreign.issuer, foreign.url + "/missing.json", audience=AUDIENCE
    )
    with pytest.raises(KeysUnavailableError):
        verifier.verify(foreign.pyjwt_token())


pytestmark = pytest.mark.anyio
