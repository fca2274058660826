"""The bundle's JSON structure and encodings: field types, hex, base64, JSON equality.

Each check has a plain path for input as writers emit it (exact types, ``json.loads``
spellings) and a careful one that decides everything else, so a refusal keeps its step
and message whichever path saw it first.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from anchoring.verify_result import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    BUNDLE_VERSION_2,
    BUNDLE_VERSION_3,
    BUNDLE_VERSION_4,
    BUNDLE_VERSION_5,
    MAX_INT,
    fail,
)

HEX32 = re.compile(r"[0-9a-f]{64}")

# ----- structure ---------------------------------------------------------------------------

_TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "item_id": str,
    "checkpoint": str,
    "head": dict,
    "blocks": list,
    "events": list,
    "devices": dict,
    "pending": list,
}
EVENT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "leaf_kind": str,
    "payload_b64": str,
    "evidence_b64": (str, type(None)),
    "prev_leaf": str,
    "leaf": str,
    "height": int,
    "leaf_index": int,
    "path": list,
    "summary": dict,
}


BLOCK_FIELDS: dict[str, type | tuple[type, ...]] = {"header": dict, "acc_proof": list}
V3_FIELDS: dict[str, type | tuple[type, ...]] = {"head_proof": list}
V2_FIELDS: dict[str, type | tuple[type, ...]] = {"map_entry": dict, "map_proof": dict}
NEWER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "checkpoint": str,
    "head": dict,
    "acc_proof": list,
    "map_entry": dict,
    "map_proof": dict,
}
ABSENCE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "item_id": str,
    "checkpoint": str,
    "head": dict,
    "map_proof": dict,
}
_PENDING_FIELDS: dict[str, type | tuple[type, ...]] = {"version": int, "summary": dict}

_VERSIONS = (BUNDLE_VERSION, BUNDLE_VERSION_2, BUNDLE_VERSION_3, BUNDLE_VERSION_4, BUNDLE_VERSION_5)


def check_top_level(bundle: Mapping[str, Any]) -> None:
    version = bundle.get("version")
    if (
        bundle.get("format") != BUNDLE_FORMAT
        or type(version) is not int  # 1.0 and true equal 1 in Python; they are not integers
        or version not in _VERSIONS
    ):
        fail("bundle_format", f"not an {BUNDLE_FORMAT} version 1, 2, 3, 4 or 5 document")
    check_fields(bundle, _TOP_LEVEL, "bundle")
    if version in (BUNDLE_VERSION_3, BUNDLE_VERSION_4, BUNDLE_VERSION_5):
        check_fields(bundle, V3_FIELDS, "bundle")
    if version in (BUNDLE_VERSION_4, BUNDLE_VERSION_5):
        check_fields(bundle, {"registry": dict}, "bundle")
    if version != BUNDLE_VERSION:
        check_fields(bundle, V2_FIELDS, "bundle")
        if "newer" in bundle and not isinstance(bundle["newer"], dict):
            fail("bundle_format", "newer must be a JSON object")
    if not bundle["item_id"] or not is_unicode(bundle["item_id"]):
        fail("bundle_format", "item_id is empty or not valid Unicode")
    if not bundle["events"]:
        fail("bundle_format", "the bundle proves no event")


Exact = tuple[tuple[str, tuple[type, ...]], ...]


def exact(spec: Mapping[str, type | tuple[type, ...]]) -> Exact:
    """``spec`` for :func:`plain_fields`: the exact types of parsed JSON (no bool as int)."""
    return tuple(
        (name, kind if isinstance(kind, tuple) else (kind,)) for name, kind in spec.items()
    )


def plain_fields(obj: Any, exact: Exact) -> bool:
    """True when ``obj`` passes :func:`check_fields` plainly: a dict, values of exactly
    the types named (as ``json.loads`` makes them), integers in range. False: ask it."""
    if type(obj) is not dict:
        return False
    for name, kinds in exact:
        value = obj.get(name, _MISSING)
        if type(value) not in kinds:
            return False
        if type(value) is int and not 0 <= value <= MAX_INT:
            return False
    return True


def check_fields(obj: Any, spec: Mapping[str, type | tuple[type, ...]], where: str) -> None:
    if not isinstance(obj, dict):  # parsed JSON; a concrete type check is also faster
        fail("bundle_format", f"{where} must be a JSON object")
    for name, kind in spec.items():
        if name not in obj:
            fail("bundle_format", f"{where} has no field {name!r}")
        value = obj[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            fail("bundle_format", f"{where}: {name!r} has the wrong type")
        if isinstance(value, int) and not 0 <= value <= MAX_INT:
            fail("bundle_format", f"{where}: {name!r} is outside 0..2**53-1")


EVENT_EXACT = exact(EVENT_FIELDS)
BLOCK_EXACT = exact(BLOCK_FIELDS)
_PENDING_EXACT = exact(_PENDING_FIELDS)
NEWER_EXACT = exact(NEWER_FIELDS)
_MISSING = object()


def check_entry_fields(entry: Any, expected: int) -> int:
    if not plain_fields(entry, EVENT_EXACT):
        check_fields(entry, EVENT_FIELDS, f"event #{expected}")
    version: int = entry["version"]
    if version != expected:
        fail("history_gap", f"expected version {expected}, found {version}", version)
    if entry["leaf_kind"] not in ("E", "P"):
        fail("bundle_format", f"unknown leaf kind {entry['leaf_kind']!r}", version)
    if entry["leaf_kind"] == "E" and entry["evidence_b64"] is not None:
        fail("bundle_format", "an envelope event carries no evidence", version)
    return version


def check_pending(pending: list[Any], anchored: int) -> None:
    for offset, entry in enumerate(pending, 1):
        if not plain_fields(entry, _PENDING_EXACT):
            check_fields(entry, _PENDING_FIELDS, f"pending #{offset}")
        if entry["version"] != anchored + offset:
            fail("bundle_format", f"pending #{offset} is not version {anchored + offset}")


# ----- encodings --------------------------------------------------------------------------


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: booleans only equal booleans, numbers compare by value."""
    return bool(a == b) and _same_kinds(a, b)


def _same_kinds(a: Any, b: Any) -> bool:
    """For values already ``==``: no boolean stands for a number (``True == 1`` in Python)."""
    if type(a) is dict:
        return type(b) is dict and all(_same_kinds(value, b[key]) for key, value in a.items())
    if type(a) is list:
        return type(b) is list and all(_same_kinds(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is bool) == (type(b) is bool)


def is_unicode(text: str) -> bool:
    """No lone surrogates (JSON's \\ud800 escapes allow them; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_hex32(value: Any) -> bool:
    return isinstance(value, str) and HEX32.fullmatch(value) is not None


def hex32(value: Any, what: str) -> bytes:
    if type(value) is str and len(value) == 64:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            pass
        else:
            if raw.hex() == value:  # only lowercase hex digits, no whitespace
                return raw
    if not is_hex32(value):
        fail("bundle_format", f"{what} must be 64 lowercase hex characters")
    return bytes.fromhex(value)


def hex32_list(values: Any, what: str) -> list[bytes]:
    """``[hex32(v, what) for v in values]``, decoded in one call when all are plain."""
    if type(values) is list:
        try:
            joined = "".join(values)
            raw = bytes.fromhex(joined)
        except (TypeError, ValueError):
            pass
        else:
            if set(map(len, values)) <= {64} and raw.hex() == joined:
                return [raw[start : start + 32] for start in range(0, len(raw), 32)]
    return [hex32(value, what) for value in values]


def b64(value: str, what: str) -> bytes:
    """Standard base64 with padding, canonical only (one spelling per byte string)."""
    if type(value) is str and value.isascii():
        try:
            raw = binascii.a2b_base64(value)
        except (binascii.Error, ValueError):
            pass
        else:
            if binascii.b2a_base64(raw, newline=False) == value.encode("ascii"):
                return raw  # canonical, so the careful decoding below gives the same bytes
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        fail("bundle_format", f"{what} is not base64")
    if base64.b64encode(raw).decode("ascii") != value:
        fail("bundle_format", f"{what} is not canonical base64")
    return raw
