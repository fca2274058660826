"""The chain: an event-sourced application whose aggregates are sealed blocks.

Consistency boundary of a ``Block``: one height. Two anchors racing to seal the same
height collide on the block's id and version, so the chain cannot fork; the loser's
transaction (block, tracking position and leaf index) is rolled back whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import ProcessRecorder

from anchoring.header import BlockHeader
from anchoring.recorders import LeafRow, SQLiteChainRecorder
from domain.base import Created as BaseCreated
from domain.base import Event as BaseEvent

LEDGER_TRACKING_NAME = "ledger"


def block_id(height: int) -> str:
    return f"block-{height:012d}"


class Block(BaseAggregate[str]):
    Event = BaseEvent
    Created = BaseCreated

    def __init__(self) -> None:
        self.header_json: dict[str, Any] = {}
        self.leaves: list[str] = []
        self.items: list[list[Any]] = []

    @dataclass(frozen=True)
    class Sealed(BaseCreated):
        header: dict[str, Any]
        leaves: list[str]  # leaf hashes (hex) in leaf-index order
        items: list[list[Any]]  # [item_id, version] of each leaf

        def apply(self, block: Block) -> None:
            block.header_json = self.header
            block.leaves = self.leaves
            block.items = self.items

    @classmethod
    def seal(cls, header: BlockHeader, leaves: list[bytes], items: list[tuple[str, int]]) -> Block:
        return cls._create(
            cls.Sealed,
            id=block_id(header.height),
            header=header.to_json(),
            leaves=[leaf.hex() for leaf in leaves],
            items=[[item, version] for item, version in items],
        )

    @property
    def header(self) -> BlockHeader:
        return BlockHeader.from_json(self.header_json)

    def leaf_hashes(self) -> list[bytes]:
        return [bytes.fromhex(h) for h in self.leaves]


class Chain(Application[str]):
    name = "chain"

    def construct_recorder(self) -> ProcessRecorder:
        if self.env.get("PERSISTENCE_MODULE", "").endswith("sqlite"):
            recorder = SQLiteChainRecorder(datastore=self.factory.datastore)  # type: ignore[attr-defined]
            recorder.create_table()
            return recorder
        return self.factory.process_recorder()

    @property
    def chain_recorder(self) -> SQLiteChainRecorder:
        assert isinstance(self.recorder, SQLiteChainRecorder)
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

    def headers(self) -> list[BlockHeader]:
        """Every block header in height order (notification order = height order)."""
        out: list[BlockHeader] = []
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=1000)
            if not page:
                return out
            for n in page:
                event = self.mapper.to_domain_event(n)
                if isinstance(event, Block.Sealed):
                    out.append(BlockHeader.from_json(event.header))
            start = page[-1].id + 1

    def head(self) -> BlockHeader | None:
        last = self.recorder.max_notification_id()
        if not last:
            return None
        (n,) = self.recorder.select_notifications(start=last, limit=1)
        event = self.mapper.to_domain_event(n)
        assert isinstance(event, Block.Sealed)
        return BlockHeader.from_json(event.header)

    def leaves_for(self, item_id: str) -> list[LeafRow]:
        return self.chain_recorder.leaves_for(item_id)

    def leaf(self, item_id: str, version: int) -> LeafRow | None:
        return self.chain_recorder.leaf(item_id, version)
