"""Fixtures for the CLI tests: the real console script in a subprocess, and key files."""

from __future__ import annotations

import json

import pytest
from clihelp import KeyFiles, Runner, run_tessera

import tessera


@pytest.fixture(scope="session")
def run() -> Runner:
    """``run(*args, stdin=None, env=None, cwd=None)``: run the console script, capture all."""
    return run_tessera


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    """An ES256 key (JWK, PEM), an RSA key (PEM, unbound) and a JWKS with both public halves."""
    folder = tmp_path_factory.mktemp("keys")
    ec = tessera.Key.generate("ES256")
    rsa = tessera.Key.generate("RS256")
    files = KeyFiles(
        dir=folder,
        ec=ec,
        ec_private=folder / "ec.jwk",
        ec_public=folder / "ec-public.jwk",
        ec_public_pem=folder / "ec-public.pem",
        rsa=rsa,
        rsa_private_pem=folder / "rsa.pem",
        rsa_public_pem=folder / "rsa-public.pem",
        jwks=folder / "jwks.json",
        secret=b"0123456789abcdef0123456789abcdef-cli-test-secret",
    )
    files.ec_private.write_text(json.dumps(ec.to_jwk(private=True)))
    files.ec_public.write_text(json.dumps(ec.to_jwk()))
    files.ec_public_pem.write_bytes(ec.to_pem())
    files.rsa_private_pem.write_bytes(rsa.to_pem(private=True))
    files.rsa_public_pem.write_bytes(rsa.to_pem())
    files.jwks.write_text(json.dumps(tessera.KeySet([ec.public(), rsa.public()]).to_jwks()))
    return files
