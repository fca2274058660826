"""Version 3 (docs/proof-bundle.md §11): the checkpoint signs the block log's tree head.

A version 2 checkpoint's root is MTH(block hashes 0..n-1) (RFC 9162, the accumulator's
hashing), n = head height + 1, so witnesses can check consistency between checkpoints. A
version 3 document carries ``head_proof``: the RFC 9162 inclusion proof of the head
block's hash, leaf n-1, in that n-leaf tree. Its hashes are exactly the perfect subtrees
of blocks 0..n-2, so they must also fold to the head's own ``acc_root``: the tree the
checkpoint signs (and witnesses see) is the history the head's accumulator proves blocks
into, not another one. From the head on, a version 3 document is checked as version 2.

A ``newer`` object (§10.4) is read the same way when it carries ``head_proof``, and as a
version 1 checkpoint otherwise: bundles made before the switch can be brought up to date
with a version 2 checkpoint.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from anchoring.accumulator import EMPTY_ROOT, acc_leaf, acc_node, root_from_inclusion_proof
from anchoring.checkpoint import Checkpoint, Verifier
from anchoring.errors import VerificationError
from anchoring.header import MAP_HEADER_VERSION
from anchoring.verify_fields import hex32_list
from anchoring.verify_result import (
    BUNDLE_VERSION,
    BUNDLE_VERSION_3,
    BUNDLE_VERSION_4,
    BUNDLE_VERSION_5,
    fail,
)
from anchoring.verify_v1 import Block, check_head_signed, open_checkpoint_and_head


def checkpoint_and_head(
    doc: Mapping[str, Any], platform_key: Verifier, origin: str | None, where: str
) -> tuple[Checkpoint, Block]:
    """Steps B3-B5 (and 5a) on ``doc``'s checkpoint and head, ``where`` naming ``doc``
    (``""``: the bundle itself, ``"newer "``: its newer checkpoint)."""
    checkpoint, head = open_checkpoint_and_head(doc, platform_key, origin, where)
    # A bundle says its checkpoint's version by its own; a newer object by carrying the proof.
    tree_head = (
        "head_proof" in doc
        if where
        else doc.get("version") in (BUNDLE_VERSION_3, BUNDLE_VERSION_4, BUNDLE_VERSION_5)
    )
    if tree_head:
        check_head_in_tree(checkpoint, head, doc["head_proof"], where)
    else:
        check_head_signed(checkpoint, head, where)
    if (where or doc.get("version") != BUNDLE_VERSION) and head.version != MAP_HEADER_VERSION:
        fail("bundle_format", f"the {where}head of a version 2 or 3 document is a version 1 header")
    return checkpoint, head


def check_head_in_tree(checkpoint: Checkpoint, head: Block, proof_json: Any, where: str) -> None:
    """Step B5 with a version 2 checkpoint: the head is the tree head's last leaf, and the
    tree's other leaves are the blocks the head's accumulator commits to."""
    if type(proof_json) is not list:
        fail("bundle_format", f"{where}head_proof must be a list of hashes")
    proof = hex32_list(proof_json, f"{where}head_proof")
    size, root = checkpoint.size, checkpoint.head_hash
    if head.height + 1 != size:
        fail(
            "checkpoint_head", f"the {where}head is block {head.height}; the checkpoint has {size}"
        )
    if hmac.compare_digest(head.block_hash, root):
        fail(
            "checkpoint_version",
            f"the {where}checkpoint signs the head block's hash: a version 1 checkpoint, which a "
            "version 3 document (or a newer object with head_proof) cannot carry",
        )
    try:
        computed = root_from_inclusion_proof(acc_leaf(head.block_hash), head.height, size, proof)
    except VerificationError as e:
        fail("checkpoint_inclusion", f"{where}head_proof: {e}")
    if not hmac.compare_digest(computed, root):
        fail(
            "checkpoint_inclusion",
            f"the {where}head proves into tree head {computed.hex()}, the checkpoint signs "
            f"{root.hex()}",
        )
    prefix = _fold(proof)
    if not hmac.compare_digest(prefix, head.acc_root):
        fail(
            "checkpoint_inclusion",
            f"the checkpoint's tree before the {where}head has root {prefix.hex()}, the head's "
            f"accumulator {head.acc_root.hex()}: they are different histories",
        )


def _fold(proof: list[bytes]) -> bytes:
    """MTH of blocks 0..n-2 from the last leaf's proof: its hashes are those blocks'
    perfect subtrees, smallest (rightmost) first, which RFC 9162 joins right to left."""
    if not proof:
        return EMPTY_ROOT
    node = proof[0]
    for left in proof[1:]:
        node = acc_node(left, node)
    return node
