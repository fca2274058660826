"""The head map as the anchor keeps it between seals (:mod:`anchoring.sealer`).

With version 2 headers the map (:mod:`anchoring.headmap`) lives in memory: a block's map
changes (each item's last leaf in the block) are applied before the header is built, the
changed entries saved in the same transaction as the block, and undone in memory if that
transaction fails, so the stored map always matches the stored blocks. The first version 2
block on a chain of version 1 blocks also enters every item anchored so far, so its map
root commits to all of them.

With ``registry`` (from the chain's registry switch on, which the chain records in each
block) the map also holds parties and device keys (:mod:`anchoring.registry`): a block
enters those its notification range touches, the switch block every one recorded so far.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import Notification

from anchoring.chain import Chain
from anchoring.headbands import MapState, state_of
from anchoring.header import MAP_HEADER_VERSION, BlockHeader
from anchoring.headmap import VALUE, MapEntry, item_key
from anchoring.headmap_native import HeadMap
from anchoring.recorders import EntryRow, LeafRow
from anchoring.registry import entries_for, touched_by, touched_in
from ledger.application import CustodyLedger
from ledger.records import LeafSource


class AnchorError(RuntimeError):
    """The chain or its stored map is not one this anchor can seal onto."""


class SealMap:
    """The map as the head block left it, and a block's update of it until saved."""

    def __init__(
        self, ledger: CustodyLedger, chain: Chain, *, header_version: int, registry: bool
    ) -> None:
        self.ledger = ledger
        self.chain = chain
        self.header_version = header_version
        #: Enter parties and devices in the map (docs/proof-bundle.md §12); a chain whose
        #: head block did so keeps doing so whatever this says.
        self.registry = registry
        self.head_registry = False  # the head block entered them
        self.map: HeadMap | None = None  # version 2: the map as the head block left it

    @property
    def registry_on(self) -> bool:
        return self.map is not None and (self.registry or self.head_registry)

    def load(self, head: BlockHeader | None) -> None:
        """The stored map, checked against the head's map_root (version 2 chains)."""
        self._load(head)
        self.head_registry = head is not None and self.chain.block(head.height).registry

    def _load(self, head: BlockHeader | None) -> None:
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

    def update(
        self,
        head: BlockHeader | None,
        sources: Sequence[LeafSource],
        leaves: Sequence[bytes],
        height: int,
        notifications: Sequence[Notification],
    ) -> list[EntryRow] | None:
        """Apply a block's leaves (``leaves[i]`` of ``sources[i]``; after ``head``, up to
        the end of the batch ``notifications``) to the map; the entries to save with the
        block (those it changed, in key order)."""
        if self.map is None:
            return None
        # Leaves enter natively, in one call (their entries are made there, as stored);
        # the first version 2 block's earlier items and registry subjects alongside them.
        others: dict[bytes, MapEntry | bytes] = {}
        if head is not None and head.version != MAP_HEADER_VERSION:
            # The first version 2 block: every item anchored so far enters the map too.
            for row in self.chain.latest_leaves():
                others[item_key(row.item_id)] = _encoded(row)
        if self.registry_on:
            others.update(self._registry_changes(head, height, notifications))
        # Node rows are not stored: the entries are.
        return self.map.enter_leaves(sources, leaves, height, others)

    def _registry_changes(
        self, head: BlockHeader | None, height: int, batch: Sequence[Notification]
    ) -> dict[bytes, MapEntry]:
        """Parties and devices of the block's notification range, which ends with
        ``batch`` (the switch block: all recorded up to there). Only the range before the
        batch (earlier batches that sealed no block, or everything for the switch) is
        read again; the batch's own notifications are in hand."""
        switch = not self.head_registry
        first = 1 if switch or head is None else head.last_notification + 1
        touched = touched_in(self.ledger, first, batch[0].id - 1)
        touched.update(touched_by(self.ledger, batch))
        return entries_for(self.ledger, touched, height, every_device=switch)

    def state(self, entries: Sequence[EntryRow] | None) -> MapState | None:
        """The stored map state after the block :meth:`update` applied (the entries it
        changed, the band rows over them, the head row), to save with it."""
        if self.map is None or entries is None:
            return None
        return state_of(self.map, entries)

    def rollback(self) -> None:
        if self.map is not None:
            self.map.rollback()

    def commit(self, *, sealed_block: bool) -> None:
        """The seal was saved; ``sealed_block``: it made a block (the new head)."""
        if self.map is not None:
            self.map.commit()
        if sealed_block:
            self.head_registry = self.registry_on


def _encoded(row: LeafRow) -> bytes:
    """The entry of ``row``'s leaf, encoded as :meth:`MapEntry.encode` encodes it."""
    assert len(row.leaf_hash) == 32  # struct's "32s" would pad or cut any other length
    return VALUE.pack(row.version, row.leaf_hash, row.height, row.leaf_index)
