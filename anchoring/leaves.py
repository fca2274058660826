"""Canonical leaf records: the exact bytes hashed into a block for each accepted item event.

    record = "assay-leaf-v1" 0x0A
             ‖ u32be(len(item_id)) ‖ item_id (UTF-8)
             ‖ u64be(version)                 -- the event's version in the item's history
             ‖ prev_leaf (32 bytes)           -- leaf hash of version-1, zeros for version 1
             ‖ kind (1 byte: "E" signed envelope, "P" platform body)
             ‖ u32be(len(payload)) ‖ payload
    leaf   = SHA-256(0x00 ‖ record)

``E`` payloads are the signed envelope bytes exactly as they arrived from Kafka. ``P``
payloads are platform-made events (counterfeit flags, sightings of unknown items): a
canonical JSON object (sorted keys, no spaces, UTF-8) holding the signal, the detail,
the evidence event id and SHA-256 of the evidence envelope (or null).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any, Literal

from anchoring.hasher import leaf_hash

RECORD_MAGIC = b"assay-leaf-v1\n"
ZERO_HASH = bytes(32)
KIND_ENVELOPE = b"E"
KIND_PLATFORM = b"P"


@dataclass(frozen=True)
class LeafSource:
    """What one stored item event contributes to its leaf."""

    item_id: str
    version: int
    kind: Literal["E", "P"]
    payload: bytes


def record_bytes(source: LeafSource, prev_leaf: bytes) -> bytes:
    if len(prev_leaf) != 32:
        raise ValueError("prev_leaf must be a 32-byte hash")
    item = source.item_id.encode()
    return b"".join(
        (
            RECORD_MAGIC,
            struct.pack(">I", len(item)),
            item,
            struct.pack(">Q", source.version),
            prev_leaf,
            source.kind.encode(),
            struct.pack(">I", len(source.payload)),
            source.payload,
        )
    )


def leaf_of(source: LeafSource, prev_leaf: bytes) -> bytes:
    return leaf_hash(record_bytes(source, prev_leaf))


def platform_body(
    signal: str, detail: str, evidence_event_id: str | None, evidence: bytes | None
) -> bytes:
    body: dict[str, Any] = {
        "type": "flag",
        "signal": signal,
        "detail": detail,
        "evidence_event_id": evidence_event_id,
        "evidence_sha256": hashlib.sha256(evidence).hexdigest() if evidence else None,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def source_of(item_id: str, version: int, event: Any) -> LeafSource:
    """The leaf source of a stored Item event (domain.items.Item.*)."""
    name = type(event).__name__
    if name in {"Commissioned", "CustodyRecorded"}:
        return LeafSource(item_id, version, "E", event.envelope)
    if name == "Sighted":
        body = platform_body(
            "unknown_item",
            "scanned before any commissioning",
            event.custody.event_id,
            event.envelope,
        )
        return LeafSource(item_id, version, "P", body)
    if name == "Flagged":
        evidence_id = event.evidence.event_id if event.evidence is not None else None
        body = platform_body(event.signal, event.detail, evidence_id, event.envelope)
        return LeafSource(item_id, version, "P", body)
    raise ValueError(f"no leaf rule for {name}")
