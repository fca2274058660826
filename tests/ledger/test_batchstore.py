"""A batch written the short way (ledger/batchstore.py) is the rows eventsourcing writes.

The stored records are a contract: every row a batch writes must be what eventsourcing's
``Mapper`` and process recorder would have written for the same events (topic, state
bytes, originator id and version, the notification ids in the batch's order), with the
tracking position in the same transaction, and a refused transaction leaves nothing — on
SQLite and on PostgreSQL (tests/ledger/test_pgbatchstore.py: the PostgreSQL recorder's own
rows, and its lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, Tracking

from bench.bench_ingest import sealed_messages
from domain.base import Event
from domain.items import Signal
from ledger.application import CustodyLedger, Report
from ledger.batchstore import batch_store
from ledger.config import store_env
from ledger.stored import select_rows
from streams.envelope import open_envelope, read_body
from tests.ledger.helpers import register
from tests.support import make_world


def captured_batches(ledger: CustodyLedger) -> list[list[Any]]:
    """The events of each transaction the ledger records from now on."""
    batches: list[list[Any]] = []
    record = ledger._record

    def capture(processing_event: Any) -> Any:
        batches.append(list(processing_event.events))
        return record(processing_event)

    ledger._record = capture  # type: ignore[method-assign]
    return batches


def eventsourcing_mapper(ledger: CustodyLedger) -> Mapper[Any]:
    transcoder = JSONTranscoder()
    ledger.register_transcodings(transcoder)
    return Mapper(transcoder)


def test_a_batch_is_stored_as_eventsourcing_stores_it(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    ledger = world.ledger
    assert ledger._batch_store is not None  # a SQLite file or a PostgreSQL database
    messages = [value for _, value in sealed_messages(world, 30, "urn:bs:")]
    reports = [Report(read_body(open_envelope(m)), m) for m in messages]
    first = ledger.recorder.max_notification_id() or 0
    batches = captured_batches(ledger)
    for start in range(0, len(reports), 70):
        chunk = reports[start : start + 70]
        decisions = ledger.process(chunk, Tracking("bs:0", start + len(chunk) - 1))
        assert all(d.accepted for d in decisions)
    events = [event for batch in batches for event in batch]
    assert len(batches) == 3 and len(events) >= len(reports)
    rows = select_rows(ledger, first + 1, 10_000)
    mapper = eventsourcing_mapper(ledger)
    expected = []
    for n, event in enumerate(events, start=first + 1):
        stored = mapper.to_stored_event(event)
        expected.append(
            (n, stored.topic, stored.originator_id, stored.originator_version, stored.state)
        )
    assert rows == expected
    assert ledger.position("bs:0") == len(reports) - 1
    # Read back as eventsourcing reads it: the same items.
    assert ledger.get_item("urn:bs:7").state.status.value == "sold"


def ledger_and_reports(
    tmp_path: Path, items: int, prefix: str, database_url: str = ""
) -> tuple[CustodyLedger, list[Report]]:
    """A ledger (on a SQLite file unless ``database_url``) and the reports of ``items``
    signed stories of 7."""
    world = make_world(tmp_path, database_url)
    messages = [value for _, value in sealed_messages(world, items, prefix)]
    return world.ledger, [Report(read_body(open_envelope(m)), m) for m in messages]


def test_a_refused_batch_leaves_nothing(tmp_path: Path, database_url: str) -> None:
    ledger, reports = ledger_and_reports(tmp_path, 4, "urn:no:", database_url)
    ledger.process(reports[:7], Tracking("no:0", 6))
    before = select_rows(ledger, 1, 10_000)
    with pytest.raises(IntegrityError):  # the position is recorded already
        ledger.process(reports[7:], Tracking("no:0", 6))
    assert select_rows(ledger, 1, 10_000) == before
    assert ledger.position("no:0") == 6
    # The same batch at the next position is stored.
    ledger.process(reports[7:], Tracking("no:0", 7))
    assert len(select_rows(ledger, 1, 10_000)) > len(before)


def test_a_version_taken_meanwhile_refuses_the_whole_batch(
    tmp_path: Path, database_url: str
) -> None:
    ledger, reports = ledger_and_reports(tmp_path, 2, "urn:race:", database_url)
    ledger.process(reports[:6], Tracking("race:0", 5))
    stale = ledger.get_item("urn:race:0")
    other = ledger.get_item("urn:race:0")
    other.flag(Signal.UNKNOWN_ITEM, "another writer's", None, None)
    ledger.save(other)  # takes the version the stale copy's next event would have
    before = select_rows(ledger, 1, 10_000)
    with pytest.raises(IntegrityError):
        ledger.process(reports[6:], Tracking("race:0", 13), loaded={"urn:race:0": stale})
    assert select_rows(ledger, 1, 10_000) == before
    assert ledger.position("race:0") == 5


@pytest.mark.parametrize(
    "env",
    [
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"},
    ],
)
def test_other_stores_keep_eventsourcings_path(tmp_path: Path, env: dict[str, str]) -> None:
    if "PERSISTENCE_MODULE" not in env:
        env = {**store_env("", tmp_path / "ledger.sqlite"), **env}
    assert_on_eventsourcings_path(register(CustodyLedger(env)), tmp_path)


def assert_on_eventsourcings_path(ledger: CustodyLedger, tmp_path: Path) -> None:
    """``ledger`` has no batch store, and a batch of one item's story goes through
    eventsourcing's path whole, with its position."""
    assert ledger._batch_store is None
    assert batch_store(ledger.mapper, ledger.recorder) is None
    world = make_world(tmp_path / "keys")
    messages = [value for _, value in sealed_messages(world, 1, "urn:other:")]
    decisions = ledger.process(
        [Report(read_body(open_envelope(m)), m) for m in messages], Tracking("o:0", 6)
    )
    assert len(decisions) == 7 and all(d.accepted for d in decisions)
    assert ledger.position("o:0") == 6
    assert ledger.get_item("urn:other:0").state.status.value == "sold"


@dataclass(frozen=True)
class Upcast(Event):
    """An event of a later class version (the mapper stores it with the state)."""

    class_version = 2
    note: str


def test_rows_are_the_mappers_for_any_event_class(tmp_path: Path) -> None:
    ledger = make_world(tmp_path).ledger
    store = ledger._batch_store
    assert store is not None
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events = [Upcast("u-1", 3, at, "a note"), Upcast("u-2", 1, at, 'é\x00"')] * 2
    mapper = eventsourcing_mapper(ledger)
    expected = []
    for event in events:
        stored = mapper.to_stored_event(event)
        expected.append(
            (stored.originator_id, stored.originator_version, stored.topic, stored.state)
        )
    assert store.rows(events) == expected
    assert b'"class_version":2' in expected[0][3]
