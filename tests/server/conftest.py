"""Fixtures for the server tests: every test that takes ``server`` runs on SQLite and on
PostgreSQL (a database with a random name per run, dropped afterwards; skipped with the reason
when PostgreSQL is unreachable, failed instead when TESSERA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

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


_FIGURES: list[str] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``figures(line)``: a measurement to print in the run's terminal summary (shown with or
    without ``-s``, after the results), prefixed with the test's id."""

    def record(line: str) -> None:
        _FIGURES.append(f"{request.node.nodeid.split('::', 1)[-1]}: {line}")

    return record


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its figures to the controller, which prints them."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["server_figures"] = list(_FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Collect a pytest-xdist worker's figures (the hook exists only with pytest-xdist)."""
    _FIGURES.extend(getattr(node, "workeroutput", {}).get("server_figures", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures the server tests recorded (races, faults)."""
    if _FIGURES:
        terminalreporter.write_sep("-", "server figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
