"""Proofs against the checkpoint's head alone: an id's absence bundle and the ``newer``
object that brings an older bundle forward (docs/proof-bundle.md §10.5, §10.4).

Both read only the :class:`~anchoring.prove.Prover`'s head, its block-hash tree and the
head map at the head: no event, leaf or block tree of the item. The Prover's own methods
(``prove_absence``, ``newer``) are these.
"""

from __future__ import annotations

from typing import Any

from anchoring.logtree import CHECKPOINT_V2
from anchoring.prove import ProveError, Prover
from anchoring.verify_result import (
    ABSENCE_FORMAT,
    BUNDLE_VERSION_2,
    BUNDLE_VERSION_3,
    BUNDLE_VERSION_5,
)
from ledger.records import is_item_event


def absence_bundle(prover: Prover, item_id: str, version: int | None = None) -> dict[str, Any]:
    """The absence bundle of an id: no entry in the map at the checkpoint's head. With
    a version 2 checkpoint ``version`` 5 (the proof in base64url; the default from the
    registry switch on, as for proof bundles) or 3; with a version 1 checkpoint 2."""
    head = prover.head
    assert head is not None
    if head.map_root is None:
        raise ProveError(f"the checkpoint's head (block {head.height}) has no head map")
    events = prover.ledger.item_events(item_id)
    if events and is_item_event(events[0]):
        raise ProveError(f"{item_id!r} is recorded in the ledger: it has no absence proof")
    v2 = prover.checkpoint_version == CHECKPOINT_V2
    if version is None:
        # as for a proof bundle: 5 from the registry switch on, else 3
        version = prover.bundle_version(None) if v2 else BUNDLE_VERSION_2
    allowed = (BUNDLE_VERSION_3, BUNDLE_VERSION_5) if v2 else (BUNDLE_VERSION_2,)
    if version not in allowed:
        raise ProveError(
            f"an absence bundle against this checkpoint is version "
            f"{' or '.join(map(str, allowed))}, not {version}"
        )
    _, proof = prover.map_proof(item_id, head.height, version, absent=True)
    bundle = {
        "format": ABSENCE_FORMAT,
        "version": version,
        "item_id": item_id,
        "checkpoint": prover.checkpoint_text,
        "checkpoint_key": prover.signer,
        "head": head.to_json(),
        "map_proof": proof,
    }
    if v2:
        bundle["head_proof"] = prover.head_proof()
    return bundle


def newer_object(
    prover: Prover, item_id: str, height: int, version: int | None = None
) -> dict[str, Any]:
    """The ``newer`` object (docs/proof-bundle.md §10.4) for a bundle whose head is
    block ``height``: this prover's checkpoint, its head, the older head's accumulator
    proof in it, and the item's entry there, its map proof spelt as a bundle of
    ``version`` spells it (base64url from version 5 on, hex before; by default as the
    bundles this prover writes)."""
    head = prover.head
    assert head is not None
    if version is None:
        version = prover.bundle_version(None)
    if not 0 <= height <= head.height:
        raise ProveError(f"block {height} is not at or below the head {head.height}")
    entry, proof = prover.map_proof(item_id, head.height, version)
    acc = prover.tree.inclusion_proof(height, head.acc_size) if height < head.height else []
    assert entry is not None
    newer = {
        "checkpoint": prover.checkpoint_text,
        "head": head.to_json(),
        "acc_proof": [p.hex() for p in acc],
        "map_entry": entry.to_json(),
        "map_proof": proof,
    }
    if prover.checkpoint_version == CHECKPOINT_V2:
        newer["head_proof"] = prover.head_proof()
    return newer
