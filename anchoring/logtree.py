"""The block log as an RFC 9162 tree: roots, inclusion and consistency proofs in O(log n).

The log's entries are the block hashes in height order; its Merkle Tree Hash is the
accumulator's (:mod:`anchoring.accumulator`: leaf ``0x00``, node ``0x01``), so the tree
of the first ``h`` blocks has root ``acc_root`` of header ``h``, and the tree of blocks
``0..h`` (the head included) is what a version 2 checkpoint signs. Witnesses check
consistency proofs between those roots.

:class:`BlockHashTree` keeps the root of every perfect subtree, so a proof costs a few
lookups plus O(log n) hashes along ragged right edges.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from anchoring.accumulator import EMPTY_ROOT, acc_leaf, acc_node


class BlockHashTree:
    """The accumulator's RFC 9162 tree over block hashes, keeping every perfect subtree.

    ``levels[k][j]`` is the root of the perfect subtree over blocks ``j·2^k … (j+1)·2^k-1``.
    Every subtree RFC 9162 splits a tree into starts at a multiple of its largest power of
    two, so any proof is a handful of lookups plus O(log n) hashes for ragged right edges.
    """

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]
        self.hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, hashes: Iterable[bytes]) -> BlockHashTree:
        tree = cls()
        for block_hash in hashes:
            tree.append(block_hash)
        return tree

    @property
    def size(self) -> int:
        return len(self.hashes)

    def append(self, block_hash: bytes) -> None:
        self.hashes.append(block_hash)
        node, level = acc_leaf(block_hash), 0
        self.levels[0].append(node)
        while len(self.levels[level]) % 2 == 0:
            row = self.levels[level]
            node = acc_node(row[-2], row[-1])
            level += 1
            if level == len(self.levels):
                self.levels.append([])
            self.levels[level].append(node)

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH of blocks ``lo … hi-1`` (``lo`` aligned as RFC 9162 splits leave it)."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:
            level = n.bit_length() - 1
            return self.levels[level][lo >> level]
        k = 1 << ((n - 1).bit_length() - 1)
        return acc_node(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` blocks (all of them by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"no tree of {size} blocks (have {self.size})")
        return self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 PATH(index, blocks[0:size]), leaf upwards."""
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no block {index} in an accumulator of {size} (have {self.size})")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if index - lo < k:
                proof.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 PROOF(old_size, blocks[0:new_size]), leaf upwards; empty if old is 0
        or equal to new."""
        if not 0 <= old_size <= new_size <= self.size:
            raise ValueError(
                f"no consistency proof from {old_size} to {new_size} over {self.size} blocks"
            )
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        # SUBPROOF(m, D[lo:hi], b) unrolled, as in anchoring.accumulator.
        lo, hi, m, whole = 0, new_size, old_size, True
        while m != hi - lo:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if m <= k:
                proof.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree(lo, lo + k))
                lo, m, whole = lo + k, m - k, False
        if not whole:
            proof.append(self.subtree(lo, hi))
        proof.reverse()
        return proof


#: A version 1 checkpoint signs the head block's hash; version 2 signs the log's tree head.
CHECKPOINT_V1 = 1
CHECKPOINT_V2 = 2


def checkpoint_version(tree: BlockHashTree, size: int, root: bytes) -> int | None:
    """Which checkpoint of this log ``size``/``root`` is: :data:`CHECKPOINT_V1` when ``root``
    is block ``size - 1``'s hash, :data:`CHECKPOINT_V2` when it is the tree head of blocks
    ``0 … size-1``, ``None`` when neither (another chain, or more blocks than ``tree``).

    The two cannot be confused: a block hash is SHA-256 of header text (``assay-block-…``),
    a tree head SHA-256 of bytes starting 0x00 or 0x01.
    """
    if not 1 <= size <= tree.size:
        return None
    if hmac.compare_digest(tree.hashes[size - 1], root):
        return CHECKPOINT_V1
    if hmac.compare_digest(tree.root(size), root):
        return CHECKPOINT_V2
    return None
