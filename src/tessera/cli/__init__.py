"""The ``tessera`` command line: keygen, jwk, encode, decode, verify, lint, completion.

Exit status: 0 success, 1 a token was rejected or lint found problems, 2 the command could
not run (usage, unreadable file, unusable key, JWKS fetch failure). Errors are one line on
stderr; ``--debug`` adds the traceback; ``--json`` makes stdout one JSON document.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["main"]

_EXIT_BROKEN_PIPE = 141
_EXIT_INTERRUPTED = 130
_EXIT_INTERNAL = 70


def _describe(exc: BaseException) -> tuple[str, int, str]:
    """(code, exit status, one-line message) for an exception."""
    from tessera.cli._errors import CLIError
    from tessera.errors import ConfigurationError, InvalidKey, InvalidToken, TesseraError

    if isinstance(exc, CLIError):
        return exc.code, exc.exit_code, str(exc)
    if isinstance(exc, InvalidToken):
        return exc.code, 1, f"token rejected: {exc} [{exc.code}]"
    if isinstance(exc, InvalidKey):
        return exc.code, 2, f"invalid key: {exc}"
    if isinstance(exc, ConfigurationError | TesseraError):
        return exc.code, 2, str(exc)
    if isinstance(exc, OSError):
        return "os_error", 2, str(exc.strerror or exc)
    name = type(exc).__name__
    return "internal", _EXIT_INTERNAL, f"internal error ({name}); run with --debug for details"


def _plain_decode(words: list[str]) -> Any:
    """Arguments for ``tessera decode [TOKEN|-]`` without options, the hottest command, built
    without importing argparse (that alone costs a fifth of an interpreter start-up).
    Anything else, ``--help`` included, goes through the argparse tree.
    """
    if not 1 <= len(words) <= 2 or words[0] != "decode":
        return None
    token = words[1] if len(words) == 2 else None
    if token is not None and token.startswith("-") and token != "-":
        return None
    from types import SimpleNamespace

    from tessera.cli._tokens import run_decode

    return SimpleNamespace(
        command="decode",
        token=token,
        now=None,
        json=False,
        color="auto",
        debug=False,
        handler=run_decode,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status (the console script exits with it)."""
    from tessera.cli._output import Output

    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _plain_decode(words)
        if args is None:
            from tessera.cli._parser import build_parser

            args = build_parser(words).parse_args(words)
    except Exception as exc:  # a usage error: report it like any other (--json included)
        return _report(exc, Output(json_mode="--json" in words), debug="--debug" in words)
    out = Output(json_mode=bool(getattr(args, "json", False)), color=getattr(args, "color", "auto"))
    handler: Any = args.handler
    try:
        status: int = handler(args, out)
        out.stream.flush()
        return status
    except KeyboardInterrupt:
        sys.stderr.write("tessera: interrupted\n")
        return _EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return _EXIT_BROKEN_PIPE
    except Exception as exc:
        return _report(exc, out, debug=bool(getattr(args, "debug", False)))


def _report(exc: Exception, out: Any, *, debug: bool) -> int:
    """One line on stderr (after the traceback with ``--debug``), the JSON error document
    on stdout in ``--json`` mode; return the exit status."""
    code, status, message = _describe(exc)
    if debug:
        import traceback

        traceback.print_exception(exc)
    if out.json_mode and not getattr(exc, "reported", False):
        try:
            out.emit_json({"error": {"code": code, "message": message}})
        except BrokenPipeError:
            _silence_stdout()
    sys.stderr.write(f"tessera: {message}\n")
    return status


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
