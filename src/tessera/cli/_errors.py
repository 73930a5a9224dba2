"""CLI errors: each knows its exit code (1 = token rejected or findings, 2 = cannot run)."""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "CLIError", "Rejected", "UsageError"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


class CLIError(Exception):
    """A failure the CLI reports as one line on stderr; ``exit_code`` is what the shell sees."""

    exit_code = EXIT_USAGE
    code = "error"

    def __init__(self, message: str, *, reported: bool = False) -> None:
        super().__init__(message)
        self.reported = reported
        """True when the command already printed its ``--json`` result for this failure."""


class UsageError(CLIError):
    """Bad arguments, unreadable files or keys, a JWKS that cannot be fetched: exit 2."""

    code = "usage"


class Rejected(CLIError):
    """The token was rejected or lint found problems: exit 1."""

    exit_code = EXIT_REJECTED
    code = "rejected"
