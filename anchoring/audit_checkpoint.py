"""The audit's checkpoint checks: a signed checkpoint names a block of the audited
chain, and (``assay audit --since``) an earlier checkpoint's head is proven into today's
head through the accumulator."""

from __future__ import annotations

import hmac

from anchoring.accumulator import verify_acc_inclusion
from anchoring.audit_records import Divergence
from anchoring.audit_walk import AuditReport
from anchoring.checkpoint import Checkpoint, Verifier, open_checkpoint
from anchoring.header import BlockHeader
from anchoring.prove import BlockHashTree


def audit_checkpoint(
    headers: list[BlockHeader], verifier: Verifier, text: str, what: str
) -> Checkpoint:
    checkpoint = open_checkpoint(text, verifier)
    if checkpoint.size > len(headers):
        raise Divergence(f"{what}: names {checkpoint.size} blocks, the chain has {len(headers)}")
    ours = headers[checkpoint.size - 1].block_hash()
    if not hmac.compare_digest(ours, checkpoint.head_hash):
        raise Divergence(
            f"{what}: block {checkpoint.size - 1} hash differs from the signed "
            f"head (fork or rewritten history)"
        )
    return checkpoint


def audit_since(
    headers: list[BlockHeader], verifier: Verifier, text: str, report: AuditReport
) -> None:
    old = audit_checkpoint(headers, verifier, text, "earlier checkpoint")
    head = headers[-1]
    height = old.size - 1
    if height < head.height:
        tree = BlockHashTree()
        for header in headers[: head.acc_size]:
            tree.append(header.block_hash())
        proof = tree.inclusion_proof(height, head.acc_size)
        verify_acc_inclusion(old.head_hash, height, head.acc_size, proof, head.acc_root)
        report.notes.append(
            f"earlier head (block {height}) proven into today's head "
            f"(block {head.height}) with {len(proof)} hashes"
        )
    else:
        report.notes.append("earlier checkpoint is today's head")
