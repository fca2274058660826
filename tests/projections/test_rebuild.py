"""The incremental path and ``rebuild`` agree, and both agree with the domain's aggregates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder

from projections import projector, reader
from projections.projector import Projector
from projections.writer import MISSING, decode_block, top_level_member
from tests.projections.support import Store, contents, make_store
from tests.projections.workload import Workload

ITEM_FIELDS = (
    "brand", "model", "serial", "tag_uid", "verdict", "certificate", "status", "holder",
    "location", "consignee",
)  # fmt: skip


KINDS = {"commissioning", "inspecting", "shipping", "void_shipping", "receiving", "observing",
         "repairing", "retail_selling", "returning", "decommissioning",
         "error_declaration", "declared"}  # fmt: skip
SIGNALS = {"duplicate_commissioning", "impossible_travel", "location_conflict", "scan_after_sale",
           "unknown_item", "rests_on_declared"}  # fmt: skip
STATUSES = {"in_custody", "in_transit", "sold", "retired", "unregistered"}


def coverage(con: Any) -> tuple[set[str], set[str], set[str]]:
    def distinct(query: str) -> set[str]:
        return {r[0] for r in con.execute(query).fetchall()}

    return (
        # accepted kinds, and "declared" once an accepted event is declared in error
        distinct("SELECT DISTINCT kind FROM custody_events WHERE accepted")
        | distinct("SELECT 'declared' FROM custody_events WHERE declared_in_error"),
        distinct("SELECT DISTINCT signal FROM flags"),
        distinct("SELECT DISTINCT status FROM items"),
    )


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path]:
    """A random history, projected incrementally in small pages while it grew, until it
    holds every kind, signal and status (at least 200 reports, at most 1,000)."""
    root = tmp_path_factory.mktemp("grown")
    store = make_store(root)
    workload = Workload(store, seed=18)
    with Projector(store.ledger, store.chain, root / "incremental.duckdb", page_size=7) as p:
        for round_ in range(25):
            workload.run(40)
            p.catch_up()
            kinds, signals, statuses = coverage(p.con)
            if round_ >= 4 and kinds >= KINDS and signals >= SIGNALS and statuses >= STATUSES:
                break
    return store, root / "incremental.duckdb"


def test_the_workload_exercises_every_kind_and_signal(grown: tuple[Store, Path]) -> None:
    store, path = grown
    with Projector(store.ledger, store.chain, path) as p:
        kinds, signals, statuses = coverage(p.con)
    assert kinds >= KINDS
    assert signals >= SIGNALS
    assert statuses >= STATUSES


def test_rebuild_ends_with_the_same_content_as_the_incremental_path(
    grown: tuple[Store, Path], tmp_path: Path
) -> None:
    store, path = grown
    calls: list[tuple[int, int]] = []
    with Projector(store.ledger, store.chain, tmp_path / "rebuilt.duckdb") as rebuilt:
        done = rebuilt.rebuild(progress=lambda d, t: calls.append((d, t)))
        rebuilt_content = contents(rebuilt.con)
    with Projector(store.ledger, store.chain, path) as incremental:
        assert contents(incremental.con) == rebuilt_content
    total = (store.ledger.recorder.max_notification_id() or 0) + (
        store.chain.recorder.max_notification_id() or 0
    )
    assert done == total
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert rebuilt_content["custody_events"]
    assert all(row[-1] is not None for row in rebuilt_content["custody_events"])  # anchored


def test_a_rebuild_reads_the_chain_a_few_blocks_at_a_time(
    grown: tuple[Store, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block's state holds all its leaves: the whole chain in one page would hold the
    chain in memory. Several chain pages end with the same content."""
    store, path = grown
    blocks = store.chain.recorder.max_notification_id() or 0
    monkeypatch.setattr(projector, "CHAIN_PAGE", 2)
    pages: list[int] = []
    original = Projector._chain_pages

    def counted(self: Projector) -> Any:
        for page in original(self):
            pages.append(page[1])
            yield page

    monkeypatch.setattr(Projector, "_chain_pages", counted)
    with Projector(store.ledger, store.chain, tmp_path / "rebuilt.duckdb") as rebuilt:
        rebuilt.rebuild()
        rebuilt_content = contents(rebuilt.con)
    assert blocks > 4 and sum(pages) == blocks and max(pages) == 2
    with Projector(store.ledger, store.chain, path) as incremental:
        assert contents(incremental.con) == rebuilt_content


def test_following_reads_the_chain_a_few_blocks_at_a_time(
    grown: tuple[Store, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up over many blocks pages the chain as a rebuild does (it once read up to
    20,000 blocks, every leaf of each, in one page) and ends with the same content."""
    store, path = grown
    monkeypatch.setattr(projector, "CHAIN_PAGE", 2)
    limits: list[int] = []
    select = store.chain.recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        page = select(*args, **kwargs)
        limits.append(kwargs["limit"])
        assert len(page) <= 2
        return page

    monkeypatch.setattr(store.chain.recorder, "select_notifications", counted)
    with Projector(store.ledger, store.chain, tmp_path / "followed.duckdb") as followed:
        followed.catch_up()
        followed_content = contents(followed.con)
    assert len(limits) > 2 and set(limits) == {2}
    with Projector(store.ledger, store.chain, path) as incremental:
        assert contents(incremental.con) == followed_content


def test_items_equal_the_aggregates_state(grown: tuple[Store, Path]) -> None:
    store, path = grown
    with Projector(store.ledger, store.chain, path) as p:
        projected = p.con.execute(
            f"SELECT item_id, {', '.join(ITEM_FIELDS)}, version, open_flags FROM items"
        ).fetchall()
    assert len(projected) > 10
    for item_id, *fields, version, open_flags in projected:
        item = store.ledger.get_item(item_id)
        s = item.state
        expected = [getattr(s, name) for name in ITEM_FIELDS]
        expected = [None if v is None else getattr(v, "value", v) for v in expected]
        assert fields == expected, item_id
        assert (version, open_flags) == (item.version, len(s.flags)), item_id


def test_rebuild_in_place_keeps_following(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    workload = Workload(store, seed=3, items=5)
    workload.run(40)
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb", page_size=5) as p:
        p.catch_up()
        before = contents(p.con)
        p.rebuild()
        assert contents(p.con) == before
        workload.run(30)
        assert p.catch_up() > 0
        after = contents(p.con)
    with Projector(store.ledger, store.chain, tmp_path / "fresh.duckdb") as fresh:
        fresh.rebuild()
        assert contents(fresh.con) == after


def test_a_projection_of_another_schema_version_is_projected_again(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    Workload(store, seed=9, items=3).run(15)
    path = tmp_path / "p.duckdb"
    with Projector(store.ledger, store.chain, path) as p:
        p.catch_up()
        expected = contents(p.con)
        p.con.execute("UPDATE projection_meta SET value = '0' WHERE key = 'schema_version'")
        p.con.execute("DELETE FROM items")
    with Projector(store.ledger, store.chain, path) as p:
        assert p.position("ledger") == 0
        p.catch_up()
        assert contents(p.con) == expected


def test_a_large_rebuild_reads_in_a_child_process(
    grown: tuple[Store, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, path = grown
    readers: list[object] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        readers.append(reader.page_reader(*args, **kwargs))
        return readers[-1]

    monkeypatch.setattr(projector, "PROCESS_READER_MIN", 0)
    monkeypatch.setattr(projector, "page_reader", spy)
    with Projector(store.ledger, store.chain, tmp_path / "rebuilt.duckdb") as rebuilt:
        rebuilt.rebuild()
        rebuilt_content = contents(rebuilt.con)
    assert [type(r) for r in readers] == [reader.ProcessPageReader]
    assert not rebuilt.spill_dir.exists()  # its pages came as files, removed once read
    with Projector(store.ledger, store.chain, path) as incremental:
        assert contents(incremental.con) == rebuilt_content


def test_a_blocks_header_is_read_as_a_full_decode_reads_it(grown: tuple[Store, Path]) -> None:
    store, _ = grown
    transcoder = store.chain.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    blocks = store.chain.recorder.select_notifications(start=1, limit=1000)
    assert blocks
    for n in blocks:
        block = decode_block(store.chain, n)
        assert block is not None
        assert block["header"] == transcoder.decode(n.state)["header"]
    decoder = transcoder.decoder
    awkward = (
        ' { "a" : [1, {"header": 0}] , "h\\"": "header", "header" : {"x": "\\u00e9"}, "z": [] }'
    )
    assert top_level_member(decoder, awkward, "header") == {"x": "é"}
    for text in ("{}", "[]", '{"a": 1}', '{"a": 1,', '{"a" 1}', "", '{"header": tru}'):
        assert top_level_member(decoder, text, "header") is MISSING
