"""The anchor: follows the ledger's notification log and seals Merkle batches into blocks.

Exactly once: a block, the ledger position it covers and its two indexes are saved in one
chain transaction; on start the anchor resumes after the recorded position. A batch is
sealed every ``max_events`` events or ``max_seconds`` after its first event arrived.
After each seal the new head is published as a signed checkpoint.

Blocks cover contiguous ranges of the notification log: a block's ``first_notification``
is one past the previous block's ``last_notification``, even when notifications without
item events (parties, devices, tag claims) were passed over in between, so ``audit`` can
account for every notification. The block event also stores ``records_digest``
(:class:`anchoring.chain.RecordsDigest`) of every ledger record in that range as stored,
leafless ones and those of earlier leafless batches included, so ``audit`` can vouch for
bytes no leaf covers (e.g. eventsourcing's ``timestamp``).

With version 2 headers (the default) the anchor keeps the head map
(:mod:`anchoring.headmap`) in memory: a block's map changes (each item's last leaf in the
block) are applied before the header is built, saved in the same transaction as the block,
and undone in memory if that transaction fails, so the stored map always matches the stored
blocks. The first version 2 block on a chain of version 1 blocks also enters every item
anchored so far, so its map root commits to all of them.

With ``registry`` (from the chain's registry switch on, which the chain records in each
block) the map also holds parties and device keys (:mod:`anchoring.registry`): a block
enters those its notification range touches, the switch block every one recorded so far.

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
from anchoring.chain import Block, Chain, RecordsDigest
from anchoring.checkpoint import Checkpoint, Signer, sign_checkpoint
from anchoring.checkpoint_file import write_checkpoint_file
from anchoring.header import HEADER_VERSION, MAP_HEADER_VERSION, BlockHeader
from anchoring.headmap import MapEntry, MapRow, item_key
from anchoring.headmap_native import HeadMap
from anchoring.leaves import ZERO_HASH, leaf_chain
from anchoring.logtree import BlockHashTree
from anchoring.merkle import pack_tree, packed_root
from anchoring.recorders import LeafRow
from anchoring.registry import entries_for, touched_in
from ledger.application import CustodyLedger
from ledger.records import LeafSource, is_item_topic, leaf_source

log = logging.getLogger(__name__)

PAGE = 1000
PREV_LEAF_CACHE = 200_000


class AnchorError(RuntimeError):
    pass


class SealConflict(AnchorError):
    """Another anchor sealed first; this one has reloaded the chain and drops its batch."""


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
        #: Enter parties and devices in the map (docs/proof-bundle.md §12); a chain whose
        #: head block did so keeps doing so whatever this says.
        self.registry = registry
        self.head_registry = False  # the head block entered them
        self.map: HeadMap | None = None  # version 2: the map as the head block left it
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
                event = self.ledger.mapper.to_domain_event(n)
                item_id, version = str(n.originator_id), n.originator_version
                sources.append(leaf_source(item_id, version, event))
        leaves = leaf_chain(sources, self._prev_leaf)
        rows = [
            LeafRow(s.item_id, s.version, height, index, leaf)
            for index, (s, leaf) in enumerate(zip(sources, leaves, strict=True))
        ]
        header = block = tree = None
        map_rows: Sequence[MapRow] | None = None
        if leaves:
            tree = pack_tree(leaves)
            map_rows = self._update_map(rows, height, notifications[-1].id)
            try:
                header = self._header(height, len(leaves), packed_root(tree), notifications[-1].id)
                items = [(s.item_id, s.version) for s in sources]
                digest = self._records_digest(header.first_notification, notifications)
                block = Block.seal(header, leaves, items, digest, self._registry_on)
            except BaseException:
                self._rollback_map()
                raise
        try:
            self.chain.save_seal(notifications[-1].id, block, rows, tree, map_rows)
        except IntegrityError as e:
            self._rollback_map()
            self.conflicts += 1
            log.warning("another anchor sealed first (%s); reloading the chain", e)
            self.resync()
            raise SealConflict(f"block {height} or position {notifications[-1].id} taken") from e
        except BaseException:
            self._rollback_map()
            raise
        if self.map is not None:
            self.map.commit()
        self.position = notifications[-1].id
        for row in rows:
            self._remember(row.item_id, row.version, row.leaf_hash)
        if header is not None:
            self.head_registry = self._registry_on
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
        self._load_map()
        head = self.head
        self.head_registry = head is not None and self.chain.block(head.height).registry

    # ----- the head map ----------------------------------------------------------------

    def _load_map(self) -> None:
        """The stored map, checked against the head's map_root (version 2 chains)."""
        head = self.head
        if self.header_version != MAP_HEADER_VERSION:
            if head is not None and head.version == MAP_HEADER_VERSION:
                raise AnchorError("this chain seals version 2 headers; it cannot go back to 1")
            return
        if self.map is not None and self.map.height == (head.height if head else -1):
            return
        if head is None or head.version != MAP_HEADER_VERSION:
            self.map = HeadMap()
            self.map.height = head.height if head else -1
            return
        # As the head left it: another anchor may have sealed more since the headers were read.
        stored = self.chain.head_map(head.height)
        if stored.height != head.height or stored.root != head.map_root:
            raise AnchorError(
                f"the stored head map (block {stored.height}) does not match block {head.height}"
            )
        self.map = stored

    def _update_map(
        self, rows: Sequence[LeafRow], height: int, last: int
    ) -> Sequence[MapRow] | None:
        """Apply a block's leaves to the map; the rows to save with the block."""
        if self.map is None:
            return None
        changes: dict[bytes, MapEntry] = {}
        head = self.head
        if head is not None and head.version != MAP_HEADER_VERSION:
            # The first version 2 block: every item anchored so far enters the map too.
            for row in self.chain.latest_leaves():
                changes[item_key(row.item_id)] = _entry(row)
        for row in rows:  # in leaf order, so an item's last leaf in the block wins
            changes[item_key(row.item_id)] = _entry(row)
        if self._registry_on:
            changes.update(self._registry_changes(height, last))
        return self.map.update(changes, height)

    @property
    def _registry_on(self) -> bool:
        return self.map is not None and (self.registry or self.head_registry)

    def _registry_changes(self, height: int, last: int) -> dict[bytes, MapEntry]:
        """Parties and devices of the block's notification range, ``last`` its end (the
        switch block: all recorded up to there)."""
        head = self.head
        switch = not self.head_registry
        first = 1 if switch or head is None else head.last_notification + 1
        return entries_for(self.ledger, touched_in(self.ledger, first, last), height,
                           every_device=switch)  # fmt: skip

    def _rollback_map(self) -> None:
        if self.map is not None:
            self.map.rollback()

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

    # ----- checkpoints -----------------------------------------------------------------

    def log_root(self) -> bytes:
        """The version 2 checkpoint root: RFC 9162 MTH of block hashes 0..head height.

        That is the accumulator with the head appended (a header's own ``acc_root`` stops
        before it), so witnesses can check consistency between any two checkpoints.
        """
        return self.accumulator.root()

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from the ``old_size``-block log to ``new_size``
        (default: up to the head), for witnesses holding an older checkpoint."""
        tree = self._log_tree
        for header in self.headers[tree.size :]:
            tree.append(header.block_hash())
        return tree.consistency_proof(old_size, tree.size if new_size is None else new_size)

    def checkpoint_text(self) -> str | None:
        """The signed checkpoint: size = blocks; root = :meth:`log_root` (version 2) once
        the head is a version 2 block. A chain still sealing version 1 headers signs
        version 1 checkpoints (root = the head block's hash), the only kind a version 1
        head's bundles can carry."""
        head = self.head
        if head is None:
            return None
        if self.accumulator.size != head.height + 1:
            raise AnchorError(f"the accumulator has {self.accumulator.size} blocks, not the head's")
        root = self.log_root() if head.version == MAP_HEADER_VERSION else head.block_hash()
        return sign_checkpoint(Checkpoint(self.origin, head.height + 1, root), self.signer)

    def write_checkpoint(self) -> None:
        text = self.checkpoint_text()
        if text is None:
            return
        if self.checkpoint_path is not None:
            write_checkpoint_file(self.checkpoint_path, text)
        if self.publish_checkpoint is not None:
            self.publish_checkpoint(text)


def _entry(row: LeafRow) -> MapEntry:
    return MapEntry(row.version, row.leaf_hash, row.height, row.leaf_index)
