"""The audit enters a block's leaves in its head map in one native call
(``HeadMap.enter_leaves`` of ``(item_id, version)`` pairs); :func:`block_changes` is the
reference it must agree with: the same entries, the same root, size and changed rows,
over many random blocks (items repeated within a block, non-ASCII ids, earlier entries
overwritten) and with other entries entered beside them."""

from __future__ import annotations

import random

from anchoring.audit_map import block_changes
from anchoring.headmap import MapEntry, party_key
from anchoring.headmap_native import HeadMap


def _block(rng: random.Random, size: int) -> tuple[list[tuple[str, int]], list[bytes]]:
    names = ["urn:item:1", "urn:item:é", "urn:item:∑", "", "urn:item:\U0001f600"]
    names += [f"urn:item:{n}" for n in range(40)]
    items = [(rng.choice(names), rng.randrange(1, 2**40)) for _ in range(size)]
    return items, [rng.randbytes(32) for _ in items]


def test_the_native_entry_of_a_block_is_the_reference() -> None:
    rng = random.Random(19)
    native, reference = HeadMap(), HeadMap()
    for height in range(60):
        items, leaves = _block(rng, rng.choice([0, 1, 2, 7, 50, 300]))
        others: dict[bytes, MapEntry] = {}
        if height % 3 == 0:  # parties and devices, and (as a first block) earlier items
            others = {
                party_key(f"p{n}"): MapEntry(1, rng.randbytes(32), height, 0) for n in range(3)
            }
            old_items, old_leaves = _block(rng, 5)
            others.update(block_changes(old_items, old_leaves, max(height - 1, 0)))
        expected = {**others, **block_changes(items, leaves, height)}  # the leaves win
        entered = native.enter_leaves(items, leaves, height, others)
        reference.apply(expected, height)
        native.commit()
        reference.commit()
        assert entered == sorted((key, entry.encode()) for key, entry in expected.items())
        assert native.root == reference.root and native.size == reference.size


def test_an_item_leaf_of_the_block_wins_over_the_same_key_entered_beside_it() -> None:
    items, leaves = [("urn:item:7", 3), ("urn:item:7", 4)], [bytes(32), bytes([1]) * 32]
    key = next(iter(block_changes(items, leaves, 5)))
    entered = HeadMap().enter_leaves(items, leaves, 5, {key: MapEntry(9, bytes(32), 1, 1)})
    assert entered == [(key, MapEntry(4, bytes([1]) * 32, 5, 1).encode())]
