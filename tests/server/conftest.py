"""Fixtures for the server tests: every test that takes ``server`` runs on SQLite and on
PostgreSQL (a database with a random name per run, dropped afterwards; skipped with the reason
when PostgreSQL is unreachable, failed instead when TESSERA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serverhelp import Databases, RunningServer, running_server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Creates fresh databases; drops the PostgreSQL ones at the end of the session."""
    factory = Databases(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test."""
    return str(request.param)


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases) -> Iterator[RunningServer]:
    """A real server (uvicorn, 127.0.0.1) on a fresh database, shared by a test module."""
    with running_server(databases.new(backend), backend) as running:
        yield running
