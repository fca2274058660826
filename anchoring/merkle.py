"""The Merkle tree over one block's leaf digests, and the offline inclusion check.

This is the implementation sealing, proving and auditing use (the reference tree the
tests compare it with is ``tests/anchoring/reference.py``), and the reference of the
verifier's native path: :func:`verify_inclusion` first asks ``plain_path_root``
(native/src/verifyplain.rs) for the root of a plainly spelled path, and on None runs
:func:`_plain_path_root` and then the careful check here, which decide
(tests/anchoring/test_verifyplain.py binds the two).

Tree shape (identical to ``merkletools`` 1.0.3): each level pairs nodes left to right
with the hasher's ``hash_children`` (:data:`anchoring.hasher.BLOCK_TREE` for blocks);
when a level has an odd number of nodes the last one is *promoted* unchanged to the next
level (it is not duplicated or hashed). A path
therefore skips the levels where its node was promoted, and paths in one tree can have
different lengths.

Paths use the Chainpoint-v2 layout ``merkletools.MerkleTools().get_proof`` emits: a list,
from the leaf up, of ``{"left": <hex>}`` (sibling on the left) or ``{"right": <hex>}``
(sibling on the right), lowercase hex of 32-byte digests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from assay_headmap import pack_levels, plain_path_root

from anchoring.errors import ProofError
from anchoring.hasher import BLOCK_TREE, DIGEST_SIZE, Hasher, PrefixHasher

Side = Literal["left", "right"]

# Strict on purpose: bytes.fromhex also accepts upper case and spaces, which would give
# one proof several spellings.
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def pack_tree(leaves: Sequence[bytes], hasher: PrefixHasher = BLOCK_TREE) -> bytes:
    """Every level of the tree over ``leaves`` (already leaf-hashed), leaves first,
    32 bytes per node; the root is the last 32 bytes. Level sizes follow from the leaf
    count alone (``n → ceil(n / 2)``), so a path is read with O(log n) slices. The levels
    are hashed natively (``assay_headmap.pack_levels``, bound to tests/anchoring/reference.py
    by the tests): a block's tree is a share of every seal.
    """
    level = list(leaves)
    if not level:
        raise ValueError("a Merkle tree needs at least one leaf (blocks are never empty)")
    try:
        joined = b"".join(level)
    except TypeError:
        joined = b""
    if len(joined) != DIGEST_SIZE * len(level) or set(map(len, level)) != {DIGEST_SIZE}:
        raise ValueError(f"every leaf must be a {DIGEST_SIZE}-byte digest (bytes)")
    return pack_levels(joined, hasher.node_prefix)


def packed_root(tree: bytes) -> bytes:
    return tree[-DIGEST_SIZE:]


def packed_leaf(tree: bytes, index: int) -> bytes:
    return tree[index * DIGEST_SIZE : (index + 1) * DIGEST_SIZE]


def packed_path(tree: bytes, leaf_count: int, index: int) -> list[dict[str, str]]:
    """The Chainpoint-v2 path of leaf ``index`` (what merkletools' ``get_proof`` gives)."""
    if not 0 <= index < leaf_count:
        raise IndexError(f"leaf index {index} outside 0..{leaf_count - 1}")
    path: list[dict[str, str]] = []
    offset, count = 0, leaf_count
    while count > 1:
        if not (index == count - 1 and count % 2):
            sibling = offset + (index - 1 if index % 2 else index + 1)
            digest = tree[sibling * DIGEST_SIZE : (sibling + 1) * DIGEST_SIZE].hex()
            path.append({"left": digest} if index % 2 else {"right": digest})
        offset += count
        index //= 2
        count = (count + 1) // 2
    return path


def expected_path_shape(index: int, leaf_count: int) -> list[Side]:
    """The sides, leaf upwards, that a valid path for ``index`` in such a tree must have.

    Derived from the promotion rule alone, so a verifier knows the path's length and
    every sibling's side before looking at the path it was given.
    """
    if leaf_count < 1 or not 0 <= index < leaf_count:
        raise ValueError(f"leaf index {index} outside a tree of {leaf_count} leaves")
    shape: list[Side] = []
    count = leaf_count
    while count > 1:
        if not (index == count - 1 and count % 2):
            shape.append("left" if index % 2 else "right")
        index //= 2
        count = (count + 1) // 2
    return shape


def parse_path(path: object) -> list[tuple[Side, bytes]]:
    """Check the Chainpoint-v2 layout strictly and decode it; ``merkle_path_entry`` if not."""
    if not isinstance(path, list | tuple):
        raise ProofError("merkle_path_entry", f"path must be a list, not {type(path).__name__}")
    steps: list[tuple[Side, bytes]] = []
    for position, entry in enumerate(path):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ProofError(
                "merkle_path_entry", f"path entry {position} must be an object with one key"
            )
        ((side, value),) = entry.items()
        if side not in ("left", "right"):
            raise ProofError(
                "merkle_path_entry",
                f"path entry {position} has key {side!r}, expected 'left' or 'right'",
            )
        if not isinstance(value, str) or not _HEX_DIGEST.fullmatch(value):
            raise ProofError(
                "merkle_path_entry",
                f"path entry {position} is not 64 lowercase hex characters",
            )
        steps.append((side, bytes.fromhex(value)))
    return steps


def root_from_path(
    leaf: bytes, path: Sequence[Mapping[str, str]], hasher: Hasher = BLOCK_TREE
) -> bytes:
    """The root a path leads to from ``leaf``. Does not check the path's shape."""
    return _fold(leaf, parse_path(path), hasher)


def _fold(leaf: bytes, steps: Sequence[tuple[Side, bytes]], hasher: Hasher) -> bytes:
    node, children = leaf, hasher.hash_children
    for side, sibling in steps:
        node = children(sibling, node) if side == "left" else children(node, sibling)
    return node


def verify_inclusion(
    leaf: bytes,
    index: int,
    leaf_count: int,
    path: object,
    root: bytes,
    hasher: Hasher = BLOCK_TREE,
) -> None:
    """Check that ``leaf`` is leaf ``index`` of the ``leaf_count``-leaf tree with ``root``.

    Raises :class:`ProofError` whose ``step`` says which check failed. The shape check
    comes before any hashing: it is what rejects a truncated or padded path, a wrong index
    and an interior node posing as a leaf (see :mod:`anchoring.hasher`).
    """
    node = None
    if type(hasher) is PrefixHasher:  # natively first (native/src/verifyplain.rs), same answer
        node = plain_path_root(leaf, index, leaf_count, path, hasher.node_prefix)
    if node is None:
        node = _plain_path_root(leaf, index, leaf_count, path, hasher)
    if node is not None and type(root) is bytes and len(root) == DIGEST_SIZE:
        if not hmac.compare_digest(node, root):
            raise ProofError(
                "merkle_root",
                f"path leads to root {node.hex()}, the header commits to {root.hex()}",
            )
        return
    _verify_inclusion_checked(leaf, index, leaf_count, path, root, hasher)


def _plain_path_root(
    leaf: bytes, index: int, leaf_count: int, path: object, hasher: Hasher
) -> bytes | None:
    """The root of a path that passes every check of :func:`verify_inclusion` before the
    root comparison, computed in one pass; None when the careful check must decide.

    Plain means: a ``list`` of one-key ``dict`` entries whose sides follow
    :func:`expected_path_shape` and whose values are lowercase hex ``str`` of 32 bytes.
    A path that turns out otherwise is dropped (None) before any hashing: the careful
    check then finds the first fault, as always. The values are decoded in one call.
    """
    if (
        type(leaf) is not bytes
        or len(leaf) != DIGEST_SIZE
        or type(index) is not int
        or type(leaf_count) is not int
        or not 0 <= index < leaf_count
        or type(path) is not list
    ):
        return None
    count = leaf_count
    spelled: list[str] = []
    lefts: list[int] = []  # 1 where the sibling is on the left
    for entry in path:
        while count > 1 and index == count - 1 and count & 1:  # promoted: no entry
            index >>= 1
            count = (count + 1) >> 1
        if count <= 1 or type(entry) is not dict or len(entry) != 1:
            return None
        left = index & 1
        value = entry.get("left" if left else "right")
        if type(value) is not str or len(value) != 2 * DIGEST_SIZE:
            return None
        spelled.append(value)
        lefts.append(left)
        index >>= 1
        count = (count + 1) >> 1
    while count > 1:  # the rest of the way up must be promotions only
        if not (index == count - 1 and count & 1):
            return None
        index >>= 1
        count = (count + 1) >> 1
    joined = "".join(spelled)
    try:
        raw = bytes.fromhex(joined)
    except ValueError:
        return None
    # All 64-character values decoded to 32 bytes each (whitespace would leave fewer), and
    # only in lowercase (fromhex also takes upper case).
    if len(raw) != DIGEST_SIZE * len(spelled) or joined.lower() != joined:
        return None
    node = leaf
    if type(hasher) is PrefixHasher:  # its hash_children, inlined: one call a level less
        sha256, prefix = hashlib.sha256, hasher.node_prefix
        for at, left in zip(range(0, len(raw), DIGEST_SIZE), lefts, strict=True):
            sibling = raw[at : at + DIGEST_SIZE]
            pair = sibling + node if left else node + sibling
            node = sha256(prefix + pair if prefix else pair).digest()
        return node
    children = hasher.hash_children
    for at, left in zip(range(0, len(raw), DIGEST_SIZE), lefts, strict=True):
        sibling = raw[at : at + DIGEST_SIZE]
        node = children(sibling, node) if left else children(node, sibling)
    return node


def _verify_inclusion_checked(
    leaf: bytes, index: int, leaf_count: int, path: object, root: bytes, hasher: Hasher
) -> None:
    for name, digest in (("leaf", leaf), ("root", root)):
        if not isinstance(digest, bytes) or len(digest) != DIGEST_SIZE:
            raise ProofError("merkle_leaf", f"the {name} must be a {DIGEST_SIZE}-byte digest")
    if (
        isinstance(index, bool)
        or isinstance(leaf_count, bool)
        or not isinstance(index, int)
        or not isinstance(leaf_count, int)
        or leaf_count < 1
        or not 0 <= index < leaf_count
    ):
        raise ProofError(
            "merkle_index", f"leaf index {index!r} is not in a tree of {leaf_count!r} leaves"
        )
    steps = parse_path(path)
    expected = expected_path_shape(index, leaf_count)
    given = [side for side, _ in steps]
    if given != expected:
        raise ProofError(
            "merkle_path_shape",
            f"path for leaf {index} of {leaf_count} must have sides {expected}, got {given}",
        )
    node = _fold(leaf, steps, hasher)
    if not hmac.compare_digest(node, root):
        raise ProofError(
            "merkle_root",
            f"path leads to root {node.hex()}, the header commits to {root.hex()}",
        )
