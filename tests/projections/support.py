"""Helpers for the projection tests: a ledger and chain fed directly (no Kafka)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.sealer import Anchor
from domain.custody import CustodyEvent
from ledger.application import CustodyLedger, Decision, Report
from ledger.config import store_env
from projections.schema import content_tables
from streams.envelope import seal
from streams.keys import DeviceKey
from tests.support import make_world


@dataclass
class Store:
    """The event store and chain of one test, in ``root``."""

    root: Path
    ledger: CustodyLedger
    chain: Chain
    keys: dict[str, DeviceKey]

    def record(self, events: Iterable[CustodyEvent]) -> list[Decision]:
        """One ledger batch of signed reports, then anchored into one block."""
        reports = [Report(e, seal(e, self.keys[e.party_id])) for e in events]
        decisions = self.ledger.process(reports, None)
        self.anchor()
        return decisions

    def anchor(self) -> None:
        Anchor(self.ledger, self.chain, Signer.generate("test"), origin="test").catch_up()

    def reopen(self) -> Store:
        """Fresh application objects over the same files (as another process would)."""
        return Store(self.root, *open_apps(self.root), self.keys)


def open_apps(root: Path) -> tuple[CustodyLedger, Chain]:
    ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
    return ledger, Chain(store_env("", root / "chain.sqlite"))


def make_store(root: Path) -> Store:
    world = make_world(root)
    return Store(root, world.ledger, Chain(store_env("", root / "chain.sqlite")), world.keys)


def contents(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every content table as a sorted list of rows (duplicates kept)."""
    return {
        name: sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
        for name in content_tables()
    }


def rows(con: duckdb.DuckDBPyConnection, query: str, *params: object) -> list[tuple[Any, ...]]:
    return con.execute(query, list(params)).fetchall()
