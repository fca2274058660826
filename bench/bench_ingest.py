"""Ingest throughput: publish → stored in the ledger, next to raw kafka-python consume.

    uv run python bench/bench_ingest.py [--items 3000] [--partitions 6]

(also part of ``python -m bench``, which reuses ``measure``, ``raw_produce`` and ``raw_consume``)

Uses ASSAY_KAFKA_BOOTSTRAP if set, else starts a local broker in a temp dir. Both rates
are measured on the same broker in the same run; the ratio is the figure of merit
(goal: ingest ≥ 0.5 × raw consume, with signature checks on).

It also prints where one event's CPU goes: thread CPU µs per event of each ingest stage
(consume: the bare consume loop, its records read as the ingest's consumer reads them,
natively: streams/kafka_records.py; kafka-python's own reading is printed beside it;
envelope, signature, body: the gate's steps; rules: loading and deciding in
``ledger.process``; save: its one transaction), each measured alone on the same
messages, next to the CPU the whole ingest spent per event and the Ed25519 verify floor
(verifications per second of one core, same run): the goal is an ingest of at least 0.45×
that floor.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaConsumer, KafkaProducer

from ledger.application import CustodyLedger, Report
from streams.envelope import Envelope, open_envelope, read_body, seal
from streams.ingest import Ingest, tune_collector
from streams.kafka_records import read_natively
from streams.keys import verify_signature
from streams.producer import PRODUCER_DEFAULTS
from streams.topics import custody_topics, ensure_topics
from tests.support import World, make_world, story_events


@contextmanager
def broker(tmp: Path) -> Iterator[str]:
    """The bootstrap of ``$ASSAY_KAFKA_BOOTSTRAP``, else of a local broker under ``tmp``
    that runs for the block."""
    if os.environ.get("ASSAY_KAFKA_BOOTSTRAP"):
        yield os.environ["ASSAY_KAFKA_BOOTSTRAP"]
        return
    from devtools.localbroker import LocalBroker

    local = LocalBroker(tmp / "broker")
    try:
        yield local.start()
    finally:
        local.stop()


STAGES = ("consume", "envelope", "signature", "body", "rules", "save")
#: Reports per ledger.process call when stages are timed alone: about what one poll of
#: 2,000 records brings per partition of six.
STAGE_BATCH = 350


def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    return raw_consume_cpu(bootstrap, topic, expected)[0]


def raw_consume_cpu(
    bootstrap: str, topic: str, expected: int, native: bool = False
) -> tuple[float, float]:
    """Events/s of a bare kafka-python consume loop, and its thread CPU µs per event
    (``native``: records read as the ingest's consumer reads them)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    if native:
        assert read_natively(consumer)
    seen = 0
    start = None
    cpu = 0.0
    while seen < expected:
        began = time.thread_time()
        polled = consumer.poll(timeout_ms=500)
        for records in polled.values():
            if start is None:
                start = time.perf_counter()
            seen += len(records)
        if start is not None:
            cpu += time.thread_time() - began
    elapsed = time.perf_counter() - (start or time.perf_counter())
    consumer.close()
    return expected / elapsed, cpu / expected * 1e6


class TimedIngest(Ingest):
    first: float | None = None
    last: float = 0.0
    cpu: float = 0.0  # thread CPU seconds from the first batch's start to the last's end
    cpu_first: float | None = None

    def process_partition(self, tp, records):  # type: ignore[no-untyped-def]
        if self.first is None:
            self.first = time.perf_counter()
            self.cpu_first = time.thread_time()
        super().process_partition(tp, records)
        self.last = time.perf_counter()
        self.cpu = time.thread_time() - (self.cpu_first or 0.0)


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


def _cpu(run: object) -> float:
    assert callable(run)
    began = time.thread_time()
    run()
    return time.thread_time() - began


def stage_cpu(tmp: Path, items: int, prefix: str = "urn:stage:") -> dict[str, float]:
    """Thread CPU µs per event of envelope, signature, body, rules and save, each alone,
    on the bench's signed stories in a fresh ledger; and the verify floor (events/s)."""
    world = make_world(tmp)
    messages = [value for _, value in sealed_messages(world, items, prefix)]
    keys = {p: bytes.fromhex(k.public_key_hex) for p, k in world.keys.items()}
    envelopes: list[Envelope] = []
    reports: list[Report] = []
    seconds = {
        "envelope": _cpu(lambda: envelopes.extend(open_envelope(m) for m in messages)),
    }

    def check_all() -> None:
        for e in envelopes:
            verify_signature(keys[e.party_id], e.body, e.signature)

    seconds["signature"] = _cpu(check_all)
    seconds["body"] = _cpu(
        lambda: reports.extend(
            Report(read_body(e), m) for e, m in zip(envelopes, messages, strict=True)
        )
    )
    seconds["rules"], seconds["save"] = _rules_and_save(world.ledger, reports)
    per_event = {name: value / len(messages) * 1e6 for name, value in seconds.items()}
    per_event["verify_floor_per_s"] = len(messages) / seconds["signature"]
    return per_event


def _rules_and_save(ledger: CustodyLedger, reports: list[Report]) -> tuple[float, float]:
    """CPU seconds of ledger.process in batches: all but the transaction, and the
    transaction (the ledger's _record, once per batch: encoding and storing the events
    and the position)."""
    record = ledger._record
    saving = [0.0]

    def timed_record(*args: object, **kwargs: object) -> object:
        began = time.thread_time()
        try:
            return record(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            saving[0] += time.thread_time() - began

    ledger._record = timed_record  # type: ignore[assignment,method-assign]
    try:

        def process_all() -> None:
            for first in range(0, len(reports), STAGE_BATCH):
                decisions = ledger.process(reports[first : first + STAGE_BATCH], None)
                assert all(d.accepted for d in decisions), decisions[0]

        total = _cpu(process_all)
    finally:
        del ledger._record
    return total - saving[0], saving[0]


def measure(bootstrap: str, tmp: Path, items: int, partitions: int = 6) -> dict[str, Any]:
    """Raw produce and consume on one broker, next to the in-process ingest of the same data."""
    tune_collector()  # the collector as an ingest process runs it (assay.runtime.make_ingest)
    world = make_world(tmp)
    suffix = uuid.uuid4().hex[:6]
    topic, rejected = f"bench.events.{suffix}", f"bench.rejected.{suffix}"
    ensure_topics(bootstrap, custody_topics(topic, rejected, f"bench.cp.{suffix}", partitions))
    t = time.perf_counter()
    messages = sealed_messages(world, items, "urn:bench:")
    sign_rate = len(messages) / (time.perf_counter() - t)
    publish_rate = raw_produce(bootstrap, topic, messages)
    raw, kafka_python_cpu = raw_consume_cpu(bootstrap, topic, len(messages))
    consume_cpu = raw_consume_cpu(bootstrap, topic, len(messages), native=True)[1]
    ingest = TimedIngest(
        world.ledger, bootstrap, topic=topic, rejected_topic=rejected, group=f"bench-{suffix}"
    )
    stats = ingest.run(until_idle=3.0)  # the rate is timed from first to last batch
    assert stats.accepted == len(messages), stats
    ingest_rate = len(messages) / (ingest.last - (ingest.first or ingest.last))
    stages = {"consume": consume_cpu, **stage_cpu(tmp / "stages", items)}
    floor = stages.pop("verify_floor_per_s")
    return {
        "events": len(messages),
        "seal_per_s": sign_rate,
        "raw_produce_per_s": publish_rate,
        "raw_consume_per_s": raw,
        "ingest_per_s": ingest_rate,
        "ingest_over_raw_consume": ingest_rate / raw,
        "ingest_cpu_us": ingest.cpu / len(messages) * 1e6,
        "consume_kafka_python_cpu_us": kafka_python_cpu,
        "stage_cpu_us": stages,
        "verify_floor_per_s": floor,
        "ingest_over_verify_floor": ingest_rate / floor,
        # The same ratio from CPU time (what one core could do), unmoved by other load.
        "ingest_cpu_over_verify_floor": stages["signature"] / (ingest.cpu / len(messages) * 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3000, help="items × 7 events each")
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with broker(tmp) as bootstrap:
            m = measure(bootstrap, tmp, args.items, args.partitions)
    print(f"events                      {m['events']:>10.0f}")
    print(f"sign (seal) rate            {m['seal_per_s']:>10.0f} events/s")
    print(f"raw produce (acks=all)      {m['raw_produce_per_s']:>10.0f} events/s")
    print(f"raw kafka-python consume    {m['raw_consume_per_s']:>10.0f} events/s")
    print(f"ingest (verify+store)       {m['ingest_per_s']:>10.0f} events/s")
    print(f"ratio ingest / raw consume  {m['ingest_over_raw_consume']:>10.2f}  (goal ≥ 0.5)")
    print(f"verify floor (Ed25519)      {m['verify_floor_per_s']:>10.0f} events/s")
    print(f"ratio ingest / verify floor {m['ingest_over_verify_floor']:>10.2f}  (goal ≥ 0.45)")
    print(f"  the same by CPU time      {m['ingest_cpu_over_verify_floor']:>10.2f}")
    print("CPU µs per event, each stage alone:")
    for stage, micros in m["stage_cpu_us"].items():
        print(f"  {stage:<26}{micros:>10.1f}")
    print(f"  {'sum of the stages':<26}{sum(m['stage_cpu_us'].values()):>10.1f}")
    print(f"  {'ingest (measured, whole)':<26}{m['ingest_cpu_us']:>10.1f}")
    print(f"  {'(consume, kafka-python)':<26}{m['consume_kafka_python_cpu_us']:>10.1f}")


if __name__ == "__main__":
    main()
