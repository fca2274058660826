"""The anchor: follows the ledger's notification log and seals Merkle batches into blocks.

Exactly once: a block, the ledger position it covers and its leaf index are saved in one
chain transaction; on start the anchor resumes after the recorded position. A batch is
sealed every ``max_events`` events or ``max_seconds`` after its first event arrived.
After each seal the new head is published as a signed checkpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import Notification, Tracking

from anchoring.accumulator import Accumulator
from anchoring.chain import LEDGER_TRACKING_NAME, Block, Chain
from anchoring.checkpoint import Checkpoint, Signer, sign_checkpoint
from anchoring.header import HEADER_VERSION, BlockHeader
from anchoring.leaves import ZERO_HASH, leaf_of, source_of
from anchoring.merkle import MerkleTree
from anchoring.recorders import LeafRow
from ledger.application import CustodyLedger

log = logging.getLogger(__name__)

ITEM_TOPIC_PREFIX = "domain.items:Item."
PAGE = 1000
PREV_LEAF_CACHE = 200_000


class AnchorError(RuntimeError):
    pass


@dataclass(frozen=True)
class SealPolicy:
    max_events: int = 1000
    max_seconds: float = 2.0


def sealed_at_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Anchor:
    def __init__(
        self,
        ledger: CustodyLedger,
        chain: Chain,
        signer: Signer,
        *,
        origin: str,
        policy: SealPolicy | None = None,
        checkpoint_path: Path | None = None,
        publish_checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.chain = chain
        self.signer = signer
        self.origin = origin
        self.policy = policy or SealPolicy()
        self.checkpoint_path = checkpoint_path
        self.publish_checkpoint = publish_checkpoint
        self.headers = chain.headers()
        self.accumulator = Accumulator.from_hashes([h.block_hash() for h in self.headers])
        self.position = chain.position()
        self.prev_leaves: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self.pending: list[Notification] = []
        self.pending_since = 0.0
        self.sealed_events = 0

    @property
    def head(self) -> BlockHeader | None:
        return self.headers[-1] if self.headers else None

    # ----- loop ------------------------------------------------------------------------

    def run(self, until_idle: float | None = None, stop: threading.Event | None = None) -> int:
        """Follow the ledger until stopped (or idle that long); returns blocks sealed."""
        self.write_checkpoint()
        sealed = 0
        last_activity = time.monotonic()
        while not (stop and stop.is_set()):
            fetched = self.fetch()
            if fetched:
                last_activity = time.monotonic()
            sealed += self.seal_due(force=False)
            if not fetched:
                if until_idle is not None and time.monotonic() - last_activity >= until_idle:
                    break
                time.sleep(0.1)
        sealed += self.seal_due(force=True)
        return sealed

    def catch_up(self) -> int:
        """Seal everything recorded so far, now; returns blocks sealed."""
        sealed = 0
        while self.fetch():
            sealed += self.seal_due(force=False)
        sealed += self.seal_due(force=True)
        self.write_checkpoint()
        return sealed

    def fetch(self) -> int:
        start = (self.pending[-1].id if self.pending else self.position) + 1
        page = self.ledger.recorder.select_notifications(start=start, limit=PAGE)
        if page and not self.pending:
            self.pending_since = time.monotonic()
        self.pending.extend(page)
        return len(page)

    def seal_due(self, *, force: bool) -> int:
        sealed = 0
        while len(self.pending) >= self.policy.max_events:
            self.seal(self.pending[: self.policy.max_events])
            del self.pending[: self.policy.max_events]
            sealed += 1
        overdue = time.monotonic() - self.pending_since >= self.policy.max_seconds
        if self.pending and (force or overdue):
            self.seal(self.pending)
            self.pending = []
            sealed += 1
        return sealed

    # ----- sealing ---------------------------------------------------------------------

    def seal(self, notifications: Sequence[Notification]) -> BlockHeader | None:
        height = len(self.headers)
        leaves: list[bytes] = []
        items: list[tuple[str, int]] = []
        rows: list[LeafRow] = []
        in_batch: dict[str, tuple[int, bytes]] = {}
        for n in notifications:
            if not n.topic.startswith(ITEM_TOPIC_PREFIX):
                continue
            item_id, version = str(n.originator_id), n.originator_version
            event = self.ledger.mapper.to_domain_event(n)
            prev = self._prev_leaf(item_id, version, in_batch)
            leaf = leaf_of(source_of(item_id, version, event), prev)
            in_batch[item_id] = (version, leaf)
            rows.append(LeafRow(item_id, version, height, len(leaves), leaf))
            leaves.append(leaf)
            items.append((item_id, version))
        tracking = Tracking(LEDGER_TRACKING_NAME, notifications[-1].id)
        processing: ProcessingEvent[str] = ProcessingEvent(tracking)
        header = None
        if leaves:
            header = self._header(height, leaves, notifications)
            processing.collect_events(Block.seal(header, leaves, items), leaf_rows=rows)
        self.chain._record(processing)
        self.position = notifications[-1].id
        for row in rows:
            self._remember(row.item_id, row.version, row.leaf_hash)
        if header is not None:
            self.headers.append(header)
            self.accumulator.append(header.block_hash())
            self.sealed_events += len(leaves)
            self.write_checkpoint()
        return header

    def _header(
        self, height: int, leaves: list[bytes], notifications: Sequence[Notification]
    ) -> BlockHeader:
        prev = self.headers[-1].block_hash() if self.headers else ZERO_HASH
        return BlockHeader(
            version=HEADER_VERSION,
            height=height,
            prev_hash=prev,
            merkle_root=MerkleTree(leaves).root,
            first_notification=notifications[0].id,
            last_notification=notifications[-1].id,
            leaf_count=len(leaves),
            sealed_at=sealed_at_now(),
            acc_root=self.accumulator.root(),
            acc_size=self.accumulator.size,
        )

    def _prev_leaf(
        self, item_id: str, version: int, in_batch: dict[str, tuple[int, bytes]]
    ) -> bytes:
        if version == 1:
            return ZERO_HASH
        for cached in (in_batch.get(item_id), self.prev_leaves.get(item_id)):
            if cached is not None and cached[0] == version - 1:
                return cached[1]
        row = self.chain.leaf(item_id, version - 1)
        if row is None:
            raise AnchorError(
                f"{item_id} v{version - 1} was never anchored; cannot chain v{version}"
            )
        return row.leaf_hash

    def _remember(self, item_id: str, version: int, leaf: bytes) -> None:
        self.prev_leaves[item_id] = (version, leaf)
        self.prev_leaves.move_to_end(item_id)
        if len(self.prev_leaves) > PREV_LEAF_CACHE:
            self.prev_leaves.popitem(last=False)

    # ----- checkpoints -----------------------------------------------------------------

    def checkpoint_text(self) -> str | None:
        head = self.head
        if head is None:
            return None
        checkpoint = Checkpoint(self.origin, head.height + 1, head.block_hash())
        return sign_checkpoint(checkpoint, self.signer)

    def write_checkpoint(self) -> None:
        text = self.checkpoint_text()
        if text is None:
            return
        if self.checkpoint_path is not None:
            tmp = self.checkpoint_path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(self.checkpoint_path)
        if self.publish_checkpoint is not None:
            self.publish_checkpoint(text)
