"""Forged bundles: any payloads, correctly anchored and signed by a throwaway platform key.

Tampering with a real bundle is caught at the leaf or the path; to exercise the checks
behind them (envelope decoding, device signatures, flags and evidence) the bytes must be
anchored as they are. ``forge`` builds one genesis block over the given events (plus a
few other leaves) and signs its checkpoint, so only the content checks can fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from anchoring.accumulator import EMPTY_ROOT
from anchoring.checkpoint import Checkpoint, Signer, sign_checkpoint
from anchoring.header import BlockHeader
from anchoring.leaves import ZERO_HASH, leaf_of
from anchoring.verify import BUNDLE_FORMAT, BUNDLE_VERSION, flag_summary, read_signed, signed_fields
from domain.custody import CustodyEvent
from ledger.records import LeafSource, canonical_json
from streams.avro import default_registry
from streams.envelope import (
    CORRECTION_EVENT_VERSION,
    ENVELOPE_SCHEMA,
    EVENT_SCHEMA,
    custody_to_avro,
    write_version,
)
from streams.keys import DeviceKey
from tests.anchoring.reference import MerkleTree

ORIGIN = "forge.example/custody-log"
SIGNER = Signer.from_seed(ORIGIN, hashlib.sha256(b"assay forged bundles").digest())


@dataclass(frozen=True)
class Forged:
    kind: str  # "E": a signed envelope, "P": a platform record
    payload: bytes
    evidence: bytes | None = None
    summary: dict[str, Any] | None = None  # default: what the payload says


def body_bytes(event: CustodyEvent, schema_version: int | None = None) -> bytes:
    # v3 unless the event needs a later version (commitments: v4), as before v4 existed.
    schema_version = schema_version or max(write_version(event), CORRECTION_EVENT_VERSION)
    registry = default_registry()
    known = {f["name"] for f in registry.get(EVENT_SCHEMA, schema_version).schema["fields"]}
    record = {k: v for k, v in custody_to_avro(event).items() if k in known}
    return registry.encode(EVENT_SCHEMA, record, schema_version)


def body_with_micros(event: CustodyEvent, micros: int) -> bytes:
    """A body whose occurred_at is any 64-bit count of microseconds, even one no date has."""
    import io

    from fastavro import parse_schema, schemaless_writer

    latest = default_registry().get(EVENT_SCHEMA)
    fields = [
        {**f, "type": "long"} if f["name"] == "occurred_at" else f for f in latest.schema["fields"]
    ]
    raw = parse_schema({"type": "record", "name": "RawTimes", "fields": fields})
    out = io.BytesIO(b"\xc3\x01" + latest.fingerprint)
    out.seek(0, io.SEEK_END)
    schemaless_writer(out, raw, {**custody_to_avro(event), "occurred_at": micros})
    return out.getvalue()


def envelope(
    body: bytes,
    key: DeviceKey,
    party_id: str | None = None,
    device_id: str | None = None,
    signature: bytes | None = None,
) -> bytes:
    return default_registry().encode(
        ENVELOPE_SCHEMA,
        {
            "party_id": party_id or key.party_id,
            "device_id": device_id or key.device_id,
            "body": body,
            "signature": key.sign(body) if signature is None else signature,
        },
    )


def flag_record(
    signal: str, detail: str, evidence_event_id: str | None, evidence: bytes | None
) -> bytes:
    return canonical_json(
        {
            "type": "flag",
            "signal": signal,
            "detail": detail,
            "evidence_event_id": evidence_event_id,
            "evidence_sha256": hashlib.sha256(evidence).hexdigest() if evidence else None,
        }
    )


def summary_of(event: Forged) -> dict[str, Any]:
    try:
        if event.kind == "E":
            return signed_fields(read_signed(event.payload)[1])
        flag = json.loads(event.payload)
        evidence = read_signed(event.evidence)[1] if event.evidence else None
        return flag_summary(flag, evidence)
    except Exception:  # unreadable on purpose: the check fails before the summary's
        return {}


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def forge(item_id: str, events: list[Forged], keys: list[DeviceKey]) -> dict[str, Any]:
    leaves: list[bytes] = []
    entries: list[dict[str, Any]] = []
    prev = ZERO_HASH
    for version, event in enumerate(events, 1):
        leaf = leaf_of(LeafSource(item_id, version, event.kind, event.payload), prev)  # type: ignore[arg-type]
        entries.append(
            {
                "version": version,
                "leaf_kind": event.kind,
                "payload_b64": _b64(event.payload),
                "evidence_b64": _b64(event.evidence),
                "prev_leaf": prev.hex(),
                "leaf": leaf.hex(),
                "height": 0,
                "leaf_index": len(leaves),
                "summary": summary_of(event) if event.summary is None else event.summary,
            }
        )
        leaves.append(leaf)
        prev = leaf
    leaves += [hashlib.sha256(bytes([n])).digest() for n in range(3)]  # other items' leaves
    tree = MerkleTree(leaves)
    for entry in entries:
        entry["path"] = tree.path(entry["leaf_index"])
    header = BlockHeader(
        version=1,
        height=0,
        prev_hash=bytes(32),
        merkle_root=tree.root,
        first_notification=1,
        last_notification=len(leaves),
        leaf_count=len(leaves),
        sealed_at="2026-01-02T03:04:05.000006Z",
        acc_root=EMPTY_ROOT,
        acc_size=0,
    )
    checkpoint = sign_checkpoint(Checkpoint(ORIGIN, 1, header.block_hash()), SIGNER)
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "item_id": item_id,
        "checkpoint": checkpoint,
        "head": header.to_json(),
        "blocks": [{"header": header.to_json(), "acc_proof": []}],
        "events": entries,
        "devices": {
            f"{k.party_id}/{k.device_id}": {
                "public_key": k.public_key_hex,
                "party_name": k.party_id.title(),
                "role": "store",
            }
            for k in keys
        },
        "pending": [],
    }
