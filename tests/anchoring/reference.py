"""The reference Merkle tree of a block, written plainly for the tests and the benches.

Sealing, proving, auditing and verifying use ``anchoring.merkle.pack_tree`` and its
paths; this independent, level-by-level version (with merkletools, which the tests also
run) is what they are compared with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

DIGEST_SIZE = 32
_sha256 = hashlib.sha256


class MerkleTree:
    """A block's tree, built once from leaf digests (already ``leaf_hash``-ed)."""

    __slots__ = ("_levels",)

    def __init__(self, leaves: Sequence[bytes]) -> None:
        level = list(leaves)
        if not level:
            raise ValueError("a Merkle tree needs at least one leaf (blocks are never empty)")
        if not set(map(type, level)) <= {bytes} or set(map(len, level)) != {DIGEST_SIZE}:
            raise ValueError(f"every leaf must be a {DIGEST_SIZE}-byte digest (bytes)")
        levels = [level]
        sha256 = _sha256
        while len(level) > 1:
            count = len(level)
            pairs = iter(level[: count - 1] if count % 2 else level)
            # zip over one iterator yields (0, 1), (2, 3), ... without building slices twice.
            upper = [
                sha256(left + right).digest() for left, right in zip(pairs, pairs, strict=True)
            ]
            if count % 2:
                upper.append(level[-1])
            levels.append(upper)
            level = upper
        self._levels = levels

    @classmethod
    def from_records(cls, records: Sequence[bytes]) -> MerkleTree:
        """The tree over ``SHA-256(0x00 || record)`` of each record."""
        return cls([_sha256(b"\x00" + record).digest() for record in records])

    def packed(self) -> bytes:
        """Every level, leaves first, 32 bytes a node: ``anchoring.merkle.pack_tree``'s layout."""
        return b"".join(b"".join(level) for level in self._levels)

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    @property
    def leaf_count(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        self._check_index(index)
        return self._levels[0][index]

    def path(self, index: int) -> list[dict[str, str]]:
        """The Chainpoint-v2 path of leaf ``index``, equal to merkletools' ``get_proof``."""
        self._check_index(index)
        path: list[dict[str, str]] = []
        for level in self._levels[:-1]:
            count = len(level)
            if not (index == count - 1 and count % 2):  # promoted: no sibling at this level
                if index % 2:
                    path.append({"left": level[index - 1].hex()})
                else:
                    path.append({"right": level[index + 1].hex()})
            index //= 2
        return path

    def _check_index(self, index: int) -> None:
        # Explicit, so that -1 does not silently mean "the last leaf".
        if not 0 <= index < self.leaf_count:
            raise IndexError(f"leaf index {index} outside 0..{self.leaf_count - 1}")
