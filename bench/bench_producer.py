"""Producer settings, measured: publish rate, CPU and bytes on the wire per configuration.

    uv run python bench/bench_producer.py [--events 21000] [--rounds 3] [--only gzip zstd]

All runs use acks=all and idempotence (never traded away); only batching and compression
vary. The chosen defaults live in streams/producer.py. Each configuration publishes the
same signed envelopes to a fresh topic, then a consumer with the ingest's settings reads
them back; the configurations alternate in every round (the cores are shared), and the
table gives the median of the rounds (after one unrecorded warm-up run):

- producer: CPU µs per event of this process (send, batching, compression in the
  producer's I/O thread) from the first send to the acknowledged flush;
- consume: CPU µs per event of reading the topic back (fetch, CRC, decompression), what
  an ingest worker's consume stage pays;
- broker: CPU µs per event of the local broker process over both (it decompresses
  compressed batches to validate them);
- B/event: bytes the topic's log holds per event, as the batches travelled on the wire.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaConsumer, codec

from bench.bench_ingest import sealed_messages
from bench.process_cpu import cpu_seconds
from streams.producer import PRODUCER_DEFAULTS, Producer
from streams.topics import TopicSpec, ensure_topics
from tests.support import make_world


def config(linger_ms: int, batch_size: int, compression: str | None) -> dict[str, Any]:
    return {"linger_ms": linger_ms, "batch_size": batch_size, "compression_type": compression}


BATCHING = (PRODUCER_DEFAULTS["linger_ms"], PRODUCER_DEFAULTS["batch_size"])
CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("linger 5 ms, 256 KiB, gzip", config(*BATCHING, "gzip")),
    ("linger 5 ms, 256 KiB, lz4", config(*BATCHING, "lz4")),
    ("linger 5 ms, 256 KiB, zstd", config(*BATCHING, "zstd")),
    ("linger 5 ms, 256 KiB, snappy", config(*BATCHING, "snappy")),
    ("linger 5 ms, 256 KiB, none", config(*BATCHING, None)),
    ("no batching, none", config(0, 16384, None)),
    ("linger 20 ms, 1 MiB, gzip", config(20, 1048576, "gzip")),
]
COLUMNS = ("events/s", "producer", "consume", "broker", "B/event", "batch B")
CODECS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "gzip": (codec.gzip_encode, codec.gzip_decode),
    "lz4": (codec.lz4_encode, codec.lz4_decode),
    "zstd": (codec.zstd_encode, codec.zstd_decode),
    "snappy": (codec.snappy_encode, codec.snappy_decode),
}


@contextmanager
def bench_broker(tmp: Path) -> Iterator[tuple[str, int | None, Path | None]]:
    """Bootstrap, pid and data directory of a local broker under ``tmp`` (pid and data
    directory ``None`` on ``$ASSAY_KAFKA_BOOTSTRAP``'s broker, which the bench cannot see)."""
    if os.environ.get("ASSAY_KAFKA_BOOTSTRAP"):
        yield os.environ["ASSAY_KAFKA_BOOTSTRAP"], None, None
        return
    from devtools.localbroker import LocalBroker

    local = LocalBroker(tmp / "broker")
    try:
        bootstrap = local.start()
        yield bootstrap, local.status().pid, local.storage_dir
    finally:
        local.stop()


def log_bytes(data_dir: Path | None, topic: str) -> float:
    """Bytes in the segment files of every partition of ``topic``, NaN if not visible."""
    if data_dir is None:
        return float("nan")
    return float(sum(p.stat().st_size for p in data_dir.glob(f"{topic}-*/*.log")))


def consume_all(bootstrap: str, topic: str, expected: int) -> None:
    """Read ``topic`` from the start to ``expected`` records with the ingest's settings."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    try:
        seen = 0
        while seen < expected:
            seen += sum(len(r) for r in consumer.poll(timeout_ms=500).values())
    finally:
        consumer.close()


def measure(
    bootstrap: str,
    pid: int | None,
    data_dir: Path | None,
    settings: dict[str, Any],
    messages: list[tuple[bytes, bytes]],
) -> dict[str, float]:
    """One configuration's row: events/s, CPU µs per event, bytes per event."""
    topic = f"bench.producer.{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 6)])
    n = len(messages)
    broker_before = cpu_seconds(pid) if pid is not None else None
    with Producer(bootstrap, **settings) as producer:
        _ = producer.client  # connect before the clock starts
        start, cpu = time.perf_counter(), time.process_time()
        for key, value in messages:
            producer.send(topic, value, key=key)
        producer.flush()
        produce_cpu = time.process_time() - cpu
        rate = n / (time.perf_counter() - start)
        batch = producer.client.metrics()["producer-metrics"]["batch-size-avg"]
    cpu = time.process_time()
    consume_all(bootstrap, topic, n)
    consume_cpu = time.process_time() - cpu
    broker_after = cpu_seconds(pid) if pid is not None else None
    broker = (
        broker_after - broker_before
        if broker_before is not None and broker_after is not None
        else float("nan")
    )
    return {
        "events/s": rate,
        "producer": produce_cpu / n * 1e6,
        "consume": consume_cpu / n * 1e6,
        "broker": broker / n * 1e6,
        "B/event": log_bytes(data_dir, topic) / n,
        "batch B": float(batch),
    }


def codec_cpu(messages: list[tuple[bytes, bytes]], per_batch: int) -> None:
    """Each codec alone on the envelopes cut into batches of ``per_batch`` records: CPU µs
    per event to compress and to decompress (best of 3), and the ratio."""
    chunks = [
        b"".join(k + v for k, v in messages[i : i + per_batch])
        for i in range(0, len(messages), per_batch)
    ]
    raw = sum(map(len, chunks))
    print(f"codecs alone, {per_batch} records per batch, µs per event (best of 3):")
    print(f"{'codec':<10}{'compress':>10}{'decompress':>12}{'ratio':>8}")
    for name, (encode, decode) in CODECS.items():
        if encode is None or decode is None:
            print(f"{name:<10}{'n/a':>10}")
            continue
        packed: list[bytes] = []
        best_enc = best_dec = float("inf")
        for _ in range(3):
            cpu = time.process_time()
            packed = [encode(c) for c in chunks]
            best_enc = min(best_enc, time.process_time() - cpu)
            cpu = time.process_time()
            for p in packed:
                decode(p)
            best_dec = min(best_dec, time.process_time() - cpu)
        n = len(messages)
        ratio = raw / sum(map(len, packed))
        print(f"{name:<10}{best_enc / n * 1e6:>10.2f}{best_dec / n * 1e6:>12.2f}{ratio:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=21000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="+", help="configurations whose name has one of these")
    args = parser.parse_args()
    configs = [c for c in CONFIGS if not args.only or any(o in c[0] for o in args.only)]
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-producer-"))
    with bench_broker(tmp) as (bootstrap, pid, data_dir):
        world = make_world(tmp)
        messages = sealed_messages(world, args.events // 7, "urn:p:")
        raw = sum(len(k) + len(v) for k, v in messages) / len(messages)
        print(f"{len(messages)} envelopes, key + value ~{raw:.0f} B, acks=all, idempotent")
        rows: dict[str, list[dict[str, float]]] = {name: [] for name, _ in configs}
        unavailable: dict[str, str] = {}
        measure(bootstrap, pid, data_dir, CONFIGS[0][1], messages)  # warm the broker's JIT
        for _ in range(args.rounds):
            for name, settings in configs:
                if name in unavailable:
                    continue
                try:
                    rows[name].append(measure(bootstrap, pid, data_dir, settings, messages))
                except Exception as e:  # a codec whose library is not installed
                    unavailable[name] = f"{type(e).__name__}: {e}"
        print(f"median of {args.rounds} alternated rounds; CPU in µs per event")
        print(f"{'configuration':<30}" + "".join(f"{c:>10}" for c in COLUMNS) + "  total CPU")
        for name, _ in configs:
            if name in unavailable:
                print(f"{name:<30}{'n/a':>10}  ({unavailable[name]})")
                continue
            med = {c: statistics.median(r[c] for r in rows[name]) for c in COLUMNS}
            total = med["producer"] + med["consume"] + med["broker"]
            cells = "".join(f"{med[c]:>10.1f}" for c in COLUMNS)
            spread = max(r["producer"] for r in rows[name]) - min(r["producer"] for r in rows[name])
            print(f"{name:<30}{cells}{total:>10.1f}  (producer spread {spread:.1f})")
        gzip = CONFIGS[0][0]
        if rows.get(gzip):
            batch = statistics.median(r["batch B"] for r in rows[gzip])
            per_event = statistics.median(r["B/event"] for r in rows[gzip])
            codec_cpu(messages, max(1, round(batch / per_event)))


if __name__ == "__main__":
    main()
