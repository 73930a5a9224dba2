"""Helpers for the CLI tests: running the real console script, and the key files it uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tessera

_SCRIPT = Path(sys.executable).with_name("tessera")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "tessera"]


@dataclass
class Result:
    """A finished ``tessera`` process."""

    code: int
    out: str
    err: str
    argv: list[str]

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


Runner = Callable[..., Result]


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without colour or proxy settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "FORCE_COLOR") and "proxy" not in k.lower()
    }
    env["COLUMNS"] = "100"
    env.update(extra)
    return env


def run_tessera(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """Run the console script with ``args``, capturing exit status, stdout and stderr."""
    argv = [*COMMAND, *args]
    proc = subprocess.run(
        argv,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, argv)


@dataclass
class KeyFiles:
    """Key files written once per session, and the keys behind them."""

    dir: Path
    ec: tessera.Key
    ec_private: Path
    ec_public: Path
    ec_public_pem: Path
    rsa: tessera.Key
    rsa_private_pem: Path
    rsa_public_pem: Path
    jwks: Path
    secret: bytes

    def token(self, claims: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """An ES256 token with good claims unless told otherwise."""
        base = {
            "iss": "https://issuer.example",
            "sub": "alice",
            "aud": "api",
            "iat": 1_700_000_000,
            "exp": 4_102_444_800,
        }
        return tessera.encode(base if claims is None else claims, self.ec, **kwargs)
