"""``HeadMap.enter_leaves``, a block's leaves entered in one native call, is the reference
map's ``apply`` of the entries the sealer made one by one (``item_key`` → ``MapEntry(version,
leaf, height, index)``, an item's last leaf winning, and winning over the other entries
entered with them); the entries it hands back are those, encoded, in key order."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring import headmap, headmap_native
from anchoring.headmap import MapEntry, item_key, party_key
from ledger.records import LeafSource
from tests.anchoring.test_headmap_parity import assert_same

Reference = headmap.HeadMap
Native = headmap_native.HeadMap

ITEMS = ["urn:item:1", "urn:item:2", "é", "", "x" * 300, "urn:epc:id:sgtin:9.1"]


def reference_changes(
    sources: list[LeafSource], leaves: list[bytes], height: int, others: dict[bytes, MapEntry]
) -> dict[bytes, MapEntry | bytes]:
    """The changes as the sealer made them before: one dict entry per leaf, in order."""
    changes: dict[bytes, MapEntry | bytes] = dict(others)
    for index, (source, leaf) in enumerate(zip(sources, leaves, strict=True)):
        changes[item_key(source.item_id)] = MapEntry(source.version, leaf, height, index)
    return changes


def encoded(changes: dict[bytes, MapEntry | bytes]) -> list[tuple[bytes, bytes]]:
    return sorted((k, v if isinstance(v, bytes) else v.encode()) for k, v in changes.items())


digest = st.binary(min_size=32, max_size=32)
other_entry = st.builds(MapEntry, st.integers(0, 9), digest, st.integers(0, 9), st.integers(0, 9))
block = st.tuples(
    st.lists(st.tuples(st.sampled_from(ITEMS), st.integers(1, 2**64 - 1), digest), max_size=20),
    st.dictionaries(
        st.sampled_from([item_key(i) for i in ITEMS[:3]] + [party_key("p"), party_key("q")]),
        other_entry,
        max_size=4,
    ),
    st.sampled_from(["commit", "commit", "rollback"]),
)


@settings(max_examples=100, deadline=None)
@given(blocks=st.lists(block, min_size=1, max_size=6))
def test_entering_leaves_is_applying_the_entries_made_one_by_one(
    blocks: list[tuple[list[tuple[str, int, bytes]], dict[bytes, MapEntry], str]],
) -> None:
    ref, nat = Reference(), Native()
    keys = [item_key(i) for i in ITEMS] + [party_key("p"), party_key("q")]
    for height, (events, others, then) in enumerate(blocks):
        sources = [LeafSource(item, version, "E", b"") for item, version, _ in events]
        leaves = [leaf for _, _, leaf in events]
        changes = reference_changes(sources, leaves, height, others)
        assert nat.enter_leaves(sources, leaves, height, others) == encoded(changes)
        ref.apply(changes, height)
        if then == "rollback":
            nat.rollback()
            ref.rollback()
        else:
            nat.commit()
            ref.commit()
        assert_same(ref, nat, keys)


def test_a_large_block_on_a_large_map_matches_the_reference() -> None:
    ref, nat = Reference(), Native()
    first = {item_key(f"urn:item:{n}"): MapEntry(1, bytes(32), 0, n) for n in range(3000)}
    ref.apply(first, 0)
    nat.apply(first, 0)
    sources = [LeafSource(f"urn:item:{n}", 2, "E", b"") for n in range(0, 4000, 3)]
    leaves = [hashlib.sha256(s.item_id.encode()).digest() for s in sources]
    entries = nat.enter_leaves(sources, leaves, 1)
    ref.apply(reference_changes(sources, leaves, 1, {}), 1)
    assert len(entries) == len(sources)
    assert_same(ref, nat, [key for key, _ in entries[::40]])


def test_bad_blocks_are_refused_and_change_nothing() -> None:
    nat = Native()
    nat.enter_leaves([LeafSource("a", 1, "E", b"")], [bytes(32)], 0)
    nat.commit()
    before = nat.rows()
    one = [LeafSource("b", 1, "E", b"")]
    for sources, leaves, height, message in [
        (one, [], 1, "fewer leaves"),
        (one, [bytes(32)] * 2, 1, "more leaves"),
        (one, [b"short"], 1, "32 bytes"),
        (one, [bytes(32)], -1, "negative"),
    ]:
        with pytest.raises(ValueError, match=message):
            nat.enter_leaves(sources, leaves, height)
    with pytest.raises(ValueError, match="56 bytes"):
        nat.enter_leaves(one, [bytes(32)], 1, {item_key("c"): b"short"})
    with pytest.raises(TypeError):
        nat.enter_leaves([LeafSource(7, 1, "E", b"")], [bytes(32)], 1)  # type: ignore[arg-type]
    assert nat.rows() == before
    assert nat.height == 0
