"""The head map: its root is the documented function of its entries, whatever the order
and batching of updates; proofs of membership and absence verify, and nothing else does.
Every map test runs against the reference (pure Python) and the native map."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.errors import ProofError
from anchoring.headmap import (
    EMPTY,
    HeadMap,
    MapEntry,
    MapProof,
    item_key,
    leaf_node,
    verify_map,
)
from anchoring.headmap_native import HeadMap as NativeHeadMap

Impl = type[HeadMap] | type[NativeHeadMap]
each_impl = pytest.mark.parametrize("impl", [HeadMap, NativeHeadMap], ids=["python", "native"])


def entry(n: int) -> MapEntry:
    return MapEntry(n % 97 + 1, hashlib.sha256(str(n).encode()).digest(), n % 13, n % 7)


def reference_root(entries: dict[bytes, MapEntry], depth: int = 0, prefix: int = 0) -> bytes:
    """The definition, recursively: empty, a lone leaf, or a node over two halves."""
    inside = {
        k: e
        for k, e in entries.items()
        if depth == 0 or int.from_bytes(k, "big") >> (256 - depth) == prefix
    }
    if not inside:
        return EMPTY
    if len(inside) == 1:
        ((k, e),) = inside.items()
        return leaf_node(k, e.encode())
    left = reference_root(inside, depth + 1, prefix << 1)
    right = reference_root(inside, depth + 1, (prefix << 1) | 1)
    return hashlib.sha256(b"\x03" + left + right).digest()


def keys_with_prefix(bits: str, count: int, seed: int) -> list[bytes]:
    """Keys sharing a long prefix, so the tree grows deep paths and lone-leaf moves."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        rest = "".join(rng.choice("01") for _ in range(256 - len(bits)))
        out.append(int(bits + rest, 2).to_bytes(32, "big"))
    return out


@each_impl
@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 60), min_size=0, max_size=15), min_size=1, max_size=6),
    deep=st.booleans(),
)
def test_the_root_is_the_definitions_whatever_the_batches(
    impl: Impl, batches: list[list[int]], deep: bool
) -> None:
    pool = keys_with_prefix("1011" * 8, 61, 7) if deep else [item_key(str(i)) for i in range(61)]
    m, entries = impl(), {}
    for height, batch in enumerate(batches):
        changes = {pool[i]: entry(i * 31 + height) for i in batch}
        m.update(changes, height)
        m.commit()
        entries.update(changes)
        assert m.root == reference_root(entries)
        assert m.size == len(entries)
    for i in range(61):
        found, proof = m.prove(pool[i])
        assert found == entries.get(pool[i])
        verify_map(m.root, pool[i], found, proof)


@each_impl
def test_an_empty_map_proves_every_key_absent(impl: Impl) -> None:
    m = impl()
    assert m.root == EMPTY
    found, proof = m.prove(item_key("x"))
    assert found is None and proof == MapProof(())
    verify_map(EMPTY, item_key("x"), None, proof)


def grown(impl: Impl, n: int = 200) -> tuple[HeadMap | NativeHeadMap, list[bytes]]:
    m = impl()
    keys = [item_key(f"urn:item:{i}") for i in range(n)]
    m.update({k: entry(i) for i, k in enumerate(keys)}, 0)
    m.commit()
    return m, keys


@each_impl
def test_membership_cannot_be_claimed_for_another_value_or_as_absence(impl: Impl) -> None:
    m, keys = grown(impl)
    found, proof = m.prove(keys[5])
    assert found is not None
    with pytest.raises(ProofError) as e:
        verify_map(m.root, keys[5], entry(6), proof)
    assert e.value.step == "map_root"
    with pytest.raises(ProofError):
        verify_map(m.root, keys[5], None, proof)  # absence claimed for a present key


@each_impl
def test_absence_of_a_present_key_cannot_be_proven_with_a_neighbours_leaf(impl: Impl) -> None:
    m, keys = grown(impl)
    _, other_proof = m.prove(keys[7])
    stolen = MapProof(other_proof.siblings, keys[7], entry(7).encode())
    with pytest.raises(ProofError):
        verify_map(m.root, keys[5], None, stolen)


@each_impl
@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), data=st.data())
def test_a_flipped_or_moved_sibling_fails(impl: Impl, seed: int, data: st.DataObject) -> None:
    m, keys = grown(impl, 64)
    key = keys[seed % 64] if seed % 3 else item_key(f"absent-{seed}")
    found, proof = m.prove(key)
    verify_map(m.root, key, found, proof)
    siblings = list(proof.siblings)
    if not siblings:
        return
    i = data.draw(st.integers(0, len(siblings) - 1))
    action = data.draw(st.sampled_from(["flip", "drop", "null", "swap"]))
    if action == "flip":
        s = siblings[i]
        siblings[i] = bytes(32) if s is None else bytes([s[0] ^ 1]) + s[1:]
    elif action == "drop":
        del siblings[i]
    elif action == "null":
        siblings[i] = None if siblings[i] is not None else b"\x01" * 32
    else:
        j = data.draw(st.integers(0, len(siblings) - 1))
        if siblings[i] == siblings[j]:
            return
        siblings[i], siblings[j] = siblings[j], siblings[i]
    with pytest.raises(ProofError):
        verify_map(
            m.root, key, found, MapProof(tuple(siblings), proof.other_key, proof.other_value)
        )


@each_impl
def test_rollback_restores_the_map_exactly(impl: Impl) -> None:
    m, keys = grown(impl, 50)
    before = (m.root, m.size, m.height, m.rows())
    m.update({keys[3]: entry(999), item_key("new"): entry(5)}, 1)
    assert m.root != before[0]
    m.rollback()
    assert (m.root, m.size, m.height, m.rows()) == before


@each_impl
def test_the_saved_rows_rebuild_the_same_map(impl: Impl) -> None:
    m, keys = grown(impl, 120)
    copy = impl.from_rows(m.rows())
    assert (copy.root, copy.size, copy.height) == (m.root, m.size, m.height)
    for k in keys[:10]:
        assert copy.prove(k) == m.prove(k)


@each_impl
def test_an_update_saves_exactly_the_nodes_it_changed(impl: Impl) -> None:
    m, keys = grown(impl, 120)
    saved = {r.path: r for r in m.rows()}
    rows = m.update({keys[0]: entry(1000), item_key("newcomer"): entry(1)}, 1)
    m.commit()
    for row in rows:
        saved[row.path] = row
    assert sorted(saved.values(), key=lambda r: r.path) == m.rows()
    assert len(rows) < 60  # two paths, not the map


def test_keys_are_separated_by_kind() -> None:
    from anchoring.headmap import device_key, party_key

    assert len({item_key("a/b"), party_key("a/b"), device_key("a", "b")}) == 3
