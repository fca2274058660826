"""Use case: the scaled deployment, as separate processes on the real broker and PostgreSQL.

Two ingest workers share six partitions, one anchor seals, one projector projects. 50k
events are published; one worker is SIGKILLed midway. Afterwards every event is stored
exactly once, the chain audits clean, and the projections match the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest

from streams.envelope import seal
from streams.producer import Producer
from streams.topics import custody_topics, ensure_topics
from tests.support import make_world, story_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

ITEMS = 7150  # × 7 events = 50,050
PARTITIONS = 6


def count_item_events(database_url: str) -> tuple[int, int]:
    """(stored item events, distinct (item, event id) pairs) straight from PostgreSQL."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (originator_id, "
            "convert_from(state, 'UTF8')::json->'custody'->'_data_'->>'event_id')) "
            "FROM ledger_events WHERE topic LIKE 'domain.items:Item.%'"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


# 50k events through Kafka into PostgreSQL: its own waits (each a condition) bound it, not
# the suite's default per-test timeout, which a loaded machine exceeds.
@pytest.mark.timeout(1500)
def test_two_workers_anchor_and_projector_survive_a_killed_worker(
    kafka_bootstrap: str, postgres_url: str, tmp_path: Path
) -> None:
    world = make_world(tmp_path, postgres_url)
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ASSAY_DATABASE_URL": postgres_url,
        "ASSAY_DATA_DIR": str(tmp_path),
        "ASSAY_EVENTS_TOPIC": f"scale.events.{suffix}",
        "ASSAY_REJECTED_TOPIC": f"scale.rejected.{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": f"scale.cp.{suffix}",
        "ASSAY_CONSUMER_GROUP": f"scale-{suffix}",
        "ASSAY_PARTITIONS": str(PARTITIONS),
        "ASSAY_BLOCK_MAX_EVENTS": "5000",
    }
    ensure_topics(
        kafka_bootstrap,
        custody_topics(
            env["ASSAY_EVENTS_TOPIC"],
            env["ASSAY_REJECTED_TOPIC"],
            env["ASSAY_CHECKPOINTS_TOPIC"],
            PARTITIONS,
        ),
    )

    def spawn(*args: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{args[0]}-{uuid.uuid4().hex[:4]}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "assay", *args], env=env, stdout=log, stderr=log
        )

    # Use case 1: the platform key exists before anyone seals.
    subprocess.run(
        [sys.executable, "-m", "assay", "keys", "init"], env=env, check=True, capture_output=True
    )
    workers = [spawn("ingest"), spawn("ingest")]
    anchor, projector = spawn("anchor"), spawn("project")
    try:
        # Use case 2: scanners publish 50k signed events for 7,150 items.
        published = 0
        with Producer(kafka_bootstrap) as producer:
            for n in range(ITEMS):
                for event in story_events(f"urn:scale:{n}", f"SCALE-{n}"):
                    envelope = seal(event, world.keys[event.party_id])
                    producer.send(env["ASSAY_EVENTS_TOPIC"], envelope, key=event.item_id.encode())
                    published += 1
        assert published == ITEMS * 7

        # Use case 3: a worker dies mid-way; the other takes its partitions over.
        wait_for(
            lambda: count_item_events(postgres_url)[0] > published // 4,
            300,
            "a quarter of the events to be stored",
        )
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        wait_for(
            lambda: count_item_events(postgres_url)[0] >= published, 600, "every event to be stored"
        )
        stored, distinct = count_item_events(postgres_url)
        assert stored == distinct == published  # once each: nothing lost, nothing twice

        # Use case 4: the anchor and the projector catch up with the store.
        max_id = world.ledger.recorder.max_notification_id()
        from anchoring.chain import Chain
        from ledger.config import store_env

        chain = Chain(store_env(postgres_url, tmp_path / "chain.sqlite"))
        wait_for(lambda: chain.position() >= (max_id or 0), 300, "the anchor to seal it all")
    finally:
        for process in [*workers, anchor, projector]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*workers, anchor, projector]:
            process.wait(timeout=60)

    # Use case 5: the auditor recomputes the chain from the store.
    audit = subprocess.run(
        [sys.executable, "-m", "assay", "audit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr

    # Use case 6: analysts see exactly the stored history, every row anchored.
    subprocess.run(
        [sys.executable, "-m", "assay", "project", "--until-idle", "1"],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    con = duckdb.connect(str(tmp_path / "projections.duckdb"), read_only=True)
    rows, anchored = con.execute(
        "SELECT count(*), count(block_height) FROM custody_events"
    ).fetchone() or (0, 0)
    assert rows == anchored == published
