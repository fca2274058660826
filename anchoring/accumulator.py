"""A Merkle accumulator over block hashes: prove block i into header n with O(log n) hashes.

It is the RFC 9162 (RFC 6962bis) Merkle Tree Hash over the list of block hashes, with
that RFC's domain separation::

    MTH([])       = SHA-256("")                               (EMPTY_ROOT)
    MTH([d])      = SHA-256(0x00 || d)                        (ACC_LEAF_PREFIX)
    MTH(D[0:n])   = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  (ACC_NODE_PREFIX)
                    where k is the largest power of two < n

Unlike a block's inner tree (:mod:`anchoring.merkle`), the node prefix is there, so no
interior node can pose as a leaf whatever the proof's shape. Inclusion proofs follow
RFC 9162 §2.1.3, consistency proofs §2.1.4, and the verifiers are that RFC's algorithms:
with the block hashes as the log entries, any RFC 6962/9162 implementation (e.g.
transparency-dev/merkle) produces and accepts the same proofs.

The header at height ``h`` carries ``acc_root = MTH(hashes of blocks 0..h-1)`` and
``acc_size = h``; a version 2 checkpoint of head ``h`` signs ``MTH(blocks 0..h)``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from anchoring.errors import AccumulatorError
from anchoring.hasher import RFC9162

ACC_LEAF_PREFIX = RFC9162.leaf_prefix
ACC_NODE_PREFIX = RFC9162.node_prefix
EMPTY_ROOT = RFC9162.empty_root()
HASH_SIZE = 32


#: The accumulator's leaf and node hashes: :data:`anchoring.hasher.RFC9162`'s.
acc_leaf = RFC9162.hash_leaf
acc_node = RFC9162.hash_children


class Accumulator:
    """MTH over a growing list of block hashes, kept as its compact range (frontier).

    The frontier holds the roots of the perfect subtrees the list decomposes into, one
    per set bit of ``size``, largest first; appending merges equal-sized subtrees like a
    binary counter, and the root folds the frontier right to left. Both are O(log n).
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._frontier: list[bytes] = []
        self._size = 0

    @classmethod
    def from_hashes(cls, hashes: Iterable[bytes]) -> Accumulator:
        acc = cls()
        for block_hash in hashes:
            acc.append(block_hash)
        return acc

    @property
    def size(self) -> int:
        return self._size

    def append(self, block_hash: bytes) -> None:
        _check_hash(block_hash, "block hash")
        node = acc_leaf(block_hash)
        size = self._size
        while size & 1:  # each trailing one bit is a subtree of the same size to merge
            node = acc_node(self._frontier.pop(), node)
            size >>= 1
        self._frontier.append(node)
        self._size += 1

    def root(self) -> bytes:
        if not self._frontier:
            return EMPTY_ROOT
        node = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            node = acc_node(left, node)
        return node

    def copy(self) -> Accumulator:
        other = Accumulator()
        other._frontier = list(self._frontier)
        other._size = self._size
        return other


def merkle_tree_hash(hashes: Sequence[bytes]) -> bytes:
    """MTH of ``hashes`` computed from scratch (RFC 9162 §2.1.1)."""
    return _mth(_leaves(hashes, len(hashes)), 0, len(hashes))


def inclusion_proof(hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, hashes[0:size]): the audit path, leaf upwards."""
    if not 0 <= index < size <= len(hashes):
        raise ValueError(f"no block {index} in an accumulator of {size} (have {len(hashes)})")
    return _inclusion_path(_leaves(hashes, size), index)


def consistency_proof(hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, hashes[0:new_size]); empty if old is 0 or new."""
    if not 0 <= old_size <= new_size <= len(hashes):
        raise ValueError(
            f"no consistency proof from {old_size} to {new_size} over {len(hashes)} blocks"
        )
    if old_size in (0, new_size):
        return []
    return _consistency_path(_leaves(hashes, new_size), old_size)


def verify_acc_inclusion(
    block_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check ``block_hash`` is entry ``index`` of the ``size``-block accumulator ``root``.

    ``size`` and ``root`` must come from the same authenticated header: RFC 9162 proofs
    bind the pair, and a proof can also fit another size paired with the same root.
    """
    path = _check_digests("acc_proof", proof, block_hash=block_hash, root=root)
    computed = root_from_inclusion_proof(acc_leaf(block_hash), index, size, path)
    if not hmac.compare_digest(computed, root):
        raise AccumulatorError(
            "acc_inclusion",
            f"block {index} proves into root {computed.hex()}, the head commits to {root.hex()}",
        )


def root_from_inclusion_proof(
    leaf_node: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """RFC 9162 §2.1.3.2 steps 1-5 from the already leaf-hashed entry; the root it implies.

    Raises ``acc_index`` / ``acc_proof`` when the proof cannot belong to that position.
    """
    if _bad_int(index) or _bad_int(size) or not 0 <= index < size:
        raise AccumulatorError(
            "acc_index", f"block {index!r} is not in an accumulator of {size!r} blocks"
        )
    fn, sn = index, size - 1
    node = leaf_node
    node_of = acc_node
    for sibling in proof:
        if sn == 0:
            raise AccumulatorError(
                "acc_proof", f"proof of {len(proof)} hashes is too long for block {index} of {size}"
            )
        if fn & 1 or fn == sn:
            node = node_of(sibling, node)
            while fn and not fn & 1:  # skip the levels where this node has no right sibling
                fn >>= 1
                sn >>= 1
        else:
            node = node_of(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise AccumulatorError(
            "acc_proof", f"proof of {len(proof)} hashes is too short for block {index} of {size}"
        )
    return node


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: check the ``old_size`` tree is a prefix of the ``new_size`` tree.

    Stricter than the RFC at the edges: an empty old tree must carry ``EMPTY_ROOT``.
    """
    path = _check_digests("consistency_proof", proof, old_root=old_root, new_root=new_root)
    if _bad_int(old_size) or _bad_int(new_size) or not 0 <= old_size <= new_size:
        raise AccumulatorError(
            "consistency_proof", f"cannot prove size {old_size!r} grows into size {new_size!r}"
        )
    if old_size == 0 or old_size == new_size:
        # Nothing to hash: the empty tree precedes every tree, and a tree extends itself.
        if path:
            raise AccumulatorError(
                "consistency_proof",
                f"proof from {old_size} to {new_size} must be empty, got {len(path)} hashes",
            )
        if old_size == 0:
            _compare(old_root, EMPTY_ROOT, "the size-0 root is not the empty tree's root")
        if new_size == 0 or old_size == new_size:
            _compare(new_root, old_root, f"two different roots for size {new_size}")
        return
    old_computed, new_computed = _roots_from_consistency(old_size, new_size, old_root, path)
    _compare(old_computed, old_root, f"proof does not reproduce the size-{old_size} root")
    _compare(new_computed, new_root, f"proof does not reproduce the size-{new_size} root")


def _roots_from_consistency(
    old_size: int, new_size: int, old_root: bytes, proof: list[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 1-6 for 0 < old_size < new_size: the (old, new) roots."""
    if not proof:
        raise AccumulatorError(
            "consistency_proof", f"empty proof cannot link size {old_size} to {new_size}"
        )
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one, so the proof omits its root.
        proof = [old_root, *proof]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise AccumulatorError(
                "consistency_proof", f"proof is too long for sizes {old_size} to {new_size}"
            )
        if fn & 1 or fn == sn:
            fr = acc_node(c, fr)
            sr = acc_node(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = acc_node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise AccumulatorError(
            "consistency_proof", f"proof is too short for sizes {old_size} to {new_size}"
        )
    return fr, sr


def _leaves(hashes: Sequence[bytes], size: int) -> list[bytes]:
    for block_hash in hashes[:size]:
        _check_hash(block_hash, "block hash")
    return [acc_leaf(h) for h in hashes[:size]]


def _inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, leaves) over already leaf-hashed entries."""
    proof: list[bytes] = []
    lo, hi = 0, len(leaves)
    # Walk down from the root collecting the sibling subtree at each split; the proof
    # lists siblings from the leaf upwards, hence the reverse.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            proof.append(_mth(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaves, lo, lo + k))
            lo += k
    proof.reverse()
    return proof


def _consistency_path(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, leaves) for 0 < old_size < len(leaves), over leaf-hashed entries."""
    proof: list[bytes] = []
    # SUBPROOF(m, D[lo:hi], b) unrolled: each split either descends left (m <= k) or right
    # (m > k, after which b is false); the siblings come out root-down, the proof is leaf-up.
    lo, hi, m, whole = 0, len(leaves), old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_mth(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaves, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(_mth(leaves, lo, hi))
    proof.reverse()
    return proof


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH of the already leaf-hashed range ``leaves[lo:hi]``."""
    if hi == lo:
        return EMPTY_ROOT
    if hi - lo == 1:
        return leaves[lo]
    k = _split(hi - lo)
    return acc_node(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def _compare(computed: bytes, expected: bytes, what: str) -> None:
    if not hmac.compare_digest(computed, expected):
        raise AccumulatorError("consistency", f"{what}: {computed.hex()} != {expected.hex()}")


def _bad_int(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")


def _check_digests(step: str, proof: object, **named: object) -> list[bytes]:
    """Type-check untrusted verifier inputs so malformed ones fail with ``step``, not a crash."""
    for name, value in named.items():
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise AccumulatorError(step, f"{name} must be a {HASH_SIZE}-byte hash")
    if not isinstance(proof, list | tuple):
        raise AccumulatorError(step, f"proof must be a list of hashes, not {type(proof).__name__}")
    for position, value in enumerate(proof):
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise AccumulatorError(step, f"proof hash {position} is not {HASH_SIZE} bytes")
    return list(proof)
