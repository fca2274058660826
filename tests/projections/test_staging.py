"""Ids and texts that need escaping survive the trip through the staged JSON lines and CSV
columns; both stage the same rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from assay_headmap import staged_csv

from ledger.records import is_flag_topic, is_item_topic
from ledger.stored import select_rows
from projections.projector import Projector
from projections.reader import read_page
from projections.staging import (
    CSV_COLUMNS,
    SPILL_MAX_LINE,
    Page,
    json_string_body,
    prepare,
    prepare_rows,
    spill,
    spill_rows,
    stage_ledger,
    staged_rows,
)
from tests.projections.support import make_store, rows
from tests.projections.workload import Workload
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


def _staged(con: duckdb.DuckDBPyConnection, page: Page) -> list[tuple[Any, ...]]:
    stage_ledger(con, page)
    return rows(con, "SELECT * FROM staged ORDER BY n")


def test_a_csv_page_stages_the_same_rows_as_its_json_lines(tmp_path: Path) -> None:
    """A rebuild's reader writes pages as typed CSV columns (native ``staged_csv``); they
    must stage exactly what the JSON lines stage: every record kind, flags, corrections,
    owner statements, and texts with quotes, commas, backslashes and non-ASCII."""
    store = make_store(tmp_path)
    Workload(store, seed=18, owners=True).run(300)
    awkward = 'urn:item:"q",back\\slash/東京'
    store.record(
        [custody(1, "commissioning", "brand", awkward, tag_uid='T"1,', brand="Hermès",
                 model='K "1", 2', serial="S\\1", latitude=51.123456789, longitude=-0.5)]
    )  # fmt: skip
    every = select_rows(store.ledger, 1, 1_000_000)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    mapper = store.ledger.mapper
    events: set[str] = set()
    for part, chunk in enumerate((every, every[len(every) // 2 :], every[-40:])):
        page = spill_rows(mapper, chunk, tmp_path / f"{part}.csv")
        assert page.csv and page.file is not None
        expected = _staged(con, spill(prepare_rows(mapper, chunk), tmp_path / f"{part}.jsonl"))
        assert _staged(con, page) == expected
        assert _staged(con, prepare_rows(mapper, chunk)) == expected
        assert (page.first_id, page.last_id, len(page)) == (chunk[0][0], chunk[-1][0], len(chunk))
        events |= {r[2] for r in expected}
    assert {"Party.Registered", "Party.DeviceEnrolled", "Item.Commissioned", "Item.Flagged",
            "Item.OwnerStated", "Item.CustodyRecorded"} <= events  # fmt: skip
    assert (awkward, "Hermès", 'K "1", 2', 51.123456789) in rows(
        con, "SELECT o, c.brand, c.model, c.latitude FROM staged"
    )


def test_a_page_the_csv_cannot_hold_plainly_is_spilled_as_json(tmp_path: Path) -> None:
    """A control character in a text (here a line break) is left to DuckDB's JSON reading."""
    store = make_store(tmp_path)
    store.record([custody(1, "commissioning", "brand", "urn:item:1", tag_uid="T1", brand="B",
                          model="M", serial="a\nb")])  # fmt: skip
    every = select_rows(store.ledger, 1, 1000)
    page = spill_rows(store.ledger.mapper, every, tmp_path / "page")
    assert page.file is not None and not page.csv
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    assert _staged(con, page) == _staged(con, prepare_rows(store.ledger.mapper, every))
    assert ("a\nb",) in rows(con, "SELECT c.serial FROM staged")


def test_only_item_and_party_records_are_staged_but_every_one_is_counted(
    tmp_path: Path,
) -> None:
    store = make_store(tmp_path)
    store.record([custody(1, "commissioning", "brand", "urn:item:1", tag_uid="T1", brand="B",
                          model="M", serial="S")])  # fmt: skip
    every = select_rows(store.ledger, 1, 1000)
    topics = {r[1].partition(":")[0] for r in every}
    assert "domain.tags" in topics  # the tag claim: no statement reads it
    page = prepare_rows(store.ledger.mapper, every)
    assert len(page) == len(every) and len(page.lines) == len(staged_rows(every)) < len(every)
    assert {r[1].partition(":")[0] for r in staged_rows(every)} == {
        "domain.items", "domain.parties"
    }  # fmt: skip
    tags_only = [r for r in every if r[1].startswith("domain.tags:")]
    empty = spill_rows(store.ledger.mapper, tags_only, tmp_path / "page")
    assert (empty.lines, empty.file, len(empty)) == ([], None, len(tags_only))


def _crafted(n: int, state: dict[str, Any]) -> tuple[int, str, str, int, bytes]:
    return (n, "domain.items:Item.CustodyRecorded", f"urn:item:{n}", 2, json.dumps(state).encode())


def _custody(**fields: Any) -> dict[str, Any]:
    return {"_type_": "custody_event", "_data_": {"event_id": "e", "kind": "observing", **fields}}


CSV_ARGS = [(p, k) for p, k, _ in CSV_COLUMNS]


def test_csv_columns_hold_the_values_the_json_reading_gives(tmp_path: Path) -> None:
    """Edge values written by hand: numbers in every spelling, offsets, arrays with nulls,
    an absent, a null and an empty object."""
    stamp = {"_type_": "datetime_iso", "_data_": "2026-03-01T10:00:00.5+02:00"}
    states = [
        {"timestamp": stamp, "custody": _custody(latitude=1e300, longitude=-0.0)},
        {"timestamp": stamp, "custody": _custody(latitude=5, longitude=0.1, reason=None)},
        {"timestamp": stamp, "custody": _custody(corrective_event_ids=["a", None, "b"])},
        {"timestamp": stamp, "custody": _custody(corrective_event_ids=[])},
        {"timestamp": stamp, "custody": None, "evidence": _custody(location="x")},
        {"timestamp": stamp, "custody": {"_type_": "custody_event", "_data_": {}}},
        {"timestamp": {"_data_": "2026-03-01T10:00:00Z"}, "statement": None, "extra": [1, {}]},
        {"timestamp": stamp, "signal": "s", "detail": "", "name": 'a "b"', "role": "r"},
    ]
    crafted = [_crafted(i + 1, s) for i, s in enumerate(states)]
    data = staged_csv(crafted, CSV_ARGS, SPILL_MAX_LINE)
    assert data is not None
    (tmp_path / "page.csv").write_bytes(data)
    lines = [
        json.dumps({"n": n, "t": t, "o": o, "v": v, "s": json.loads(s)})
        for n, t, o, v, s in crafted
    ]
    as_json = Page(lines, 1, len(crafted), False, True, len(crafted))
    as_csv = replace(as_json, lines=[], file=str(tmp_path / "page.csv"), csv=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    assert _staged(con, as_csv) == _staged(con, as_json)
    assert rows(con, "SELECT c.latitude, c.corrective_event_ids FROM staged ORDER BY n")[:3] == [
        (1e300, None), (5.0, None), (None, ["a", None, "b"])
    ]  # fmt: skip


@pytest.mark.parametrize(
    "state",
    [
        {"custody": _custody(), "evidence": _custody()},  # both alternatives
        {"custody": _custody(latitude="51.5")},  # a text where a number belongs
        {"custody": _custody(location=7)},  # a number where a text belongs
        {"custody": _custody(location="a\rb")},  # a control character
        {"custody": "text"},  # not an object
        {"role": ["r"]},  # an array where a text belongs
    ],
)
def test_staged_csv_leaves_what_it_cannot_read_plainly_to_the_json_reading(
    state: dict[str, Any],
) -> None:
    assert staged_csv([_crafted(1, state)], CSV_ARGS, SPILL_MAX_LINE) is None


def test_staged_csv_refuses_a_member_given_twice() -> None:
    twice = b'{"signal": "a", "signal": "b"}'
    row = (1, "domain.items:Item.Flagged", "urn:item:1", 2, twice)
    assert staged_csv([row], CSV_ARGS, SPILL_MAX_LINE) is None
    assert staged_csv([(*row[:4], b'{"signal": "a"}')], CSV_ARGS, SPILL_MAX_LINE) is not None
