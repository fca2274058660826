"""Version 2 bundles, absence bundles and `newer` objects of a store, as `anchoring.prove`
writes them at the store's current checkpoint (docs/proof-bundle.md §10)."""

from __future__ import annotations

from typing import Any

from anchoring.prove import Prover
from assay import runtime
from tests.server.stores import Store

Bundle = dict[str, Any]


def _prover(store: Store) -> Prover:
    text = store.settings.checkpoint_path.read_text()
    return Prover(store.world.ledger, runtime.open_chain(store.settings), text)


def v2_bundle(store: Store, item_id: str | None = None) -> Bundle:
    """The item's version 2 bundle (the store must seal version 2 headers)."""
    bundle = _prover(store).prove(item_id or store.item_id, 2)
    return bundle


def absence_bundle(store: Store, item_id: str) -> Bundle:
    """The absence bundle of an id the ledger never recorded."""
    return _prover(store).prove_absence(item_id)


def newer_of(store: Store, item_id: str, height: int) -> Bundle:
    """The `newer` object (§10.4) of a bundle whose head is block ``height``."""
    return _prover(store).newer(item_id, height)
