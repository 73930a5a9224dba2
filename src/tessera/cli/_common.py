"""Pieces several commands share: key-source options, ``--now``, and the times summary."""

from __future__ import annotations

import time

from tessera.cli._errors import UsageError
from tessera.cli._times import format_iso, parse_time, relative

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from tessera import Key, KeySet
    from tessera.cli._output import Output

__all__ = [
    "TIME_CLAIMS",
    "add_key_source",
    "add_now",
    "key_from_args",
    "now_from",
    "print_times",
    "times_of",
]

TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time")
SECRET_HELP = "an HMAC secret read from environment variable VAR (never pass secrets in argv)"


def add_key_source(parser: argparse.ArgumentParser, *, jwks: bool, required: bool) -> None:
    """``--key FILE``, ``--secret-env VAR``, ``--secret-file FILE`` (and ``--jwks``)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--key", metavar="FILE", help="a key file: PEM, JWK or JWK Set")
    if jwks:
        group.add_argument(
            "--jwks", metavar="FILE_OR_URL", help="a JWK Set file or URL (https, or localhost)"
        )
    group.add_argument("--secret-env", metavar="VAR", help=SECRET_HELP)
    group.add_argument(
        "--secret-file",
        metavar="FILE",
        help="an HMAC secret read from FILE (one trailing newline is removed)",
    )


def add_now(parser: argparse.ArgumentParser) -> None:
    """``--now TIME``: pretend it is another moment (for replaying an incident)."""
    parser.add_argument(
        "--now", metavar="TIME", help="evaluate times as of TIME (ISO date, @EPOCH, --now=-1h ...)"
    )


def now_from(args: argparse.Namespace) -> float:
    """``--now`` as a timestamp, or the clock."""
    current = time.time()
    value: str | None = getattr(args, "now", None)
    return float(parse_time(value, current, "--now")) if value else current


def key_from_args(args: argparse.Namespace, *, alg: str | None) -> Key | KeySet | None:
    """The key named by ``--key``/``--jwks``/``--secret-*``, or None when none was given."""
    from tessera.cli._input import read_secret
    from tessera.cli._keyfile import load_key_or_set, oct_key

    if args.key:
        return load_key_or_set(args.key, alg)
    jwks: str | None = getattr(args, "jwks", None)
    if jwks:
        from tessera import KeySet
        from tessera.cli import _fetch
        from tessera.cli._input import read_file

        if _fetch.is_url(jwks):
            data = _fetch.fetch(jwks, timeout=getattr(args, "timeout", _fetch.DEFAULT_TIMEOUT))
            keyset = KeySet.from_jwks(data, skip_invalid=True)
            if not len(keyset):
                raise UsageError("the JWKS at that URL holds no usable key")
            return keyset
        return KeySet.from_jwks(read_file(jwks, "JWKS file"))
    if args.secret_env or args.secret_file:
        return oct_key(read_secret(args.secret_env, args.secret_file), alg)
    return None


def times_of(claims: dict[str, Any], now: float) -> dict[str, dict[str, Any]]:
    """ISO and relative forms of the numeric time claims (``exp``: "expired 3 min ago")."""
    out: dict[str, dict[str, Any]] = {}
    for name in TIME_CLAIMS:
        raw = claims.get(name)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            continue
        value = float(raw)
        when = relative(value, now)
        if name == "exp":
            text = f"expired {when}" if value <= now else f"expires {when}"
        elif name == "nbf":
            text = f"valid from {when}" if value > now else f"valid since {when}"
        elif name == "iat":
            text = "issued just now" if when == "now" else f"issued {when}"
        else:
            text = when
        out[name] = {"value": raw, "iso": format_iso(value), "relative": text}
    return out


def print_times(out: Output, times: dict[str, dict[str, Any]], now: float) -> None:
    """The ``Times`` block of ``decode`` and ``verify``."""
    if not times:
        return
    out.line()
    out.line(out.paint("Times", "bold"))
    for name, info in times.items():
        late = (name == "exp" and info["value"] <= now) or (name == "nbf" and info["value"] > now)
        future = name == "iat" and info["value"] > now + 60
        colour = "red" if late or future else "green"
        out.line(f"  {name:<9} {info['iso']}  {out.paint(info['relative'], colour)}")
