"""Shared fixtures (keys generated once per session, because RSA generation is slow) and the
run's summaries: the conformance vectors passed per source, and the figures server tests
record. The summaries live here, in the top-level conftest, because under pytest-xdist the
controller that prints them loads no other conftest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import tessera

KeyMaker = Callable[..., tessera.Key]


@pytest.fixture(scope="session")
def make_key() -> KeyMaker:
    """``make_key(alg, crv=None)``: a cached private Key bound to ``alg`` (kid = thumbprint).

    The RS*/PS* keys share one 2048-bit modulus, rebound to each algorithm.
    """
    cache: dict[tuple[str, str | None], tessera.Key] = {}

    def make(alg: str, crv: str | None = None) -> tessera.Key:
        if (alg, crv) not in cache:
            if alg[:2] in ("RS", "PS") and alg != "RS256":
                rsa_jwk = make("RS256").to_jwk(private=True)
                cache[(alg, crv)] = tessera.Key.from_jwk({**rsa_jwk, "alg": alg})
            else:
                cache[(alg, crv)] = tessera.Key.generate(alg, crv=crv)
        return cache[(alg, crv)]

    return make


# -- conformance summary ----------------------------------------------------------------------

SOURCES: tuple[tuple[str, str, str | None], ...] = (
    ("wycheproof jws", "test_wycheproof.py", "test_json_web_signature["),
    ("jwk", "test_wycheproof.py", "test_json_web_key["),
    ("crypto-jws", "test_wycheproof.py", "test_json_web_crypto_jws["),
    ("rfc", "test_rfc_examples.py", None),
    ("cookbook", "test_cookbook.py", None),
    ("attack tokens", "test_attack_tokens.py", "test_attack_token["),
)
"""(label, test module, test-name prefix or None for every test in the module)."""

_collected: Counter[str] = Counter()
_passed: Counter[str] = Counter()
_reported: Counter[str] = Counter()


def _source(nodeid: str) -> str | None:
    path, _, name = nodeid.partition("::")
    if "/conformance/" not in f"/{path}":
        return None
    for label, module, prefix in SOURCES:
        if path.endswith(module) and (prefix is None or name.startswith(prefix)):
            return label
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the selected tests of each source (after -k/-m deselection)."""
    for counter in (_collected, _passed, _reported):
        counter.clear()
    for item in session.items:
        label = _source(item.nodeid)
        if label is not None:
            _collected[label] += 1


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    """Under pytest-xdist the controller collects nothing itself: count one worker's list
    (every worker collects the same tests)."""
    if not _collected:
        for nodeid in ids:
            label = _source(nodeid)
            if label is not None:
                _collected[label] += 1


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count a test as run when it reached its call phase or failed to set up."""
    label = _source(report.nodeid)
    if label is None or not (report.when == "call" or report.failed):
        return
    _reported[label] += 1
    if report.when == "call" and report.passed:
        _passed[label] += 1


def _conformance_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print ``conformance: wycheproof jws 401/401, jwk 26/26, ...; rfc 31/31; ...``."""
    text = ""
    previous_module = None
    for label, module, _ in SOURCES:
        if not _collected[label] or not _reported[label]:
            continue
        if text:
            text += ", " if module == previous_module else "; "
        text += f"{label} {_passed[label]}/{_collected[label]}"
        previous_module = module
    if text:
        terminalreporter.write_sep("-", f"conformance: {text}")


# -- server figures --------------------------------------------------------------------------

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


def _figures_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures the server tests recorded (races, faults)."""
    if _FIGURES:
        terminalreporter.write_sep("-", "server figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures, then the conformance line, after the results."""
    _figures_summary(terminalreporter)
    _conformance_summary(terminalreporter)
