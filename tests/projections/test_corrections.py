"""Use case: an analyst sees an event declared in error, its declaration, and the corrected
view; and a device key enrolled effective from an earlier time.

The brand commissions a bag and ships it to dc, which receives it and scans it on the wrong
shelf; dc declares the scan in error (incorrect_data) and scans it again on the right one.
The brand then declares its shipping in error (did_not_occur): dc's receipt rested on it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from projections.projector import Projector
from streams.keys import DeviceKey
from tests.projections.support import Store, make_store, rows
from tests.support import T0, custody

BAG = "urn:bag:7"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = make_store(tmp_path)
    store.record(
        [custody(1, "commissioning", "brand", BAG, tag_uid="T7", brand="B", model="M", serial="7")]
    )
    store.record([custody(2, "shipping", "brand", BAG, counterparty="dc")])
    store.record([custody(3, "receiving", "dc", BAG)])
    store.record([custody(4, "observing", "dc", BAG, location="shelf-wrong")])
    return store


def declare(store: Store, n: int, party: str, declared: int, reason: str, *fix: str) -> None:
    (decision,) = store.record(
        [
            custody(n, "error_declaration", party, BAG, declared_event_id=f"{BAG}#e{declared}",
                    error_reason=reason, corrective_event_ids=list(fix))
        ]
    )  # fmt: skip
    assert decision.accepted, decision.refusal


def test_custody_events_mark_the_original_and_the_declaration(store: Store, tmp_path: Path) -> None:
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb", page_size=2) as p:
        p.catch_up()
        assert rows(p.con, "SELECT location FROM items") == [("shelf-wrong",)]
        declare(store, 5, "dc", 4, "incorrect_data", f"{BAG}#e6")
        store.record([custody(6, "observing", "dc", BAG, location="shelf-right")])
        p.catch_up()
        assert rows(p.con, "SELECT status, holder, location, version FROM items") == [
            ("in_custody", "dc", "shelf-right", 6),
        ]  # fmt: skip
        history = rows(
            p.con,
            "SELECT version, kind, accepted, declared_in_error, declared_event_id, "
            "declaration_version, declared_by, declared_at, declared_reason, "
            "corrective_event_ids FROM custody_events ORDER BY version",
        )
        assert history[3:5] == [
            (4, "observing", True, True, None, 5, "dc", T0 + timedelta(hours=5),
             "incorrect_data", [f"{BAG}#e6"]),
            (5, "error_declaration", True, False, f"{BAG}#e4", None, "dc",
             T0 + timedelta(hours=5), "incorrect_data", [f"{BAG}#e6"]),
        ]  # fmt: skip
        assert [row[3] for row in history] == [False, False, False, True, False, False]

        # The shipping did not occur: dc's receipt stands (and is flagged), dc holds it.
        declare(store, 7, "brand", 2, "did_not_occur")
        p.catch_up()
        assert rows(p.con, "SELECT status, holder, location, open_flags FROM items") == [
            ("in_custody", "dc", "shelf-right", 1),
        ]  # fmt: skip
        assert rows(p.con, "SELECT version, signal, evidence_event_id FROM flags") == [
            (8, "rests_on_declared", f"{BAG}#e7"),
        ]
        assert rows(
            p.con, "SELECT step, kind FROM chain_of_custody WHERE item_id = ? ORDER BY step", BAG
        ) == [(1, "commissioning"), (2, "receiving")]
        incremental = rows(p.con, "SELECT * FROM items")
        p.rebuild()
        assert rows(p.con, "SELECT * FROM items") == incremental
    state = store.ledger.get_item(BAG).state
    assert (state.status.value, state.holder, state.location) == ("in_custody", "dc", "shelf-right")


def test_a_commissioning_declared_in_error_unregisters_the_view(
    store: Store, tmp_path: Path
) -> None:
    store.record([custody(5, "decommissioning", "brand", BAG, reason="destroyed")])
    declare(store, 6, "brand", 1, "did_not_occur")
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb") as p:
        p.catch_up()
        item = rows(p.con, "SELECT brand, serial, tag_uid, status, holder FROM items")
        assert item == [(None, None, None, "retired", None)]
    state = store.ledger.get_item(BAG).state
    assert (state.brand, state.status.value, state.holder) == (None, "retired", None)


def test_devices_show_when_an_enrolment_was_recorded_and_from_when_it_speaks(
    store: Store, tmp_path: Path
) -> None:
    a_year_ago = T0 - timedelta(days=365)
    key = DeviceKey.generate("dc", "dc-migration").public_key_hex
    store.ledger.enrol_device("dc", "dc-migration", key, at=T0, effective_from=a_year_ago)
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb") as p:
        p.catch_up()
        devices = rows(
            p.con,
            "SELECT device_id, enrolled_at, effective_from, recorded_at IS NOT NULL "
            "FROM devices WHERE party_id = 'dc' ORDER BY device_id",
        )
    assert devices == [
        ("dc-d1", T0 - timedelta(days=1), None, True),
        ("dc-migration", T0, a_year_ago, True),
    ]
    party = store.ledger.get_party("dc")
    assert party.devices["dc-migration"].recorded_at is not None
