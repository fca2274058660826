"""Use case: the Kafka broker goes down in the middle of ingest and comes back.

The ingest, the anchor and the projector keep running through the outage and resume by
themselves; afterwards every event published before, during (kept in the scanners'
outbox) and after the outage is stored exactly once, the chain audits clean and the
projection equals a rebuild.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from devtools.localbroker import LocalBroker
from tests.faults.harness import CrashReport, Pipeline, check, custody_counts, wait_until
from tests.faults.support import Deployment
from tests.support import Helper

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_the_pipeline_resumes_by_itself_after_a_broker_restart(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "broker", short_lived=True)
    bootstrap = broker.start()
    pipeline: Pipeline | None = None
    try:
        site = Deployment(tmp_path / "data", bootstrap)
        pipeline = Pipeline(site, tmp_path)
        pipeline.start_all()

        # Scanners publish; ingest is under way when the broker stops.
        site.publish_items(0, 300)
        wait_until(lambda: custody_counts(site)[0] > 0, 120, "ingest to start", pipeline)
        assert broker.stop()

        # During the outage the scanners keep scanning: their outbox keeps every scan.
        outbox = tmp_path / "scanners.outbox.sqlite"
        during = Helper(site.scan_items, 300, 50, outbox)
        during.start()
        wait_until(lambda: _kept(outbox) == 350 or not during.is_alive(), 120,
                   "the scans to be kept", pipeline)  # fmt: skip
        time.sleep(3)  # the outage lasts; every process keeps running through it
        pipeline.check_alive()
        assert broker.start() == bootstrap  # same address: clients reconnect by themselves
        assert during.outcome(timeout=240) == 350

        site.publish_items(350, 100)
        report = CrashReport()
        check(site, pipeline, tmp_path, report)  # exactly once, audit clean, projection = rebuild
        assert report.stored == site.published == 450 * 7
        pipeline.check_alive()  # no process had to be restarted by hand
    finally:
        if pipeline is not None:
            pipeline.stop()
        broker.stop()


def _kept(outbox: Path) -> int:
    """Scans in the outbox (none while it does not exist yet)."""
    if not outbox.exists():
        return 0
    con = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=30)
    try:
        return int(con.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        con.close()
