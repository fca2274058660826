"""``prove(item)``: a self-contained, versioned JSON bundle for one item's history.

See docs/proof-bundle.md for every field. The bundle carries the item's anchored events
(exact envelope bytes or platform body), each with its leaf index, Merkle path and block
header; each block's accumulator proof into the newest header; the signed checkpoint of
that header; and the device public keys. Recorded events not yet sealed are listed as
pending, never silently left out.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from anchoring.accumulator import inclusion_proof
from anchoring.chain import Chain
from anchoring.header import BlockHeader
from anchoring.leaves import ZERO_HASH, source_of
from anchoring.merkle import MerkleTree
from ledger.application import CustodyLedger

BUNDLE_FORMAT = "assay-proof-bundle"
BUNDLE_VERSION = 1


class ProveError(LookupError):
    pass


def summarize(event: Any) -> dict[str, Any]:
    """Readable fields for the buyer's page; the verifier checks them against signed bytes."""
    name = type(event).__name__
    if name in {"Commissioned", "CustodyRecorded", "Sighted"}:
        summary = {k: v for k, v in event.custody.to_primitive().items() if v not in (None, {})}
        if name == "Sighted":
            summary["flag"] = "unknown_item"
        return summary
    if name == "Flagged":
        return {"flag": event.signal, "detail": event.detail}
    return {"type": name}


class Prover:
    def __init__(self, ledger: CustodyLedger, chain: Chain, checkpoint_text: str) -> None:
        self.ledger = ledger
        self.chain = chain
        self.checkpoint_text = checkpoint_text
        self.headers = chain.headers()
        self._hashes = [h.block_hash() for h in self.headers]
        self._trees: dict[int, MerkleTree] = {}

    def tree(self, height: int) -> MerkleTree:
        if height not in self._trees:
            self._trees[height] = MerkleTree(self.chain.block(height).leaf_hashes())
        return self._trees[height]

    def prove(self, item_id: str) -> dict[str, Any]:
        events = self.ledger.item_events(item_id)
        if not events:
            raise ProveError(f"no item {item_id!r} in the ledger")
        if not self.headers:
            raise ProveError("nothing has been anchored yet")
        head = self.headers[-1]
        rows = {row.version: row for row in self.chain.leaves_for(item_id)}
        out_events: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        devices: dict[str, dict[str, Any]] = {}
        heights: set[int] = set()
        prev = ZERO_HASH
        for event in events:
            version = event.originator_version
            row = rows.get(version)
            if row is None or row.height > head.height:
                pending.append({"version": version, "summary": summarize(event)})
                continue
            source = source_of(item_id, version, event)
            heights.add(row.height)
            out_events.append(
                {
                    "version": version,
                    "leaf_kind": source.kind,
                    "payload_b64": base64.b64encode(source.payload).decode(),
                    "prev_leaf": prev.hex(),
                    "leaf": row.leaf_hash.hex(),
                    "height": row.height,
                    "leaf_index": row.leaf_index,
                    "path": self.tree(row.height).path(row.leaf_index),
                    "summary": summarize(event),
                }
            )
            prev = row.leaf_hash
            self._add_device(event, devices)
        return {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "item_id": item_id,
            "checkpoint": self.checkpoint_text,
            "head": head.to_json(),
            "blocks": [self._block_entry(h, head) for h in sorted(heights)],
            "events": out_events,
            "devices": devices,
            "pending": pending,
        }

    def _block_entry(self, height: int, head: BlockHeader) -> dict[str, Any]:
        header = self.headers[height]
        proof: list[bytes] = []
        if height < head.height:
            proof = inclusion_proof(self._hashes[: head.acc_size], height, head.acc_size)
        return {"header": header.to_json(), "acc_proof": [p.hex() for p in proof]}

    def _add_device(self, event: Any, devices: dict[str, dict[str, Any]]) -> None:
        custody = getattr(event, "custody", None)
        if custody is None or getattr(event, "envelope", None) is None:
            return
        key = f"{custody.party_id}/{custody.device_id}"
        if key in devices:
            return
        party = self.ledger.get_party(custody.party_id)
        device = party.devices.get(custody.device_id)
        if device is not None:
            devices[key] = {
                "public_key": device.public_key,
                "party_name": party.name,
                "role": party.role.value,
            }


def write_bundle(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, indent=2, sort_keys=True) + "\n"
