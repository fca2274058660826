"""Ids and texts that need escaping survive the trip through the staged JSON lines."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ledger.records import is_flag_topic, is_item_topic
from projections.projector import Projector
from projections.reader import read_page
from projections.staging import json_string_body, prepare, spill, stage_ledger
from tests.projections.support import make_store, rows
from tests.support import custody


def test_awkward_ids_and_texts_are_projected_verbatim(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    item = 'urn:item:"quoted"\\back/slash\tté 東京'
    commissioned = custody(
        1, "commissioning", "brand", item, tag_uid='T"1', brand="Hermès", model="Kelly", serial="\n"
    )
    store.record([commissioned])
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb") as p:
        p.catch_up()
        assert rows(p.con, "SELECT item_id, brand, tag_uid, serial FROM items") == [
            (item, "Hermès", 'T"1', "\n")
        ]
        assert rows(p.con, "SELECT item_id, leaf_hash IS NOT NULL FROM custody_events") == [
            (item, True)
        ]


def test_json_string_body_escapes_only_when_needed() -> None:
    assert json_string_body("urn:item:1") == "urn:item:1"
    assert json_string_body('a"b\\c\n') == 'a\\"b\\\\c\\n'


def test_a_spilled_page_stages_the_same_rows_as_its_lines(tmp_path: Path) -> None:
    """The rebuild's reader process hands pages over as files that DuckDB reads with
    ``read_json``; the incremental path passes the lines. Both must stage the same rows."""
    store = make_store(tmp_path)
    item = 'urn:item:"quoted"\\back/slash\tté 東京'
    store.record(
        [
            custody(1, "commissioning", "brand", item, tag_uid='T"1', brand="Hermès",
                    model="Kelly", serial="\n"),
            custody(1, "observing", "brand", "urn:item:never-commissioned"),
        ]
    )  # fmt: skip
    notifications = store.ledger.recorder.select_notifications(start=1, limit=1000)
    items_only = [n for n in notifications if is_item_topic(n.topic)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    events: set[str] = set()
    no_flags = [n for n in items_only if not is_flag_topic(n.topic)]
    # Parties and flags: a staged table; neither: a view that reads the file itself.
    for part, notes in enumerate((notifications, items_only, no_flags)):
        page = prepare(store.ledger.mapper, notes)
        stage_ledger(con, page)
        expected = rows(con, "SELECT * FROM staged ORDER BY n")
        spilled = spill(page, tmp_path / f"{part}.jsonl")
        assert spilled.file is not None and not spilled.lines and len(spilled) == len(page)
        stage_ledger(con, spilled)
        assert rows(con, "SELECT * FROM staged ORDER BY n") == expected
        events |= {r[2] for r in expected}
    assert {"Party.Registered", "Item.Commissioned", "Item.Sighted"} <= events


def test_a_page_read_equals_one_prepared_from_the_recorders_notifications(
    tmp_path: Path,
) -> None:
    store = make_store(tmp_path)
    store.record([custody(1, "commissioning", "brand", "urn:item:1")])
    page = read_page(store.ledger, 3, 1000)
    expected = prepare(
        store.ledger.mapper, store.ledger.recorder.select_notifications(start=3, limit=1000)
    )
    assert page == expected
    assert page is not None and read_page(store.ledger, page.last_id + 1, 10) is None
