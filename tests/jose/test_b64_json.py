"""Strict base64url and JSON: the parsing layer under every header and claims set."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    "text",
    [
        b'{"a":"x,y","a":1}',  # a comma inside a string must not offset the duplicate
        b'{"a":1 , "a":2}',
        b'{"a" : 1,"a" : 2}',
        b'{"a":1,"b":",","a":2}',
        b'{"a":"\\"","a":1}',
    ],
)
def test_flat_objects_with_duplicate_members_are_rejected(text: bytes) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        _json.loads(text)


@pytest.mark.parametrize(
    "text",
    [b'{"a":1,"b":"x,y"}', b'{"a":"{","b":"["}', b'{"a":1} ', b'{ "a":1}', b'{"a,":",b"}'],
)
def test_flat_objects_whose_text_confuses_the_member_count_still_parse(text: bytes) -> None:
    assert _json.loads(text) == json.loads(text)


_KEYS = st.sampled_from(["a", "b", "c", ",", "a,", "{", '\\"', ":"])
_VALUES = st.one_of(
    st.integers(-(2**53), 2**53),
    st.text(alphabet=',:{}[]" \\ab', max_size=6),
    st.booleans(),
    st.none(),
)


@given(st.lists(st.tuples(_KEYS, _VALUES), max_size=6))
def test_flat_object_is_accepted_exactly_when_its_member_names_are_unique(
    members: list[tuple[str, object]],
) -> None:
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in members) + "}"
    names = [k for k, _ in members]
    if len(set(names)) == len(names):
        assert _json.loads(text.encode()) == dict(members)
    else:
        with pytest.raises(ValueError, match="duplicate"):
            _json.loads(text.encode())


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


def test_a_flat_claims_set_takes_the_scanner_without_the_member_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The hot path: a compact flat object never needs the slower duplicate-checking scanner.
    def refuse(text: str, start: int) -> object:
        raise AssertionError("the checked scanner ran")

    monkeypatch.setattr(_json, "_SCAN", refuse)
    claims = {"iss": "https://a.example", "aud": "api", "exp": 1, "scope": "read write"}
    assert _json.loads(json.dumps(claims, separators=(",", ":")).encode()) == claims


_JSONISH = st.text(alphabet='{}[]",:\\ abu0123456789.eE-+tfnrl\t', max_size=40)


@given(st.one_of(_JSONISH, _JSONISH.map(lambda t: "{" + t)))
def test_the_flat_object_shortcut_agrees_with_the_checked_parser(text: str) -> None:
    # Differential: whatever the shortcut returns, the checked parser returns too, and
    # whatever the checked parser refuses, loads refuses.
    try:
        expected = _json._loads_checked(text, _json.DEFAULT_MAX_DEPTH)
    except ValueError:
        with pytest.raises(ValueError):
            _json.loads(text.encode())
    else:
        assert _json.loads(text.encode()) == expected
