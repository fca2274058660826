"""One-pass readers for the plain spelling of signed envelopes and their Avro bodies.

:func:`native_envelope` and :func:`native_summary` are the verifier's fast paths: they
read natively (native/src/verifybody.rs) and, on None, fall back to :func:`plain_envelope`
and :func:`plain_summary` here, their reference. These and :func:`plain_body` read, in a
single pass over the bytes, what :func:`anchoring.leaves.read_envelope` and
:func:`anchoring.leaves.read_body_record` would return (the summary: its
``signed_fields``), but only for input in the plain spelling writers emit (the newest
envelope schema, minimal varints, non-negative lengths, a map or array in one block,
distinct map keys, a timestamp inside years 1-9999). For anything else they return None
and the caller asks the careful reader, which decides, so a fast path never accepts what
the careful one refuses and never changes a refusal.

The layouts they can read are derived once from the schema registry
(``streams.avro.default_registry``); a schema they do not know simply takes the careful path.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from assay_headmap import SummaryReader, plain_envelope_fields

from streams.avro import HEADER_LEN, default_registry
from streams.avro_onepass import read_long, read_text
from streams.envelope import ENVELOPE_SCHEMA, EVENT_SCHEMA, Envelope

__all__ = [
    "native_envelope",
    "native_summary",
    "plain_body",
    "plain_envelope",
    "plain_envelope_header",
    "plain_summary",
]

_MISSING = object()

_ENVELOPE_FIELDS = [
    {"name": "party_id", "type": "string"},
    {"name": "device_id", "type": "string"},
    {"name": "body", "type": "bytes"},
    {"name": "signature", "type": "bytes"},
]
_envelope_header: list[bytes] = []  # the single-object header plain_envelope reads, once known


def _envelope_header_bytes() -> bytes:
    """``C3 01`` ‖ fingerprint of the newest envelope schema, if it is the four-field record
    :func:`plain_envelope` knows (b"" otherwise: every envelope takes the general path)."""
    if not _envelope_header:
        latest = default_registry().latest[ENVELOPE_SCHEMA]
        fields = [{"name": f["name"], "type": f["type"]} for f in latest.schema["fields"]]
        plain = fields == _ENVELOPE_FIELDS
        _envelope_header.append(b"\xc3\x01" + latest.fingerprint if plain else b"")
    return _envelope_header[0]


def plain_envelope_header() -> bytes:
    """The single-object header of the envelopes :func:`plain_envelope` reads (b"": it
    reads none)."""
    return _envelope_header_bytes()


def plain_envelope(message: bytes) -> Envelope | None:
    """The envelope if ``message`` is the canonical encoding of one in the newest schema
    (what :func:`read_envelope` accepts, read in one pass), else None: ask it."""
    header = _envelope_header_bytes()
    if not header or message[:HEADER_LEN] != header:
        return None
    values: list[bytes] = []
    position, end = HEADER_LEN, len(message)
    try:
        for _ in range(4):
            # A minimal zig-zag varint of a non-negative length: even, no empty top group.
            byte = message[position]
            position += 1
            zigzag, shift = byte & 0x7F, 7
            while byte & 0x80:
                byte = message[position]
                position += 1
                if shift > 28 or byte == 0:
                    return None
                zigzag |= (byte & 0x7F) << shift
                shift += 7
            if zigzag & 1:
                return None
            stop = position + (zigzag >> 1)
            if stop > end:
                return None
            values.append(message[position:stop])
            position = stop
        party_id, device_id = values[0].decode("utf-8"), values[1].decode("utf-8")
    except (IndexError, UnicodeDecodeError):
        return None
    if position != end or len(values[3]) != 64:
        return None
    return Envelope(party_id, device_id, values[2], values[3])


# Body fields plain_body reads: the Avro types CustodyEvent uses, as the registry holds them.
_STRING, _TIMESTAMP, _OPTIONAL_STRING, _STRING_MAP, _OPTIONAL_DOUBLE, _STRING_ARRAY = range(6)
_BODY_TYPES: list[tuple[Any, int]] = [
    ("string", _STRING),
    ({"logicalType": "timestamp-micros", "type": "long"}, _TIMESTAMP),
    (["null", "string"], _OPTIONAL_STRING),
    ({"type": "map", "values": "string"}, _STRING_MAP),
    (["null", "double"], _OPTIONAL_DOUBLE),
    ({"type": "array", "items": "string"}, _STRING_ARRAY),
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The timestamps _EPOCH + timedelta can show (datetime's own range, years 1-9999), in
# microseconds from _EPOCH: the native reader's bounds.
_MICROS_RANGE = (
    (datetime.min.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1),
    (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1),
)
_DOUBLE = struct.Struct("<d")
# (the fields a body version has, with their types; (name, default) of those the newest adds)
_BodyPlan = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, Any], ...]]
_body_plans: list[dict[bytes, _BodyPlan]] = []  # by single-object header, once known


def _body_plan(header: bytes) -> _BodyPlan | None:
    """How :func:`plain_body` reads a body with this single-object header, if it can:
    a known ``CustodyEvent`` version whose fields are a prefix of the newest version's
    (which the registry resolves it to), of the types above; None otherwise."""
    if not _body_plans:
        registry = default_registry()
        newest = registry.latest[EVENT_SCHEMA].schema["fields"]
        plans: dict[bytes, _BodyPlan] = {}
        for fingerprint, writer in registry.by_fingerprint.items():
            if writer.name != EVENT_SCHEMA:
                continue
            written = writer.schema["fields"]
            kinds = [k for f in written for t, k in _BODY_TYPES if t == f["type"]]
            added = newest[len(written) :]
            if (
                len(kinds) == len(written)
                and [(f["name"], f["type"]) for f in written]
                == [(f["name"], f["type"]) for f in newest[: len(written)]]
                and all((f.get("default", _MISSING), f["type"]) in _ADDED for f in added)
            ):
                plans[b"\xc3\x01" + fingerprint] = (
                    tuple((f["name"], kind) for f, kind in zip(written, kinds, strict=True)),
                    tuple((f["name"], f["default"]) for f in added),
                )
        _body_plans.append(plans)
    return _body_plans[0].get(header)


# (default, type) of a field a body may lack, which the reader then fills in
_ADDED: tuple[tuple[Any, Any], ...] = (
    (None, ["null", "string"]),
    ({}, {"type": "map", "values": "string"}),
    (None, ["null", "double"]),
    ([], {"type": "array", "items": "string"}),
)


def plain_body(message: bytes) -> dict[str, Any] | None:
    """The body record as :func:`read_body_record` returns it, for a body in the plain
    spelling (minimal varints, non-negative lengths, a map in one block with distinct keys,
    a timestamp inside years 1-9999); None when read_body_record must decide."""
    plan = _body_plan(message[:HEADER_LEN])
    if plan is None:
        return None
    kinds, added = plan
    record: dict[str, Any] = {}
    position, end = HEADER_LEN, len(message)
    try:
        for name, kind in kinds:
            if kind == _STRING:
                record[name], position = read_text(message, position, end)
                continue
            value, position = read_long(message, position)
            if kind == _OPTIONAL_STRING:
                if value == 0:
                    record[name] = None
                elif value == 1:
                    record[name], position = read_text(message, position, end)
                else:
                    return None
            elif kind == _TIMESTAMP:
                record[name] = _EPOCH + timedelta(microseconds=value)
            elif kind == _STRING_MAP:
                read_map = _string_map(message, position, end, value)
                if read_map is None:
                    return None
                record[name], position = read_map
            elif kind == _STRING_ARRAY:
                read_items = _string_array(message, position, end, value)
                if read_items is None:
                    return None
                record[name], position = read_items
            elif value == 0:  # _OPTIONAL_DOUBLE
                record[name] = None
            elif value == 1 and position + 8 <= end:
                (record[name],) = _DOUBLE.unpack_from(message, position)
                position += 8
            else:
                return None
    except (IndexError, ValueError, OverflowError):  # UnicodeDecodeError is a ValueError
        return None
    if position != end:
        return None
    for name, default in added:
        record[name] = {} if default == {} else [] if default == [] else default
    return record


# signed_fields' own rules: these maps are shown sorted (and left out when empty), this
# timestamp as RFC 3339 text.
_SORTED_MAPS = ("attributes", "commitments")
_SHOWN_TIME = "occurred_at"
_UNIONS = (_OPTIONAL_STRING, _OPTIONAL_DOUBLE)  # null or a value: branch 0 or 1


def plain_summary(message: bytes) -> tuple[dict[str, Any], bool] | None:
    """``(signed_fields(plain_body(message)), numbers)`` read in the same single pass,
    ``numbers`` telling whether the summary holds a number (a set double field); None
    exactly when :func:`plain_body` answers None.

    The summary of a signed event is built while the body is read, without the record
    :func:`plain_body` would return first: a verifier needs only the summary (it shows
    ``party_id``, ``device_id`` and ``item_id``, which are never null).
    """
    plan = _body_plan(message[:HEADER_LEN])
    if plan is None:
        return None
    kinds, added = plan
    out: dict[str, Any] = {}
    numbers = False
    position, end = HEADER_LEN, len(message)
    try:
        for name, kind in kinds:
            byte = message[position]
            if kind in _UNIONS:
                if byte == 0:  # null (the only minimal spelling of branch 0)
                    position += 1
                    continue
                if byte != 2:  # branch 1 is the byte 2; any other branch is not plain
                    return None
                position += 1
                if kind == _OPTIONAL_DOUBLE:
                    if position + 8 > end:
                        return None
                    (out[name],) = _DOUBLE.unpack_from(message, position)
                    position += 8
                    numbers = True
                    continue
                byte = message[position]
                kind = _STRING
            if kind == _STRING:
                if byte < 0x80:  # a one-byte length: even (non-negative)
                    if byte & 1:
                        return None
                    position += 1
                    stop = position + (byte >> 1)
                    if stop > end:
                        return None
                    out[name] = message[position:stop].decode("utf-8")
                    position = stop
                else:
                    out[name], position = read_text(message, position, end)
                continue
            value, position = read_long(message, position)
            if kind == _TIMESTAMP:
                stamp = _EPOCH + timedelta(microseconds=value)
                out[name] = stamp.isoformat() if name == _SHOWN_TIME else stamp
            elif kind == _STRING_MAP:
                read_map = _string_map(message, position, end, value)
                if read_map is None:
                    return None
                mapping, position = read_map
                if name not in _SORTED_MAPS:
                    out[name] = mapping
                elif mapping:
                    out[name] = dict(sorted(mapping.items()))
            elif kind == _STRING_ARRAY:
                read_items = _string_array(message, position, end, value)
                if read_items is None:
                    return None
                items, position = read_items
                if items:
                    out[name] = items
            else:
                return None
    except (IndexError, ValueError, OverflowError):  # UnicodeDecodeError is a ValueError
        return None
    if position != end:
        return None
    for name, default in added:
        if default == {} and name not in _SORTED_MAPS:
            out[name] = {}
    return out, numbers


def _string_map(
    message: bytes, position: int, end: int, count: int
) -> tuple[dict[str, str], int] | None:
    """The pairs of a map whose first block holds ``count`` of them, then its end block
    (the canonical form: one block, no repeated key), and the position after; else None."""
    mapping: dict[str, str] = {}
    if count:
        if count < 0:
            return None
        for _ in range(count):
            key, position = read_text(message, position, end)
            if key in mapping:
                return None
            mapping[key], position = read_text(message, position, end)
        count, position = read_long(message, position)
        if count:
            return None
    return mapping, position


def _string_array(
    message: bytes, position: int, end: int, count: int
) -> tuple[list[str], int] | None:
    """The items of an array whose first block holds ``count`` of them, then its end block
    (the canonical form), and the position after; else None."""
    items: list[str] = []
    if count:
        if count < 0:
            return None
        for _ in range(count):
            item, position = read_text(message, position, end)
            items.append(item)
        count, position = read_long(message, position)
        if count:
            return None
    return items, position


# ----- the same readings, natively (native/src/verifybody.rs) ----------------------------------

_KIND_NAMES = {
    _STRING: "string",
    _TIMESTAMP: "timestamp",
    _OPTIONAL_STRING: "optional_string",
    _STRING_MAP: "string_map",
    _OPTIONAL_DOUBLE: "optional_double",
    _STRING_ARRAY: "string_array",
}
_summary_reader: list[SummaryReader] = []  # made from the plans above, once known


def native_envelope(message: bytes) -> Envelope | None:
    """:func:`plain_envelope`, read natively first (the same answer; tests/anchoring/
    test_verifybody.py binds them)."""
    fields = plain_envelope_fields(message, _envelope_header_bytes())
    return Envelope(*fields) if fields is not None else plain_envelope(message)


def native_summary(message: bytes) -> tuple[dict[str, Any], bool] | None:
    """:func:`plain_summary`, read natively first (the same answer)."""
    if not _summary_reader:
        _body_plan(b"")  # makes the plans
        plans = {
            header: (
                [(name, _KIND_NAMES[kind]) for name, kind in kinds],
                [n for n, default in added if default == {} and n not in _SORTED_MAPS],
            )
            for header, (kinds, added) in _body_plans[0].items()
        }
        _summary_reader.append(
            SummaryReader(plans, HEADER_LEN, list(_SORTED_MAPS), _SHOWN_TIME, _MICROS_RANGE)
        )
    read = _summary_reader[0].read(message)
    return read if read is not None else plain_summary(message)
