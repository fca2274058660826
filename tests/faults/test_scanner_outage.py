"""Use case: a warehouse loses its broker; its scanners keep every scan.

With the broker stopped, 1,000 scans are made: 500 by a scanner application on the SDK,
500 by ``assay publish``. Neither loses one: each is signed into its device's outbox. The
broker comes back; the scanner application is SIGKILLed once in the middle of sending and
restarted, and ``assay outbox flush`` sends what ``assay publish`` left. A real
``assay ingest`` then stores all 1,000 exactly once, each item's scans in the order made.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools.localbroker import LocalBroker
from streams.keys import DeviceKey
from streams.outbox import outbox_beside
from tests.faults.scanner_app import STORY
from tests.faults.support import Deployment, _all_notifications

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ITEMS = 100  # per device: 100 items x 5 scans = 500


def enrol(site: Deployment, name: str) -> Path:
    path = site.data_dir.parent / f"{name}.key"
    key = DeviceKey.generate("brand", name)
    key.save(path)
    site.ledger().enrol_device("brand", name, key.public_key_hex)
    return path


def waiting(outbox: Path) -> int:
    """Scans in an outbox, read the way any SQLite reader would."""
    con = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=30)
    try:
        return int(con.execute("SELECT count(*) FROM outbox WHERE failed IS NULL").fetchone()[0])
    finally:
        con.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def scanner_app(key: Path, site: Deployment, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.scanner_app", str(key), site.bootstrap,
         site.events_topic, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def publish_lines(path: Path, device: str) -> Path:
    lines = []
    for n in range(ITEMS):
        item = f"urn:outage:{device}:{n}"
        ids = [f"{device}-{item}-{k}" for k in range(STORY)]
        steps = [
            {"kind": "commissioning", "tag_uid": f"TAG-{ids[0]}", "brand": "B", "model": "M",
             "serial": item},
            {"kind": "observing"},
            {"kind": "shipping", "counterparty": "dc"},
            {"kind": "void_shipping"},
            {"kind": "observing"},
        ]  # fmt: skip
        for event_id, step in zip(ids, steps, strict=True):
            line = {"item_id": item, "event_id": event_id, "location": "loc-brand", **step}
            lines.append(json.dumps(line))
    path.write_text("\n".join(lines) + "\n")
    return path


def stored_in_order(site: Deployment) -> dict[str, list[str]]:
    """Every stored custody event id, per item, in the item's version order."""
    ledger = site.ledger()
    stories: dict[str, list[str]] = {}
    for notification in _all_notifications(ledger):
        if notification.topic.startswith("domain.items:Item."):
            custody = getattr(ledger.mapper.to_domain_event(notification), "custody", None)
            if custody is not None:
                stories.setdefault(custody.item_id, []).append(custody.event_id)
    return stories


def test_scans_made_while_the_broker_is_away_are_all_stored_once_in_order(
    tmp_path: Path,
) -> None:
    broker = LocalBroker(tmp_path / "broker", short_lived=True)
    bootstrap = broker.start()
    try:
        site = Deployment(tmp_path / "data", bootstrap)
        sdk_key, cli_key = enrol(site, "sdk-scanner"), enrol(site, "cli-scanner")
        assert broker.stop()

        # The warehouse keeps scanning: 500 scans through the SDK ...
        app = scanner_app(sdk_key, site, "--items", str(ITEMS), "--window", "5")
        assert app.stdout is not None
        assert app.stdout.readline().strip() == f"made {ITEMS * STORY}"
        assert waiting(outbox_beside(sdk_key)) == ITEMS * STORY
        # ... and 500 through `assay publish`, which keeps them and says so (exit 5).
        lines = publish_lines(tmp_path / "scans.jsonl", "cli-scanner")
        published = site.assay("publish", str(lines), "--device-key", str(cli_key),
                               "--wait", "2")  # fmt: skip
        assert published.returncode == 5, published.stdout + published.stderr
        assert "500 wait in" in published.stdout
        assert "Traceback" not in published.stderr
        assert waiting(outbox_beside(cli_key)) == ITEMS * STORY
        shown = site.assay("outbox", "status", "--device-key", str(cli_key), "--json")
        assert shown.returncode == 5, shown.stdout + shown.stderr  # work left undone
        assert json.loads(shown.stdout)["pending"] == ITEMS * STORY

        # The broker returns at the same address; the app is killed while it sends.
        assert broker.start() == bootstrap
        sdk_outbox = outbox_beside(sdk_key)
        wait_for(lambda: waiting(sdk_outbox) < ITEMS * STORY, 120, "the app to start sending")
        app.send_signal(signal.SIGKILL)
        app.wait()
        left = waiting(sdk_outbox)
        assert 0 < left < ITEMS * STORY, f"killed before or after sending ({left} left)"

        # Restarted, the app sends what was left; `assay outbox flush` sends publish's.
        restarted = scanner_app(sdk_key, site)
        out, err = restarted.communicate(timeout=180)
        assert restarted.returncode == 0, out + err
        assert waiting(sdk_outbox) == 0
        flushed = site.assay("outbox", "flush", "--device-key", str(cli_key), "--wait", "120")
        assert flushed.returncode == 0, flushed.stdout + flushed.stderr
        assert waiting(outbox_beside(cli_key)) == 0
        shown = site.assay("outbox", "status", "--device-key", str(cli_key))
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "0 message(s) waiting; 0 refused by the broker" in shown.stdout

        # The real ingest stores every scan exactly once, each item's in the order made.
        site.assay("ingest", "--until-idle", "0.5", check=True)
        assert site.stored_custody() == (2 * ITEMS * STORY, 2 * ITEMS * STORY)
        stories = stored_in_order(site)
        for device in ("sdk-scanner", "cli-scanner"):
            for n in range(ITEMS):
                item = f"urn:outage:{device}:{n}"
                assert stories[item] == [f"{device}-{item}-{k}" for k in range(STORY)], item
    finally:
        broker.stop()
