"""Block headers: what a block commits to, and the bytes its hash is taken over.

Canonical encoding (``BlockHeader.canonical_bytes``), version 1
----------------------------------------------------------------
ASCII text, ``\\n`` (0x0A) after every line including the last, no other whitespace,
exactly these eleven lines in this order::

    assay-block-v1
    version=<int>
    height=<int>
    prev_hash=<hex32>
    merkle_root=<hex32>
    first_notification=<int>
    last_notification=<int>
    leaf_count=<int>
    sealed_at=<YYYY-MM-DDTHH:MM:SS.ffffffZ>
    acc_root=<hex32>
    acc_size=<int>

``<int>`` is base-10 without sign or leading zeros (``0`` for zero), in
``0 .. 2**53 - 1`` so a JavaScript verifier holds it exactly in a Number.
``<hex32>`` is 64 lowercase hex digits of a 32-byte hash. ``sealed_at`` is RFC 3339 UTC
with exactly six fractional digits and a literal ``Z``. No value can contain ``=`` or a
newline, so the encoding is unambiguous. The block hash is ``SHA-256`` of these bytes.

Example (a genesis header)::

    assay-block-v1
    version=1
    height=0
    prev_hash=0000000000000000000000000000000000000000000000000000000000000000
    merkle_root=<64 hex>
    first_notification=1
    last_notification=3
    leaf_count=3
    sealed_at=2026-11-27T03:00:00.000000Z
    acc_root=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    acc_size=0

The JSON form (``to_json``) has the same keys in the same order, hashes as the same hex.

Version 2 (``assay-block-v2``, docs/proof-bundle.md §10.1) adds two last lines,
``map_root=<hex32>`` (the head map's root after the block, :mod:`anchoring.headmap`) and
``map_size=<int>`` (its number of entries, at least 1); a version 1 header has neither
and keeps its bytes and hash.

Rules a header checks on its own (``header_link``): ``acc_size == height``; the genesis
header (height 0) has ``prev_hash`` of 32 zero bytes and ``acc_root == EMPTY_ROOT``.
Rules that need the previous header (``prev_hash`` is its hash, ``acc_root`` is the
accumulator over the hashes of heights ``0..h-1``) belong to whoever walks the chain.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields
from datetime import datetime
from operator import itemgetter
from typing import Any, NoReturn

from assay_headmap import HeaderReader

from anchoring.accumulator import EMPTY_ROOT
from anchoring.errors import HeaderError

HEADER_VERSION = 1
HEADER_MAGIC = "assay-block-v1"
MAP_HEADER_VERSION = 2
MAP_HEADER_MAGIC = "assay-block-v2"
GENESIS_PREV_HASH = bytes(32)
HASH_SIZE = 32
MAX_INT = 2**53 - 1

_SEALED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_HEX32 = re.compile(r"[0-9a-f]{64}")

_INT_FIELDS = (
    "version",
    "height",
    "first_notification",
    "last_notification",
    "leaf_count",
    "acc_size",
)
_HASH_FIELDS = ("prev_hash", "merkle_root", "acc_root")


@dataclass(frozen=True)
class BlockHeader:
    version: int
    height: int
    prev_hash: bytes
    merkle_root: bytes
    first_notification: int
    last_notification: int
    leaf_count: int
    sealed_at: str
    acc_root: bytes
    acc_size: int
    map_root: bytes | None = None
    map_size: int | None = None

    def __post_init__(self) -> None:
        # Checked on construction so that no header object exists whose canonical bytes
        # are ambiguous or whose JSON would not round-trip.
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                _format(f"{name} must be an integer, got {type(value).__name__}")
            if not 0 <= value <= MAX_INT:
                _format(f"{name}={value} is outside 0..2**53-1")
        for name in _HASH_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                _format(f"{name} must be {HASH_SIZE} bytes")
        if not isinstance(self.sealed_at, str) or not _valid_sealed_at(self.sealed_at):
            _format(f"sealed_at={self.sealed_at!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
        if self.version == MAP_HEADER_VERSION:
            if not isinstance(self.map_root, bytes) or len(self.map_root) != HASH_SIZE:
                _format(f"map_root must be {HASH_SIZE} bytes")
            size = self.map_size
            if isinstance(size, bool) or not isinstance(size, int):
                _format(f"map_size must be an integer, got {type(size).__name__}")
            if not 1 <= size <= MAX_INT:
                _format(f"map_size={size} is outside 1..2**53-1")
        elif self.version == HEADER_VERSION:
            if self.map_root is not None or self.map_size is not None:
                _format("a version 1 header has no map_root or map_size")
        else:
            _format(f"unsupported header version {self.version} (this code reads 1 and 2)")
        if self.leaf_count < 1:
            _format("a block has at least one leaf")
        if self.first_notification > self.last_notification:
            _format(
                f"first_notification {self.first_notification} is after "
                f"last_notification {self.last_notification}"
            )
        if self.acc_size != self.height:
            raise HeaderError(
                "header_link",
                f"header {self.height} accumulates {self.acc_size} blocks, not {self.height}",
            )
        if self.height == 0 and self.prev_hash != GENESIS_PREV_HASH:
            raise HeaderError("header_link", "the genesis header's prev_hash must be all zeros")
        if self.height == 0 and self.acc_root != EMPTY_ROOT:
            raise HeaderError("header_link", "the genesis header's acc_root must be EMPTY_ROOT")

    def canonical_bytes(self) -> bytes:
        """The bytes the block hash covers; the layout is in the module docstring."""
        names = self._names()
        lines = [MAP_HEADER_MAGIC if self.version == MAP_HEADER_VERSION else HEADER_MAGIC]
        lines.extend(f"{name}={_text(getattr(self, name))}" for name in names)
        return ("\n".join(lines) + "\n").encode("ascii")

    def block_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_bytes()).digest()

    def _names(self) -> tuple[str, ...]:
        return _FIELD_NAMES_V2 if self.version == MAP_HEADER_VERSION else _FIELD_NAMES

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in self._names():
            value = getattr(self, name)
            out[name] = value.hex() if isinstance(value, bytes) else value
        return out

    @classmethod
    def from_json(cls, data: object) -> BlockHeader:
        """Parse ``to_json`` output strictly; :class:`HeaderError` names the bad field."""
        if not isinstance(data, dict):
            _format(f"a header must be a JSON object, got {type(data).__name__}")
        version = data.get("version")
        names = _FIELD_NAMES_V2 if version == MAP_HEADER_VERSION else _FIELD_NAMES
        if type(version) is not int:
            names = _FIELD_NAMES  # (the version check below names the problem)
        missing = [name for name in names if name not in data]
        if missing:
            _format(f"header is missing {', '.join(missing)}")
        extra = sorted(str(key) for key in data if key not in names)
        if extra:
            # Keys outside the canonical bytes would ride along unauthenticated.
            _format(f"header has unknown fields {', '.join(extra)}")
        values: dict[str, Any] = {}
        for name in names:
            value = data[name]
            if name in _HASH_FIELDS or name == "map_root":
                if not isinstance(value, str) or not _HEX32.fullmatch(value):
                    _format(f"{name} must be 64 lowercase hex characters")
                value = bytes.fromhex(value)
            elif name in _INT_FIELDS or name == "map_size":
                if isinstance(value, bool) or not isinstance(value, int):
                    _format(f"{name} must be an integer, got {type(value).__name__}")
            elif not isinstance(value, str):
                _format(f"{name} must be a string, got {type(value).__name__}")
            values[name] = value
        return cls(**values)


_FIELD_NAMES_V2 = tuple(f.name for f in fields(BlockHeader))
_FIELD_NAMES = _FIELD_NAMES_V2[:-2]
_FIELD_SET = frozenset(_FIELD_NAMES)
_FIELD_SET_V2 = frozenset(_FIELD_NAMES_V2)
_GET_MAP_FIELDS = itemgetter("map_root", "map_size")
_CANONICAL_V2_TAIL = "map_root={}\nmap_size={}\n"
_GET_FIELDS = itemgetter(*_FIELD_NAMES)
_CANONICAL = HEADER_MAGIC + "\n" + "".join(f"{name}={{}}\n" for name in _FIELD_NAMES)
#: ``read_plain_header(data)``: what a verifier needs of a header :func:`plain_json_block_hash`
#: accepts, natively (``(height, leaf_count, merkle_root, acc_root, acc_size, block_hash,
#: version, map_root, sealed_at)``), or None: then that function and ``from_json`` decide.
#: The layout is this module's; tests/anchoring/test_verifyplain.py binds the two readings.
read_plain_header = HeaderReader(
    HEADER_MAGIC,
    MAP_HEADER_MAGIC,
    list(_FIELD_NAMES),
    list(_FIELD_NAMES_V2),
    HEADER_VERSION,
    MAP_HEADER_VERSION,
    GENESIS_PREV_HASH,
    EMPTY_ROOT,
    MAX_INT,
).read


def plain_json_block_hash(data: object) -> bytes | None:
    """The block hash of a JSON header that :meth:`BlockHeader.from_json` accepts, or None.

    A fast path for verifiers: it accepts only headers in their plain spelling (a ``dict``
    of exactly the ten keys, twelve in version 2, ``int`` and ``str`` values, every rule
    of ``__post_init__`` met), so whatever it accepts ``from_json`` accepts too, with the
    same canonical bytes.
    None means "not plainly valid": call ``from_json`` for the verdict and the error.
    """
    if type(data) is not dict:
        return None
    keys = data.keys()
    tail = ""
    if keys == _FIELD_SET_V2:
        map_root, map_size = _GET_MAP_FIELDS(data)
        if (
            data["version"] != MAP_HEADER_VERSION
            or type(map_size) is not int
            or not 1 <= map_size <= MAX_INT
            or type(map_root) is not str
            or len(map_root) != 64
            or not _HEX32.fullmatch(map_root)
        ):
            return None
        tail = _CANONICAL_V2_TAIL.format(map_root, map_size)
    elif keys != _FIELD_SET or data["version"] != HEADER_VERSION:
        return None
    (version, height, prev_hash, merkle_root, first, last, leaf_count, sealed_at, acc_root,
     acc_size) = _GET_FIELDS(data)  # fmt: skip
    for value in (version, height, first, last, leaf_count, acc_size):
        if type(value) is not int or not 0 <= value <= MAX_INT:
            return None
    if (
        leaf_count < 1
        or first > last
        or acc_size != height
        or type(sealed_at) is not str
        or not _valid_sealed_at(sealed_at)  # its pattern admits ASCII digits only
        or type(prev_hash) is not str
        or type(merkle_root) is not str
        or type(acc_root) is not str
        or len(prev_hash) != 64
        or len(merkle_root) != 64
        or len(acc_root) != 64
    ):
        return None
    hashes = prev_hash + merkle_root + acc_root
    try:
        raw = bytes.fromhex(hashes)
    except ValueError:
        return None
    if raw.hex() != hashes:  # only lowercase hex digits, no whitespace
        return None
    if height == 0 and (raw[:32] != GENESIS_PREV_HASH or raw[64:] != EMPTY_ROOT):
        return None
    text = _CANONICAL.format(
        version,
        height,
        prev_hash,
        merkle_root,
        first,
        last,
        leaf_count,
        sealed_at,
        acc_root,
        acc_size,
    )
    if tail:
        text = MAP_HEADER_MAGIC + text[len(HEADER_MAGIC) :] + tail
    return hashlib.sha256(text.encode("ascii")).digest()


def _text(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _valid_sealed_at(text: str) -> bool:
    if not _SEALED_AT.fullmatch(text):
        return False
    try:  # the pattern fixed the layout; this checks it is a real date (fromisoformat is C)
        datetime.fromisoformat(text[:-1])
    except ValueError:
        return False
    return True


def _format(message: str) -> NoReturn:
    raise HeaderError("header_format", message)
