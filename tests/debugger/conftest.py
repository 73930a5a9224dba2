"""Fixtures for the debugger: the app in memory, and keys generated once per session."""

from __future__ import annotations

import json
from typing import Any

import pytest
from debuggerhelp import Client, MakeClient

import tessera
from tessera.debugger import create_app


@pytest.fixture
def make_client() -> MakeClient:
    """``make_client(**create_app_kwargs)``: an in-memory client for a fresh debugger app."""

    def make(**kwargs: Any) -> Client:
        return Client(create_app(**kwargs))

    return make


@pytest.fixture
def client(make_client: MakeClient) -> Client:
    """A client for the debugger with no server keys (the ``tessera debugger`` setup)."""
    return make_client()


@pytest.fixture(scope="session")
def ec_key() -> tessera.Key:
    """An ES256 private key (kid = thumbprint)."""
    return tessera.Key.generate("ES256")


@pytest.fixture(scope="session")
def rsa_key() -> tessera.Key:
    """An RS256 private key."""
    return tessera.Key.generate("RS256")


@pytest.fixture(scope="session")
def jwks(ec_key: tessera.Key, rsa_key: tessera.Key) -> str:
    """A JWK Set (JSON text) with the public halves of both keys."""
    return json.dumps(tessera.KeySet([ec_key.public(), rsa_key.public()]).to_jwks())
