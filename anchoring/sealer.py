"""The anchor: follows the ledger's notification log and seals Merkle batches into blocks.

Exactly once: a block, the ledger position it covers and its two indexes are saved in one
chain transaction; on start the anchor resumes after the recorded position. A batch is
sealed every ``max_events`` events or ``max_seconds`` after its first event arrived.
After each seal the new head is published as a signed checkpoint.

Blocks cover contiguous ranges of the notification log: a block's ``first_notification``
is one past the previous block's ``last_notification``, even when notifications without
item events (parties, devices, tag claims) were passed over in between, so ``audit`` can
account for every notification. The block event also stores ``records_digest``
(:class:`anchoring.records_digest.RecordsDigest`) of every ledger record in that range as stored,
leafless ones and those of earlier leafless batches included, so ``audit`` can vouch for
bytes no leaf covers (e.g. eventsourcing's ``timestamp``).

With version 2 headers (the default) the anchor keeps the head map in memory
(:mod:`anchoring.sealer_map`, which also enters parties and devices from the registry
switch on); checkpoints are signed by :mod:`anchoring.sealer_checkpoint`.

A second anchor started by mistake cannot fork the chain: both would write the same block
id and index row, so one seal fails with an integrity error, is rolled back whole, and
its anchor reloads the chain (headers, accumulator, position) and carries on from there.
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

from eventsourcing.persistence import IntegrityError, Notification

from anchoring.accumulator import Accumulator
from anchoring.chain import Block, Chain
from anchoring.checkpoint import Signer
from anchoring.headbands import MapState
from anchoring.header import HEADER_VERSION, MAP_HEADER_VERSION, BlockHeader
from anchoring.headmap_native import HeadMap
from anchoring.leaves import ZERO_HASH, leaf_chain
from anchoring.logtree import BlockHashTree
from anchoring.merkle import pack_tree, packed_root
from anchoring.recorders import EntryRow, LeafRow
from anchoring.records_digest import RecordsDigest
from anchoring.sealer_checkpoint import CheckpointSigning
from anchoring.sealer_map import AnchorError, SealMap
from ledger.application import CustodyLedger
from ledger.records import LeafSource, is_item_topic, leaf_source
from ledger.stored import stored_leaf_source

__all__ = ["Anchor", "AnchorError", "SealConflict", "SealPolicy", "sealed_at_now"]

log = logging.getLogger(__name__)

PAGE = 1000
PREV_LEAF_CACHE = 200_000


class SealConflict(AnchorError):
    """Another anchor sealed first; this one has reloaded the chain and drops its batch."""


@dataclass(frozen=True)
class SealPolicy:
    max_events: int = 1000
    max_seconds: float = 2.0


def sealed_at_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Anchor(CheckpointSigning):
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
        clock: Callable[[], str] = sealed_at_now,
        header_version: int = MAP_HEADER_VERSION,
        registry: bool = False,
    ) -> None:
        self.ledger = ledger
        self.chain = chain
        self.signer = signer
        self.origin = origin
        self.policy = policy or SealPolicy()
        self.checkpoint_path = checkpoint_path
        self.publish_checkpoint = publish_checkpoint
        self.clock = clock
        if header_version not in (HEADER_VERSION, MAP_HEADER_VERSION):
            raise ValueError(f"no header version {header_version}")
        self.header_version = header_version
        self.keeper = SealMap(ledger, chain, header_version=header_version, registry=registry)
        self.headers: list[BlockHeader] = []
        self.accumulator = Accumulator()
        self._log_tree = BlockHashTree()  # grown lazily from headers, for consistency proofs
        self.position = 0
        self.prev_leaves: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self.pending: list[Notification] = []
        self.pending_since = 0.0
        self.sealed_events = 0
        self.conflicts = 0
        #: Called with (seconds, leaves) after each block sealed (metrics).
        self.seal_observers: list[Callable[[float, int], None]] = []
        self.resync()

    @property
    def map(self) -> HeadMap | None:
        """Version 2: the map as the head block left it (None: version 1 headers)."""
        return self.keeper.map

    @property
    def registry(self) -> bool:
        """Enter parties and devices in the map (docs/proof-bundle.md §12); a chain whose
        head block did so keeps doing so whatever this says."""
        return self.keeper.registry

    @registry.setter
    def registry(self, value: bool) -> None:
        self.keeper.registry = value

    @property
    def head_registry(self) -> bool:
        return self.keeper.head_registry

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
        """Seal full batches, and the rest if forced or overdue; returns blocks sealed."""
        sealed = 0
        while self.pending:
            full = len(self.pending) >= self.policy.max_events
            overdue = time.monotonic() - self.pending_since >= self.policy.max_seconds
            if not (full or force or overdue):
                break
            batch = self.pending[: self.policy.max_events]
            try:
                header = self.seal(batch)
            except SealConflict:
                continue  # pending was dropped; the next fetch starts after the new position
            del self.pending[: len(batch)]
            sealed += header is not None
        return sealed

    # ----- sealing ---------------------------------------------------------------------

    def seal(self, notifications: Sequence[Notification]) -> BlockHeader | None:
        """Seal one batch (the next notifications after the position) in one transaction.

        Returns the new header, or ``None`` when the batch held no item event (only the
        position moves). Raises :class:`SealConflict` if another anchor got there first.
        """
        began = time.perf_counter()
        height = len(self.headers)
        sources: list[LeafSource] = []
        for n in notifications:
            if is_item_topic(n.topic):
                source = stored_leaf_source(self.ledger.mapper, n)
                if source is None:
                    event = self.ledger.mapper.to_domain_event(n)
                    item_id, version = str(n.originator_id), n.originator_version
                    source = leaf_source(item_id, version, event)
                sources.append(source)
        leaves = leaf_chain(sources, self._prev_leaf)
        rows = [
            LeafRow(s.item_id, s.version, height, index, leaf)
            for index, (s, leaf) in enumerate(zip(sources, leaves, strict=True))
        ]
        header = block = tree = None
        map_entries: list[EntryRow] | None = None
        map_state: MapState | None = None
        if leaves:
            tree = pack_tree(leaves)
            map_entries = self.keeper.update(self.head, sources, leaves, height, notifications)
            try:
                map_state = self.keeper.state(map_entries)
                header = self._header(height, len(leaves), packed_root(tree), notifications[-1].id)
                items = [(s.item_id, s.version) for s in sources]
                digest = self._records_digest(header.first_notification, notifications)
                block = Block.seal(header, leaves, items, digest, self.keeper.registry_on)
            except BaseException:
                self.keeper.rollback()
                raise
        try:
            self.chain.save_seal(notifications[-1].id, block, rows, tree, map_entries, map_state)
        except IntegrityError as e:
            self.keeper.rollback()
            self.conflicts += 1
            log.warning("another anchor sealed first (%s); reloading the chain", e)
            self.resync()
            raise SealConflict(f"block {height} or position {notifications[-1].id} taken") from e
        except BaseException:
            self.keeper.rollback()
            raise
        self.keeper.commit(sealed_block=header is not None)
        self.position = notifications[-1].id
        for row in rows:
            self._remember(row.item_id, row.version, row.leaf_hash)
        if header is not None:
            self.headers.append(header)
            self.accumulator.append(header.block_hash())
            self.sealed_events += len(leaves)
            self.write_checkpoint()
            for observe in self.seal_observers:
                observe(time.perf_counter() - began, len(leaves))
        return header

    def resync(self) -> None:
        """Load blocks sealed by someone else and the recorded position; drop the batch."""
        for header in self.chain.headers(len(self.headers)):
            expected = self.head.block_hash() if self.head else ZERO_HASH
            if header.height != len(self.headers) or header.prev_hash != expected:
                raise AnchorError(f"block {header.height} does not extend this anchor's chain")
            self.headers.append(header)
            self.accumulator.append(header.block_hash())
        self.position = self.chain.position()
        self.pending = []
        self.keeper.load(self.head)

    def _records_digest(self, first: int, notifications: Sequence[Notification]) -> str:
        """Digest of the ledger records ``first``..the batch's last: those of earlier
        batches that sealed no block (read again here), then the batch's own."""
        digest = RecordsDigest()
        start, stop = first, notifications[0].id - 1
        while start <= stop:
            page = self.ledger.recorder.select_notifications(start=start, limit=PAGE, stop=stop)
            if not page:
                break
            for n in page:
                digest.update(n)
            start = page[-1].id + 1
        for n in notifications:
            digest.update(n)
        return digest.hexdigest()

    def _header(self, height: int, leaf_count: int, root: bytes, last: int) -> BlockHeader:
        head = self.head
        headmap = self.map
        return BlockHeader(
            version=self.header_version,
            height=height,
            prev_hash=head.block_hash() if head else ZERO_HASH,
            merkle_root=root,
            first_notification=head.last_notification + 1 if head else 1,
            last_notification=last,
            leaf_count=leaf_count,
            sealed_at=self.clock(),
            acc_root=self.accumulator.root(),
            acc_size=self.accumulator.size,
            map_root=headmap.root if headmap is not None else None,
            map_size=headmap.size if headmap is not None else None,
        )

    def _prev_leaf(self, item_id: str, version: int) -> bytes:
        cached = self.prev_leaves.get(item_id)
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
