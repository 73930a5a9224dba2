"""The CLI's small parsers, in process: times, durations, pasted tokens, typed values."""

from __future__ import annotations

from typing import Any

import pytest

from tessera.cli._errors import UsageError
from tessera.cli._input import clean_token, typed_value
from tessera.cli._times import format_iso, parse_duration, parse_time, relative

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800), ("1w", 604800),
        ("1h30m", 5400), ("-5m", -300), ("+1h", 3600), ("1.5", 1.5), (" 10M ", 600),
    ],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1y", "1h 30m", "ten", "1e3", "--5"])
def test_parse_duration_rejects_other_forms(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW), ("15m", NOW + 900), ("3600", NOW + 3600), ("-1h", NOW - 3600),
        ("@1234", 1234), ("2100-01-01", 4_102_444_800), ("2100-01-01T00:00:00Z", 4_102_444_800),
        ("2100-01-01T01:00:00+01:00", 4_102_444_800),
    ],
)  # fmt: skip
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, NOW) == int(expected)


@pytest.mark.parametrize("text", ["tomorrow", "@x", "2100-13-01", ""])
def test_parse_time_rejects_other_forms_with_a_hint(text: str) -> None:
    with pytest.raises(UsageError, match="15m, 1h, 2d"):
        parse_time(text, NOW, "--exp")


def test_relative_and_iso() -> None:
    assert relative(NOW - 180, NOW) == "3 min ago"
    assert relative(NOW + 900, NOW) == "in 15 min"
    assert relative(NOW + 30, NOW) == "in 30 s"
    assert relative(NOW - 7200, NOW) == "2 h ago"
    assert relative(NOW + 3 * 86400, NOW) == "in 3 days"
    assert relative(NOW, NOW) == "now"
    assert format_iso(0) == "1970-01-01T00:00:00Z"
    assert format_iso(1e20) == "out of range"


@pytest.mark.parametrize(
    "pasted",
    ["abc.def.ghi", " abc.def.ghi\n", "Bearer abc.def.ghi", "BEARER  abc.def.ghi",
     "Authorization: Bearer abc.def.ghi", "'abc.def.ghi'", '"abc.def.ghi"'],
)  # fmt: skip
def test_clean_token_strips_what_a_paste_adds(pasted: str) -> None:
    assert clean_token(pasted) == "abc.def.ghi"


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("-1.5", -1.5), ("true", True), ("null", None), ("[1]", [1]),
     ('{"a":1}', {"a": 1}), ('"7"', "7"), ("admin", "admin"), ("2024-01-01", "2024-01-01"),
     ("", "")],
)  # fmt: skip
def test_typed_value(text: str, value: Any) -> None:
    assert typed_value(text) == value


@pytest.mark.parametrize("text", ["{oops", "[1,", '"open', '{"a":1,"a":2}'])
def test_typed_value_refuses_broken_json(text: str) -> None:
    with pytest.raises(UsageError):
        typed_value(text)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_typed_value_keeps_non_json_numbers_as_strings(text: str) -> None:
    assert typed_value(text) == text
