"""Analysts read the published snapshot from other processes while everything writes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from projections.analyst import NoSnapshot, history, open_analyst
from projections.projector import Projector
from tests.projections.support import make_store
from tests.projections.workload import Workload
from tests.support import Helper

READER = Path(__file__).with_name("analyst_reader.py")


def test_a_reader_process_sees_fresh_snapshots_and_no_lock_error(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    workload = Workload(store, seed=5, items=30)
    workload.run(20)
    follower = store.reopen()
    projector = Projector(follower.ledger, follower.chain, tmp_path / "projections.duckdb")
    stop_ingest, stop_projector = threading.Event(), threading.Event()

    def ingest() -> None:
        while not stop_ingest.is_set():
            workload.run(3, max_batch=3, anchor_every=1)
            time.sleep(0.05)

    threads = [
        Helper(ingest, name="ingest"),
        Helper(lambda: projector.run(stop=stop_projector), name="projector"),
    ]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while not projector.snapshot_path.exists():
            assert all(t.is_alive() for t in threads), [t.error for t in threads]
            assert time.monotonic() < deadline, "no snapshot published"
            time.sleep(0.05)
        reader = subprocess.run(
            [sys.executable, str(READER), str(projector.snapshot_path), "90", "20", "3"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
    finally:
        stop_ingest.set()
        stop_projector.set()
        try:
            for t in threads:
                t.outcome(timeout=120)
        finally:
            projector.close()
    report = json.loads(reader.stdout)
    assert report["errors"] == []
    assert report["samples"] >= 20
    assert report["snapshots"] >= 3, report  # it kept being replaced under the reader
    # Fresh: what the reader sees keeps moving forward, never back to an older snapshot.
    # (How stale, in seconds, is a performance figure: bench/ measures event -> snapshot.)
    assert report["advances"] >= 2 and report["regressions"] == 0, report


def test_open_analyst_without_a_snapshot_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NoSnapshot, match="assay project"):
        open_analyst(tmp_path / "analyst.duckdb")


def test_history_from_the_snapshot(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    Workload(store, seed=2, items=3).run(20)
    with Projector(store.ledger, store.chain, tmp_path / "projections.duckdb") as projector:
        projector.catch_up()
        snapshot = projector.publish()
    with open_analyst(snapshot) as con:
        item = store.ledger.get_item("urn:item:2-0")
        rows = history(con, item.id)
    assert [r["version"] for r in rows] == list(range(1, item.version + 1))
    assert all(r["block_height"] is not None and r["leaf_hash"] for r in rows)
    assert rows[0]["kind"] == "commissioning"
