"""Regenerate the Merkle inclusion-proof vectors in ``merkle/`` (deterministic).

    uv run python tests/anchoring/vectors/make_merkle_vectors.py

Each vector is ``{"desc", "leaf", "index", "leaf_count", "path", "root", "want_err"}``:
a verifier given ``leaf`` (hex leaf digest), ``index``, ``leaf_count``, the Chainpoint-v2
``path`` and the ``root`` must fail with the step code ``want_err``, or accept if it is
null. All vectors come from one 11-leaf tree, so odd-level promotion is exercised.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from anchoring.hasher import leaf_hash, node_hash
from anchoring.merkle import expected_path_shape, root_from_path
from tests.anchoring.reference import MerkleTree

OUT = Path(__file__).parent / "merkle"
LEAF_COUNT = 11
INDEX = 5


def _vector(
    desc: str, leaf: bytes, index: int, path: list[dict[str, str]], root: bytes, want: str | None
) -> dict[str, object]:
    return {
        "desc": desc,
        "leaf": leaf.hex(),
        "index": index,
        "leaf_count": LEAF_COUNT,
        "path": path,
        "root": root.hex(),
        "want_err": want,
    }


def build_vectors() -> dict[str, dict[str, object]]:
    leaves = [leaf_hash(f"assay test vector record {i}".encode()) for i in range(LEAF_COUNT)]
    tree = MerkleTree(leaves)
    leaf, path, root = leaves[INDEX], tree.path(INDEX), tree.root

    ((side, first),) = path[0].items()
    flipped = bytearray.fromhex(first)
    flipped[0] ^= 0x01
    modified = [{side: flipped.hex()}, *path[1:]]

    garbage = {"right": hashlib.sha256(b"garbage").hexdigest()}

    # The parent of leaves 4 and 5, with the rest of leaf 5's path: it does reach the
    # root. Claim the first leaf index whose path has that many steps, so that only the
    # sides (not the length) give it away.
    interior = node_hash(leaves[4], leaves[5])
    interior_path = path[1:]
    assert root_from_path(interior, interior_path) == root
    claimed = next(
        i
        for i in range(LEAF_COUNT)
        if len(expected_path_shape(i, LEAF_COUNT)) == len(interior_path)
    )

    return {
        "happy-path": _vector(
            f"leaf {INDEX} of {LEAF_COUNT} with its merkletools path", leaf, INDEX, path, root, None
        ),
        "modified-proof@0-bit": _vector(
            "lowest bit of the first byte of the first path entry flipped",
            leaf, INDEX, modified, root, "merkle_root",
        ),
        "wrong-leaf-index": _vector(
            f"leaf {INDEX}'s valid path presented as leaf {INDEX - 1}",
            leaf, INDEX - 1, path, root, "merkle_path_shape",
        ),
        "truncated-path": _vector(
            "last path entry removed", leaf, INDEX, path[:-1], root, "merkle_path_shape"
        ),
        "preceding-garbage": _vector(
            "an extra entry prepended to a valid path",
            leaf, INDEX, [garbage, *path], root, "merkle_path_shape",
        ),
        "second-preimage-interior-node": _vector(
            f"interior node H(leaf4 || leaf5) posing as leaf {claimed} with its own shorter "
            "path, which reproduces the root; only the path shape rejects it",
            interior, claimed, interior_path, root, "merkle_path_shape",
        ),
        "root-mismatch": _vector(
            "valid leaf and path checked against another block's root",
            leaf, INDEX, path, hashlib.sha256(b"another block").digest(), "merkle_root",
        ),
    }  # fmt: skip


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, vector in build_vectors().items():
        (OUT / f"{name}.json").write_text(json.dumps(vector, indent=2) + "\n")


if __name__ == "__main__":
    main()
