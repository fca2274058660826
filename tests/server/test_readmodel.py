"""The read model's warm-up: with the map state stored at the checkpoint's head, the server
rebuilds no head map at start, and its proofs (bundles and absence) come from the store."""

from __future__ import annotations

from pathlib import Path

from server.readmodel import ReadModel
from tests.server.stores import ITEM, build_store


def test_the_warm_up_rebuilds_no_map_when_the_stored_state_answers(tmp_path: Path) -> None:
    store = build_store(tmp_path / "assay-data", header_version=2)
    model = ReadModel(store.settings)
    model.warm_up()
    head = model.chain.headers()[-1].height
    assert model.chain.map_state_at(head)
    assert model.chain._map is None  # nothing was rebuilt in memory
    bundle = model.proof(ITEM)
    assert bundle["events"] and model.chain._map is None
