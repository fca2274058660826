"""The chain: an event-sourced application whose aggregates are sealed blocks.

Consistency boundary of a ``Block``: one height. Two anchors racing to seal the same
height collide on the block's id and version (and on the block index's primary key), so
the chain cannot fork; the loser's transaction (block, tracking position and both
indexes) is rolled back whole.

A block event also stores ``records_digest``: SHA-256 over every ledger record of the
block's notification range as stored (id, originator id and version, topic, state
bytes — so the ``timestamp`` eventsourcing keeps inside the state too), including
records that make no leaf (party events, tag claims). It is outside the signed header
and the leaves (proof bundles and offline verification do not see it); ``audit``
recomputes it. Blocks sealed before it existed have none (``None``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import ProcessRecorder, Tracking

from anchoring.chain_mapstate import build_state, proof_from_state, state_height
from anchoring.headbands import MapState
from anchoring.header import BlockHeader
from anchoring.headmap import MapEntry, MapProof
from anchoring.headmap_native import HeadMap
from anchoring.merkle import pack_tree
from anchoring.recorders import (
    BlockIndex,
    BlockRow,
    EntryRow,
    LeafIndex,
    LeafRow,
    MapStore,
    SQLiteChainRecorder,
)
from domain.base import Created as BaseCreated
from domain.base import Event as BaseEvent
from ledger.config import schema_lock

LEDGER_TRACKING_NAME = "ledger"
PAGE = 1000
#: Blocks whose map entries :meth:`Chain.head_map` reads and applies at a time.
MAP_LOAD_BLOCKS = 64


def block_id(height: int) -> str:
    return f"block-{height:012d}"


class Block(BaseAggregate[str]):
    Event = BaseEvent
    Created = BaseCreated

    def __init__(self) -> None:
        self.header_json: dict[str, Any] = {}
        self.leaves: list[str] = []
        self.items: list[list[Any]] = []
        self.records_digest: str | None = None
        self.registry = False

    @dataclass(frozen=True)
    class Sealed(BaseCreated):
        header: dict[str, Any]
        leaves: list[str]  # leaf hashes (hex) in leaf-index order
        items: list[list[Any]]  # [item_id, version] of each leaf
        # RecordsDigest (hex) of the ledger records first..last_notification; absent from
        # blocks sealed before it existed (decoded, the class default None stands in).
        records_digest: str | None = None
        # True from the chain's registry switch on: the block's map changes hold its range's
        # parties and devices (anchoring/registry.py); False (the default) before.
        registry: bool = False

        def apply(self, block: Block) -> None:
            block.header_json = self.header
            block.leaves = self.leaves
            block.items = self.items
            block.records_digest = self.records_digest
            block.registry = self.registry

    @classmethod
    def seal(
        cls,
        header: BlockHeader,
        leaves: list[bytes],
        items: list[tuple[str, int]],
        records_digest: str | None = None,
        registry: bool = False,
    ) -> Block:
        return cls._create(
            cls.Sealed,
            id=block_id(header.height),
            # The event's own timestamp is the signed header's sealed_at, so the audit can
            # check it too (nothing else in the chain store is outside a hash or signature).
            timestamp=sealed_at_time(header.sealed_at),
            header=header.to_json(),
            leaves=[leaf.hex() for leaf in leaves],
            items=[[item, version] for item, version in items],
            records_digest=records_digest,
            registry=registry,
        )

    @property
    def header(self) -> BlockHeader:
        return BlockHeader.from_json(self.header_json)

    def leaf_hashes(self) -> list[bytes]:
        return [bytes.fromhex(h) for h in self.leaves]


def block_row(header: BlockHeader, tree: bytes) -> BlockRow:
    header_json = json.dumps(header.to_json(), separators=(",", ":"))
    return BlockRow(header.height, header.block_hash(), header_json, tree)


def header_from_row(header_json: str) -> BlockHeader:
    return BlockHeader.from_json(json.loads(header_json))


# ----- the application -------------------------------------------------------------------


def sealed_at_time(sealed_at: str) -> datetime:
    """A header's ``sealed_at`` (``…T…Z``, microseconds) as an aware UTC datetime."""
    return datetime.fromisoformat(sealed_at.removesuffix("Z")).replace(tzinfo=UTC)


class Chain(Application[str]):
    name = "chain"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        with schema_lock(env or {}):  # N processes may start together
            super().__init__(env)
            if isinstance(self.recorder, MapStore):  # once, whoever opens an older dir first
                self.recorder.migrate_map_nodes()
            self._backfill_block_index()
            build_state(self.recorder, self._map_root, self.head_map)
        self._map_lock = threading.Lock()
        self._map: HeadMap | None = None  # the map as some block left it, for proofs

    def construct_recorder(self) -> ProcessRecorder:
        if self.env.get("PERSISTENCE_MODULE", "").endswith("sqlite"):
            recorder = SQLiteChainRecorder(datastore=self.factory.datastore)  # type: ignore[attr-defined]
            recorder.create_table()
            return recorder
        from anchoring.recorders_postgres import PostgresChainRecorder

        recorder_pg = PostgresChainRecorder(datastore=self.factory.datastore)  # type: ignore[attr-defined]
        recorder_pg.create_table()
        return recorder_pg

    def save_seal(
        self,
        position: int,
        block: Block | None,
        leaf_rows: list[LeafRow],
        tree: bytes | None,
        map_entries: Sequence[EntryRow] | None = None,
        map_state: MapState | None = None,
    ) -> None:
        """Save a seal in one transaction: the anchor's new ledger position, and the block
        with its leaf and block index rows (none when the batch held no item event) and
        the head map entries it changed, in key order, and the map state after it
        (version 2 headers).

        Raises eventsourcing's ``IntegrityError`` if another anchor sealed that height or
        recorded that position first; nothing is saved then.
        """
        processing: ProcessingEvent[str] = ProcessingEvent(Tracking(LEDGER_TRACKING_NAME, position))
        if block is not None:
            assert tree is not None
            height = block.header.height
            processing.collect_events(
                block,
                leaf_rows=leaf_rows,
                block_rows=[block_row(block.header, tree)],
                map_entries=(height, map_entries) if map_entries else None,
                map_state=map_state,
            )
        self._record(processing)

    @property
    def index(self) -> LeafIndex:
        if not isinstance(self.recorder, LeafIndex):
            raise TypeError(f"{type(self.recorder).__name__} keeps no leaf index")
        return self.recorder

    def position(self) -> int:
        """Last ledger notification id the anchor has consumed (0: none)."""
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder.max_tracking_id(LEDGER_TRACKING_NAME) or 0

    def block(self, height: int) -> Block:
        try:
            block: BaseAggregate[str] = self.repository.get(block_id(height))
        except AggregateNotFoundError:
            raise LookupError(f"no block at height {height}") from None
        assert isinstance(block, Block)
        return block

    def sealed_blocks(self, start_height: int = 0) -> Iterator[Block.Sealed]:
        """Block events in height order (the notification log holds nothing else)."""
        start = start_height + 1  # notification ids start at 1; a fast first guess
        while True:
            page = self.recorder.select_notifications(start=start, limit=PAGE)
            if not page:
                return
            for n in page:
                event = self.mapper.to_domain_event(n)
                if isinstance(event, Block.Sealed) and event.header["height"] >= start_height:
                    yield event
            start = page[-1].id + 1

    def headers(self, start: int = 0) -> list[BlockHeader]:
        """Block headers from height ``start`` on, in height order."""
        if isinstance(self.recorder, BlockIndex):
            return [header_from_row(text) for _, text in self.recorder.header_rows(start)]
        return [BlockHeader.from_json(e.header) for e in self.sealed_blocks(start)]

    def block_hashes(self, start: int = 0) -> list[bytes]:
        if isinstance(self.recorder, BlockIndex):
            return self.recorder.block_hashes(start)
        return [h.block_hash() for h in self.headers(start)]

    def block_rows(self, heights: Iterable[int]) -> dict[int, BlockRow]:
        """Hash, header JSON and packed Merkle tree of each wanted block."""
        wanted = set(heights)
        if isinstance(self.recorder, BlockIndex):
            return self.recorder.block_rows(wanted)
        out = {}
        for height in wanted:
            block = self.block(height)
            out[height] = block_row(block.header, pack_tree(block.leaf_hashes()))
        return out

    def head(self) -> BlockHeader | None:
        last = self.recorder.max_notification_id()
        if not last:
            return None
        (n,) = self.recorder.select_notifications(start=last, limit=1)
        event = self.mapper.to_domain_event(n)
        assert isinstance(event, Block.Sealed)
        return BlockHeader.from_json(event.header)

    def leaves_for(self, item_id: str) -> list[LeafRow]:
        return self.index.leaves_for(item_id)

    # ----- the head map ----------------------------------------------------------------

    @property
    def map_store(self) -> MapStore:
        if not isinstance(self.recorder, MapStore):
            raise TypeError(f"{type(self.recorder).__name__} keeps no head map")
        return self.recorder

    def head_map(self, height: int | None = None) -> HeadMap:
        """The head map as block ``height`` (default: the newest) left it, rebuilt from the
        stored entries; empty before any version 2 block."""
        if height is None:
            head = self.head()
            height = head.height if head is not None else -1
        return self._advance(None, height)

    def _advance(self, m: HeadMap | None, height: int) -> HeadMap:
        """``m`` (None: an empty map) brought forward to block ``height``."""
        after = -1 if m is None else m.height  # block heights start at 0
        m = HeadMap() if m is None else m
        # In height order, MAP_LOAD_BLOCKS blocks' entries at a time: a key's last entry
        # wins (in a window and across them), and memory holds one window's rows, not every
        # entry the chain ever stored (issue 19). The map takes the encoded values as stored.
        while after < height:
            upto = min(after + MAP_LOAD_BLOCKS, height)
            changes = dict(self.map_store.map_entries_between(after, upto))
            if changes:
                m.apply(changes, upto)
                m.commit()
            after = upto
        m.height = height
        return m

    def _map_at(self, height: int) -> HeadMap:
        """The process's map as block ``height`` left it (call with ``_map_lock`` held):
        brought forward as provers ask for newer heights, rebuilt for an older one, and
        checked against the block's ``map_root`` before it answers any proof."""
        m = self._map
        if m is not None and m.height == height:
            return m
        self._map = None
        m = self._advance(m if m is not None and m.height < height else None, height)
        if self._map_root(height) != m.root:
            raise LookupError(f"the stored map entries do not give block {height}'s map root")
        self._map = m
        return m

    def _map_root(self, height: int) -> bytes | None:
        if isinstance(self.recorder, BlockIndex):
            rows = self.recorder.header_rows(height)[:1]  # the header alone, not the tree
            return header_from_row(rows[0][1]).map_root if rows else None
        try:
            return self.block(height).header.map_root
        except LookupError:
            return None

    def load_map(self, height: int) -> None:
        """Rebuild (or bring forward) the process's map to block ``height`` now, so that the
        first proof does not wait for it; LookupError as :meth:`map_proof_at`."""
        with self._map_lock:
            self._map_at(height)

    def map_state_at(self, height: int) -> bool:
        """Whether proofs at ``height`` are answered from the stored map state (no rebuild)."""
        return state_height(self.recorder) == height

    def map_proof_at(self, key: bytes, height: int) -> tuple[MapEntry | None, MapProof]:
        """The key's entry and proof in the map as block ``height`` left it: from the
        stored state when it stands at ``height``, else from the map rebuilt in memory."""
        stored = proof_from_state(self.recorder, self._map_root, key, height)
        if stored is not None:
            return stored
        with self._map_lock:
            return self._map_at(height).prove(key)

    def latest_leaves(self) -> list[LeafRow]:
        """The newest anchored leaf of every item (to start the map on a version 1 chain)."""
        return self.map_store.latest_leaves()

    def leaf(self, item_id: str, version: int) -> LeafRow | None:
        return self.index.leaf(item_id, version)

    def _backfill_block_index(self) -> None:
        """Index blocks sealed before ``anchored_blocks`` existed (older data dirs)."""
        recorder = self.recorder
        if not isinstance(recorder, BlockIndex):
            return
        indexed = recorder.indexed_blocks()
        # Block h has notification id >= h + 1, so this is cheap and never misses one.
        if (self.recorder.max_notification_id() or 0) <= indexed:
            return
        rows = []
        for sealed in self.sealed_blocks(indexed):
            header = BlockHeader.from_json(sealed.header)
            rows.append(block_row(header, pack_tree([bytes.fromhex(h) for h in sealed.leaves])))
        recorder.add_block_rows(rows)
