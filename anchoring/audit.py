"""``audit``: recompute every leaf, root, header link and checkpoint from the stores.

The audit trusts nothing derived: leaves are recomputed from the ledger's stored events
(exact envelope bytes, per-item hash chain), roots from the leaves, block hashes from the
headers, accumulator roots from the block hashes, the two chain indexes from the blocks,
and checkpoint signatures with the platform key. Blocks must cover the ledger's
notification log contiguously from notification 1. It stops at the first divergence and
says where it is: block height, leaf index, item and version, ledger notification id or
chain record id.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Notification

from anchoring.accumulator import Accumulator, verify_acc_inclusion
from anchoring.chain import Block, Chain, pack_tree
from anchoring.checkpoint import Checkpoint, Verifier, open_checkpoint
from anchoring.errors import VerificationError
from anchoring.header import BlockHeader
from anchoring.leaves import ZERO_HASH, leaf_of, source_of
from anchoring.prove import BlockHashTree
from anchoring.recorders import BlockIndex
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


def audit(
    ledger: CustodyLedger,
    chain: Chain,
    verifier: Verifier | None = None,
    checkpoint_text: str | None = None,
    since_text: str | None = None,
) -> AuditReport:
    report = AuditReport()
    try:
        headers = _Walk(ledger, chain, report).run()
        if verifier is not None and checkpoint_text is not None:
            _audit_checkpoint(headers, verifier, checkpoint_text, "current checkpoint")
        if verifier is not None and since_text is not None:
            _audit_since(headers, verifier, since_text, report)
    except Divergence as d:
        report.divergence = str(d)
    except VerificationError as e:
        report.divergence = f"{e.step}: {e}"
    return report


def _pages(recorder: Any) -> Iterator[Notification]:
    start = 1
    while True:
        page = recorder.select_notifications(start=start, limit=PAGE)
        if not page:
            return
        yield from page
        start = page[-1].id + 1


class _Walk:
    """One pass over the chain's blocks and, in step, the ledger's notifications."""

    def __init__(self, ledger: CustodyLedger, chain: Chain, report: AuditReport) -> None:
        self.ledger = ledger
        self.chain = chain
        self.report = report
        self.ledger_log = _pages(ledger.recorder)
        self.last_leaf: dict[str, tuple[int, bytes]] = {}
        self.accumulator = Accumulator()
        self.headers: list[BlockHeader] = []
        self.covered = 0
        self.index = chain.recorder if isinstance(chain.recorder, BlockIndex) else None
        self.notification_ids: list[int] = []  # of the current block's leaves

    def run(self) -> list[BlockHeader]:
        for record in _pages(self.chain.recorder):
            height = len(self.headers)
            sealed = self._block_event(record, height)
            header = self._header(sealed, record.id, height)
            self._check_link(header)
            leaves, items = self._expected_leaves(header)
            self._check_leaves(sealed, header, leaves, items)
            self._check_index(header, leaves, items)
            self.covered = header.last_notification
            self.headers.append(header)
            self.accumulator.append(header.block_hash())
            self.report.blocks += 1
            self.report.leaves += len(leaves)
        self._check_position()
        return self.headers

    # ----- one block ---------------------------------------------------------------

    def _block_event(self, record: Notification, height: int) -> Block.Sealed:
        where = f"chain record {record.id} (block {height})"
        try:
            event = self.chain.mapper.to_domain_event(record)
        except Exception as e:  # any corruption of the stored bytes lands here
            raise Divergence(f"{where} cannot be read: {e}") from None
        if not isinstance(event, Block.Sealed):
            raise Divergence(f"{where} is not a sealed block")
        return event

    def _header(self, sealed: Block.Sealed, record_id: int, height: int) -> BlockHeader:
        try:
            header = BlockHeader.from_json(sealed.header)
        except (VerificationError, KeyError, TypeError, ValueError) as e:
            raise Divergence(f"block {height} (chain record {record_id}): header: {e}") from None
        if header.height != height or sealed.originator_id != f"block-{height:012d}":
            raise Divergence(
                f"chain record {record_id}: block {sealed.originator_id} says height "
                f"{header.height}, expected {height}"
            )
        return header

    def _check_link(self, header: BlockHeader) -> None:
        height = header.height
        expected_prev = self.headers[-1].block_hash() if self.headers else ZERO_HASH
        if not hmac.compare_digest(header.prev_hash, expected_prev):
            raise Divergence(
                f"block {height}: prev_hash is not the hash of block {height - 1}: "
                f"{self._which_was_edited(height - 1, header.prev_hash)}"
            )
        if header.acc_size != self.accumulator.size or not hmac.compare_digest(
            header.acc_root, self.accumulator.root()
        ):
            raise Divergence(f"block {height}: acc_root does not commit to blocks 0..{height - 1}")
        if header.first_notification != self.covered + 1:
            raise Divergence(
                f"block {height}: starts at ledger notification {header.first_notification}, "
                f"expected {self.covered + 1} (gap or overlap)"
            )

    def _which_was_edited(self, height: int, prev_hash: bytes) -> str:
        if self.index is None:
            return f"block {height} or {height + 1} was altered"
        rows = self.index.block_rows([height])
        if height in rows and hmac.compare_digest(rows[height].block_hash, prev_hash):
            return f"block {height}'s header was altered after sealing (its index row agrees)"
        return f"block {height}'s header or block {height + 1}'s prev_hash was altered"

    def _expected_leaves(self, header: BlockHeader) -> tuple[list[bytes], list[tuple[str, int]]]:
        leaves: list[bytes] = []
        items: list[tuple[str, int]] = []
        covered = self.covered
        self.notification_ids = []
        while covered < header.last_notification:
            n = next(self.ledger_log, None)
            if n is None:
                raise Divergence(
                    f"block {header.height}: ledger ends before notification "
                    f"{header.last_notification}"
                )
            covered = n.id
            self.report.notifications += 1
            if n.topic.startswith(ITEM_TOPIC_PREFIX):
                leaves.append(self._leaf(n, header, len(leaves)))
                self.notification_ids.append(n.id)
                items.append((str(n.originator_id), n.originator_version))
        return leaves, items

    def _leaf(self, n: Notification, header: BlockHeader, index: int) -> bytes:
        item_id, version = str(n.originator_id), n.originator_version
        where = f"ledger event {n.id} ({item_id} v{version}; block {header.height} leaf {index})"
        try:
            event = self.ledger.mapper.to_domain_event(n)
            source = source_of(item_id, version, event)
        except Exception as e:  # any corruption of the stored bytes lands here
            raise Divergence(f"{where} cannot be read: {e}") from None
        prev_version, prev = self.last_leaf.get(item_id, (0, ZERO_HASH))
        if prev_version != version - 1:
            raise Divergence(f"{where}: the item jumps from v{prev_version} to v{version}")
        leaf = leaf_of(source, prev)
        self.last_leaf[item_id] = (version, leaf)
        return leaf

    def _check_leaves(
        self,
        sealed: Block.Sealed,
        header: BlockHeader,
        leaves: list[bytes],
        items: list[tuple[str, int]],
    ) -> None:
        height = header.height
        if header.leaf_count != len(leaves) or len(sealed.leaves) != len(leaves):
            raise Divergence(
                f"block {height}: header says {header.leaf_count} leaves, the block stores "
                f"{len(sealed.leaves)}, the ledger has {len(leaves)} item events in "
                f"notifications {header.first_notification}..{header.last_notification}"
            )
        for index, (want, got) in enumerate(zip(leaves, sealed.leaves, strict=True)):
            if got != want.hex():
                item_id, version = items[index]
                raise Divergence(
                    f"block {height} leaf {index} ({item_id} v{version}, ledger event "
                    f"{self.notification_ids[index]}): the stored leaf differs from the one "
                    "recomputed from the ledger (edited event or block)"
                )
        if [tuple(i) for i in sealed.items] != items:
            raise Divergence(f"block {height}: its item list differs from the ledger's events")
        root = pack_tree(leaves)[-32:]
        if not hmac.compare_digest(root, header.merkle_root):
            raise Divergence(f"block {height}: merkle_root does not match its leaves")

    def _check_index(
        self, header: BlockHeader, leaves: list[bytes], items: list[tuple[str, int]]
    ) -> None:
        if self.index is None:
            return
        height = header.height
        row = self.index.block_rows([height]).get(height)
        if row is None:
            raise Divergence(f"block {height}: the block index has no row for it")
        if not hmac.compare_digest(row.block_hash, header.block_hash()):
            raise Divergence(
                f"block {height}: its header hashes to {header.block_hash().hex()}, the block "
                f"index recorded {row.block_hash.hex()} when it was sealed (header or index "
                "altered)"
            )
        if json.loads(row.header_json) != header.to_json() or row.tree != pack_tree(leaves):
            raise Divergence(f"block {height}: its block index row is wrong")
        rows = self.index.leaves_at(height)
        expected = [
            (item_id, version, height, index, leaf)
            for index, ((item_id, version), leaf) in enumerate(zip(items, leaves, strict=True))
        ]
        got = [(r.item_id, r.version, r.height, r.leaf_index, r.leaf_hash) for r in rows]
        if got != expected:
            raise Divergence(f"block {height}: its leaf index rows are missing or wrong")

    def _check_position(self) -> None:
        position = self.chain.position()
        if position < self.covered:
            raise Divergence(
                f"the anchor's position {position} is before the head block's last "
                f"notification {self.covered}"
            )
        if self.index is not None and self.index.indexed_blocks() != len(self.headers):
            raise Divergence(
                f"the block index holds {self.index.indexed_blocks()} blocks, "
                f"the chain {len(self.headers)}"
            )


def _audit_checkpoint(
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


def _audit_since(
    headers: list[BlockHeader], verifier: Verifier, text: str, report: AuditReport
) -> None:
    old = _audit_checkpoint(headers, verifier, text, "earlier checkpoint")
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
