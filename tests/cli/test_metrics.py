"""The metrics of a running ``assay run``, scraped while scanners publish, agree exactly with
what was published and what was rejected."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from domain.custody import Kind
from streams.envelope import seal
from streams.keys import DeviceKey
from streams.producer import Producer
from tests.cli.support import free_port
from tests.faults.support import Deployment
from tests.support import custody, story_events

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ITEMS = 60  # 7 accepted events each


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:  # fmt: skip
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class Publisher(threading.Thread):
    """Whole stories at a steady pace, with every kind of bad message mixed in."""

    def __init__(self, site: Deployment) -> None:
        super().__init__(daemon=True)
        self.site = site
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:
            self.error = e

    def _run(self) -> None:
        keys = self.site.keys
        stranger = DeviceKey.generate("dc", "dc-unknown")  # never enrolled
        forger = DeviceKey.generate("dc", "dc-d1")  # the enrolled id, another secret
        with Producer(self.site.bootstrap) as producer:

            def send(value: bytes, item: str) -> None:
                producer.send(self.site.events_topic, value, key=item.encode())

            for n in range(ITEMS):
                item = f"urn:metrics:{n}"
                for event in story_events(item, f"TAG-M{n}"):
                    send(seal(event, keys[event.party_id]), item)
                if n % 10 == 0:
                    # Flagged: the sold bag is scanned in another store (a clone).
                    clone = custody(10, Kind.OBSERVING, "osaka", item)
                    send(seal(clone, keys["osaka"]), item)
                    # Refused by a custody rule: a brand may not sell.
                    sale = custody(9, Kind.RETAIL_SELLING, "brand", item, buyer_ref="b")
                    send(seal(sale, keys["brand"]), item)
                if n % 15 == 0:
                    seen = custody(8, Kind.OBSERVING, "dc", item)
                    send(seal(seen, stranger), item)  # device_not_enrolled
                    seen = custody(8, Kind.OBSERVING, "dc", item, event_id=f"{item}#forged")
                    send(seal(seen, forger), item)  # bad_signature
                    send(b"not an envelope", item)  # not_single_object
                producer.flush()
                time.sleep(0.02)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 180
    while not condition():
        assert process.poll() is None, f"assay run exited ({process.returncode})"
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_scraped_counters_match_what_was_published_and_rejected(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    site = Deployment(tmp_path / "data", kafka_bootstrap)
    port = free_port()
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "assay", "run", "--metrics-port", str(port)],
        env=site.env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(port), run, "the metrics endpoint")
        publisher = Publisher(site)
        publisher.start()
        scrapes = 0
        while publisher.is_alive():  # under load: scraped while events arrive
            consumed = value(scrape(port), "assay_ingest_events_consumed_total")
            assert consumed >= 0
            scrapes += 1
            publisher.join(0.3)
        assert publisher.error is None, publisher.error
        assert scrapes > 1

        clones, sales, strangers = ITEMS // 10, ITEMS // 10, (ITEMS + 14) // 15
        total = ITEMS * 7 + clones + sales + 3 * strangers
        wait_for(lambda: value(scrape(port), "assay_ingest_events_consumed_total") >= total,
                 run, f"{total} messages consumed")  # fmt: skip
        sealed = ITEMS * 7 + clones  # every accepted and flagged event gets a leaf
        wait_for(lambda: value(scrape(port), "assay_anchor_events_sealed_total") >= sealed
                 and value(scrape(port), "assay_outbox_depth", outbox="checkpoints") == 0,
                 run, "the anchor and its checkpoints")  # fmt: skip
        s = scrape(port)
        assert value(s, "assay_ingest_events_consumed_total") == total
        assert value(s, "assay_ingest_events_accepted_total") == ITEMS * 7
        assert value(s, "assay_ingest_events_flagged_total") == clones
        assert value(s, "assay_ingest_events_duplicate_total") == 0
        rejected = {
            "role_not_allowed": sales,
            "device_not_enrolled": strangers,
            "bad_signature": strangers,
            "not_single_object": strangers,
        }
        for code, count in rejected.items():
            assert value(s, "assay_ingest_events_rejected_total", code=code) == count, code
        assert value(s, "assay_ingest_dead_letters_written_total") == sum(rejected.values())
        lags = {k: v for k, v in s.items() if k[0] == "assay_ingest_consumer_lag"}
        assert len(lags) == 3 and set(lags.values()) == {0.0}  # 3 partitions, caught up
        assert value(s, "assay_ingest_batch_seconds_count") > 0
        assert value(s, "assay_anchor_seal_seconds_count") > 0
        assert value(s, "assay_anchor_events_sealed_total") == sealed
        assert 0 <= value(s, "assay_checkpoint_age_seconds") < 600
        assert value(s, "assay_outbox_sent_total", outbox="checkpoints") >= 1
        assert value(s, "assay_projection_notifications_total") > 0
        assert "process_cpu_seconds_total" in {k[0] for k in s}
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        log.close()


def _answers(port: int) -> bool:
    try:
        scrape(port)
        return True
    except OSError:
        return False
