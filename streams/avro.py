"""Avro single-object encoding with a registry of every schema version Assay ever wrote.

A message is ``C3 01`` ‖ 8-byte little-endian CRC-64-AVRO fingerprint of the writer
schema's Parsing Canonical Form ‖ Avro binary body. Readers look the writer schema up by
fingerprint and resolve it to the newest version of the same record, so old messages stay
readable after the schema evolves.
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

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


class SchemaRegistry:
    """Every ``<name>.v<N>.avsc`` under a folder, indexed by name/version and fingerprint."""

    def __init__(self, folder: Path = SCHEMA_DIR) -> None:
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        self.latest: dict[str, SchemaVersion] = {}
        self.versions: dict[tuple[str, int], SchemaVersion] = {}
        for path in sorted(folder.glob("*.avsc")):
            match = _FILE_NAME.match(path.name)
            if match is None:
                raise ValueError(f"schema file {path.name} is not named <name>.v<N>.avsc")
            self._add(match["name"], int(match["version"]), json.loads(path.read_text()))

    def _add(self, name: str, version: int, raw: Mapping[str, Any]) -> None:
        parsed = parse_schema(dict(raw))
        canonical = to_parsing_canonical_form(parsed).encode()
        fingerprint = struct.pack("<Q", crc64_avro(canonical))
        entry = SchemaVersion(name, version, parsed, fingerprint)
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
        """Decode a single-object message into the newest version of schema ``name``."""
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
        body = io.BytesIO(message[HEADER_LEN:])
        try:
            record = schemaless_reader(body, writer.schema, _reader(self, name, writer))
        except _UNREADABLE as e:
            detail = str(e) or type(e).__name__  # fastavro's EOFError often has no text
            raise SerializationError(
                "malformed_body", f"{name} v{writer.version} body cannot be read: {detail}"
            ) from None
        if body.read(1):
            raise SerializationError("malformed_body", f"trailing bytes after the {name} body")
        assert isinstance(record, dict)
        return record


def _reader(registry: SchemaRegistry, name: str, writer: SchemaVersion) -> Any:
    latest = registry.latest[name]
    return None if latest is writer else latest.schema


@cache
def default_registry() -> SchemaRegistry:
    return SchemaRegistry()
