"""The chain's head map rebuilt from its stored entries (issue 19): read a window of
blocks at a time, so memory holds one window's rows, not every entry ever stored, and the
map comes out as one read of them all would make it."""

from __future__ import annotations

from pathlib import Path

import pytest

from anchoring import chain as chain_module
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.headmap import MapEntry
from anchoring.headmap_native import HeadMap
from anchoring.recorders import EntryRow
from anchoring.sealer import SealPolicy
from ledger.config import store_env
from tests.anchoring.stores import new_anchor, record_items
from tests.support import make_world

ORIGIN = "assay.test/chain"
WINDOW = 2


def test_the_head_map_is_read_a_window_of_blocks_at_a_time(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path, database_url)
    env = store_env(database_url, tmp_path / "chain.sqlite")
    signer = Signer.from_seed(ORIGIN, bytes(32))
    policy = SealPolicy(max_events=3, max_seconds=60)
    anchor = new_anchor(world.ledger, Chain(env), signer, tmp_path, origin=ORIGIN, policy=policy)
    record_items(world, 0, 3)
    anchor.catch_up()
    top = anchor.headers[-1].height
    assert top >= 3 * WINDOW  # several windows

    chain = Chain(env)
    store = chain.map_store
    every = store.map_entries_between(-1, top)
    # An item's entry changes in blocks of different windows: the last one must win.
    heights = {h: dict(store.map_entries_at(h)) for h in range(top + 1)}
    windows_of = {
        key: {h // WINDOW for h, entries in heights.items() if key in entries} for key, _ in every
    }
    assert any(len(w) > 1 for w in windows_of.values())

    reads: list[tuple[int, int, int]] = []
    real = store.map_entries_between

    def spy(after: int, upto: int) -> list[EntryRow]:
        rows = real(after, upto)
        reads.append((after, upto, len(rows)))
        return rows

    monkeypatch.setattr(chain_module, "MAP_LOAD_BLOCKS", WINDOW)
    monkeypatch.setattr(store, "map_entries_between", spy)
    m = chain.head_map()

    # Contiguous windows of at most WINDOW blocks from the first block to the head.
    assert [r[0] for r in reads] == [-1, *[r[1] for r in reads[:-1]]]
    assert reads[-1][1] == top
    assert all(0 < upto - after <= WINDOW for after, upto, _ in reads)
    assert max(n for *_, n in reads) < len(every)  # never every entry at once
    # The same map as one read of every entry, and the head's map root.
    whole = HeadMap()
    whole.apply(dict(every), top)
    assert (m.root, m.size, m.height) == (whole.root, whole.size, top)
    assert m.root == anchor.headers[-1].map_root
    # Each key holds its last entry.
    for key, value in dict(every).items():
        assert m.get(key) == MapEntry.decode(value)

    # An anchor opening the chain this way carries on sealing onto it.
    record_items(world, 3, 1)
    again = new_anchor(world.ledger, chain, signer, tmp_path, origin=ORIGIN, policy=policy)
    assert again.map is not None and again.map.root == anchor.headers[-1].map_root
    assert again.catch_up() > 0
