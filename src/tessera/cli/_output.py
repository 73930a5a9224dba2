"""What the CLI prints: colour only on a terminal without ``NO_COLOR``, JSON when asked.

Colour follows https://no-color.org: ``NO_COLOR`` set to anything non-empty turns it off,
``--color always`` turns it on again (an explicit flag beats the environment).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

__all__ = ["Output", "use_color"]

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


def use_color(mode: str, stream: TextIO) -> bool:
    """Whether to colour ``stream``: ``always``, ``never`` or ``auto`` (a TTY, no NO_COLOR)."""
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Output:
    """The CLI's stdout: plain or coloured text, or exactly one JSON document."""

    def __init__(self, *, json_mode: bool = False, color: str = "auto") -> None:
        self.stream: TextIO = sys.stdout
        self.json_mode = json_mode
        self.color = not json_mode and use_color(color, self.stream)

    def paint(self, text: str, *styles: str) -> str:
        """``text`` wrapped in ANSI styles when colour is on."""
        if not self.color or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def line(self, text: str = "") -> None:
        """Print one line."""
        self.stream.write(text + "\n")

    def emit_json(self, value: Any) -> None:
        """Print ``value`` as indented JSON (the whole of stdout in ``--json`` mode)."""
        self.stream.write(_render(value, 0, _plain) + "\n")

    def render(self, value: Any, indent: int = 0) -> str:
        """``value`` as JSON indented by two (as ``json.dumps(indent=2)``), coloured by type."""
        return _render(value, indent, self.paint)


def _plain(text: str, *_styles: str) -> str:
    return text


def _render(value: Any, indent: int, paint: Callable[..., str]) -> str:
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{paint(_scalar(k), 'cyan')}: {_render(v, indent + 1, paint)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [pad + _render(v, indent + 1, paint) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    text = _scalar(value)
    if isinstance(value, str):
        return paint(text, "green")
    if value is None or isinstance(value, bool):
        return paint(text, "magenta")
    return paint(text, "yellow")


def _scalar(value: Any) -> str:
    # Tessera's encoder rather than the json package, which would cost start-up time.
    from tessera.jose import _json

    return _json.dumps(value).decode("utf-8")
