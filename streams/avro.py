"""Avro single-object encoding with a registry of every schema version Assay ever wrote.

A message is ``C3 01`` ‖ 8-byte little-endian CRC-64-AVRO fingerprint of the writer
schema's Parsing Canonical Form ‖ Avro binary body. Readers look the writer schema up by
fingerprint and resolve it to the newest version of the same record, so old messages stay
readable after the schema evolves.

Reading is strict: a body must be the *canonical* encoding of what it decodes to, the bytes
an Avro writer emits for it (minimal varints of at most 10 bytes, union index 0 for null
and 1 for the other branch, a map as one block of positive count then 0, no repeated map
key). Avro readers such as fastavro accept other spellings of the same record (redundant
varint groups, a negative union index counting from the end, several map blocks); every
verifier pins this one, so that the ingest never accepts a signed event a verifier
refuses (docs/proof-bundle.md §4.7).
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import LOGICAL_READERS
from fastavro.schema import to_parsing_canonical_form

from streams import avro_onepass
from streams.avro_native import native_message_reader, native_reader
from streams.errors import SerializationError

MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8
SCHEMA_DIR = Path(__file__).with_name("schemas")
#: What fastavro raises on bytes that are not a valid body (OverflowError: dates > 9999).
_UNREADABLE = (EOFError, ValueError, IndexError, UnicodeDecodeError, TypeError, OverflowError)
_FILE_NAME = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.avsc$")

CRC64_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """The Avro specification's 64-bit Rabin fingerprint."""
    fp = CRC64_EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    version: int
    schema: Any  # fastavro's parsed schema
    fingerprint: bytes  # 8 bytes, little-endian, as written on the wire
    # The same schema without logical types: what the canonical check decodes and writes
    # back (fastavro converts timestamps through a double, which is not exact).
    plain: Any = None
    # (field, converter) for each top-level field with a logical type, turning the plain
    # value into fastavro's; None when a logical type sits deeper (then read it again).
    logical_fields: tuple[tuple[str, Any], ...] | None = None
    raw: Any = None  # the schema as its file spells it


class SchemaRegistry:
    """Every ``<name>.v<N>.avsc`` under a folder, indexed by name/version and fingerprint."""

    def __init__(self, folder: Path = SCHEMA_DIR, *, native: bool = True) -> None:
        """``native``: read canonical bodies with the native reader (streams/avro_native.py),
        else with the Python one (streams/avro_onepass.py), the reference it is bound to."""
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        self.latest: dict[str, SchemaVersion] = {}
        self.versions: dict[tuple[str, int], SchemaVersion] = {}
        # The one-pass reader of each writer (None: there is none), made on first use.
        self._readers: dict[bytes, avro_onepass.Reader | None] = {}
        self._compile = native_reader if native else avro_onepass.compile_reader
        self._message_reader = native_message_reader if native else _message_reader
        self._message_readers: dict[str, Callable[[bytes], dict[str, Any] | None]] = {}
        for path in sorted(folder.glob("*.avsc")):
            match = _FILE_NAME.match(path.name)
            if match is None:
                raise ValueError(f"schema file {path.name} is not named <name>.v<N>.avsc")
            self._add(match["name"], int(match["version"]), json.loads(path.read_text()))

    def _add(self, name: str, version: int, raw: Mapping[str, Any]) -> None:
        _check_unions(raw, f"{name}.v{version}")
        parsed = parse_schema(dict(raw))
        canonical = to_parsing_canonical_form(parsed).encode()
        fingerprint = struct.pack("<Q", crc64_avro(canonical))
        plain = parse_schema(_without_logical_types(raw))
        entry = SchemaVersion(
            name, version, parsed, fingerprint, plain, _logical_fields(raw), dict(raw)
        )
        self.by_fingerprint[fingerprint] = entry
        self.versions[(name, version)] = entry
        if name not in self.latest or self.latest[name].version < version:
            self.latest[name] = entry

    def get(self, name: str, version: int | None = None) -> SchemaVersion:
        if version is None:
            return self.latest[name]
        return self.versions[(name, version)]

    def encode(self, name: str, record: Mapping[str, Any], version: int | None = None) -> bytes:
        entry = self.get(name, version)
        out = io.BytesIO()
        out.write(MAGIC)
        out.write(entry.fingerprint)
        schemaless_writer(out, entry.schema, dict(record))
        return out.getvalue()

    def decode(self, name: str, message: bytes) -> dict[str, Any]:
        """Decode a single-object message into the newest version of schema ``name``.

        A canonically encoded body is read in one pass (:meth:`one_pass`); anything that
        pass is not sure of is decided by :meth:`decode_carefully`."""
        record = self.one_pass(name)(message)
        if record is not None:
            return record
        return self.decode_carefully(name, message)

    def one_pass(self, name: str) -> Callable[[bytes], dict[str, Any] | None]:
        """``read(message)``: the record :meth:`decode` returns if the one-pass reader of
        ``message``'s writer reads it, else None (another schema, an unknown writer or not a
        single-object message too: then :meth:`decode` or :meth:`decode_carefully` answers)."""
        reader = self._message_readers.get(name)
        if reader is None:
            readers = {}
            for fingerprint, writer in self.by_fingerprint.items():
                body_reader = self._onepass(writer, name) if writer.name == name else None
                if body_reader is not None:
                    readers[fingerprint] = body_reader
            reader = self._message_reader(MAGIC, readers)
            self._message_readers[name] = reader
        return reader

    def decode_carefully(self, name: str, message: bytes) -> dict[str, Any]:
        """What :meth:`decode` returns or raises, by the reference method: read the body
        with fastavro, write it back and compare the bytes."""
        return self._decode_carefully(name, self._writer(name, message), bytes(message))

    def _writer(self, name: str, message: bytes) -> SchemaVersion:
        if len(message) < HEADER_LEN or message[:2] != MAGIC:
            raise SerializationError(
                "not_single_object", "message does not start with the Avro single-object marker"
            )
        writer = self.by_fingerprint.get(bytes(message[2:HEADER_LEN]))
        if writer is None:
            raise SerializationError(
                "unknown_schema",
                f"no known schema has fingerprint {message[2:HEADER_LEN].hex()}",
            )
        if writer.name != name:
            raise SerializationError(
                "wrong_schema", f"expected a {name} message, found {writer.name} v{writer.version}"
            )
        return writer

    def _decode_carefully(self, name: str, writer: SchemaVersion, message: bytes) -> dict[str, Any]:
        body = message[HEADER_LEN:]
        plain = _read_canonical(writer, body)
        reader = _reader(self, name, writer)
        if reader is None and writer.logical_fields is not None:
            record = plain  # made what fastavro's reading (below) would return
            try:
                for field_name, convert in writer.logical_fields:
                    record[field_name] = convert(record[field_name], None, None)
            except _UNREADABLE as e:
                raise _unreadable(writer, e) from None
        else:
            try:
                record = schemaless_reader(io.BytesIO(body), writer.schema, reader)
            except _UNREADABLE as e:
                raise _unreadable(writer, e) from None
        assert isinstance(record, dict)
        return record

    def _onepass(self, writer: SchemaVersion, name: str) -> avro_onepass.Reader | None:
        reader = self._readers.get(writer.fingerprint)
        if reader is None and writer.fingerprint not in self._readers:
            latest = self.latest[name]
            body_plan = avro_onepass.plan(writer.raw, None if latest is writer else latest.raw)
            reader = None if body_plan is None else self._compile(body_plan)
            self._readers[writer.fingerprint] = reader
        return reader


def _read_canonical(writer: SchemaVersion, body: bytes) -> Any:
    """The record ``body`` holds, read with the writer's schema without logical types, if
    ``body`` is exactly what a writer emits for it; :class:`SerializationError` otherwise."""
    stream = io.BytesIO(body)
    try:
        plain = schemaless_reader(stream, writer.plain, None)
    except _UNREADABLE as e:
        raise _unreadable(writer, e) from None
    if stream.tell() != len(body):
        raise SerializationError("malformed_body", f"trailing bytes after the {writer.name} body")
    again = io.BytesIO()
    schemaless_writer(again, writer.plain, plain)
    if again.getvalue() != body:
        raise SerializationError(
            "malformed_body",
            f"{writer.name} v{writer.version} body is not canonically encoded (a varint "
            "with redundant groups or over 10 bytes, a union index other than 0 or 1, or a "
            "map in several blocks or with a repeated key)",
        )
    return plain


def _unreadable(writer: SchemaVersion, error: Exception) -> SerializationError:
    detail = str(error) or type(error).__name__  # fastavro's EOFError often has no text
    return SerializationError(
        "malformed_body", f"{writer.name} v{writer.version} body cannot be read: {detail}"
    )


def _check_unions(schema: Any, where: str) -> None:
    """Every union is ``["null", T]``: the canonical check and the spec rely on it."""
    if isinstance(schema, list):
        if len(schema) != 2 or schema[0] != "null" or isinstance(schema[1], list):
            raise ValueError(f'{where}: a union must be ["null", <type>], not {schema}')
        _check_unions(schema[1], where)
    elif isinstance(schema, dict):
        for key in ("fields", "items", "values"):
            if key in schema:
                nested = schema[key]
                for child in nested if key == "fields" else [nested]:
                    _check_unions(child["type"] if key == "fields" else child, where)
        if isinstance(schema.get("type"), list | dict):
            _check_unions(schema["type"], where)


def _logical_fields(schema: Mapping[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    """fastavro's converter for each top-level field with a logical type, or None if a
    logical type is nested deeper than a record field's own type."""
    out = []
    for field_schema in schema.get("fields", []):
        kind = field_schema["type"]
        if isinstance(kind, dict) and "logicalType" in kind:
            name = f"{kind['type']}-{kind['logicalType']}"
            if name not in LOGICAL_READERS or _without_logical_types(kind) != {
                "type": kind["type"]
            }:
                return None
            out.append((field_schema["name"], LOGICAL_READERS[name]))
        elif _without_logical_types(kind) != kind:
            return None
    return tuple(out)


def _without_logical_types(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_without_logical_types(s) for s in schema]
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    return schema


def _reader(registry: SchemaRegistry, name: str, writer: SchemaVersion) -> Any:
    latest = registry.latest[name]
    return None if latest is writer else latest.schema


def _message_reader(
    magic: bytes, readers: Mapping[bytes, avro_onepass.Reader]
) -> Callable[[bytes], dict[str, Any] | None]:
    """What :func:`streams.avro_native.native_message_reader` makes, in Python."""
    header = len(magic) + 8

    def read(message: bytes) -> dict[str, Any] | None:
        if type(message) is not bytes or len(message) < header or message[:2] != magic:
            return None
        reader = readers.get(message[len(magic) : header])
        return None if reader is None else reader(message, header)

    return read


@cache
def default_registry() -> SchemaRegistry:
    return SchemaRegistry()
