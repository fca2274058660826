"""Scale-out guarantees that do not need Kafka: followers see the global order without
late-filling gaps, and a second projector started by mistake is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from streams.envelope import seal
from tests.support import Helper, make_world, story_events

WRITERS = 4
ITEMS_PER_WRITER = 40


def test_concurrent_writers_never_fill_a_gap_behind_a_follower(
    tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    env = store_env(database_url, tmp_path / "ledger.sqlite")
    batches = [
        [
            Report(e, seal(e, world.keys[e.party_id]))
            for n in range(ITEMS_PER_WRITER)
            for e in story_events(f"urn:w{w}:{n}", f"W{w}-{n}")
        ]
        for w in range(WRITERS)
    ]
    done = threading.Event()

    def write(reports: list[Report]) -> None:
        ledger = CustodyLedger(env)  # each writer its own connections, as separate workers
        for i in range(0, len(reports), 7):
            ledger.process(reports[i : i + 7], None)

    follower = CustodyLedger(env)
    seen: list[int] = []
    late: list[int] = []

    def follow() -> None:
        position = follower.recorder.max_notification_id() or 0
        while True:
            finished = done.is_set()
            page = follower.recorder.select_notifications(start=position + 1, limit=500)
            seen.extend(n.id for n in page)
            if page:
                position = page[-1].id
            elif finished:
                return
            else:
                time.sleep(0.001)

    start_id = follower.recorder.max_notification_id() or 0
    reader = Helper(follow, name="follower")
    reader.start()
    writers = [Helper(write, b, name=f"writer-{n}") for n, b in enumerate(batches)]
    for t in writers:
        t.start()
    try:
        for t in writers:
            t.outcome(timeout=240)
    finally:
        done.set()
    reader.outcome(timeout=120)
    everything = [
        n.id for n in follower.recorder.select_notifications(start=start_id + 1, limit=100_000)
    ]
    assert len(everything) == WRITERS * ITEMS_PER_WRITER * 8  # 7 events + 1 tag claim each
    # The follower read in one pass, never looking back: if an id had appeared behind its
    # position after it moved on, it would be in `everything` but not in `seen`.
    late = sorted(set(everything) - set(seen))
    assert late == []
    assert seen == sorted(seen)


def test_a_second_projector_is_refused_while_one_runs(tmp_path: Path) -> None:
    make_world(tmp_path)
    env = {**os.environ, "ASSAY_DATA_DIR": str(tmp_path)}
    first = subprocess.Popen(
        [sys.executable, "-m", "assay", "project"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        # The first projector is in its loop once it has published the analyst snapshot.
        while not (tmp_path / "analyst.duckdb").exists() and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "assay", "project", "--until-idle", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.poll() is None, first.communicate()
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another `assay project`" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=30)
