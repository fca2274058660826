"""Merkle build and path-verify speed: anchoring.merkle against merkletools 1.0.3.

    uv run python bench/bench_merkle.py

Columns, in leaves per second (best of a few runs, GC paused as timeit does):

* ``ours+leaf``  pack_tree(BLOCK_TREE.hash_leaves(records)) from ~300-byte records: what
  sealing a block costs, leaf hashing included;
* ``ours tree``  pack_tree(leaf digests): interior nodes only;
* ``merkletools`` add_leaf(hex digests, do_hash=False) + make_tree() on the same digests;
* ``ratio``      ours tree / merkletools (same work: interior nodes from digests);
* ``verify``     verify_inclusion of one path (shape check + hashing), microseconds.
"""

from __future__ import annotations

import random
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anchoring.hasher import BLOCK_TREE
from anchoring.merkle import pack_tree, packed_path, packed_root, verify_inclusion
from bench.timing import best_seconds

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # merkletools warns that the optional pysha3 is missing
    import merkletools

RECORD_SIZE = 300
SIZES = (1_000, 10_000, 100_000, 1_000_000)
VERIFY_SAMPLES = 2_000


def merkletools_build(hex_leaves: list[str]) -> object:
    mt = merkletools.MerkleTools()
    mt.add_leaf(hex_leaves, do_hash=False)
    mt.make_tree()
    return mt


def measure(count: int) -> dict[str, float]:
    """Leaves per second of our build (with and without leaf hashing) and of merkletools."""
    filler = bytes(RECORD_SIZE - 8)
    records = [i.to_bytes(8, "big") + filler for i in range(count)]
    leaves = BLOCK_TREE.hash_leaves(records)
    hex_leaves = [leaf.hex() for leaf in leaves]
    repeat = 5 if count <= 100_000 else 2

    with_leaves = best_seconds(lambda: pack_tree(BLOCK_TREE.hash_leaves(records)), repeat)
    tree_only = best_seconds(lambda: pack_tree(leaves), repeat)
    reference = best_seconds(lambda: merkletools_build(hex_leaves), repeat)

    tree = pack_tree(leaves)
    rng = random.Random(count)
    cases = []
    for index in (rng.randrange(count) for _ in range(VERIFY_SAMPLES)):
        cases.append((leaves[index], index, packed_path(tree, count, index)))
    root = packed_root(tree)

    def verify_all() -> None:
        for leaf, index, path in cases:
            verify_inclusion(leaf, index, count, path, root)

    verify_us = best_seconds(verify_all, 3) / VERIFY_SAMPLES * 1e6
    return {
        "leaves": count,
        "build_with_leaf_hashing_per_s": count / with_leaves,
        "tree_only_per_s": count / tree_only,
        "merkletools_prehashed_per_s": count / reference,
        "verify_path_us": verify_us,
    }


def main() -> None:
    header = (
        f"{'leaves':>10} {'ours+leaf/s':>13} {'ours tree/s':>13} {'merkletools/s':>14} "
        f"{'ratio':>6} {'verify µs':>10}"
    )
    print(f"record size {RECORD_SIZE} B; leaves per second, best run")
    print(header)
    print("-" * len(header))
    for count in SIZES:
        m = measure(count)
        with_leaves, tree_only = m["build_with_leaf_hashing_per_s"], m["tree_only_per_s"]
        reference, verify_us = m["merkletools_prehashed_per_s"], m["verify_path_us"]
        print(
            f"{count:>10,} {with_leaves:>13,.0f} {tree_only:>13,.0f} {reference:>14,.0f} "
            f"{tree_only / reference:>5.1f}x {verify_us:>10.1f}"
        )


if __name__ == "__main__":
    main()
