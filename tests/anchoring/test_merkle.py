from __future__ import annotations

import hashlib
import json
import runpy
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.errors import ProofError, VerificationError
from anchoring.hasher import BLOCK_TREE, LEAF_PREFIX, RFC9162, leaf_hash, node_hash
from anchoring.merkle import (
    expected_path_shape,
    pack_tree,
    packed_path,
    packed_root,
    root_from_path,
    verify_inclusion,
)
from tests.anchoring.reference import MerkleTree

with warnings.catch_warnings():
    # merkletools warns at import that the optional pysha3 is missing; we only use SHA-256.
    warnings.simplefilter("ignore")
    import merkletools

VECTORS = Path(__file__).parent / "vectors"


def leaves_for(count: int, salt: str = "") -> list[bytes]:
    return [leaf_hash(f"record {salt}{i}".encode()) for i in range(count)]


def reference(leaves: list[bytes]) -> Any:
    mt = merkletools.MerkleTools()
    mt.add_leaf([leaf.hex() for leaf in leaves], do_hash=False)
    mt.make_tree()
    return mt


def flip_bit(hex_digest: str, bit: int) -> str:
    raw = bytearray.fromhex(hex_digest)
    raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


def sides(path: list[dict[str, str]]) -> list[str]:
    return [next(iter(entry)) for entry in path]


# ----- hashing ----------------------------------------------------------------------------


def test_leaf_hash_is_sha256_of_zero_prefix_and_record() -> None:
    assert LEAF_PREFIX == b"\x00"
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert leaf_hash(b"abc") != hashlib.sha256(b"abc").digest()
    assert BLOCK_TREE.hash_leaves([b"a", b"", b"bc"]) == [
        leaf_hash(b"a"),
        leaf_hash(b""),
        leaf_hash(b"bc"),
    ]


def test_node_hash_is_the_plain_concatenation_merkletools_uses() -> None:
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(left + right).digest()
    assert reference([left, right]).get_merkle_root() == node_hash(left, right).hex()


# ----- equality with merkletools ----------------------------------------------------------


@pytest.mark.parametrize("count", range(1, 71))
def test_root_and_every_path_equal_merkletools(count: int) -> None:
    leaves = leaves_for(count)
    tree, mt = MerkleTree(leaves), reference(leaves)
    assert tree.leaf_count == count
    assert tree.root.hex() == mt.get_merkle_root()
    for index in range(count):
        path = tree.path(index)
        assert path == mt.get_proof(index)
        assert mt.validate_proof(path, leaves[index].hex(), tree.root.hex())
        assert sides(path) == expected_path_shape(index, count)
        verify_inclusion(leaves[index], index, count, path, tree.root)


@pytest.mark.parametrize("count", [1000, 1024, 1025, 4097, 65_537])
def test_big_trees_equal_merkletools(count: int) -> None:
    leaves = leaves_for(count, "big")
    tree, mt = MerkleTree(leaves), reference(leaves)
    assert tree.root.hex() == mt.get_merkle_root()
    for index in sorted({0, 1, count // 2, count - 2, count - 1, 2**10 % count}):
        path = tree.path(index)
        assert path == mt.get_proof(index)
        assert mt.validate_proof(path, leaves[index].hex(), tree.root.hex())
        verify_inclusion(leaves[index], index, count, path, tree.root)


def test_single_leaf_tree_is_its_leaf_with_an_empty_path() -> None:
    leaf = leaf_hash(b"only")
    tree = MerkleTree([leaf])
    assert (tree.root, tree.path(0)) == (leaf, [])
    assert expected_path_shape(0, 1) == []
    verify_inclusion(leaf, 0, 1, [], leaf)


def test_odd_last_node_is_promoted_not_duplicated() -> None:
    a, b, c = leaves_for(3)
    tree = MerkleTree([a, b, c])
    assert tree.root == node_hash(node_hash(a, b), c)
    assert tree.path(2) == [{"left": node_hash(a, b).hex()}]


def test_from_records_hashes_each_record_as_a_leaf() -> None:
    records = [b"first", b"second", b"third"]
    assert MerkleTree.from_records(records).root == MerkleTree(BLOCK_TREE.hash_leaves(records)).root


def test_tree_refuses_empty_and_malformed_leaves() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree([])
    with pytest.raises(ValueError, match="32-byte"):
        MerkleTree([b"short"])
    with pytest.raises(ValueError, match="32-byte"):
        MerkleTree([leaf_hash(b"x").hex()])  # type: ignore[list-item]


def test_path_index_must_be_in_range() -> None:
    tree = MerkleTree(leaves_for(3))
    for index in (-1, 3):
        with pytest.raises(IndexError):
            tree.path(index)


def test_expected_path_shape_examples() -> None:
    # 5 leaves: (0 1)(2 3) 4 -> (01 23) 4 -> root; leaf 4 is promoted twice.
    assert expected_path_shape(0, 5) == ["right", "right", "right"]
    assert expected_path_shape(3, 5) == ["left", "left", "right"]
    assert expected_path_shape(4, 5) == ["left"]
    with pytest.raises(ValueError):
        expected_path_shape(5, 5)


# ----- verification failures ----------------------------------------------------------------


def step_of(leaf: bytes, index: int, count: int, path: object, root: bytes) -> str:
    with pytest.raises(ProofError) as caught:
        verify_inclusion(leaf, index, count, path, root)
    return caught.value.step


def test_each_failure_has_its_own_step_code() -> None:
    leaves = leaves_for(6)
    tree = MerkleTree(leaves)
    leaf, path, root = leaves[2], tree.path(2), tree.root
    assert step_of(leaf, 6, 6, path, root) == "merkle_index"
    assert step_of(leaf, -1, 6, path, root) == "merkle_index"
    assert step_of(leaf, 0, 0, [], root) == "merkle_index"
    assert step_of(leaf, True, 6, path, root) == "merkle_index"
    assert step_of(leaf[:31], 2, 6, path, root) == "merkle_leaf"
    assert step_of(leaf, 2, 6, path, root.hex().encode()) == "merkle_leaf"
    assert step_of(leaf, 2, 6, path[:-1], root) == "merkle_path_shape"
    assert step_of(leaf, 2, 6, [*path, path[-1]], root) == "merkle_path_shape"
    assert step_of(leaf, 3, 6, path, root) == "merkle_path_shape"
    assert step_of(leaves[3], 2, 6, path, root) == "merkle_root"
    assert step_of(leaf, 2, 6, path, leaves[0]) == "merkle_root"


@pytest.mark.parametrize(
    "bad_entry",
    [
        {},
        {"left": "00" * 32, "right": "00" * 32},
        {"up": "00" * 32},
        {"left": "AB" * 32},  # upper case: bytes.fromhex would take it, we do not
        {"left": "00" * 31},
        {"left": "00" * 33},
        {"left": " " + "00" * 31 + "0"},
        {"left": 0},
        {"left": bytes(32)},
        ["left", "00" * 32],
        "left",
    ],
)
def test_malformed_path_entries_are_rejected(bad_entry: object) -> None:
    leaves = leaves_for(2)
    tree = MerkleTree(leaves)
    assert step_of(leaves[0], 0, 2, [bad_entry], tree.root) == "merkle_path_entry"


@pytest.mark.parametrize("bad_path", [None, "[]", {"right": "00" * 32}, b""])
def test_path_must_be_a_list(bad_path: object) -> None:
    leaf = leaf_hash(b"x")
    assert step_of(leaf, 0, 1, bad_path, leaf) == "merkle_path_entry"


def test_root_from_path_folds_sides_in_order() -> None:
    a, b, c = leaves_for(3)
    assert root_from_path(b, [{"left": a.hex()}, {"right": c.hex()}]) == node_hash(
        node_hash(a, b), c
    )
    with pytest.raises(ProofError):
        root_from_path(a, [{"middle": b.hex()}])


def test_errors_are_verification_errors_with_a_readable_message() -> None:
    tree = MerkleTree(leaves_for(4))
    with pytest.raises(VerificationError) as caught:
        verify_inclusion(leaves_for(4)[1], 1, 4, tree.path(1), bytes(32))
    assert caught.value.step == "merkle_root"
    assert "root" in str(caught.value) and bytes(32).hex() in str(caught.value)


# ----- second preimage ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, 5, 6, 7, 8, 11, 13, 16, 17])
def test_interior_node_posing_as_a_leaf_is_rejected_by_shape(count: int) -> None:
    """Every interior node, with the path that really leads it to the root, at every index."""
    leaves = leaves_for(count)
    tree = MerkleTree(leaves)
    # Level-by-level node lists, as merkletools builds them (odd nodes promoted).
    levels = [leaves]
    while len(levels[-1]) > 1:
        level = levels[-1]
        upper = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        levels.append(upper + ([level[-1]] if len(level) % 2 else []))
    attempts = 0
    for height in range(1, len(levels)):
        for position, node in enumerate(levels[height]):
            if node in leaves:  # a promoted leaf is a leaf, not an interior node
                continue
            # The node's own path: any leaf below it shares its path above the node.
            below = position << height
            full = tree.path(below)
            path = full[len(full) - len(_shape_above(position, height, levels)) :]
            assert root_from_path(node, path) == tree.root  # the forgery does reach the root
            for claimed in range(count):
                assert step_of(node, claimed, count, path, tree.root) == "merkle_path_shape"
                attempts += 1
    assert attempts > 0


def _shape_above(position: int, height: int, levels: list[list[bytes]]) -> list[str]:
    shape = []
    for level in levels[height:-1]:
        if not (position == len(level) - 1 and len(level) % 2):
            shape.append("left" if position % 2 else "right")
        position //= 2
    return shape


def test_second_preimage_with_zero_prefixed_left_child_is_a_real_leaf_hash() -> None:
    """Why the shape check is needed: without node prefixes the leaf prefix alone leaks."""
    # Find a pair whose left child starts with 0x00: the parent is then leaf_hash of a
    # 63-byte "record", so only the path shape tells it from a genuine leaf.
    leaves = leaves_for(600, "zero")
    index = next(i for i in range(0, len(leaves), 2) if leaves[i][0] == 0)
    parent = node_hash(leaves[index], leaves[index + 1])
    assert parent == leaf_hash(leaves[index][1:] + leaves[index + 1])
    tree = MerkleTree(leaves)
    path = tree.path(index)[1:]
    assert root_from_path(parent, path) == tree.root
    for claimed in range(len(leaves)):
        assert step_of(parent, claimed, len(leaves), path, tree.root) == "merkle_path_shape"


# ----- properties -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 300), data=st.data())
def test_every_index_verifies_and_any_flipped_bit_or_wrong_index_fails(
    count: int, data: st.DataObject
) -> None:
    leaves = leaves_for(count, str(count))
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, count - 1), label="index")
    leaf, path, root = leaves[index], tree.path(index), tree.root
    verify_inclusion(leaf, index, count, path, root)

    bit = data.draw(st.integers(0, 255), label="bit")
    with pytest.raises(ProofError):
        verify_inclusion(bytes.fromhex(flip_bit(leaf.hex(), bit)), index, count, path, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, count, path, bytes.fromhex(flip_bit(root.hex(), bit)))
    if path:
        entry = data.draw(st.integers(0, len(path) - 1), label="entry")
        ((side, value),) = path[entry].items()
        tampered = [*path[:entry], {side: flip_bit(value, bit)}, *path[entry + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, count, tampered, root)
    if count > 1:
        other = data.draw(st.integers(0, count - 1).filter(lambda i: i != index), label="other")
        with pytest.raises(ProofError):
            verify_inclusion(leaf, other, count, path, root)


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 2000), data=st.data())
def test_paths_equal_merkletools_for_random_sizes(count: int, data: st.DataObject) -> None:
    leaves = leaves_for(count, "p")
    tree, mt = MerkleTree(leaves), reference(leaves)
    index = data.draw(st.integers(0, count - 1))
    assert tree.root.hex() == mt.get_merkle_root()
    assert tree.path(index) == mt.get_proof(index)


# ----- vectors --------------------------------------------------------------------------------


def test_merkle_vectors() -> None:
    files = sorted((VECTORS / "merkle").glob("*.json"))
    assert {f.stem for f in files} >= {
        "happy-path",
        "modified-proof@0-bit",
        "wrong-leaf-index",
        "truncated-path",
        "preceding-garbage",
        "second-preimage-interior-node",
        "root-mismatch",
    }
    for file in files:
        vector = json.loads(file.read_text())
        args = (
            bytes.fromhex(vector["leaf"]),
            vector["index"],
            vector["leaf_count"],
            vector["path"],
            bytes.fromhex(vector["root"]),
        )
        if vector["want_err"] is None:
            verify_inclusion(*args)
            assert merkletools.MerkleTools().validate_proof(
                vector["path"], vector["leaf"], vector["root"]
            ), file.name
        else:
            with pytest.raises(VerificationError) as caught:
                verify_inclusion(*args)
            assert caught.value.step == vector["want_err"], file.name


def test_vectors_on_disk_match_their_generator() -> None:
    generator = runpy.run_path(str(VECTORS / "make_merkle_vectors.py"))
    for name, vector in generator["build_vectors"]().items():
        on_disk = json.loads((VECTORS / "merkle" / f"{name}.json").read_text())
        assert on_disk == vector, f"{name}.json is stale: rerun make_merkle_vectors.py"


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 2000), data=st.data())
def test_the_packed_tree_sealing_uses_equals_the_reference_and_merkletools(
    count: int, data: st.DataObject
) -> None:
    leaves = leaves_for(count, "k")
    packed, tree, mt = pack_tree(leaves), MerkleTree(leaves), reference(leaves)
    assert packed == tree.packed()  # every level, byte for byte
    assert packed_root(packed) == tree.root
    assert packed_root(packed).hex() == mt.get_merkle_root()
    for index in {0, count - 1, data.draw(st.integers(0, count - 1))}:
        assert packed_path(packed, count, index) == tree.path(index) == mt.get_proof(index)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13, 1000])
def test_a_prefixed_hasher_packs_the_levels_its_pairs_make(count: int) -> None:
    leaves = leaves_for(count, "p")
    level, levels = leaves, [leaves]
    while len(level) > 1:
        level = RFC9162.hash_pairs(level) + level[len(level) // 2 * 2 :]
        levels.append(level)
    assert pack_tree(leaves, RFC9162) == b"".join(b"".join(lv) for lv in levels)
    assert pack_tree(leaves, RFC9162) != pack_tree(leaves) or count == 1


@pytest.mark.parametrize(
    "leaves", [[], [bytes(31)], [bytes(32), bytes(33)], [bytes(32), "x" * 32], [bytes(64)]]
)
def test_a_tree_of_anything_but_digests_is_refused(leaves: list[bytes]) -> None:
    with pytest.raises(ValueError):
        pack_tree(leaves)
