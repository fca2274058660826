"""Version 2 bundles, absence bundles and `newer` objects made from a store's real chain.

Written from docs/proof-bundle.md §10 on top of the chain's head map (anchoring/headmap.py):
the JSON layout of map entries and proofs is the spec's, so these double as a check that the
page reads what the spec says. A bundle the prover already writes as version 2 is kept as it is.
"""

from __future__ import annotations

from typing import Any

from anchoring.headmap import MapProof, item_key, prove_from
from anchoring.prove import Prover
from assay import runtime
from tests.server.stores import Store

Bundle = dict[str, Any]


def proof_json(proof: MapProof) -> dict[str, Any]:
    other = None
    if proof.other_key is not None:
        assert proof.other_value is not None
        other = {"key": proof.other_key.hex(), "value": proof.other_value.hex()}
    return {"siblings": [None if s is None else s.hex() for s in proof.siblings], "other": other}


def _prover(store: Store) -> Prover:
    text = store.settings.checkpoint_path.read_text()
    return Prover(store.world.ledger, runtime.open_chain(store.settings), text)


def _map_at(store: Store, item_id: str, height: int) -> tuple[Any, dict[str, Any]]:
    chain = runtime.open_chain(store.settings)
    entry, proof = prove_from(chain.map_nodes_at(height), item_key(item_id))
    return entry, proof_json(proof)


def v2_bundle(store: Store, item_id: str | None = None) -> Bundle:
    """The item's version 2 bundle at the store's checkpoint."""
    item = item_id or store.item_id
    bundle = store.bundle(item)
    if bundle["version"] == 2:
        return bundle
    entry, proof = _map_at(store, item, bundle["head"]["height"])
    assert entry is not None, f"{item} has no entry in the head map"
    bundle.update(version=2, map_entry=entry.to_json(), map_proof=proof)
    return bundle


def absence_bundle(store: Store, item_id: str) -> Bundle:
    """The absence bundle of an id the ledger never recorded, at the store's checkpoint."""
    prover = _prover(store)
    head = prover.head
    assert head is not None
    entry, proof = _map_at(store, item_id, head.height)
    assert entry is None, f"{item_id} is in the head map"
    return {
        "format": "assay-absence",
        "version": 2,
        "item_id": item_id,
        "checkpoint": prover.checkpoint_text,
        "head": head.to_json(),
        "map_proof": proof,
    }


def newer_of(store: Store, item_id: str, height: int) -> Bundle:
    """The `newer` object (§10.4) of a bundle whose head is block ``height``."""
    prover = _prover(store)
    head = prover.head
    assert head is not None
    entry, proof = _map_at(store, item_id, head.height)
    assert entry is not None
    acc = prover.tree.inclusion_proof(height, head.acc_size) if height < head.height else []
    return {
        "checkpoint": prover.checkpoint_text,
        "head": head.to_json(),
        "acc_proof": [p.hex() for p in acc],
        "map_entry": entry.to_json(),
        "map_proof": proof,
    }
