"""Times on the command line: "15m", "1h", "2d", "3600", "@1700000000", ISO dates, "now".

Relative values count from ``now``: ``--exp 15m`` is a quarter of an hour from now and
``--iat=-1h`` an hour ago (argparse needs the ``=`` form for values starting with "-").
``@N`` is an absolute NumericDate; ISO dates without a zone are UTC.
"""

from __future__ import annotations

import time

from tessera.cli._errors import UsageError

__all__ = ["format_iso", "parse_duration", "parse_time", "relative"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Patterns as strings: ``re`` compiles (and caches) them on first use, not at start-up.
_COMPOUND = r"(?:\d+[smhdw])+"
_PART = r"(\d+)([smhdw])"
_NUMBER = r"\d+(?:\.\d+)?"
_HINT = "use 15m, 1h, 2d, 3600 (seconds), @EPOCH, now or an ISO date"


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in "90", "90s", "15m", "1h30m", "2d", "1w" (a leading "+" or "-" is allowed).

    Raises:
        UsageError: anything else.
    """
    value = text.strip().lower()
    sign = 1.0
    if value[:1] in ("+", "-"):
        sign = -1.0 if value[0] == "-" else 1.0
        value = value[1:]
    import re  # here, not at the top: `tessera decode` never parses a duration

    if re.fullmatch(_NUMBER, value, re.ASCII):
        return sign * float(value)
    if re.fullmatch(_COMPOUND, value, re.ASCII):
        return sign * float(sum(int(n) * _UNITS[u] for n, u in re.findall(_PART, value, re.ASCII)))
    raise UsageError(f"invalid {what} {text!r}: use 90, 90s, 15m, 1h30m, 2d or 1w")


def parse_time(text: str, now: float, what: str = "time") -> int:
    """A NumericDate (whole seconds) from a relative or absolute time.

    Raises:
        UsageError: the text is not one of the accepted forms.
    """
    value = text.strip()
    if value.lower() == "now":
        return int(now)
    if value.startswith("@"):
        try:
            return int(value[1:])
        except ValueError:
            raise UsageError(f"invalid {what} {text!r}: {_HINT}") from None
    try:
        return int(now + parse_duration(value, what))
    except UsageError:
        pass
    from datetime import UTC, datetime  # only ISO input needs it (start-up: decode skips it)

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}: {_HINT}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def format_iso(value: float) -> str:
    """A NumericDate as an ISO 8601 UTC string ("2025-01-31T12:00:00Z")."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))
    except (OverflowError, OSError, ValueError):
        return "out of range"


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h"
    days = round(seconds / 86400)
    return f"{days} day" if days == 1 else f"{days} days"


def relative(value: float, now: float) -> str:
    """ "in 14 min" or "3 min ago" for a moment relative to ``now``."""
    delta = value - now
    if abs(delta) < 1:
        return "now"
    return f"in {_span(delta)}" if delta > 0 else f"{_span(delta)} ago"
