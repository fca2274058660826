"""The scanner outbox, measured against sending straight through a producer, same run.

    uv run python bench/bench_outbox.py [--events 5000]

Rows: keeping a scan in the outbox (one fsynced transaction per scan, as the SDK does;
one per batch of lines, as ``assay publish`` does); draining a full outbox to the broker
(oldest first, one request in flight, acknowledged before removal); and the baseline, the
same signed envelopes sent by the plain producer (acks=all, idempotent, batching).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ingest import broker, sealed_messages
from streams.outbox import Outbox
from streams.producer import Producer
from streams.sender import OutboxSender
from streams.topics import TopicSpec, ensure_topics
from tests.support import make_world


def rate(count: int, seconds: float) -> str:
    return f"{count / max(seconds, 1e-9):,.0f} msg/s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-outbox-"))
    with broker(tmp) as bootstrap:
        world = make_world(tmp)
        messages = sealed_messages(world, args.events // 7 + 1, "urn:o:")[: args.events]
        count = len(messages)
        topics = [f"bench.outbox.{uuid.uuid4().hex[:8]}" for _ in range(2)]
        ensure_topics(bootstrap, [TopicSpec(t, 6) for t in topics])

        began = time.perf_counter()
        with Producer(bootstrap) as producer:
            for key, value in messages:
                producer.send(topics[0], value, key=key)
        direct = time.perf_counter() - began

        outbox = Outbox(tmp / "scans.outbox.sqlite")
        began = time.perf_counter()
        for key, value in messages:
            outbox.put(topics[1], key, value)
        per_scan = time.perf_counter() - began

        batched = Outbox(tmp / "lines.outbox.sqlite")
        began = time.perf_counter()
        for start in range(0, count, 1000):
            batched.put_many([(topics[1], k, v) for k, v in messages[start : start + 1000]])
        per_batch = time.perf_counter() - began
        batched.close()

        began = time.perf_counter()
        sender = OutboxSender(outbox, bootstrap).start()
        left = sender.wait_sent(timeout=600)
        drain = time.perf_counter() - began
        sender.stop()
        outbox.close()
        assert left == 0, f"{left} not sent"

        print(f"{count:,} signed envelopes (~{len(messages[0][1])} B), 6 partitions")
        print(f"  baseline: producer send + flush          {rate(count, direct)}")
        print(f"  outbox put, one fsync per scan (SDK)     {rate(count, per_scan)}"
              f"  ({per_scan / count * 1e3:.2f} ms per scan)")  # fmt: skip
        print(f"  outbox put_many, 1,000 per transaction   {rate(count, per_batch)}")
        print(f"  outbox drain to the broker (sender)      {rate(count, drain)}"
              f"  ({direct / drain:.2f}x the baseline)")  # fmt: skip


if __name__ == "__main__":
    main()
