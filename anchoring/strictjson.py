"""Strict JSON: RFC 8259 text that every verifier reads as the same value, or a refusal.

JSON parsers agree on well-formed documents and disagree on the rest: Python reads
``NaN``, keeps the last of two equal keys, turns ``"\\ud800"`` into a string UTF-8 cannot
hold and recurses until it crashes; ``JSON.parse`` reads ``1e400`` as Infinity and large
integers approximately. :func:`loads` accepts only what reads the same everywhere
(docs/proof-bundle.md §2.1, mirrored by ``parseStrictJson`` in the page):

* UTF-8 without a byte-order mark; one value, with only RFC 8259 white space around it;
* no ``NaN``/``Infinity`` (not JSON at all), no number that is infinite as a double, no
  integer (a number without fraction or exponent) beyond ±(2**53 − 1);
* no escaped lone surrogate (``"\\ud800"``: a high one must be followed by a low one);
* no two members of one object with the same name (after unescaping);
* at most :data:`MAX_DEPTH` nested arrays and objects.

Numbers written with a fraction or exponent are floats, others ints, as ``json`` reads
them. :func:`dumps` writes what :func:`loads` reads back.

Bytes are first offered to the native reading (``assay_headmap.strict_json``), which
answers only for a plainly strict text and leaves everything else to the reading here:
every refusal and its reason comes from this module.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from assay_headmap import strict_json

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "JsonInputError", "careful_loads", "dumps", "loads"]

#: Arrays and objects nested deeper than this are refused (the outermost is level 1).
MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1
_BOM = b"\xef\xbb\xbf"
# A string literal: removed before counting brackets, which only count outside strings.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_LONG_DIGITS = re.compile(rb"[0-9]{16}")
_KEPT = b"[]{},:0123456789"
_NOT_KEPT = bytes(set(range(256)) - set(_KEPT))
_NOT_KEPT_OR_QUOTE = bytes(set(range(256)) - set(_KEPT + b'"'))
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonInputError(ValueError):
    """The input is not strict JSON; ``str()`` says what is wrong (and where)."""


def loads(data: bytes | str) -> Any:
    """The value of strict JSON ``data`` (bytes are UTF-8); :class:`JsonInputError` if not."""
    if type(data) is bytes and (plain := strict_json(data, MAX_DEPTH, MAX_SAFE_INTEGER)):
        return plain[0]
    return careful_loads(data)


def careful_loads(data: bytes | str) -> Any:
    """:func:`loads` without the native reading: the value, or the refusal and why."""
    text = _text(data)
    bare = _check_depth(text)
    # With no run of 16 digits outside strings, every integer json reads is within
    # ±(2**53 - 1) (_int would pass it unchanged): json then reads them alone, faster.
    # (Only a longer text is looked at so; a short one keeps the hook.)
    plain_ints = bare is not None and _LONG_DIGITS.search(bare) is None
    try:
        value = (_PLAIN_INTS_DECODER if plain_ints else _DECODER).decode(text)
    except JsonInputError:
        raise
    except RecursionError:  # the depth check makes this unreachable; keep it an input error
        raise JsonInputError(f"arrays and objects are nested deeper than {MAX_DEPTH}") from None
    except ValueError as e:  # JSONDecodeError, and int() of too many digits
        raise JsonInputError(f"not JSON: {e}") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise JsonInputError("a string holds an escaped lone surrogate (not Unicode text)")
    return value


def dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON text of ``value``, keys sorted, that :func:`loads` reads back; ValueError for
    what it would refuse (NaN, infinity, a lone surrogate, an integer beyond 2**53 − 1).
    Non-ASCII characters are written as themselves (the text is meant for UTF-8)."""
    problem = _unwritable(value)
    if problem is not None:
        raise ValueError(f"not strict JSON: {problem}")
    return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise JsonInputError("the text starts with a byte-order mark")
        if _SURROGATE.search(data):
            raise JsonInputError("the text is not Unicode (it holds a lone surrogate)")
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise JsonInputError(f"JSON input is text or bytes, not {type(data).__name__}")
    raw = bytes(data)
    if raw.startswith(_BOM):
        raise JsonInputError("the text starts with a byte-order mark")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonInputError(f"not UTF-8 (byte {e.start})") from None


def _check_depth(text: str) -> bytes | None:
    """Refuse nesting beyond MAX_DEPTH before parsing (json would recurse into it). Returns
    what lies outside the string literals, reduced to the bytes ``[]{},:0-9`` (None: too few
    brackets to nest), for :data:`_LONG_DIGITS`: removing other characters only joins runs
    of digits, so every integer of 16 digits or more still shows as such a run."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None  # cannot nest deeper than there are brackets
    raw = text.encode()  # (no lone surrogate is left here; other non-ASCII bytes drop out)
    if b'\\"' in raw or raw.count(b'"') & 1:
        bare = _STRING.sub("", text).encode().translate(None, _NOT_KEPT)
    else:  # no quote is escaped: string literals are every other piece between quotes
        bare = b"".join(raw.translate(None, _NOT_KEPT_OR_QUOTE).split(b'"')[::2])
    steps = map(_DEPTH_STEP.__getitem__, bare.translate(None, b",:0123456789"))
    if max(accumulate(steps), default=0) > MAX_DEPTH:
        raise JsonInputError(f"arrays and objects are nested deeper than {MAX_DEPTH}")
    return bare


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonInputError(f"an object has the member {key!r} twice")
            seen.add(key)
    return out


def _constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not a JSON value")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonInputError(f"the number {text[:40]} is beyond a double's range")
    return value


def _int(text: str) -> int:
    if len(text) <= 15:  # at most 15 digits: within ±(2**53 - 1)
        return int(text)
    value = int(text) if len(text) <= 17 else MAX_SAFE_INTEGER + 1
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise JsonInputError(f"the integer {text[:40]} is beyond ±(2**53 - 1)")
    return value


# json.loads(text, **hooks) is JSONDecoder(**hooks).decode(text); made once, not per text.
# (A decoder keeps no state between texts but a memo of key strings, which it clears.)
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_float=_float, parse_int=_int
)
_PLAIN_INTS_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_float=_float
)


def _has_lone_surrogate(value: Any) -> bool:
    """Any string (key or value) of ``value`` holds a surrogate: json joins escaped pairs
    into one code point, so what is left is alone. Iterative: the depth is bounded anyway."""
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            pending.extend(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def _unwritable(value: Any) -> str | None:
    """What in ``value`` strict JSON cannot hold (NaN and infinities are json's to refuse)."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return "a string holds a lone surrogate"
        elif isinstance(node, int) and not isinstance(node, bool):
            if not -MAX_SAFE_INTEGER <= node <= MAX_SAFE_INTEGER:
                return f"the integer {node} is beyond ±(2**53 - 1)"
        elif isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return f"arrays and objects are nested deeper than {MAX_DEPTH}"
            children = [*node, *node.values()] if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children)
    return None
