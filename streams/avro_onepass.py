"""A one-pass reader of canonically encoded Avro bodies, for the schemas Assay writes.

:meth:`streams.avro.SchemaRegistry.decode` must accept exactly the canonical encoding of a
record (docs/proof-bundle.md §4.7). Its careful check reads the body with fastavro, writes
the record back and compares the bytes: three passes (four when an old writer version is
resolved to the newest). This module reads a body once, checking each canonical rule as it
goes, and returns what the careful path returns: the record resolved to the reader schema,
with timestamps as fastavro converts them.

It is only a fast path. For anything it is not sure of (a body that breaks a rule, is cut
short or is not UTF-8; a varint of ten bytes; a timestamp outside years 1-9999; a NaN
whose bits a write would not give back; a schema with a type it does not know) it answers
None and the careful path decides, with its own error. So it never accepts what the
careful path refuses and never changes a refusal or its message; tests/streams/
test_avro_onepass.py binds the two on valid bodies and on mutations of them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "KIND_CODES",
    "BodyPlan",
    "Reader",
    "compile_reader",
    "plan",
    "read",
    "read_long",
    "read_text",
]

# The field types a plan can read, as they appear in a schema file.
_STRING, _BYTES, _LONG, _TIMESTAMP, _DOUBLE = range(5)
_OPTIONAL = 8  # added to a type: the union ["null", T]
_STRING_MAP, _STRING_ARRAY = 16, 17
_SIMPLE: dict[str, int] = {"string": _STRING, "bytes": _BYTES, "long": _LONG, "double": _DOUBLE}
_TIMESTAMP_MICROS = {"type": "long", "logicalType": "timestamp-micros"}
#: The type codes of a plan by name: what the native reader (streams/avro_native.py) is
#: told, so that they are written here only.
KIND_CODES: dict[str, int] = {
    "string": _STRING,
    "bytes": _BYTES,
    "long": _LONG,
    "timestamp": _TIMESTAMP,
    "double": _DOUBLE,
    "optional": _OPTIONAL,
    "string_map": _STRING_MAP,
    "string_array": _STRING_ARRAY,
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FLOAT64 = struct.Struct("<d")

#: (name, type) of each field the writer wrote, in order; (name, default) of each field
#: the reader adds.
BodyPlan = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, Any], ...]]
#: ``read`` of one plan: (message, position) -> the record or None.
Reader = Callable[[bytes, int], dict[str, Any] | None]


def _kind(schema: Any) -> int | None:
    if isinstance(schema, str):
        return _SIMPLE.get(schema)
    if isinstance(schema, list):
        if len(schema) == 2 and schema[0] == "null" and isinstance(schema[1], str):
            inner = _SIMPLE.get(schema[1])
            return None if inner is None else inner + _OPTIONAL
        return None
    if isinstance(schema, dict):
        bare = {k: v for k, v in schema.items() if k != "doc"}
        if bare == _TIMESTAMP_MICROS:
            return _TIMESTAMP
        if bare == {"type": "map", "values": "string"}:
            return _STRING_MAP
        if bare == {"type": "array", "items": "string"}:
            return _STRING_ARRAY
    return None


def _fresh_default(field: Mapping[str, Any]) -> tuple[bool, Any]:
    """(True, default) if a reader can fill this field in for a writer that lacks it."""
    if "default" not in field:
        return False, None
    kind, default = _kind(field["type"]), field["default"]
    if kind is not None and kind >= _OPTIONAL and kind < _STRING_MAP and default is None:
        return True, None
    if (kind, default) in ((_STRING_MAP, {}), (_STRING_ARRAY, [])):
        return True, default
    return False, None


def plan(writer: Mapping[str, Any], reader: Mapping[str, Any] | None) -> BodyPlan | None:
    """How :func:`read` reads bodies of the ``writer`` record schema (as written in its
    schema file) resolved to ``reader`` (None: the same), or None if it cannot: a type it
    does not know, or a reader that does more than add defaulted fields at the end."""
    written = writer.get("fields")
    if writer.get("type") != "record" or not isinstance(written, list):
        return None
    fields = []
    for field in written:
        kind = _kind(field["type"])
        if kind is None:
            return None
        fields.append((field["name"], kind))
    added: list[tuple[str, Any]] = []
    if reader is not None:
        wanted = reader.get("fields")
        if (
            reader.get("type") != "record"
            or reader.get("name") != writer.get("name")
            or reader.get("namespace") != writer.get("namespace")
            or not isinstance(wanted, list)
            or len(wanted) < len(written)
        ):
            return None
        for mine, theirs in zip(written, wanted, strict=False):
            if (mine["name"], _kind(mine["type"])) != (theirs["name"], _kind(theirs["type"])):
                return None
        for field in wanted[len(written) :]:
            ok, default = _fresh_default(field)
            if not ok:
                return None
            added.append((field["name"], default))
    return tuple(fields), tuple(added)


def read(body_plan: BodyPlan, message: bytes, position: int) -> dict[str, Any] | None:
    """The record in ``message[position:]`` if it is canonically encoded and plainly
    readable (see the module's docstring), else None: then the careful path decides."""
    fields, added = body_plan
    record: dict[str, Any] = {}
    end = len(message)
    try:
        for name, kind in fields:
            if kind >= _STRING_MAP:
                record[name], position = _block(message, position, end, kind == _STRING_MAP)
                continue
            if kind >= _OPTIONAL:
                branch = message[position]
                position += 1
                if branch == 0:  # zig-zag 0: null
                    record[name] = None
                    continue
                if branch != 2:  # zig-zag 1: the other type; nothing else is canonical
                    return None
                kind -= _OPTIONAL
            if kind <= _BYTES:
                size = message[position]
                if size < 0x80 and not size & 1:  # a length below 64: one byte
                    position += 1
                    size >>= 1
                else:
                    size, position = read_long(message, position)
                    if size < 0:
                        return None
                stop = position + size
                if stop > end:
                    return None
                value = message[position:stop]
                record[name] = value.decode("utf-8") if kind == _STRING else value
                position = stop
            elif kind == _DOUBLE:
                stop = position + 8
                if stop > end:
                    return None
                (record[name],) = _FLOAT64.unpack_from(message, position)  # any bits, as fastavro
                position = stop
            else:
                number, position = read_long(message, position)
                record[name] = (
                    _EPOCH + timedelta(microseconds=number) if kind == _TIMESTAMP else number
                )
    except (IndexError, ValueError, OverflowError):  # UnicodeDecodeError is a ValueError
        return None
    if position != end:
        return None
    for name, default in added:
        record[name] = {} if default == {} else [] if default == [] else default
    return record


def _block(message: bytes, position: int, end: int, pairs: bool) -> tuple[Any, int]:
    """A map of strings (``pairs``) or an array of strings in one block, then ``00``."""
    count, position = read_long(message, position)
    if count < 0:
        raise ValueError("a block with a byte size")
    mapping: dict[str, str] = {}
    items: list[str] = []
    for _ in range(count):
        text, position = read_text(message, position, end)
        if pairs:
            if text in mapping:
                raise ValueError("a repeated map key")
            mapping[text], position = read_text(message, position, end)
        else:
            items.append(text)
    if count and message[position] != 0:
        raise ValueError("a second block")
    return (mapping if pairs else items), position + (1 if count else 0)


def read_text(message: bytes, position: int, end: int) -> tuple[str, int]:
    """An Avro string (strict UTF-8) ending by ``end`` and the position after it;
    ValueError (or IndexError) if it cannot be read."""
    size, position = read_long(message, position)
    stop = position + size
    if size < 0 or stop > end:
        raise ValueError("a negative length or one beyond the body")
    return message[position:stop].decode("utf-8"), stop


def read_long(message: bytes, position: int) -> tuple[int, int]:
    """A long written as a minimal varint of at most nine bytes (ValueError otherwise:
    the careful path decides the rest), and the position after it."""
    byte = message[position]
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), position + 1
    value, shift = byte & 0x7F, 7
    while byte & 0x80:
        position += 1
        byte = message[position]
        if shift > 56 or byte == 0:
            raise ValueError("not a minimal varint of at most nine bytes")
        value |= (byte & 0x7F) << shift
        shift += 7
    return (value >> 1) ^ -(value & 1), position + 1


def compile_reader(body_plan: BodyPlan) -> Reader:
    """:func:`read` of ``body_plan`` as one function with a straight run of code per field
    (what :func:`read` does in its loop, without deciding each field's type per body):
    the reader the registry keeps for each writer schema."""
    fields, added = body_plan
    lines = ["def read(m, p):", "    end = len(m)", "    try:"]
    for number, (_, kind) in enumerate(fields):
        lines += ["        " + line for line in _field_code(f"v{number}", kind)]
    lines += [
        "    except (IndexError, ValueError, OverflowError):",
        "        return None",
        "    if p != end:",
        "        return None",
    ]
    entries = [f"{name!r}: v{number}" for number, (name, _) in enumerate(fields)]
    for name, default in added:
        if default not in ({}, [], None):
            raise ValueError(f"no literal for the default {default!r} of {name}")
        entries.append(f"{name!r}: {default!r}")
    lines.append(f"    return {{{', '.join(entries)}}}")
    scope: dict[str, Any] = {
        "read_long": read_long,
        "block": _block,
        "unpack": _FLOAT64.unpack,
        "pack": _FLOAT64.pack,
        "EPOCH": _EPOCH,
        "timedelta": timedelta,
    }
    exec(compile("\n".join(lines), f"<avro one-pass reader {id(body_plan):x}>", "exec"), scope)
    reader: Reader = scope["read"]
    return reader


def _field_code(var: str, kind: int) -> list[str]:
    """The lines reading one field into ``var`` (``p``: the position, ``m``: the message)."""
    if kind >= _STRING_MAP:
        return [f"{var}, p = block(m, p, end, {kind == _STRING_MAP})"]
    if kind >= _OPTIONAL:
        inner = _field_code(var, kind - _OPTIONAL)
        return [
            "b = m[p]",
            "p += 1",
            "if b == 0:",  # zig-zag 0: null
            f"    {var} = None",
            "elif b != 2:",  # zig-zag 1: the other type; nothing else is canonical
            "    return None",
            "else:",
            *("    " + line for line in inner),
        ]
    if kind <= _BYTES:
        value = 'm[p:q].decode("utf-8")' if kind == _STRING else "m[p:q]"
        return [
            "n = m[p]",
            "if n < 0x80 and not n & 1:",  # a length below 64: one byte
            "    p += 1",
            "    n >>= 1",
            "else:",
            "    n, p = read_long(m, p)",
            "    if n < 0:",
            "        return None",
            "q = p + n",
            "if q > end:",
            "    return None",
            f"{var} = {value}",
            "p = q",
        ]
    if kind == _DOUBLE:
        return [
            "q = p + 8",
            "if q > end:",
            "    return None",
            "raw = m[p:q]",
            f"({var},) = unpack(raw)",
            f"if {var} != {var} and pack({var}) != raw:",  # a NaN spelt otherwise
            "    return None",
            "p = q",
        ]
    if kind == _TIMESTAMP:
        return [f"{var}, p = read_long(m, p)", f"{var} = EPOCH + timedelta(microseconds={var})"]
    return [f"{var}, p = read_long(m, p)"]
