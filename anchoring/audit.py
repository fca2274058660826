"""``audit``: recompute every leaf, root, header link and checkpoint from the stores.

The audit trusts nothing derived: leaves are recomputed from the ledger's stored events
(exact envelope bytes, per-item hash chain), roots from the leaves, block hashes from the
headers, accumulator roots from the block hashes, and the checkpoint signature from the
platform key. It stops at the first divergence and says where it is.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from anchoring.accumulator import Accumulator, inclusion_proof, verify_acc_inclusion
from anchoring.chain import Block, Chain
from anchoring.checkpoint import Checkpoint, Verifier, open_checkpoint
from anchoring.errors import VerificationError
from anchoring.header import BlockHeader
from anchoring.leaves import ZERO_HASH, leaf_of, source_of
from anchoring.merkle import MerkleTree
from anchoring.sealer import ITEM_TOPIC_PREFIX
from ledger.application import CustodyLedger

PAGE = 1000


@dataclass
class AuditReport:
    blocks: int = 0
    leaves: int = 0
    notifications: int = 0
    divergence: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None


class Divergence(Exception):
    pass


def _notifications(ledger: CustodyLedger) -> Iterator[Any]:
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE)
        if not page:
            return
        yield from page
        start = page[-1].id + 1


def _blocks(chain: Chain) -> Iterator[Block.Sealed]:
    start = 1
    while True:
        page = chain.recorder.select_notifications(start=start, limit=PAGE)
        if not page:
            return
        for n in page:
            try:
                event = chain.mapper.to_domain_event(n)
            except Exception as e:
                raise Divergence(f"chain record {n.id} cannot be read: {e}") from None
            if not isinstance(event, Block.Sealed):
                raise Divergence(f"chain record {n.id} is not a block")
            yield event
        start = page[-1].id + 1


def audit(
    ledger: CustodyLedger,
    chain: Chain,
    verifier: Verifier | None = None,
    checkpoint_text: str | None = None,
    since_text: str | None = None,
) -> AuditReport:
    report = AuditReport()
    try:
        headers = _audit_chain(ledger, chain, report)
        if verifier is not None and checkpoint_text is not None:
            _audit_checkpoint(headers, verifier, checkpoint_text, "current checkpoint")
        if verifier is not None and since_text is not None:
            _audit_since(headers, verifier, since_text, report)
    except Divergence as d:
        report.divergence = str(d)
    except VerificationError as e:
        report.divergence = f"{e.step}: {e}"
    return report


def _audit_chain(ledger: CustodyLedger, chain: Chain, report: AuditReport) -> list[BlockHeader]:
    ledger_events = _notifications(ledger)
    last_leaf: dict[str, tuple[int, bytes]] = {}
    accumulator = Accumulator()
    headers: list[BlockHeader] = []
    covered = 0
    for sealed in _blocks(chain):
        header = _header_of(sealed, len(headers))
        _check_link(header, headers, accumulator)
        leaves, items = _expected_leaves(ledger, ledger_events, header, covered, last_leaf, report)
        _check_leaves(sealed, header, leaves, items, chain)
        covered = header.last_notification
        headers.append(header)
        accumulator.append(header.block_hash())
        report.blocks += 1
        report.leaves += len(leaves)
    return headers


def _header_of(sealed: Block.Sealed, height: int) -> BlockHeader:
    try:
        header = BlockHeader.from_json(sealed.header)
    except (VerificationError, KeyError, TypeError, ValueError) as e:
        raise Divergence(f"block {height}: header unreadable: {e}") from None
    if header.height != height:
        raise Divergence(f"block {height}: header says height {header.height}")
    return header


def _check_link(header: BlockHeader, headers: list[BlockHeader], acc: Accumulator) -> None:
    expected_prev = headers[-1].block_hash() if headers else ZERO_HASH
    if not hmac.compare_digest(header.prev_hash, expected_prev):
        raise Divergence(
            f"block {header.height}: prev_hash does not match block "
            f"{header.height - 1}'s hash (chain broken)"
        )
    if header.acc_size != acc.size or not hmac.compare_digest(header.acc_root, acc.root()):
        raise Divergence(
            f"block {header.height}: accumulator does not commit to blocks 0..{header.height - 1}"
        )


def _expected_leaves(
    ledger: CustodyLedger,
    events: Iterator[Any],
    header: BlockHeader,
    covered: int,
    last_leaf: dict[str, tuple[int, bytes]],
    report: AuditReport,
) -> tuple[list[bytes], list[tuple[str, int]]]:
    if header.first_notification != covered + 1:
        raise Divergence(
            f"block {header.height}: starts at ledger notification "
            f"{header.first_notification}, expected {covered + 1} (gap or overlap)"
        )
    leaves: list[bytes] = []
    items: list[tuple[str, int]] = []
    while covered < header.last_notification:
        n = next(events, None)
        if n is None:
            raise Divergence(
                f"block {header.height}: ledger ends before notification {header.last_notification}"
            )
        covered = n.id
        report.notifications += 1
        if not n.topic.startswith(ITEM_TOPIC_PREFIX):
            continue
        item_id, version = str(n.originator_id), n.originator_version
        try:
            event = ledger.mapper.to_domain_event(n)
        except Exception as e:
            raise Divergence(
                f"ledger event {n.id} ({item_id} v{version}) cannot be read: {e}"
            ) from None
        prev_version, prev = last_leaf.get(item_id, (0, ZERO_HASH))
        if prev_version != version - 1:
            raise Divergence(
                f"ledger event {n.id}: {item_id} jumps from v{prev_version} to v{version}"
            )
        leaf = leaf_of(source_of(item_id, version, event), prev)
        last_leaf[item_id] = (version, leaf)
        leaves.append(leaf)
        items.append((item_id, version))
    return leaves, items


def _check_leaves(
    sealed: Block.Sealed,
    header: BlockHeader,
    leaves: list[bytes],
    items: list[tuple[str, int]],
    chain: Chain,
) -> None:
    stored = [bytes.fromhex(h) for h in sealed.leaves]
    for index, (want, got) in enumerate(zip(leaves, stored, strict=False)):
        if not hmac.compare_digest(want, got):
            item_id, version = items[index]
            raise Divergence(
                f"block {header.height} leaf {index} ({item_id} v{version}): "
                f"stored leaf differs from the ledger's event (edited event?)"
            )
    if len(stored) != len(leaves) or header.leaf_count != len(leaves):
        raise Divergence(
            f"block {header.height}: {len(stored)} stored leaves, header says "
            f"{header.leaf_count}, ledger has {len(leaves)}"
        )
    if not hmac.compare_digest(MerkleTree(leaves).root, header.merkle_root):
        raise Divergence(f"block {header.height}: Merkle root does not match its leaves")
    for index, (item_id, version) in enumerate(items):
        row = chain.leaf(item_id, version)
        if (
            row is None
            or (row.height, row.leaf_index) != (header.height, index)
            or not hmac.compare_digest(row.leaf_hash, leaves[index])
        ):
            raise Divergence(
                f"block {header.height} leaf {index}: leaf index row for "
                f"{item_id} v{version} is missing or wrong"
            )


def _audit_checkpoint(
    headers: list[BlockHeader], verifier: Verifier, text: str, what: str
) -> Checkpoint:
    checkpoint = open_checkpoint(text, verifier)
    if checkpoint.size < 1 or checkpoint.size > len(headers):
        raise Divergence(f"{what}: names {checkpoint.size} blocks, the chain has {len(headers)}")
    ours = headers[checkpoint.size - 1].block_hash()
    if not hmac.compare_digest(ours, checkpoint.head_hash):
        raise Divergence(
            f"{what}: block {checkpoint.size - 1} hash differs from the signed "
            f"head (fork or rewritten history)"
        )
    return checkpoint


def _audit_since(
    headers: list[BlockHeader], verifier: Verifier, text: str, report: AuditReport
) -> None:
    old = _audit_checkpoint(headers, verifier, text, "earlier checkpoint")
    head = headers[-1]
    height = old.size - 1
    if height < head.height:
        hashes = [h.block_hash() for h in headers]
        proof = inclusion_proof(hashes[: head.acc_size], height, head.acc_size)
        verify_acc_inclusion(old.head_hash, height, head.acc_size, proof, head.acc_root)
        report.notes.append(
            f"earlier head (block {height}) proven into today's head "
            f"(block {head.height}) with {len(proof)} hashes"
        )
    else:
        report.notes.append("earlier checkpoint is today's head")
