"""Canonical leaf records: the exact bytes hashed into a block for each item event.

    record = "assay-leaf-v1" 0x0A
             ‖ u32be(len(item_id)) ‖ item_id (UTF-8)
             ‖ u64be(version)                 -- the event's version in the item's history
             ‖ prev_leaf (32 bytes)           -- leaf hash of version-1, zeros for version 1
             ‖ kind (1 byte: "E" signed envelope, "P" platform body)
             ‖ u32be(len(payload)) ‖ payload
    leaf   = SHA-256(0x00 ‖ record)

What the kind and payload of each stored event are is the record codec's
(``ledger/records.py``). The second half reads payloads back the way a verifier must:
envelopes only in their canonical Avro encoding, and the *signed fields* a proof's summary
shows. docs/proof-bundle.md is the normative description for verifiers.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from assay_headmap import leaf_chain as native_leaf_chain

from anchoring.hasher import LEAF_PREFIX, leaf_hash
from ledger.records import LeafSource
from streams.avro import HEADER_LEN, default_registry
from streams.envelope import EVENT_SCHEMA, Envelope, open_envelope
from streams.errors import SerializationError

RECORD_MAGIC = b"assay-leaf-v1\n"
ZERO_HASH = bytes(32)
KIND_ENVELOPE = b"E"
KIND_PLATFORM = b"P"

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_sha256 = hashlib.sha256


def record_bytes(source: LeafSource, prev_leaf: bytes) -> bytes:
    if len(prev_leaf) != 32:
        raise ValueError("prev_leaf must be a 32-byte hash")
    item = source.item_id.encode()
    return b"".join(
        (
            RECORD_MAGIC,
            _U32.pack(len(item)),
            item,
            _U64.pack(source.version),
            prev_leaf,
            source.kind.encode(),
            _U32.pack(len(source.payload)),
            source.payload,
        )
    )


def leaf_of(source: LeafSource, prev_leaf: bytes) -> bytes:
    return leaf_hash(record_bytes(source, prev_leaf))


# One packer per item-id length: the fixed-size part of a record in one C call is what
# keeps leaf building fast (bench/bench_anchoring.py measures it). It takes the constant
# start of the hashed bytes (the hasher's leaf prefix included) with the item id's
# length already in it; tests/anchoring/test_leaves.py binds it to ``leaf_of``.
_HEAD_PACKERS: dict[int, tuple[bytes, Callable[..., bytes]]] = {}
_PREFIX = LEAF_PREFIX + RECORD_MAGIC
_KIND_BYTES = {"E": KIND_ENVELOPE, "P": KIND_PLATFORM}


def _head_packer(item_length: int) -> tuple[bytes, Callable[..., bytes]]:
    """``(start, pack)``: ``pack(start, item, version, prev, kind, payload_length)`` is
    ``0x00 ‖ record`` up to its payload, for an item id of ``item_length`` bytes."""
    packer = _HEAD_PACKERS.get(item_length)
    if packer is None:
        start = _PREFIX + _U32.pack(item_length)
        layout = f">{len(start)}s{item_length}sQ32scI"
        packer = _HEAD_PACKERS[item_length] = (start, struct.Struct(layout).pack)
    return packer


def event_leaf(item_id: str, version: int, kind: str, payload: bytes, prev_leaf: bytes) -> bytes:
    """``leaf_of(LeafSource(item_id, version, kind, payload), prev_leaf)`` in one pack call:
    what a verifier recomputes for each event."""
    if len(prev_leaf) != 32:
        raise ValueError("prev_leaf must be a 32-byte hash")
    item = item_id.encode()
    start, pack = _HEAD_PACKERS.get(len(item)) or _head_packer(len(item))
    head = pack(start, item, version, prev_leaf, kind.encode(), len(payload))
    return _sha256(head + payload).digest()


def leaf_chain(
    sources: Iterable[LeafSource], prev_leaf: Callable[[str, int], bytes]
) -> list[bytes]:
    """The leaves of ``sources`` in order, chaining each item's leaves as it goes.

    ``prev_leaf(item_id, version)`` answers for the first event of an item seen here
    (with a version above 1); later events of the same item chain to the leaf just built.
    Equal to ``leaf_of(source, prev)`` for each source (tests/anchoring/test_leaves.py binds
    them), built natively in one call: a block's leaves are a large share of a seal.
    """
    return native_leaf_chain(sources, prev_leaf, _PREFIX, _KIND_BYTES)


# ----- what a payload says ------------------------------------------------------------------


def signed_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a summary shows of a signed custody event: the Avro record's fields that are
    set (not null, not an empty map or array), ``occurred_at`` as RFC 3339 in UTC."""
    out = {name: value for name, value in record.items() if value is not None and value != []}
    occurred = out.get("occurred_at")
    if isinstance(occurred, datetime):
        out["occurred_at"] = occurred.astimezone(UTC).isoformat()
    attributes = out.get("attributes")
    if isinstance(attributes, Mapping):
        if attributes:
            out["attributes"] = dict(sorted(attributes.items()))
        else:
            del out["attributes"]
    commitments = out.get("commitments")  # custody_event v4: shown like the attributes
    if isinstance(commitments, Mapping):
        if commitments:
            out["commitments"] = dict(sorted(commitments.items()))
        else:
            del out["commitments"]
    return out


def flag_summary(flag: Mapping[str, Any], evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"flag": flag["signal"], "detail": flag["detail"]}
    if evidence is not None:
        summary["evidence"] = signed_fields(evidence)
    return summary


def read_signed(message: bytes) -> tuple[Envelope, dict[str, Any]]:
    """The envelope and its decoded body record; :class:`SerializationError` if unreadable."""
    envelope = read_envelope(message)
    return envelope, read_body_record(envelope)


def read_envelope(message: bytes) -> Envelope:
    """Decode a signed envelope, accepting only its canonical Avro encoding.

    Avro readers also accept other spellings of the same four fields (non-minimal varints,
    a negative length on the last field); pinning one keeps every verifier in agreement.
    """
    envelope = open_envelope(message)
    fields = (envelope.party_id.encode(), envelope.device_id.encode(), envelope.body)
    canonical = [message[:HEADER_LEN]]
    for value in (*fields, envelope.signature):
        canonical += (_avro_long(len(value)), value)
    if b"".join(canonical) != message:
        raise SerializationError("malformed_body", "the envelope is not canonically encoded")
    return envelope


def read_body_record(envelope: Envelope) -> dict[str, Any]:
    """Decode the signed body with the schema its fingerprint names (any known version)."""
    try:
        return default_registry().decode(EVENT_SCHEMA, envelope.body)
    except OverflowError:  # a timestamp beyond year 9999: fastavro does not wrap it
        raise SerializationError("malformed_body", "occurred_at is out of range") from None


def _avro_long(value: int) -> bytes:
    """Avro's zig-zag varint, minimal length (for non-negative values: value << 1)."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)
