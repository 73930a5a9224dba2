"""Strict base64url and JSON: the parsing layer under every header and claims set."""

import pytest

from tessera.jose import _b64, _json


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"foob", bytes(range(256))])
def test_base64url_round_trips_without_padding(data: bytes) -> None:
    text = _b64.b64encode_str(data)
    assert "=" not in text
    assert _b64.b64decode(text) == data


@pytest.mark.parametrize(
    "text",
    ["Zm9v=", "Zm9", "Zm9v\n", "Zm 9v", "Zm+v", "Zm/v", "Z", "Zh", "Zm9=", "Zm9w!", "é"],
    ids=[
        "padding",
        "unused3",
        "newline",
        "space",
        "plus",
        "slash",
        "len1",
        "unused2",
        "pad3",
        "junk",
        "non-ascii",
    ],
)
def test_base64url_rejects_non_canonical_forms(text: str) -> None:
    with pytest.raises(ValueError):
        _b64.b64decode(text)


def test_base64url_rejects_nonzero_unused_bits() -> None:
    assert _b64.b64decode("Zg") == b"f"
    assert _b64.b64decode("Zm8") == b"fo"
    with pytest.raises(ValueError):
        _b64.b64decode("Zh")  # same byte with a stray low bit


def test_json_rejects_duplicate_member_names() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        _json.loads(b'{"a":1,"a":2}')
    with pytest.raises(ValueError, match="duplicate"):
        _json.loads(b'{"x":{"b":1,"b":1}}')


@pytest.mark.parametrize(
    "text", [b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}', b'{"a":1e400}']
)
def test_json_rejects_non_finite_numbers(text: bytes) -> None:
    with pytest.raises(ValueError):
        _json.loads(text)


@pytest.mark.parametrize(
    "data",
    [b"\xef\xbb\xbf{}", b'{"a":"\xc0\xaf"}', b'{"a":"\\ud800"}', "{}".encode("utf-16")],
    ids=["bom", "overlong", "lone-surrogate", "utf16"],
)
def test_json_accepts_only_utf8_without_bom_or_lone_surrogates(data: bytes) -> None:
    with pytest.raises(ValueError):
        _json.loads(data)


def test_json_accepts_a_valid_surrogate_pair() -> None:
    assert _json.loads(b'{"a":"\\ud83d\\ude00"}') == {"a": "\U0001f600"}


def test_json_nesting_depth_is_bounded_without_recursion_error() -> None:
    deep = b"[" * 20000 + b"]" * 20000
    with pytest.raises(ValueError, match="deep"):
        _json.loads(deep)
    assert _json.loads(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(ValueError, match="deep"):
        _json.loads(b"[" * 33 + b"]" * 33)


def test_json_depth_scan_ignores_brackets_inside_strings() -> None:
    text = ('{"a":"' + "[" * 100 + '"}').encode()
    assert _json.loads(text) == {"a": "[" * 100}


def test_dumps_is_compact_utf8_and_refuses_nan() -> None:
    assert _json.dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    with pytest.raises(ValueError):
        _json.dumps({"a": float("nan")})
