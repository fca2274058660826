"""A data dir as the pipeline leaves it: ledger events, sealed blocks, a signed checkpoint.

Kafka is not needed: reports go to the ledger as ingest would hand them over, and the
anchor is the real one (``runtime.make_anchor``) sealing several blocks, so bundles carry
accumulator proofs, a flag with its evidence envelope, a v1-schema envelope, positions
and attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from anchoring.prove import Prover
from assay import runtime
from assay.settings import Settings
from domain.custody import CustodyEvent
from ledger.application import Report
from streams.envelope import seal
from streams.keys import DeviceKey
from tests.support import T0, World, custody, make_world, story_events

ITEM = "urn:epc:id:sgtin:0614141.107346.2017"
GINZA: dict[str, Any] = {"latitude": 35.6717, "longitude": 139.7650}


@dataclass
class Store:
    settings: Settings
    world: World
    item_id: str = ITEM

    @property
    def key_text(self) -> str:
        return runtime.platform_verifier_path(self.settings).read_text().strip()

    def bundle(self, item_id: str | None = None) -> dict[str, Any]:
        prover = Prover(
            self.world.ledger,
            runtime.open_chain(self.settings),
            self.settings.checkpoint_path.read_text(),
        )
        return prover.prove(item_id or self.item_id)

    def record(self, *events: CustodyEvent, schema_version: int | None = None) -> None:
        for event in events:
            key = self.world.keys[event.party_id]
            envelope = seal(event, key, schema_version=schema_version)
            self.world.ledger.process([Report(event, envelope)], None)

    def anchor(self) -> None:
        ledger, chain = self.world.ledger, runtime.open_chain(self.settings)
        runtime.make_anchor(self.settings, ledger, chain).catch_up()


def event(n: int, kind: str, party: str, item: str = ITEM, **details: object) -> CustodyEvent:
    at = T0 + timedelta(hours=n, microseconds=n * 1001)
    return custody(
        n, kind, party, item, location=f"urn:epc:id:sgln:{party}.0", occurred_at=at, **details
    )


def ten_event_story(item: str = ITEM) -> list[CustodyEvent]:
    """Registered, authenticated, shipped twice, sold, a clone scanned, returned: 10 events."""
    return [
        event(1, "commissioning", "brand", item, tag_uid="TAG-7", brand="Maison Aurel",
              model="Lune 28", serial="2017"),
        event(2, "inspecting", "lab", item, verdict="genuine", certificate="CERTA-2017"),
        event(3, "shipping", "brand", item, counterparty="dc"),
        event(4, "receiving", "dc", item),
        event(5, "shipping", "dc", item, counterparty="ginza"),
        event(6, "receiving", "ginza", item, **GINZA),
        event(7, "observing", "ginza", item, attributes={"shelf": "A3", "état": "neuf"}, **GINZA),
        event(8, "retail_selling", "ginza", item, buyer_ref="buyer-7f3a"),
        event(9, "observing", "osaka", item),  # after the sale: flagged scan_after_sale
        event(10, "returning", "ginza", item),
    ]  # fmt: skip


def store_settings(data_dir: Path, header_version: int) -> Settings:
    return Settings(
        data_dir=data_dir,
        checkpoint_origin="assay.example/custody-log",
        block_header_version=header_version,
    )


# The page's verifier reads format version 1 until its version 2 side (docs/proof-bundle.md
# §10) lands: the stores its tests read seal version 1 headers meanwhile (the default here).
# Make 2 the default when it does.
PAGE_HEADER_VERSION = 1


def build_store(data_dir: Path, header_version: int = PAGE_HEADER_VERSION) -> Store:
    """Four blocks: the story's events spread over blocks 0-2, block 3 for another item."""
    settings = store_settings(data_dir, header_version)
    store = Store(settings, make_world(data_dir))
    story = ten_event_story()
    other = story_events("urn:item:other", "TAG-OTHER")
    store.record(story[0], schema_version=1)  # an old scanner: custody_event v1
    store.record(*story[1:4], *other[:2])
    store.anchor()
    store.record(*story[4:8], *other[2:4])
    store.anchor()
    store.record(*story[8:])
    store.anchor()
    store.record(*other[4:])
    store.anchor()
    return store


CORRECTED_ITEM = "urn:epc:id:sgtin:0614141.107346.2018"


def build_corrected_store(data_dir: Path) -> Store:
    """Commissioned, shipped to the wrong store and received there; the shipping declared in
    error by its shipper (the receipt rested on it: flagged). Two blocks. Osaka also has a
    key enrolled effective from a year before T0 (for migrating its history)."""
    settings = store_settings(data_dir, PAGE_HEADER_VERSION)
    store = Store(settings, make_world(data_dir), CORRECTED_ITEM)
    store.world.ledger.enrol_device(
        "osaka",
        "osaka-migration",
        DeviceKey.generate("osaka", "osaka-migration").public_key_hex,
        at=T0,
        effective_from=T0 - timedelta(days=365),
    )
    item = CORRECTED_ITEM
    store.record(
        event(1, "commissioning", "brand", item, tag_uid="T-8", brand="B", model="M",
              serial="2018"),
        event(2, "shipping", "brand", item, counterparty="osaka"),
        event(3, "receiving", "osaka", item),
    )  # fmt: skip
    store.anchor()
    store.record(
        event(4, "error_declaration", "brand", item, declared_event_id=f"{item}#e2",
              error_reason="incorrect_data", corrective_event_ids=[f"{item}#e5"]),
    )  # fmt: skip
    store.anchor()
    return store
