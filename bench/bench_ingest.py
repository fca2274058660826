"""Ingest throughput: publish → stored in the ledger, next to raw kafka-python consume.

    uv run python bench/bench_ingest.py [--items 3000] [--partitions 6]

(also part of ``python -m bench``, which reuses ``measure``, ``raw_produce`` and ``raw_consume``)

Uses ASSAY_KAFKA_BOOTSTRAP if set, else starts a local broker in a temp dir. Both rates
are measured on the same broker in the same run; the ratio is the figure of merit
(goal: ingest ≥ 0.5 × raw consume, with signature checks on).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaConsumer, KafkaProducer

from streams.envelope import seal
from streams.ingest import Ingest
from streams.producer import PRODUCER_DEFAULTS
from streams.topics import custody_topics, ensure_topics
from tests.support import World, make_world, story_events


def broker(tmp: Path) -> tuple[str, object | None]:
    if os.environ.get("ASSAY_KAFKA_BOOTSTRAP"):
        return os.environ["ASSAY_KAFKA_BOOTSTRAP"], None
    from devtools.localbroker import LocalBroker

    local = LocalBroker(tmp / "broker")
    return local.start(), local


def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    seen = 0
    start = None
    while seen < expected:
        for records in consumer.poll(timeout_ms=500).values():
            if start is None:
                start = time.perf_counter()
            seen += len(records)
    elapsed = time.perf_counter() - (start or time.perf_counter())
    consumer.close()
    return expected / elapsed


class TimedIngest(Ingest):
    first: float | None = None
    last: float = 0.0

    def process_partition(self, tp, records):  # type: ignore[no-untyped-def]
        if self.first is None:
            self.first = time.perf_counter()
        super().process_partition(tp, records)
        self.last = time.perf_counter()


def raw_produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """A bare kafka-python produce loop with the product's settings (acks=all, idempotent)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_DEFAULTS)
    try:
        start = time.perf_counter()
        for key, value in messages:
            producer.send(topic, value=value, key=key)
        producer.flush(timeout=120)
        return len(messages) / (time.perf_counter() - start)
    finally:
        producer.close()


def sealed_messages(world: World, items: int, prefix: str) -> list[tuple[bytes, bytes]]:
    """items × 7 signed envelopes (a story each), keyed by item id."""
    messages = []
    for n in range(items):
        for event in story_events(f"{prefix}{n}", f"{prefix}TAG-{n}"):
            messages.append((event.item_id.encode(), seal(event, world.keys[event.party_id])))
    return messages


def measure(bootstrap: str, tmp: Path, items: int, partitions: int = 6) -> dict[str, float]:
    """Raw produce and consume on one broker, next to the in-process ingest of the same data."""
    world = make_world(tmp)
    suffix = uuid.uuid4().hex[:6]
    topic, rejected = f"bench.events.{suffix}", f"bench.rejected.{suffix}"
    ensure_topics(bootstrap, custody_topics(topic, rejected, f"bench.cp.{suffix}", partitions))
    t = time.perf_counter()
    messages = sealed_messages(world, items, "urn:bench:")
    sign_rate = len(messages) / (time.perf_counter() - t)
    publish_rate = raw_produce(bootstrap, topic, messages)
    raw = raw_consume(bootstrap, topic, len(messages))
    ingest = TimedIngest(
        world.ledger, bootstrap, topic=topic, rejected_topic=rejected, group=f"bench-{suffix}"
    )
    stats = ingest.run(until_idle=3.0)  # the rate is timed from first to last batch
    assert stats.accepted == len(messages), stats
    ingest_rate = len(messages) / (ingest.last - (ingest.first or ingest.last))
    return {
        "events": len(messages),
        "seal_per_s": sign_rate,
        "raw_produce_per_s": publish_rate,
        "raw_consume_per_s": raw,
        "ingest_per_s": ingest_rate,
        "ingest_over_raw_consume": ingest_rate / raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3000, help="items × 7 events each")
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bootstrap, local = broker(tmp)
        try:
            m = measure(bootstrap, tmp, args.items, args.partitions)
        finally:
            if local is not None:
                local.stop()  # type: ignore[attr-defined]
    print(f"events                      {m['events']:>10.0f}")
    print(f"sign (seal) rate            {m['seal_per_s']:>10.0f} events/s")
    print(f"raw produce (acks=all)      {m['raw_produce_per_s']:>10.0f} events/s")
    print(f"raw kafka-python consume    {m['raw_consume_per_s']:>10.0f} events/s")
    print(f"ingest (verify+store)       {m['ingest_per_s']:>10.0f} events/s")
    print(f"ratio ingest / raw consume  {m['ingest_over_raw_consume']:>10.2f}  (goal ≥ 0.5)")


if __name__ == "__main__":
    main()
