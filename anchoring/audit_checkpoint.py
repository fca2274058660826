"""Audit of signed checkpoints against the chain: the current one, and ``--since OLD``.

A version 1 checkpoint must sign block ``size - 1``'s hash, a version 2 checkpoint the
tree head of blocks ``0 … size-1`` (:mod:`anchoring.logtree`). An earlier checkpoint is
linked to today's chain as witnesses link them when both are version 2 (an RFC 9162
consistency proof between the two roots), and by the earlier head's accumulator proof
into today's head when the earlier one is version 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from anchoring.accumulator import verify_acc_inclusion, verify_consistency
from anchoring.audit_records import Divergence
from anchoring.checkpoint import Checkpoint, Verifier, open_checkpoint
from anchoring.header import BlockHeader
from anchoring.logtree import CHECKPOINT_V2, BlockHashTree, checkpoint_version


def log_tree(headers: Sequence[BlockHeader]) -> BlockHashTree:
    return BlockHashTree.from_hashes(header.block_hash() for header in headers)


def audit_checkpoint(
    tree: BlockHashTree, verifier: Verifier, text: str, what: str
) -> tuple[Checkpoint, int]:
    """The checkpoint ``text`` signs, and its version, once it is proven to be this chain's."""
    checkpoint = open_checkpoint(text, verifier)
    if checkpoint.size > tree.size:
        raise Divergence(f"{what}: names {checkpoint.size} blocks, the chain has {tree.size}")
    kind = checkpoint_version(tree, checkpoint.size, checkpoint.head_hash)
    if kind is None:
        raise Divergence(
            f"{what}: block {checkpoint.size - 1} hash differs from the signed head, and the "
            f"tree head of blocks 0..{checkpoint.size - 1} from the signed root (fork or "
            "rewritten history)"
        )
    return checkpoint, kind


def audit_since(
    headers: Sequence[BlockHeader],
    tree: BlockHashTree,
    verifier: Verifier,
    text: str,
    current: tuple[Checkpoint, int] | None,
) -> str:
    """Link the earlier checkpoint ``text`` to today's chain; the note for the report."""
    old, kind = audit_checkpoint(tree, verifier, text, "earlier checkpoint")
    if kind == CHECKPOINT_V2:
        if current is not None and current[1] == CHECKPOINT_V2:
            size, root, whose = current[0].size, current[0].head_hash, "today's checkpoint"
        else:
            size, root, whose = tree.size, tree.root(), "the chain's tree head"
        proof = tree.consistency_proof(old.size, size)
        verify_consistency(old.size, size, old.head_hash, root, proof)
        return (
            f"earlier checkpoint ({old.size} blocks) is consistent with {whose} ({size} "
            f"blocks): RFC 9162 consistency proof of {len(proof)} hashes"
        )
    head = headers[-1]
    height = old.size - 1
    if height == head.height:
        return "earlier checkpoint is today's head"
    proof = tree.inclusion_proof(height, head.acc_size)
    verify_acc_inclusion(old.head_hash, height, head.acc_size, proof, head.acc_root)
    return (
        f"earlier head (block {height}) proven into today's head "
        f"(block {head.height}) with {len(proof)} hashes"
    )
