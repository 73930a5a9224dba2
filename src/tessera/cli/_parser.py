"""The argparse tree, built lazily: only the subcommand being run is defined in full.

``tessera decode TOKEN`` defines ``decode`` alone (start-up time is a feature); ``--help``,
an unknown command and ``completion`` build the whole tree. Command modules import only the
standard library at module level; the core and anything heavy load inside their handlers.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NoReturn

from tessera.cli._errors import UsageError

__all__ = ["COMMANDS", "PLUGINS", "Formatter", "Parser", "add_output_options", "build_parser"]

DESCRIPTION = "Keys, signing, decoding, verification and security lint for JSON Web Tokens."

EPILOG = """\
a session:
  tessera keygen ES256 --out ec.jwk --public-out ec-public.jwk
  TOKEN=$(tessera encode --key ec.jwk --iss https://issuer.example --aud api --sub alice)
  tessera decode "$TOKEN"
  tessera verify "$TOKEN" --key ec-public.jwk --iss https://issuer.example --aud api
  tessera lint "$TOKEN"

Every command takes --json (one JSON document on stdout), --color auto|always|never
(NO_COLOR is honoured) and --debug (a traceback on errors). Errors are one line on stderr;
exit status 1 means a token was rejected or lint found problems, 2 a usage error.
"""

COMMANDS: dict[str, tuple[str, str]] = {
    "keygen": ("_keys", "generate a key (the private file is written 0600)"),
    "jwk": ("_keys", "convert PEM <-> JWK, public halves, thumbprints, JWK Sets"),
    "encode": ("_tokens", "sign claims into a JWT"),
    "decode": ("_tokens", "show a token's header and claims (UNVERIFIED)"),
    "verify": ("_tokens", "verify signature and claims (exit 0 valid, 1 rejected)"),
    "lint": ("_lint_cmd", "security findings with RFC references"),
    "completion": ("_completion", "print a shell completion script (bash, zsh, fish)"),
}
"""Each command: the module holding its ``define_<name>`` function, and its one-line help."""

PLUGINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tessera.server._cli": (
        "add_commands",
        ("serve", "db", "keys", "clients", "users", "audit"),
    ),
    "tessera.debugger._cli": ("add_command", ("debugger",)),
}
"""Command groups defined elsewhere: module -> (function taking the subparsers object, the
commands it adds). Their modules import only argparse; each handler loads what it needs."""

_width: int | None = None


def _columns() -> int:
    """The terminal width, found once (argparse would import shutil and ask per argument)."""
    global _width
    if _width is None:
        try:
            _width = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            try:
                _width = os.get_terminal_size(2).columns
            except OSError:
                _width = 80
        _width = max(40, min(_width, 120)) - 2
    return _width


class Formatter(argparse.HelpFormatter):
    """Help at the terminal's width (up to 120 columns); multi-line texts (examples) kept."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=28, width=_columns())

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become :class:`UsageError` (one line, exit 2)."""

    def error(self, message: str) -> NoReturn:
        """Raise a usage error that names the command and points to its ``--help``."""
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        raise UsageError(f"{where}{message} (see '{self.prog} --help')")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--json``, ``--color`` and ``--debug``, which every command takes."""
    group = parser.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    group.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto: only on a terminal and without NO_COLOR",
    )
    group.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _selected(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` when it is the first word, else None (build all)."""
    known = set(COMMANDS).union(*(names for _, names in PLUGINS.values()))
    for word in argv:
        if word.startswith("-"):
            return None
        return word if word in known else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> Parser:
    """The ``tessera`` command tree; with ``argv``, only the command it names is defined."""
    from tessera import __version__

    parser = Parser(
        prog="tessera", description=DESCRIPTION, epilog=EPILOG, formatter_class=Formatter
    )
    parser.add_argument("--version", action="version", version=f"tessera {__version__}")
    sub: Any = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, title="commands"
    )
    only = _selected(argv) if argv is not None else None
    for name, (module, help_text) in COMMANDS.items():
        if only is not None and name != only:
            continue
        child = sub.add_parser(name, help=help_text, formatter_class=Formatter)
        getattr(import_module(f"tessera.cli.{module}"), f"define_{name}")(child)
    for plugin, (function, names) in PLUGINS.items():
        if only is None or only in names:
            getattr(import_module(plugin), function)(sub)
    return parser
