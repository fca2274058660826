"""One bag's story, told through the ledger and stored in SQLite.

Use case 1: the brand, Maison Aurel, registers a Lune 28 bag at its Paris atelier.
Use case 2: the Certa laboratory authenticates it as genuine.
Use case 3: the brand ships it to its Hong Kong warehouse, which receives it two days later.
Use case 4: the warehouse ships it to the Ginza store, which receives it the next day.
Use case 5: the Osaka store tries to sell the bag it does not have: refused, nothing recorded.
Use case 6: Ginza sells the bag to a buyer known only by a pseudonymous reference.
Use case 7: a clone of the tag appears at the Osaka store and is flagged; a counterfeiter,
            registered as a brand, commissions its own "item" with the cloned tag uid, and
            that is flagged on the genuine bag too.
Use case 8: the bag's history reads as the story, from the store; and the store holds it:
            reopened from the SQLite file the ledger rebuilds the same bag, and the same
            reports delivered again change nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from eventsourcing.persistence import Tracking

from domain.custody import CustodyEvent, Kind, Role
from domain.items import Result, Signal, Status
from domain.story import tell
from ledger.application import CustodyLedger, Decision, ItemNotFound
from tests.domain.factory import ITEM, ROLES, T0, TAG, comparable, replay
from tests.ledger.helpers import open_ledger, register, report

PARIS_ATELIER = ("urn:epc:id:sgln:0614141.00001.0", 48.8698, 2.3075)
PARIS_LAB = ("urn:epc:id:sgln:0614142.00001.0", 48.8566, 2.3522)
HONG_KONG_DC = ("urn:epc:id:sgln:0614143.00001.0", 22.3080, 113.9185)
GINZA = ("urn:epc:id:sgln:0614144.00001.0", 35.6719, 139.7650)
OSAKA = ("urn:epc:id:sgln:0614145.00001.0", 34.7025, 135.4959)
CLONE_ITEM = "urn:epc:id:sgtin:0666666.107346.2017"


def scan(
    n: int, kind: Kind, party: str, where: tuple[str, float, float], hours: float, **details: object
) -> CustodyEvent:
    location, latitude, longitude = where
    return CustodyEvent(
        event_id=f"evt-{n:02d}",
        item_id=str(details.pop("item_id", ITEM)),
        kind=kind,
        party_id=party,
        device_id=f"{party}-d1",
        location=location,
        occurred_at=T0 + timedelta(hours=hours),
        latitude=latitude,
        longitude=longitude,
        **details,  # type: ignore[arg-type]
    )


IDENTITY = {"tag_uid": TAG, "brand": "Maison Aurel", "model": "Lune 28", "serial": "2017"}
BOOTLEG = {**IDENTITY, "brand": "Bootleg"}  # a rogue brand's own name, the bag's tag uid

# One batch per use case, as the ingest would deliver them from one Kafka partition.
USE_CASES: list[list[CustodyEvent]] = [
    [scan(1, Kind.COMMISSIONING, "brand", PARIS_ATELIER, 0, **IDENTITY)],
    [scan(2, Kind.INSPECTING, "lab", PARIS_LAB, 3, verdict="genuine", certificate="CERTA-2017")],
    [
        scan(3, Kind.SHIPPING, "brand", PARIS_ATELIER, 24, counterparty="dc"),
        scan(4, Kind.RECEIVING, "dc", HONG_KONG_DC, 72),
    ],
    [
        scan(5, Kind.SHIPPING, "dc", HONG_KONG_DC, 96, counterparty="ginza"),
        scan(6, Kind.RECEIVING, "ginza", GINZA, 120),
    ],
    [scan(7, Kind.RETAIL_SELLING, "osaka", OSAKA, 130, buyer_ref="buyer-0b1e")],
    [scan(8, Kind.RETAIL_SELLING, "ginza", GINZA, 140, buyer_ref="buyer-7f3a")],
    [
        scan(9, Kind.OBSERVING, "osaka", OSAKA, 200),
        scan(10, Kind.COMMISSIONING, "bootleg", OSAKA, 201, item_id=CLONE_ITEM, **BOOTLEG),
    ],
]

THE_STORY = [
    "2026-01-01 00:00Z  brand commissioned Maison Aurel Lune 28 serial 2017 "
    "(tag E280-1160-6000-2017) at urn:epc:id:sgln:0614141.00001.0.",
    "2026-01-01 03:00Z  lab inspected it: genuine (certificate CERTA-2017).",
    "2026-01-02 00:00Z  brand shipped it to dc from urn:epc:id:sgln:0614141.00001.0.",
    "2026-01-04 00:00Z  dc received it at urn:epc:id:sgln:0614143.00001.0.",
    "2026-01-05 00:00Z  dc shipped it to ginza from urn:epc:id:sgln:0614143.00001.0.",
    "2026-01-06 00:00Z  ginza received it at urn:epc:id:sgln:0614144.00001.0.",
    "2026-01-06 20:00Z  ginza sold it to buyer buyer-7f3a.",
    "2026-01-09 08:00Z  FLAG scan_after_sale: observing by osaka after the item was sold.",
    "2026-01-09 09:00Z  FLAG duplicate_commissioning: tag E280-1160-6000-2017 commissioned "
    f"again for {CLONE_ITEM} by bootleg.",
]


def tell_the_story(ledger: CustodyLedger) -> list[list[Decision]]:
    return [
        ledger.process([report(c) for c in batch], Tracking("custody.events:0", offset))
        for offset, batch in enumerate(USE_CASES)
    ]


def test_the_bags_story(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    ledger = register(open_ledger(db), {**ROLES, "bootleg": Role.BRAND})
    ledger.declare_authority("bootleg", ["Bootleg"], ["0666666"])
    decisions = tell_the_story(ledger)

    # Use cases 1–4 and 6: every custody step accepted, with no signal.
    ordinary = [d for batch in decisions[:4] + decisions[5:6] for d in batch]
    assert [d.outcome and (d.outcome.result, d.outcome.signals) for d in ordinary] == [
        (Result.ACCEPTED, ())
    ] * 7

    # Use case 5: Osaka's sale of a bag it does not hold is refused, naming the rule.
    (refused,) = decisions[4]
    assert refused.refusal is not None and refused.refusal.rule == "not_holder"
    assert "osaka does not hold item" in refused.refusal.reason

    # Use case 7: the clone's scan and the cloned tag's commissioning are flagged, on the bag.
    clone_scan, clone_commissioning = decisions[6]
    assert clone_scan.outcome and clone_scan.outcome.signals == (Signal.SCAN_AFTER_SALE,)
    assert clone_commissioning.outcome and clone_commissioning.outcome.signals == (
        Signal.DUPLICATE_COMMISSIONING,
    )
    try:
        ledger.get_item(CLONE_ITEM)
        raise AssertionError("the clone must not become an item")
    except ItemNotFound:
        pass

    # Use case 8: the history reads as the story, and the bag is where the story left it.
    bag = ledger.get_item(ITEM)
    assert tell(ledger.item_events(ITEM)) == THE_STORY
    s = bag.state
    assert (s.status, s.sold_by, s.buyer_ref, s.holder) == (
        Status.SOLD,
        "ginza",
        "buyer-7f3a",
        None,
    )
    assert [(f.signal, f.evidence_event_id) for f in s.flags] == [
        (Signal.SCAN_AFTER_SALE, "evt-09"),
        (Signal.DUPLICATE_COMMISSIONING, "evt-10"),
    ]
    stored = ledger.item_events(ITEM)
    assert [type(e).__name__ for e in stored] == ["Commissioned"] + ["CustodyRecorded"] * 6 + [
        "Flagged"
    ] * 2
    assert stored[-1].envelope == report(USE_CASES[6][1]).envelope  # the clone's bytes, kept
    assert ledger.position("custody.events:0") == len(USE_CASES) - 1

    # …and the SQLite file holds it all: a fresh ledger rebuilds the same bag and story.
    reopened = open_ledger(db)
    assert comparable(reopened.get_item(ITEM).state) == comparable(s)
    assert reopened.get_item(ITEM).state == replay(reopened.item_events(ITEM)).state
    assert tell(reopened.item_events(ITEM)) == THE_STORY
    assert reopened.position("custody.events:0") == len(USE_CASES) - 1

    # The reports it kept, delivered again (a replayed partition), change nothing. (The
    # refused one would be judged again, against the bag as it is now: sold.)
    kept = [c for batch in USE_CASES for c in batch if c.event_id != "evt-07"]
    again = reopened.process([report(c) for c in kept], Tracking("custody.events:0", 99))
    assert [d.outcome and d.outcome.result for d in again] == [Result.DUPLICATE] * len(kept)
    assert reopened.get_item(ITEM).version == len(stored)
