"""Use case: an analyst follows two bags from the brand to a sale, and a clone shows up.

The brand commissions bag-1 and bag-2 → the lab authenticates both → the brand ships them to
its warehouse (dc) → dc receives → dc ships bag-1 to the Ginza store → Ginza receives and
sells it → Osaka scans bag-1 after the sale and someone commissions another bag with its tag
(both flagged as clone signals) → Ginza scans a bag nobody commissioned. The projection must
hold exactly that, anchored leaf by leaf, in every table and view.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from domain.items import Result
from projections.projector import Projector
from tests.projections.support import Store, make_store, rows
from tests.support import T0, custody


def h(n: int) -> object:
    return T0 + timedelta(hours=n)


@pytest.fixture
def story(tmp_path: Path) -> Store:
    store = make_store(tmp_path)
    b1, b2 = "urn:bag:1", "urn:bag:2"
    store.record(
        [
            custody(
                1, "commissioning", "brand", b1, tag_uid="T1", brand="B", model="M", serial="S1"
            ),
            custody(
                1, "commissioning", "brand", b2, tag_uid="T2", brand="B", model="M", serial="S2"
            ),
        ]
    )
    store.record(
        [
            custody(2, "inspecting", "lab", b1, verdict="genuine", certificate="C-1"),
            custody(2, "inspecting", "lab", b2, verdict="genuine", certificate="C-2"),
        ]
    )
    store.record(
        [
            custody(3, "shipping", "brand", b1, counterparty="dc"),
            custody(3, "shipping", "brand", b2, counterparty="dc"),
        ]
    )
    store.record([custody(4, "receiving", "dc", b1), custody(4, "receiving", "dc", b2)])
    store.record([custody(5, "shipping", "dc", b1, counterparty="ginza")])
    store.record([custody(6, "receiving", "ginza", b1)])
    store.record([custody(7, "retail_selling", "ginza", b1, buyer_ref="buyer-1")])
    (after_sale,) = store.record([custody(8, "observing", "osaka", b1)])
    (clone,) = store.record(
        [
            custody(
                9,
                "commissioning",
                "brand",
                "urn:bag:9",
                tag_uid="T1",
                brand="B",
                model="M",
                serial="S1",
            )
        ]
    )
    (unknown,) = store.record([custody(10, "observing", "ginza", "urn:bag:x")])
    for decision in (after_sale, clone, unknown):
        assert decision.outcome is not None and decision.outcome.result is Result.FLAGGED
    store.ledger.revoke_device("osaka", "osaka-d1", at=T0 + timedelta(days=2))
    return store


@pytest.fixture
def projector(story: Store, tmp_path: Path) -> Projector:
    projector = Projector(story.ledger, story.chain, tmp_path / "projections.duckdb")
    projector.catch_up()
    return projector


def test_items_hold_the_current_state(projector: Projector) -> None:
    assert rows(projector.con, "SELECT * FROM items ORDER BY item_id") == [
        ("urn:bag:1", "B", "M", "S1", "T1", "genuine", "C-1", "sold", None, None, None,
         "retail_selling", h(7), 9, 2, None, None),
        ("urn:bag:2", "B", "M", "S2", "T2", "genuine", "C-2", "in_custody", "dc", "loc-dc", None,
         "receiving", h(4), 4, 0, None, None),
        ("urn:bag:x", None, None, None, None, None, None, "unregistered", None, None, None,
         None, None, 1, 1, None, None),
    ]  # fmt: skip


def test_custody_events_hold_the_full_history(projector: Projector) -> None:
    history = rows(
        projector.con,
        "SELECT version, record, accepted, kind, party_id, role, device_id, location, "
        "counterparty, occurred_at FROM custody_events WHERE item_id = ? ORDER BY version",
        "urn:bag:1",
    )
    assert history == [
        (1, "commissioned", True, "commissioning", "brand", "brand", "brand-d1", "loc-brand",
         None, h(1)),
        (2, "custody_recorded", True, "inspecting", "lab", "appraiser", "lab-d1", "loc-lab",
         None, h(2)),
        (3, "custody_recorded", True, "shipping", "brand", "brand", "brand-d1", "loc-brand",
         "dc", h(3)),
        (4, "custody_recorded", True, "receiving", "dc", "warehouse", "dc-d1", "loc-dc", None,
         h(4)),
        (5, "custody_recorded", True, "shipping", "dc", "warehouse", "dc-d1", "loc-dc", "ginza",
         h(5)),
        (6, "custody_recorded", True, "receiving", "ginza", "store", "ginza-d1", "loc-ginza",
         None, h(6)),
        (7, "custody_recorded", True, "retail_selling", "ginza", "store", "ginza-d1",
         "loc-ginza", None, h(7)),
        (8, "flagged", False, "observing", "osaka", "store", "osaka-d1", "loc-osaka", None, h(8)),
        (9, "flagged", False, "commissioning", "brand", "brand", "brand-d1", "loc-brand", None,
         h(9)),
    ]  # fmt: skip
    assert rows(projector.con, "SELECT count(*) FROM custody_events") == [(14,)]
    assert rows(
        projector.con, "SELECT record, kind FROM custody_events WHERE item_id = 'urn:bag:x'"
    ) == [("sighted", "observing")]


def test_every_row_shows_the_leaf_that_anchors_it(projector: Projector, story: Store) -> None:
    anchored = rows(
        projector.con,
        "SELECT item_id, version, block_height, leaf_index, leaf_hash FROM custody_events",
    )
    assert len(anchored) == 14
    for item_id, version, height, index, leaf_hash in anchored:
        leaf = story.chain.leaf(item_id, version)
        assert leaf is not None
        assert (height, index, leaf_hash) == (leaf.height, leaf.leaf_index, leaf.leaf_hash.hex())
        block = story.chain.block(height)
        assert block.leaves[index] == leaf_hash


def test_blocks_mirror_the_chain(projector: Projector, story: Store) -> None:
    expected = [
        (
            h.height, h.block_hash().hex(), h.merkle_root.hex(), h.prev_hash.hex(),
            h.first_notification, h.last_notification, h.leaf_count,
        )
        for h in story.chain.headers()
    ]  # fmt: skip
    assert len(expected) == 10
    assert (
        rows(
            projector.con,
            "SELECT height, block_hash, merkle_root, prev_hash, first_notification, "
            "last_notification, leaf_count FROM blocks ORDER BY height",
        )
        == expected
    )


def test_flags_parties_and_devices(projector: Projector) -> None:
    assert rows(
        projector.con,
        "SELECT item_id, version, signal, evidence_event_id, party_id, location FROM flags "
        "ORDER BY item_id, version",
    ) == [
        ("urn:bag:1", 8, "scan_after_sale", "urn:bag:1#e8", "osaka", "loc-osaka"),
        ("urn:bag:1", 9, "duplicate_commissioning", "urn:bag:9#e9", "brand", "loc-brand"),
        ("urn:bag:x", 1, "unknown_item", "urn:bag:x#e10", "ginza", "loc-ginza"),
    ]
    assert rows(projector.con, "SELECT party_id, name, role FROM parties ORDER BY 1") == [
        ("brand", "Brand", "brand"),
        ("dc", "Dc", "warehouse"),
        ("ginza", "Ginza", "store"),
        ("lab", "Lab", "appraiser"),
        ("osaka", "Osaka", "store"),
    ]
    assert rows(
        projector.con,
        "SELECT party_id, device_id, enrolled_at, revoked_at FROM devices ORDER BY 1",
    ) == [
        (p, f"{p}-d1", T0 - timedelta(days=1), T0 + timedelta(days=2) if p == "osaka" else None)
        for p in ("brand", "dc", "ginza", "lab", "osaka")
    ]


def test_views_answer_the_analysts_questions(projector: Projector) -> None:
    con = projector.con
    assert rows(
        con,
        "SELECT step, kind, party_id, counterparty, location FROM chain_of_custody "
        "WHERE item_id = 'urn:bag:1' ORDER BY step",
    ) == [
        (1, "commissioning", "brand", None, "loc-brand"),
        (2, "shipping", "brand", "dc", "loc-brand"),
        (3, "receiving", "dc", None, "loc-dc"),
        (4, "shipping", "dc", "ginza", "loc-dc"),
        (5, "receiving", "ginza", None, "loc-ginza"),
        (6, "retail_selling", "ginza", None, "loc-ginza"),
    ]
    assert rows(con, "SELECT * FROM inventory_by_location") == [("loc-dc", "dc", "B", 1, 0)]
    assert rows(
        con,
        "SELECT item_id, location, holder, arrived_at, departed_at, hours FROM dwell_time "
        "ORDER BY item_id, arrived_at",
    ) == [
        ("urn:bag:1", "loc-brand", "brand", h(1), h(3), 2.0),
        ("urn:bag:1", "loc-dc", "dc", h(4), h(5), 1.0),
        ("urn:bag:1", "loc-ginza", "ginza", h(6), h(7), 1.0),
        ("urn:bag:2", "loc-brand", "brand", h(1), h(3), 2.0),
        ("urn:bag:2", "loc-dc", "dc", h(4), None, None),
    ]
    assert rows(
        con, "SELECT item_id, status, clone_flags, signals, seen_by FROM suspected_clones"
    ) == [("urn:bag:1", "sold", 2, ["duplicate_commissioning", "scan_after_sale"],
           ["brand", "osaka"])]  # fmt: skip
    assert rows(
        con,
        "SELECT appraiser_id, appraiser_name, item_id, verdict, certificate "
        "FROM appraiser_activity ORDER BY item_id",
    ) == [
        ("lab", "Lab", "urn:bag:1", "genuine", "C-1"),
        ("lab", "Lab", "urn:bag:2", "genuine", "C-2"),
    ]


def test_tracking_positions_and_idempotent_catch_up(projector: Projector, story: Store) -> None:
    assert projector.position("ledger") == story.ledger.recorder.max_notification_id()
    assert projector.position("chain") == story.chain.recorder.max_notification_id()
    assert projector.catch_up() == 0
    assert rows(projector.con, "SELECT count(*) FROM custody_events") == [(14,)]
