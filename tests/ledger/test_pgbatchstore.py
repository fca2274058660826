"""On PostgreSQL a batch is the rows eventsourcing's own process recorder writes.

Differential: the same events written by ``PostgresBatchStore`` and by eventsourcing's
``Mapper`` + ``PostgresProcessRecorder`` (a second application's tables in the same
database) are the same rows, byte for byte, with notification ids in the batch's order.
The recorder's guarantees for readers of the notification log are kept: the batch takes
the table's EXCLUSIVE lock (so ids are issued and committed one writer at a time) and
notifies the table's channel. The store-agnostic behaviour (position in the same
transaction, refusals) runs on both backends in tests/ledger/test_batchstore.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import Tracking

from bench.bench_ingest import sealed_messages
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from ledger.pgbatchstore import PostgresBatchStore
from ledger.stored import Row, select_rows
from streams.envelope import open_envelope, read_body
from tests.ledger.helpers import register
from tests.ledger.test_batchstore import (
    assert_on_eventsourcings_path,
    captured_batches,
    eventsourcing_mapper,
)
from tests.support import make_world


class ReferenceLedger(CustodyLedger):
    """Tables of its own (``reference_events``) in the same database."""

    name = "reference"


def relative(rows: list[Row]) -> list[Row]:
    """Rows with notification ids counted from the first one's."""
    first = rows[0][0]
    return [(n - first, *rest) for n, *rest in rows]


def test_rows_are_the_postgres_recorders_byte_for_byte(tmp_path: Path, postgres_url: str) -> None:
    world = make_world(tmp_path, postgres_url)
    ledger = world.ledger
    assert isinstance(ledger._batch_store, PostgresBatchStore)
    reference = ReferenceLedger(store_env(postgres_url, tmp_path / "unused.sqlite"))
    reference._batch_store = None  # eventsourcing's mapper and recorder write
    messages = [value for _, value in sealed_messages(world, 20, "urn:pg:")]
    reports = [Report(read_body(open_envelope(m)), m) for m in messages]
    first = ledger.recorder.max_notification_id() or 0
    batches = captured_batches(ledger)
    mapper = eventsourcing_mapper(ledger)
    for start in range(0, len(reports), 50):
        chunk = reports[start : start + 50]
        tracking = Tracking("pg:0", start + len(chunk) - 1)
        assert all(d.accepted for d in ledger.process(chunk, tracking))
        stored = [mapper.to_stored_event(event) for event in batches[-1]]
        reference.recorder.insert_events(stored, tracking=tracking)
    ours = select_rows(ledger, first + 1, 10_000)
    theirs = select_rows(reference, 1, 10_000)
    assert len(ours) == sum(map(len, batches)) > len(reports)
    assert relative(ours) == relative(theirs)
    assert [n for n, *_ in ours] == list(range(first + 1, first + 1 + len(ours)))
    assert ledger.position("pg:0") == reference.position("pg:0") == len(reports) - 1
    assert ledger.get_item("urn:pg:3").state.status.value == "sold"


def test_other_postgres_setups_keep_eventsourcings_path(tmp_path: Path, postgres_url: str) -> None:
    env = store_env(postgres_url, tmp_path / "x")
    # eventsourcing's database function inserts events only (no position): not ours to copy.
    functions = ReferenceLedger({**env, "POSTGRES_ENABLE_DB_FUNCTIONS": "y"})
    assert functions._batch_store is None
    assert_on_eventsourcings_path(
        register(CustodyLedger({**env, "SINGLE_ROW_TRACKING": "n"})), tmp_path
    )


def waiting_on_a_lock(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE 'LOCK TABLE%%'"
    ).fetchone()
    return bool(row and row[0])


def test_a_batch_waits_for_other_writers_and_notifies(tmp_path: Path, postgres_url: str) -> None:
    world = make_world(tmp_path, postgres_url)
    ledger = world.ledger
    messages = [value for _, value in sealed_messages(world, 1, "urn:lock:")]
    reports = [Report(read_body(open_envelope(m)), m) for m in messages]
    before = len(select_rows(ledger, 1, 10_000))
    done = threading.Event()
    with (
        psycopg.connect(postgres_url, autocommit=True) as listener,
        psycopg.connect(postgres_url, autocommit=True) as watcher,
        psycopg.connect(postgres_url) as writer,
    ):
        listener.execute('LISTEN "ledger_events"')
        # Another writer's insert in flight: ROW EXCLUSIVE, which a plain insert would not
        # wait for, but the EXCLUSIVE lock that keeps ids in commit order does.
        writer.execute("LOCK TABLE ledger_events IN ROW EXCLUSIVE MODE")

        def put() -> None:
            ledger.process(reports, Tracking("lock:0", 6))
            done.set()

        thread = threading.Thread(target=put)
        thread.start()
        while not waiting_on_a_lock(watcher):
            assert not done.is_set(), "the batch did not wait for the other writer"
        assert len(select_rows(ledger, 1, 10_000)) == before
        writer.commit()
        thread.join()
        assert done.is_set()
        assert len(select_rows(ledger, 1, 10_000)) > before
        assert [n.channel for n in listener.notifies(timeout=30, stop_after=1)] == ["ledger_events"]
