"""A store of items in the states a buyer's page must tell apart, made by the real pipeline.

The demo bag (flagged: scanned by another store after its sale), a clean genuine bag that
was sold, a bag reported stolen, one never authenticated with a newer event not sealed
yet, and one whose shipping was declared in error (a correction). Used by the page tests,
``bench.browser_shots`` and ``bench/bench_passport.py``.
"""

from __future__ import annotations

from pathlib import Path

from tests.server.stores import (
    ITEM,
    PAGE_HEADER_VERSION,
    Store,
    event,
    store_settings,
    ten_event_story,
)
from tests.support import make_world

FLAGGED = ITEM
GENUINE = "urn:epc:id:sgtin:0614141.107346.2018"
STOLEN = "urn:epc:id:sgtin:0614141.107346.3001"
UNINSPECTED = "urn:epc:id:sgtin:0614141.107346.4001"
CORRECTED = "urn:epc:id:sgtin:0614141.107346.5001"
UNKNOWN = "urn:epc:id:sgtin:0614141.107346.9999"
BUYER_REFS = ("buyer-7f3a", "buyer-51c2")


def _bag(tag: str, model: str, serial: str) -> dict[str, str]:
    return {"tag_uid": tag, "brand": "Maison Aurel", "model": model, "serial": serial}


def build_passports(data_dir: Path) -> Store:
    """Three blocks; UNINSPECTED's last event is recorded after the last one (pending)."""
    settings = store_settings(data_dir, PAGE_HEADER_VERSION)
    store = Store(settings, make_world(data_dir))
    genuine = [
        event(1, "commissioning", "brand", GENUINE, **_bag("TAG-8", "Lune 24", "2018")),
        event(2, "inspecting", "lab", GENUINE, verdict="genuine", certificate="CERTA-2018"),
        event(3, "shipping", "brand", GENUINE, counterparty="ginza"),
        event(4, "receiving", "ginza", GENUINE),
        event(5, "retail_selling", "ginza", GENUINE, buyer_ref=BUYER_REFS[1]),
    ]
    stolen = [
        event(1, "commissioning", "brand", STOLEN, **_bag("TAG-31", "Céleste 30", "3001")),
        event(2, "inspecting", "lab", STOLEN, verdict="genuine", certificate="CERTA-3001"),
        event(3, "shipping", "brand", STOLEN, counterparty="ginza"),
        event(4, "receiving", "ginza", STOLEN),
        event(5, "decommissioning", "ginza", STOLEN, reason="stolen"),
    ]
    uninspected = [
        event(1, "commissioning", "brand", UNINSPECTED, **_bag("TAG-41", "Lune 20", "4001")),
        event(2, "shipping", "brand", UNINSPECTED, counterparty="dc"),
        event(3, "receiving", "dc", UNINSPECTED),
        event(4, "observing", "dc", UNINSPECTED),
    ]
    corrected = [
        event(1, "commissioning", "brand", CORRECTED, **_bag("TAG-51", "Lune 28", "5001")),
        event(2, "inspecting", "lab", CORRECTED, verdict="genuine", certificate="CERTA-5001"),
        event(3, "shipping", "brand", CORRECTED, counterparty="dc"),  # keyed in by mistake
        event(4, "error_declaration", "brand", CORRECTED, declared_event_id=f"{CORRECTED}#e3",
              error_reason="did_not_occur"),
        event(5, "shipping", "brand", CORRECTED, counterparty="ginza"),
        event(6, "receiving", "ginza", CORRECTED),
    ]  # fmt: skip
    story = ten_event_story()
    store.record(story[0], schema_version=1)  # an old scanner: custody_event v1
    store.record(*story[1:5], *genuine[:3], *stolen[:3], *uninspected[:2])
    store.anchor()
    store.record(*story[5:], *genuine[3:], *stolen[3:], uninspected[2])
    store.record(*corrected)
    store.anchor()
    store.record(uninspected[3])  # recorded, not sealed: the bundle lists it as pending
    return store
