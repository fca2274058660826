"""Use case: the Kafka broker goes down in the middle of ingest and comes back.

The ingest, the anchor and the projector keep running through the outage and resume by
themselves; afterwards every event published before, during (buffered by the scanner's
producer) and after the outage is stored exactly once, the chain audits clean and the
projection equals a rebuild.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from devtools.localbroker import LocalBroker
from tests.faults.harness import CrashReport, Pipeline, check, custody_counts, wait_until
from tests.faults.support import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_the_pipeline_resumes_by_itself_after_a_broker_restart(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "broker")
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

        # During the outage a scanner keeps publishing: its producer buffers and retries.
        during = threading.Thread(target=site.publish_items, args=(300, 50))
        during.start()
        time.sleep(3)  # the outage lasts; every process keeps running through it
        pipeline.check_alive()
        assert broker.start() == bootstrap  # same address: clients reconnect by themselves
        during.join(timeout=120)
        assert not during.is_alive()

        site.publish_items(350, 100)
        report = CrashReport()
        check(site, pipeline, tmp_path, report)  # exactly once, audit clean, projection = rebuild
        assert report.stored == site.published == 450 * 7
        pipeline.check_alive()  # no process had to be restarted by hand
    finally:
        if pipeline is not None:
            pipeline.stop()
        broker.stop()
