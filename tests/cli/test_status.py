"""``assay status``: unhealthy when nobody ingests or the broker is gone, healthy again once
it is back; the JSON says why, and the exit code says it to scripts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from devtools.localbroker import LocalBroker
from streams.producer import Producer
from tests.faults.support import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def status(site: Deployment) -> tuple[int, dict[str, Any]]:
    done = site.assay("status", "--json", timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def caught_up(report: dict[str, Any]) -> bool:
    return bool(report["checks"]["ingest"].get("total_lag") == 0)


def wait_for_status(site: Deployment, code: int, run: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The first report with this exit code once every event is stored."""
    deadline = time.monotonic() + 180
    while True:
        got, report = status(site)
        if got == code and caught_up(report):
            return report
        assert run.poll() is None, "assay run exited"
        if time.monotonic() > deadline:
            raise AssertionError(f"status never exited {code}: {json.dumps(report, indent=1)}")
        time.sleep(0.5)


def test_status_follows_the_broker_down_and_back_up(tmp_path: Path, broker: LocalBroker) -> None:
    site = Deployment(tmp_path / "data", broker.start())
    site.publish_items(0, 10)
    with Producer(site.bootstrap) as producer:
        producer.send(site.events_topic, b"garbage", key=b"urn:fault:0")

    # Nobody ingests yet: every partition is unowned and the lag is the whole topic.
    code, report = status(site)
    assert code == 1 and report["healthy"] is False
    ingest = report["checks"]["ingest"]
    assert ingest["healthy"] is False and ingest["unowned_partitions"] == [0, 1, 2]
    assert ingest["total_lag"] == 71

    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([sys.executable, "-m", "assay", "run"], env=site.env,
                           stdout=log, stderr=log)  # fmt: skip
    try:
        report = wait_for_status(site, 0, run)
        checks = report["checks"]
        assert checks["broker"]["reachable"] is True
        assert checks["ingest"]["unowned_partitions"] == [] and checks["ingest"]["total_lag"] == 0
        assert checks["rejected"]["by_code"] == {"not_single_object": 1}
        assert checks["anchor"]["height"] is not None

        assert broker.stop()
        code, report = status(site)
        assert code == 3 and report["checks"]["broker"]["healthy"] is False
        text = site.assay("status", timeout=120)
        assert text.returncode == 3
        assert "FAIL  broker" in text.stdout and text.stdout.rstrip().endswith("broker")

        assert broker.start() == site.bootstrap
        site.publish_items(10, 5)
        report = wait_for_status(site, 0, run)
        assert report["checks"]["ingest"]["total_lag"] == 0
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        log.close()
