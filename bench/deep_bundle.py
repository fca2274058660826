"""A version 3 bundle whose head map proof is as deep as in a map of many items.

The committed vector ``complete-history`` comes from a world of a few items, so its map
proof has one sibling; in a map of n items an item's leaf sits about log2(n) + 1 levels
down (20 non-empty siblings for the one item proven in a real native map of 1M items).
Building such a map takes tens of seconds and gigabytes (every node row), so
:func:`deepen` gives the item a proof of ``depth`` random non-empty siblings instead,
puts the root they imply into the head header (``map_root``, ``map_size``), and re-signs
the checkpoint over the tree head that header implies (the head proof's hashes, the older
blocks, stay what they are). A verifier has the same work as with the real map: it cannot
tell the difference, which is the point of the proof being checked, not trusted.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

from anchoring.accumulator import acc_leaf, root_from_inclusion_proof
from anchoring.checkpoint import Checkpoint, Signer, sign_checkpoint
from anchoring.header import BlockHeader
from anchoring.headmap import MapProof, item_key, root_of
from anchoring.mapcheck import parse_entry, proof_json


def depth_for(items: int) -> int:
    """How many siblings an item's map proof has in a map of ``items`` items, typically."""
    return max(1, round(math.log2(items)) + 1)


def deepen(bundle: dict[str, Any], signer: Signer, depth: int, items: int) -> dict[str, Any]:
    """``bundle`` (version 3, its head the last listed block) with a ``depth``-sibling map
    proof, a head header committing to the map it implies, and a checkpoint ``signer``
    signs over that head (no cosignature lines)."""
    out = copy.deepcopy(bundle)
    rng = random.Random(depth)
    proof = MapProof(tuple(rng.randbytes(32) for _ in range(depth)))
    entry = parse_entry(out["map_entry"], "map_entry")
    root = root_of(item_key(out["item_id"]), entry, proof)
    head = {**out["head"], "map_root": root.hex(), "map_size": items}
    header = BlockHeader.from_json(head)
    out["head"] = head
    for block in out["blocks"]:
        if block["header"]["height"] == header.height:
            block["header"] = dict(head)
    size = header.height + 1
    proof_hashes = [bytes.fromhex(h) for h in out["head_proof"]]
    tree_head = root_from_inclusion_proof(
        acc_leaf(header.block_hash()), header.height, size, proof_hashes
    )
    note = out["checkpoint"]
    origin = note.partition("\n")[0]
    out["checkpoint"] = sign_checkpoint(Checkpoint(origin, size, tree_head), signer)
    out["map_proof"] = proof_json(proof)
    return out
