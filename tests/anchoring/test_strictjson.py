"""Strict JSON (anchoring/strictjson.py, docs/proof-bundle.md §2.1): what it reads, what it
refuses, and that nothing but :class:`JsonInputError` ever comes out of it.

The page's ``parseStrictJson`` is held to the same inputs in tests/server/test_parity.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from assay_headmap import strict_json
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.strictjson import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    JsonInputError,
    careful_loads,
    dumps,
    loads,
)
from tests.anchoring.hostile_bundles import json_fuzz_texts

VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),  # no surrogates: hypothesis leaves category Cs out by default
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_what_dumps_writes_loads_reads_back_and_json_reads_alike(value: Any) -> None:
    text = dumps(value)
    assert loads(text) == value == loads(text.encode()) == json.loads(text)
    assert loads(json.dumps(value)) == value  # ASCII escapes (surrogate pairs) read alike


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not JSON"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        ("\ufeff{}", "byte-order mark"),
        (b"{} x", "not JSON"),
        (b"{}{}", "not JSON"),
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b'{"a": -Infinity}', "-Infinity is not a JSON value"),
        (b"[1e400]", "beyond a double's range"),
        (b"[-1e400]", "beyond a double's range"),
        (b"[9007199254740992]", "beyond"),
        (b"[-9007199254740992]", "beyond"),
        (b"[" + b"9" * 5000 + b"]", "beyond"),
        (b'{"a": 1, "a": 1}', "member 'a' twice"),
        (b'{"k": 1, "\\u006b": 2}', "member 'k' twice"),
        (b'{"a": [{"b": 1, "b": 2}]}', "member 'b' twice"),
        (b'["\\ud800"]', "lone surrogate"),
        (b'["\\udc00\\ud800"]', "lone surrogate"),
        (b'{"\\ud800": 1}', "lone surrogate"),
        ('["\ud800"]', "lone surrogate"),
        (b'["\xed\xa0\x80"]', "not UTF-8"),  # a surrogate encoded in UTF-8
        (b'["\xc0\xaf"]', "not UTF-8"),  # an overlong encoding
        (b'["\xff"]', "not UTF-8"),
        (b"[01]", "not JSON"),
        (b"[.5]", "not JSON"),
        (b"[1.]", "not JSON"),
        (b"[+1]", "not JSON"),
        (b"[1,]", "not JSON"),
        (b"{'a': 1}", "not JSON"),
        (b'["\\x41"]', "not JSON"),
        (b'["a\tb"]', "not JSON"),  # a raw control character in a string
        (b"\x0c[]", "not JSON"),  # form feed is not JSON white space
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
        (b"[" * 100_000, f"deeper than {MAX_DEPTH}"),
        (b'{"a":' * 100_000, f"deeper than {MAX_DEPTH}"),
    ],
)
def test_refusals_say_why(data: bytes | str, reason: str) -> None:
    with pytest.raises(JsonInputError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        loads(data)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (" \t\r\n[]\n", []),
        ('["\\ud83d\\ude00", "\\u00e9", "é"]', ["\U0001f600", "é", "é"]),
        ('["\\\\ud800"]', ["\\ud800"]),  # an escaped backslash, then text
        ("[9007199254740991, -9007199254740991, -0]", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0]),
        ("[1.0, 1e2, 1E-2, 2.5e+3]", [1.0, 100.0, 0.01, 2500.0]),
        ('{"a": {"a": 1}}', {"a": {"a": 1}}),  # the same name in different objects
        ('["[[[[", "{{{{"]', ["[[[[", "{{{{"]),  # brackets in strings do not nest
    ],
)
def test_accepted_inputs_read_as_json_does(text: str, value: Any) -> None:
    assert loads(text.encode()) == value == json.loads(text)


def test_floats_and_integers_stay_apart() -> None:
    assert [type(v) for v in loads(b"[1, 1.0, 1e0, -0, -0.0]")] == [int, float, float, int, float]
    assert math.copysign(1, loads(b"-0.0")) == -1


def test_nesting_is_counted_from_the_outermost_value() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(at_limit) is not None
    mixed = '{"a": ' * (MAX_DEPTH // 2) + "[" * (MAX_DEPTH // 2) + "]" * (MAX_DEPTH // 2)
    assert loads(mixed + "}" * (MAX_DEPTH // 2)) is not None
    with pytest.raises(JsonInputError):
        loads('{"a": ' + at_limit + "}")
    with pytest.raises(ValueError, match="deeper"):
        dumps(json.loads(at_limit.replace("[]", "[[]]")))


def test_fuzzed_texts_end_in_a_value_or_an_input_error() -> None:
    read = 0
    for text in json_fuzz_texts(20261202, 3000):
        try:
            loads(text)
            read += 1
        except JsonInputError:
            pass
    assert 0 < read < 3000  # both outcomes are exercised


def test_the_spec_states_the_same_limits() -> None:
    spec = (Path(__file__).resolve().parents[2] / "docs" / "proof-bundle.md").read_text()
    assert f"At most **{MAX_DEPTH}** arrays and objects" in spec
    assert "−(2^53 − 1) … 2^53 − 1" in spec and MAX_SAFE_INTEGER == 2**53 - 1


def _careful_loads(text: str) -> Any:
    """The reading without its fast paths: brackets counted outside string literals one by
    one, every integer through the range check."""
    from anchoring import strictjson

    if text.count("[") + text.count("{") > MAX_DEPTH:
        depth = 0
        for bracket in re.findall(r"[\[\]{}]", strictjson._STRING.sub("", text)):
            depth += 1 if bracket in "[{" else -1
            if depth > MAX_DEPTH:
                raise JsonInputError(f"arrays and objects are nested deeper than {MAX_DEPTH}")
    try:
        value = json.loads(
            text,
            object_pairs_hook=strictjson._object,
            parse_constant=strictjson._constant,
            parse_float=strictjson._float,
            parse_int=strictjson._int,
        )
    except JsonInputError:
        raise
    except RecursionError:
        raise JsonInputError(f"arrays and objects are nested deeper than {MAX_DEPTH}") from None
    except ValueError as e:
        raise JsonInputError(f"not JSON: {e}") from None
    if strictjson._SURROGATE_ESCAPE.search(text) and strictjson._has_lone_surrogate(value):
        raise JsonInputError("a string holds an escaped lone surrogate (not Unicode text)")
    return value


def _outcome(read: Any, text: str) -> tuple[str, str]:
    try:
        return "value", repr(read(text))
    except JsonInputError as e:
        return "error", str(e)


def test_the_fast_paths_of_long_texts_read_as_the_careful_reading() -> None:
    """Texts with more brackets than MAX_DEPTH are stripped of their strings in one split
    where quotes are plain, and read without the integer hook when no integer can be out of
    range: the value or the refusal (its message too) stays the careful reading's."""
    padding = "[]," * (MAX_DEPTH + 1)
    extra = ['{"big": 90071992547409921}', '["a\\"]", 1234567890123456]', '["\\\\", 1]']
    texts = [*json_fuzz_texts(20261203, 2500), *extra]
    long_texts = [f"[{padding}{text}]" for text in texts] + [
        f"[{padding}{text}" for text in texts[:500]
    ]
    plain = 0
    for text in long_texts:
        assert _outcome(loads, text) == _outcome(_careful_loads, text), text
        plain += '\\"' not in text and text.count('"') % 2 == 0
    assert plain > 1000  # the split path is exercised, not only the regular expression


def _native_agrees(data: bytes) -> bool:
    """The native reading answers ``data`` with the careful reading's value (exactly: type,
    order, float bits by repr), or leaves it to the careful reading (True: it answered)."""
    plain = strict_json(data, MAX_DEPTH, MAX_SAFE_INTEGER)
    if plain is None:
        return False
    assert repr(plain[0]) == repr(careful_loads(data)), data
    return True


def test_the_native_reading_gives_the_careful_value_or_leaves_it() -> None:
    """Bytes go first to ``assay_headmap.strict_json``, which may only answer what the
    careful reading accepts, with the same value; a refusal is never its to give."""
    texts = [*json_fuzz_texts(20261202, 3000), *json_fuzz_texts(20261203, 2000)]
    padding = "[]," * (MAX_DEPTH + 1)
    texts += [f"[{padding}{text}]" for text in texts[:1000]]
    answered = sum(_native_agrees(text.encode()) for text in texts)
    refused = 0
    for text in texts:
        try:
            careful_loads(text)
        except JsonInputError:
            refused += 1
    # Both outcomes are exercised (of these bases' texts it leaves many: they hold -0 or
    # 1e308, whole numbers it leaves to the careful reading to type).
    assert 100 < answered <= len(texts) - refused
    assert refused > 1000


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf{}", b'["\xff"]', b'["\xed\xa0\x80"]'])
def test_the_native_reading_leaves_what_is_not_utf8_json(data: bytes) -> None:
    assert strict_json(data, MAX_DEPTH, MAX_SAFE_INTEGER) is None


def test_the_native_reading_leaves_each_refusal_to_the_careful_reading() -> None:
    refused = [b'{"a": 1, "\\u0061": 2}', b'["\\udc00"]', b"[9007199254740992]", b"[1e400]"]
    refused += [b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), b"[NaN]", b"[1] [2]"]
    for data in refused:
        assert strict_json(data, MAX_DEPTH, MAX_SAFE_INTEGER) is None
        with pytest.raises(JsonInputError):
            loads(data)
    # Whole numbers and -0 are read by the careful reading: json tells 1.0 from 1.
    for data in (b"[1.0]", b"[-0]", b"[1e2]", b"[18446744073709551616]"):
        assert strict_json(data, MAX_DEPTH, MAX_SAFE_INTEGER) is None
    assert repr(loads(b"[1.0, -0, 1e2, -0.0, 0.5]")) == "[1.0, 0, 100.0, -0.0, 0.5]"


def test_the_native_reading_answers_every_committed_vector() -> None:
    vectors = Path(__file__).resolve().parent / "vectors"
    files = sorted(vectors.rglob("*.json"))
    assert len(files) > 50
    for path in files:
        assert _native_agrees(path.read_bytes()), path


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_the_native_reading_of_what_dumps_writes(value: Any) -> None:
    data = dumps(value).encode()
    plain = strict_json(data, MAX_DEPTH, MAX_SAFE_INTEGER)
    assert plain is None or repr(plain[0]) == repr(careful_loads(data))
