"""The block log tree gives the RFC 9162 reference roots and proofs at every size."""

from __future__ import annotations

import pytest

from anchoring.accumulator import (
    consistency_proof,
    inclusion_proof,
    merkle_tree_hash,
    verify_consistency,
)
from anchoring.hasher import leaf_hash
from anchoring.logtree import BlockHashTree


@pytest.mark.parametrize("count", range(1, 34))
def test_roots_and_consistency_proofs_equal_rfc_9162(count: int) -> None:
    hashes = [leaf_hash(f"block {i}".encode()) for i in range(count)]
    tree = BlockHashTree.from_hashes(hashes)
    assert tree.root() == merkle_tree_hash(hashes)
    assert tree.root(0) == merkle_tree_hash([])
    for new in range(1, count + 1):
        assert tree.root(new) == merkle_tree_hash(hashes[:new])
        assert tree.inclusion_proof(new - 1, new) == inclusion_proof(hashes, new - 1, new)
        for old in range(new + 1):
            proof = tree.consistency_proof(old, new)
            assert proof == consistency_proof(hashes, old, new)
            verify_consistency(old, new, tree.root(old), tree.root(new), proof)


def test_sizes_beyond_the_log_are_refused() -> None:
    tree = BlockHashTree.from_hashes([leaf_hash(b"a"), leaf_hash(b"b")])
    with pytest.raises(ValueError):
        tree.consistency_proof(1, 3)
    with pytest.raises(ValueError):
        tree.consistency_proof(2, 1)
    with pytest.raises(ValueError):
        tree.root(3)
