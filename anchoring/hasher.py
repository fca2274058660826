"""The hashers of Assay's Merkle trees: one interface, one implementation per tree.

A :class:`Hasher` (transparency-dev/merkle's shape) hashes leaves and pairs of children;
every tree builder, path, proof and verifier takes its hasher from here:

* :data:`BLOCK_TREE`, the tree inside a block: ``leaf = SHA-256(0x00 || record)``,
  ``node = SHA-256(left || right)`` (no node prefix, see below);
* :data:`RFC9162`, the accumulator over block hashes: ``leaf = SHA-256(0x00 || entry)``,
  ``node = SHA-256(0x01 || left || right)``, exactly RFC 9162 (RFC 6962bis);
* :data:`HEADMAP`, the head map's sparse tree: ``leaf = SHA-256(0x02 || key || value)``,
  ``node = SHA-256(0x03 || left || right)``.

The block tree's nodes
----------------------

Interior nodes are deliberately *unprefixed*: that is exactly what ``merkletools`` (the
Chainpoint-v2 layout we publish) computes, so our roots and paths equal its roots and
paths, and third-party Chainpoint tooling can check them.

Why a second preimage is still impossible
-----------------------------------------
The classic attack presents an interior node ``N = node_hash(a, b)`` as if it were a leaf,
with the shorter path from ``N`` to the root; the root reproduces, so a naive verifier
accepts a "leaf" that was never recorded. Two things stop it here:

1. Every recorded leaf is ``SHA-256(0x00 || record)``, so leaves and interior nodes
   are hashes of differently shaped inputs. On its own this is *not* enough with
   unprefixed nodes: when ``a`` starts with ``0x00`` (1 time in 256), ``N`` equals
   ``leaf_hash(a[1:] || b)`` for a 63-byte "record".
2. The verifier never trusts the path's shape. The number of hashing steps and the side
   of each sibling follow from ``(index, leaf_count)`` alone
   (:func:`anchoring.merkle.expected_path_shape`), and ``leaf_count`` is committed in the
   signed block header. In a binary tree the sequence of sides from a node to the root
   identifies that node uniquely, so the path of an interior node never has the shape
   of any leaf's path: the verifier rejects it before hashing (``merkle_path_shape``).

Choosing another path that also reaches the root would need a SHA-256 collision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

DIGEST_SIZE = 32
LEAF_PREFIX = b"\x00"

_sha256 = hashlib.sha256


class Hasher(Protocol):
    """How one kind of tree hashes its leaves and interior nodes."""

    @property
    def leaf_prefix(self) -> bytes: ...

    def empty_root(self) -> bytes: ...

    def hash_leaf(self, data: bytes) -> bytes: ...

    def hash_children(self, left: bytes, right: bytes) -> bytes: ...

    def hash_leaves(self, records: Iterable[bytes]) -> list[bytes]: ...

    def hash_pairs(self, nodes: Sequence[bytes]) -> list[bytes]: ...


@dataclass(frozen=True)
class PrefixHasher:
    """SHA-256 with one prefix byte string before leaves and another before node pairs."""

    leaf_prefix: bytes
    node_prefix: bytes

    def empty_root(self) -> bytes:
        return _sha256(b"").digest()

    def hash_leaf(self, data: bytes) -> bytes:
        return _sha256(self.leaf_prefix + data).digest()

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        return _sha256(self.node_prefix + left + right).digest()

    def hash_leaves(self, records: Iterable[bytes]) -> list[bytes]:
        """``[hash_leaf(r) for r in records]``, batched for sealing large blocks."""
        # Copying a hasher that has already absorbed the prefix avoids building a
        # 1 + len(record) byte string per record.
        primed = _sha256(self.leaf_prefix)
        out: list[bytes] = []
        append = out.append
        for record in records:
            hasher = primed.copy()
            hasher.update(record)
            append(hasher.digest())
        return out

    def hash_pairs(self, nodes: Sequence[bytes]) -> list[bytes]:
        """The parents of ``(nodes[0], nodes[1]), (nodes[2], nodes[3]), …``; an odd last
        node has no pair and is left to the caller. One level of a tree: the loop every
        tree builder spends its time in."""
        pairs = iter(nodes)
        sha256, prefix = _sha256, self.node_prefix
        twos = zip(pairs, pairs)  # noqa: B905 - a last odd node is dropped on purpose
        if prefix:
            return [sha256(prefix + left + right).digest() for left, right in twos]
        return [sha256(left + right).digest() for left, right in twos]


BLOCK_TREE = PrefixHasher(leaf_prefix=LEAF_PREFIX, node_prefix=b"")
RFC9162 = PrefixHasher(leaf_prefix=b"\x00", node_prefix=b"\x01")
#: The head map's sparse Merkle tree (anchoring/headmap.py): leaves are ``key ‖ value``;
#: its empty subtree is 32 zero bytes, not this hasher's ``empty_root``.
HEADMAP = PrefixHasher(leaf_prefix=b"\x02", node_prefix=b"\x03")


def leaf_hash(record: bytes) -> bytes:
    """SHA-256(0x00 || record): the digest a record occupies in a block's tree."""
    return BLOCK_TREE.hash_leaf(record)


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(left || right) of two 32-byte child digests, as merkletools computes it."""
    return BLOCK_TREE.hash_children(left, right)
