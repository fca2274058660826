"""The native head map is the reference's twin: after any sequence of blocks (inserts,
updates, rollbacks, reloads from rows) both give the same root, size, height, rows (same
order, same bytes), node lookups and proofs, including on paths deeper than 63 and 247
levels, where the native core changes representation."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring import headmap, headmap_native
from anchoring.headmap import META_PATH, MapEntry, MapRow, item_key, verify_map

Reference = headmap.HeadMap
Native = headmap_native.HeadMap


def keys_with_prefix(bits: str, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        rest = "".join(rng.choice("01") for _ in range(256 - len(bits)))
        out.append(int(bits + rest, 2).to_bytes(32, "big"))
    return out


def pool(kind: str) -> list[bytes]:
    """Keys that grow shallow trees, paths past depth 63, or paths past depth 247."""
    if kind == "items":
        return [item_key(f"urn:item:{i}") for i in range(40)]
    if kind == "deep":
        return keys_with_prefix("10" * 36, 30, 3) + [item_key(str(i)) for i in range(10)]
    return keys_with_prefix("1" * 250, 30, 5) + keys_with_prefix("0" * 70, 10, 9)


def entry(n: int) -> MapEntry:
    leaf = hashlib.sha256(n.to_bytes(8, "big")).digest()
    return MapEntry(n % 1000 + 1, leaf, n % 50_000, n % 777)


def assert_same(ref: Reference, nat: Native, keys: list[bytes]) -> None:
    assert (nat.root, nat.size, nat.height) == (ref.root, ref.size, ref.height)
    rows = ref.rows()
    assert nat.rows() == rows
    assert nat.head_row() == ref.head_row()
    for row in rows:
        path = int.from_bytes(row.path, "big")
        assert nat.node(path) == ref.node(path)
        sibling = path ^ (1 << 9) if path & 511 else path  # often absent
        assert nat.node(sibling) == ref.node(sibling)
    for key in [*keys, item_key("never-seen"), bytes(32), b"\xff" * 32]:
        assert nat.get(key) == ref.get(key)
        proven = nat.prove(key)
        assert proven == ref.prove(key)
        verify_map(nat.root, key, *proven)


step = st.tuples(
    st.lists(st.tuples(st.integers(0, 39), st.integers(0, 10**6)), max_size=25),
    st.sampled_from(["commit", "commit", "rollback", "reload", "update-again"]),
)


@settings(max_examples=70, deadline=None)
@given(kind=st.sampled_from(["items", "deep", "deeper"]), steps=st.lists(step, max_size=8))
def test_any_sequence_of_blocks_gives_identical_maps(
    kind: str, steps: list[tuple[list[tuple[int, int]], str]]
) -> None:
    keys = pool(kind)
    ref, nat = Reference(), Native()
    applied = Native()  # the same blocks through apply, which makes no rows
    for height, (batch, then) in enumerate(steps):
        changes = {keys[i]: entry(n) for i, n in batch}
        assert nat.update(changes, height) == ref.update(changes, height)
        applied.apply(changes, height)
        if then == "update-again":  # a second update drops the first one's undo
            more = {keys[(i + 7) % 40]: entry(n + 1) for i, n in batch[:3]}
            assert nat.update(more, height) == ref.update(more, height)
            applied.apply(more, height)
            then = "rollback"
        if then == "rollback":
            nat.rollback()
            ref.rollback()
            applied.rollback()
        elif then == "reload":
            ref.commit()
            nat = Native.from_rows(ref.rows())
            applied = Native.from_rows(ref.rows())
        else:
            nat.commit()
            ref.commit()
            applied.commit()
        assert_same(ref, nat, keys)
        assert_same(ref, applied, keys)
        assert applied.rows() == ref.rows()
    nat.rollback()  # after a commit: nothing to undo
    assert_same(ref, nat, keys)
    assert_same(Reference.from_rows(nat.rows()), Native.from_rows(ref.rows()), keys)


def test_a_large_map_matches_after_many_blocks() -> None:
    rng = random.Random(15)
    keys = [item_key(f"urn:epc:id:sgtin:{i}") for i in range(5000)]
    ref, nat = Reference(), Native()
    for height in range(40):
        changes = {keys[rng.randrange(len(keys))]: entry(rng.randrange(10**9)) for _ in range(400)}
        assert nat.update(changes, height) == ref.update(changes, height)
        if height % 7 == 3:
            nat.rollback()
            ref.rollback()
        nat.commit()
        ref.commit()
    assert_same(ref, nat, keys[::50])
    assert Native.from_rows(reversed(ref.rows())).rows() == ref.rows()


def test_the_height_can_be_set_and_is_saved_in_the_head_row() -> None:
    ref, nat = Reference(), Native()
    ref.height = nat.height = 41
    assert nat.head_row() == ref.head_row()
    assert nat.head_row().path == META_PATH
    assert Native.from_rows([nat.head_row()]).height == 41


def test_paths_that_name_no_node_find_nothing() -> None:
    nat = Native()
    nat.update({item_key("a"): entry(1)}, 0)
    for path in [-1, 511, 257, (1 << 9) | 0, 1 << 300, (3 << 9) | 1]:
        assert nat.node(path) is None


@pytest.mark.parametrize(
    "row",
    [
        MapRow(b"\x00" * 32 + b"\x06\x01", b"\x01" * 32, None, None),  # bits beyond depth 1
        MapRow(b"\x00" * 34, b"\x01" * 31, None, None),
        MapRow(b"\x00" * 34, b"\x01" * 32, b"\x02" * 32, b"\x03" * 55),
        MapRow(b"\x00" * 33, b"\x01" * 32, None, None),
    ],
)
def test_malformed_rows_are_refused(row: MapRow) -> None:
    with pytest.raises(ValueError):
        Native.from_rows([row])


def test_a_malformed_entry_is_refused_and_changes_nothing() -> None:
    nat = Native()
    nat.update({item_key("a"): entry(1)}, 0)
    nat.commit()
    before = nat.rows()
    with pytest.raises(ValueError):
        nat.update({item_key("b"): MapEntry(1, b"short", 0, 0)}, 1)
    with pytest.raises(ValueError):
        nat.update({b"short": entry(2)}, 1)
    assert nat.rows() == before


def test_encoded_entries_as_stored_update_both_maps_alike() -> None:
    keys = pool("deep")
    by_entry = {key: entry(n) for n, key in enumerate(keys)}
    encoded = {key: e.encode() for key, e in by_entry.items()}
    ref, nat, nat_entries = Reference(), Native(), Native()
    assert ref.update(encoded, 4) == nat.update(encoded, 4) == nat_entries.update(by_entry, 4)
    for m in (ref, nat, nat_entries):
        m.commit()
    assert_same(ref, nat, keys)
    assert nat.rows() == nat_entries.rows()
    before = nat.rows()
    for m in (ref, nat):
        with pytest.raises(ValueError):
            m.update({item_key("b"): encoded[keys[0]][:-1]}, 5)
    assert nat.rows() == before


def test_update_rows_are_a_snapshot_read_as_rows_or_as_store_tuples() -> None:
    nat, ref = Native(), Reference()
    changes = {item_key(f"urn:item:{i}"): entry(i) for i in range(50)}
    rows, expected = nat.update(changes, 3), ref.update(changes, 3)
    assert len(rows) == len(expected) > 50
    assert rows.params(3) == [(r.path, 3, r.hash, r.leaf_key, r.value) for r in expected]
    assert rows == expected and list(rows) == expected
    assert (rows[-1], rows[:2]) == (expected[-1], expected[:2])
    assert rows != expected[:-1]
    nat.commit()
    ref.commit()
    more = {item_key("urn:item:7"): entry(700), item_key("urn:item:new"): entry(701)}
    later, later_expected = nat.update(more, 4), ref.update(more, 4)
    nat.commit()
    nat.update({item_key("urn:item:7"): entry(702)}, 5)  # rewrites the same nodes
    assert later.params(4) == [(r.path, 4, r.hash, r.leaf_key, r.value) for r in later_expected]
    assert later == later_expected
