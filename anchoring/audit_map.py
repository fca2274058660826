"""The audit of the head map: every version 2 block's ``map_root`` and ``map_size``, and
the map entries it stored, recomputed from the leaves the audit recomputed from the ledger.

The map is rebuilt block by block exactly as the anchor builds it (docs/proof-bundle.md
§10.1): an item's entry is its last leaf in the block; the first version 2 block also
enters every item anchored in the version 1 blocks before it. The stored entries of a block
must be exactly the entries the rebuild enters, so an edited, added or missing entry is
found, with its block.
From the chain's registry switch on, a block's changes also hold the parties and devices
of its range (``registry``, derived by :mod:`anchoring.registry` from the ledger).
At the end (:meth:`MapAudit.finish`) the stored map state (:mod:`anchoring.headbands`:
current entries, band rows, head row) must be exactly the state of the rebuilt map.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from assay_headmap import band_rows as native_band_rows

from anchoring.audit_records import Divergence
from anchoring.headbands import HEAD_ID, BandRow, state_of
from anchoring.header import MAP_HEADER_VERSION, BlockHeader
from anchoring.headmap import MapEntry, item_key
from anchoring.headmap_native import HeadMap
from anchoring.recorders import MapStateStore, MapStore

#: Current entries the audit reads at a time.
STATE_PAGE = 10_000


class MapAudit:
    def __init__(self, store: object) -> None:
        self.map = HeadMap()
        self.store = store if isinstance(store, MapStore) else None
        self.state_store = store if isinstance(store, MapStateStore) else None
        self.started = False  # a version 2 block was seen
        self.before: dict[bytes, MapEntry] = {}  # items of the version 1 blocks

    def block(
        self,
        header: BlockHeader,
        items: list[tuple[str, int]],
        leaves: list[bytes],
        registry: Mapping[bytes, MapEntry] | None = None,
    ) -> None:
        """Check one block, given its (item, version) list and leaves as recomputed, and
        the party and device entries it must enter (from the registry switch on)."""
        height = header.height
        if header.version != MAP_HEADER_VERSION:
            if registry is not None:
                raise Divergence(f"block {height} is a version 1 header that enters parties")
            if self.started:
                raise Divergence(f"block {height} is a version 1 header after version 2 ones")
            self.before.update(block_changes(items, leaves, height))
            return
        others: dict[bytes, MapEntry] = {}
        if not self.started:
            others, self.before = self.before, {}
            self.started = True
        if registry is not None:  # (party and device keys: never an item's)
            others = {**others, **registry}
        # block_changes(items, leaves, height) entered over the others, in one native call
        entered = self.map.enter_leaves(items, leaves, height, others)
        self.map.commit()
        assert header.map_root is not None
        if not hmac.compare_digest(self.map.root, header.map_root):
            raise Divergence(
                f"block {height}: map_root {header.map_root.hex()} is not the root of the map "
                f"recomputed from the ledger ({self.map.root.hex()}): the first wrong map root"
            )
        if header.map_size != self.map.size:
            raise Divergence(
                f"block {height}: map_size {header.map_size} differs from the {self.map.size} "
                "items anchored up to it"
            )
        if self.store is not None:
            self._check_entries(height, entered)

    def _check_entries(self, height: int, expected: list[tuple[bytes, bytes]]) -> None:
        """The block's stored map entries against the entered ones (in key order)."""
        assert self.store is not None
        stored = self.store.map_entries_at(height)
        if stored == expected:
            return
        wanted = dict(expected)
        for key, value in stored:
            if wanted.get(key) != value:
                raise Divergence(
                    f"block {height}: stored map entry {key.hex()} differs from the map "
                    "recomputed from the ledger (map entries altered)"
                )
        missing = next(key for key, _ in expected if (key, wanted[key]) not in stored)
        raise Divergence(f"block {height}: map entry {missing.hex()} was not stored")

    def finish(self) -> None:
        """Check the stored map state against the map rebuilt up to the newest block: a
        page of entries at a time (memory bounded by the page, not the map); on any
        difference, the whole state is read again to name the first wrong row."""
        if self.state_store is None or (self.started and self._state_matches()):
            return
        bands, entries = self.state_store.map_state_all()
        if not self.started:
            if bands or entries:
                raise Divergence("the chain has no head map, yet a stored map state")
            return
        expected = state_of(self.map, None)
        wanted = [expected.head, *(r for r in expected.bands if r.hash is not None)]
        if bands != sorted(wanted, key=lambda r: r.id):
            have = {r.id: r for r in bands}
            for row in wanted:
                if have.pop(row.id, None) != row:
                    raise Divergence(f"stored map state: {_band_name(row.id)} {_ALTERED}")
            raise Divergence(f"stored map state: {_band_name(min(have))} should not exist")
        if entries != list(expected.entries):
            have_entries = dict(entries)
            for key, value in expected.entries:
                if have_entries.pop(key, None) != value:
                    raise Divergence(f"stored map state: current entry {key.hex()} {_ALTERED}")
            extra = min(have_entries).hex()
            raise Divergence(f"stored map state: current entry {extra} is in no block's changes")

    def _state_matches(self) -> bool:
        """Whether the stored state is exactly the rebuilt map's: every stored entry is the
        map's entry under its key, there are as many as the map holds (keys are read in
        strictly increasing order, so no key twice), and the band and head rows are those
        over these keys (:func:`~anchoring.headbands.state_of`, one page at a time)."""
        assert self.state_store is not None
        core = self.map._core
        bands: dict[int, BandRow] = {}
        count, after = 0, b""
        while page := self.state_store.map_state_entries(after, STATE_PAGE):
            for key, value in page:
                if core.get(key) != value:
                    return False
            count += len(page)
            after = page[-1][0]
            keys = [key for key, _ in page]
            bands.update((r[0], BandRow(*r)) for r in native_band_rows(core, keys))
        if count != self.map.size:
            return False
        head = state_of(self.map, []).head
        wanted = [head, *(r for r in bands.values() if r.hash is not None)]
        return self.state_store.map_state_bands() == sorted(wanted, key=lambda r: r.id)


def block_changes(
    items: list[tuple[str, int]], leaves: list[bytes], height: int
) -> dict[bytes, MapEntry]:
    """The map entries a block's leaves make (an item's last leaf of the block wins): the
    reference for :meth:`HeadMap.enter_leaves <anchoring.headmap_native.HeadMap.enter_leaves>`
    of the same pairs (tests/anchoring/test_audit_map.py binds the two)."""
    return {
        item_key(item_id): MapEntry(version, leaf, height, index)
        for index, ((item_id, version), leaf) in enumerate(zip(items, leaves, strict=True))
    }


_ALTERED = "differs from the map recomputed from the ledger (map state altered)"


def _band_name(i: int) -> str:
    if i == HEAD_ID:
        return "the head row (height, size, root)"
    depth = i >> 16
    return f"band row {i & 0xFFFF:0{depth // 4}x} (depth {depth})"
