"""How a newcomer installs Tessera: ``tessera-jwt`` is not on PyPI yet, so the README and every
hint a command or an import prints say how to install from a clone (``pip install '.[extra]'``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_FROM_PYPI = re.compile(r"pip install ['\"]?tessera-jwt")


def _blocked(modules: list[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python where importing ``modules`` fails (an extra not installed)."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in modules)
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=60
    )


def test_nothing_tells_to_install_from_pypi_before_a_release() -> None:
    sources = [ROOT / "README.md", *sorted((ROOT / "src").rglob("*.py"))]
    found = []
    for path in sources:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _FROM_PYPI.search(line) and "release" not in line:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_readme_says_how_to_install_from_a_clone() -> None:
    readme = (ROOT / "README.md").read_text()
    install = readme.split("## Install\n", 1)[1].split("\n## ", 1)[0]
    assert "not published on PyPI yet" in install
    assert "pip install '.[server]'" in install
    assert "pip install '.[fastapi]'" in install


def test_server_commands_without_the_extra_say_how_to_install_it() -> None:
    done = _blocked(
        ["sqlalchemy"], "from tessera.cli import main; sys.exit(main(['clients', 'list']))"
    )
    assert done.returncode == 2, done.stderr
    assert "pip install '.[server]' in a clone of Tessera" in done.stderr
    assert "Traceback" not in done.stderr


def test_debugger_command_without_the_extra_says_how_to_install_it() -> None:
    done = _blocked(["uvicorn"], "from tessera.cli import main; sys.exit(main(['debugger']))")
    assert done.returncode == 2, done.stderr
    assert "pip install '.[server]' in a clone of Tessera" in done.stderr


@pytest.mark.parametrize(
    ("blocked", "module", "extra"),
    [
        ("fastapi", "tessera.resource.fastapi", "fastapi"),
        ("flask", "tessera.resource.flask", "flask"),
        ("fastapi", "tessera.oidc.fastapi", "fastapi"),
        ("starlette", "tessera.oidc.starlette", "fastapi"),
        ("flask", "tessera.oidc.flask", "flask"),
    ],
)
def test_integrations_without_their_extra_say_how_to_install_it(
    blocked: str, module: str, extra: str
) -> None:
    done = _blocked([blocked], f"import {module}")
    assert done.returncode == 1
    assert f"pip install '.[{extra}]' in a clone of Tessera" in done.stderr
