"""Conformance-suite report: how many vectors of each source passed, printed after the run.

The figures come from the parametrised results themselves (one line per source, e.g.
``wycheproof jws 401/401``), so the summary cannot drift from what actually ran.
"""

from __future__ import annotations

from collections import Counter

import pytest

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
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
