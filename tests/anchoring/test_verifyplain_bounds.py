"""The native verifier paths (native/src/verifyplain.rs) at the edges of their numbers:
leaf counts near 2**64, where 64-bit arithmetic could wrap, the header's largest integer
(``anchoring.header.MAX_INT``, handed over to the native reader), and integers or types
the native functions cannot hold, which they decline (None) for the Python path to judge.
tests/anchoring/test_verifyplain.py binds the readings on drawn input."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from assay_headmap import plain_acc_root, plain_path_root

import anchoring.merkle
from anchoring.accumulator import ACC_LEAF_PREFIX, ACC_NODE_PREFIX, inclusion_proof
from anchoring.errors import ProofError
from anchoring.hasher import BLOCK_TREE
from anchoring.header import MAX_INT, read_plain_header
from anchoring.merkle import _plain_path_root
from anchoring.verify_v1 import Block
from tests.anchoring.test_header import later, later_v2
from tests.anchoring.test_verifyplain import (
    EDGE_COUNTS,
    _edge_paths,
    _python_acc_root,
    _python_header,
)

LEAF = bytes([9]) * 32


def test_the_native_path_root_is_the_python_one_at_the_edges_of_64_bits() -> None:
    for count in EDGE_COUNTS:
        for index in (0, 1, count // 2, count - 2, count - 1, count, -1):
            for at, path in enumerate(_edge_paths(count, max(0, min(index, count - 1)))):
                python = _plain_path_root(LEAF, index, count, path, BLOCK_TREE)
                native = plain_path_root(LEAF, index, count, path, BLOCK_TREE.node_prefix)
                # past u64 the native path declines, and the Python one (its reference) decides
                assert native == (python if count < 2**64 else None), (count, index, at)
                if at == 0 and 0 <= index < count < 2**64:  # the right shape, in u64 range
                    assert native is not None


def test_a_lone_step_in_a_tree_of_2_64_minus_1_leaves_is_refused() -> None:
    sibling = bytes([7]) * 32
    root = hashlib.sha256(BLOCK_TREE.node_prefix + LEAF + sibling).digest()
    assert plain_path_root(LEAF, 0, 2**64 - 1, [{"right": sibling.hex()}], b"") is None
    with pytest.raises(ProofError) as refused:
        anchoring.merkle.verify_inclusion(LEAF, 0, 2**64 - 1, [{"right": sibling.hex()}], root)
    assert refused.value.step == "merkle_path_shape"


@pytest.mark.parametrize("index", [-1, 2**64, 2**70, True, 1.0, "1"])
def test_the_native_acc_root_declines_an_index_it_cannot_hold(index: Any) -> None:
    hashes = [bytes([i, 7]) * 16 for i in range(5)]
    proof = [h.hex() for h in inclusion_proof(hashes, 1, 5)]
    for block_hash, at, size in ((hashes[1], index, 5), (hashes[1], 1, index)):
        native = plain_acc_root(block_hash, at, size, proof, ACC_LEAF_PREFIX, ACC_NODE_PREFIX)
        assert native is None
        if type(at) is int and type(size) is int:
            assert _python_acc_root(block_hash, at, size, proof) is None
    assert plain_acc_root(hashes[1], 1, 5, proof, ACC_LEAF_PREFIX, ACC_NODE_PREFIX) is not None
    for odd in (bytearray(hashes[1]), memoryview(hashes[1])):
        assert plain_acc_root(odd, 1, 5, proof, ACC_LEAF_PREFIX, ACC_NODE_PREFIX) is None


@pytest.mark.parametrize("make", [later, later_v2])
@pytest.mark.parametrize(
    "fields",
    [("height", "acc_size"), ("first_notification", "last_notification"), ("leaf_count",)],
)
def test_the_header_integers_end_at_max_int_natively_too(make: Any, fields: Any) -> None:
    assert MAX_INT == 2**53 - 1
    for value, accepted in ((MAX_INT, True), (MAX_INT + 1, False), (2**64, False)):
        header = make().to_json()
        header.update(dict.fromkeys(fields, value))
        fast, python = read_plain_header(header), _python_header(header)
        assert (fast is not None) == accepted, (value, fields)
        assert (Block(*fast) if fast is not None else None) == python


@pytest.mark.parametrize("value", [MAX_INT, MAX_INT + 1])
def test_the_map_size_ends_at_max_int_natively_too(value: int) -> None:
    header = later_v2().to_json()
    header["map_size"] = value
    fast, python = read_plain_header(header), _python_header(header)
    assert (fast is not None) == (value == MAX_INT)
    assert (Block(*fast) if fast is not None else None) == python
