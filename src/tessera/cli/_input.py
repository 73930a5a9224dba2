"""Reading what the user hands the CLI: tokens, files, secrets and typed ``k=v`` values.

Secrets come only from the environment or a file, never from argv (``ps`` shows argv to
every local user). Reads are bounded so a wrong file or a stream cannot exhaust memory.
"""

from __future__ import annotations

import os
import sys

from tessera.cli._errors import UsageError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "MAX_FILE_BYTES",
    "clean_token",
    "parse_assignment",
    "read_file",
    "read_json_object",
    "read_secret",
    "read_token",
    "typed_value",
]

MAX_FILE_BYTES = 1 << 20
_PREFIXES = ("authorization:", "bearer ")


def clean_token(text: str) -> str:
    """Strip what a paste adds: whitespace, quotes, ``Authorization:`` and ``Bearer ``."""
    token = text.strip()
    for prefix in _PREFIXES:
        if token[: len(prefix)].lower() == prefix:
            token = token[len(prefix) :].strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        token = token[1:-1].strip()
    return token


def _read_stream(stream: Any, what: str) -> bytes:
    data: bytes = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{what} is larger than {MAX_FILE_BYTES} bytes")
    return data


def read_token(arg: str | None) -> str:
    """The token from the argument, or from stdin for ``-`` or when stdin is a pipe.

    Raises:
        UsageError: no token given, stdin is a terminal, or the input is not text.
    """
    if arg is None or arg == "-":
        if arg is None and sys.stdin.isatty():
            raise UsageError("no token: pass TOKEN, '-' for stdin, or pipe one in")
        raw = _read_stream(sys.stdin.buffer, "stdin")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("stdin is not UTF-8 text") from None
    else:
        text = arg
    token = clean_token(text)
    if not token:
        raise UsageError("the token is empty")
    return token


def read_file(path: str, what: str = "file") -> bytes:
    """The bytes of ``path`` (``-`` is stdin), at most :data:`MAX_FILE_BYTES`.

    Raises:
        UsageError: missing, unreadable or too large.
    """
    if path == "-":
        return _read_stream(sys.stdin.buffer, "stdin")
    try:
        with open(path, "rb") as handle:
            return _read_stream(handle, f"{what} {path}")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_json_object(data: bytes, what: str) -> dict[str, Any]:
    """Strict JSON (the core's parser: no duplicates, no NaN) that must be an object.

    Raises:
        UsageError: not UTF-8 JSON or not an object.
    """
    from tessera.jose import _json

    try:
        value = _json.loads(data)
    except (ValueError, UnicodeError) as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object")
    return value


def read_secret(env: str | None, path: str | None) -> bytes:
    """An HMAC secret from ``$env`` or a file (one trailing newline is removed from files).

    Raises:
        UsageError: the variable is unset or empty, or the file cannot be read.
    """
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise UsageError(f"environment variable {env} is not set or empty")
        return value.encode("utf-8")
    if path is None:
        raise UsageError("a secret needs --secret-env VAR or --secret-file FILE")
    data = read_file(path, "secret file")
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise UsageError(f"secret file {path} is empty")
    return data


def typed_value(text: str) -> Any:
    """``--claim``/``--header`` values: JSON when it parses (42, true, null, [..], {..}, "s").

    Anything else is the plain string, so ``--claim role=admin`` needs no quotes.

    Raises:
        UsageError: text that starts like JSON structure but is not valid JSON.
    """
    from tessera.jose import _json

    try:
        return _json.loads(text.encode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        if text[:1] in ("{", "[", '"'):
            raise UsageError(f"invalid JSON value {text!r}: {exc}") from None
        return text


def parse_assignment(text: str, what: str) -> tuple[str, Any]:
    """``name=value`` with a typed value.

    Raises:
        UsageError: no ``=`` or an empty name.
    """
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"{what} must look like name=value, not {text!r}")
    return name, typed_value(value)
