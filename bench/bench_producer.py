"""Producer settings, measured: publish rate and bytes on the wire per configuration.

    uv run python bench/bench_producer.py [--events 20000]

All runs use acks=all and idempotence (never traded away); only batching and compression
vary. The chosen defaults live in streams/producer.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.bench_ingest import broker, sealed_messages
from streams.producer import Producer
from streams.topics import TopicSpec, ensure_topics
from tests.support import make_world


def config(linger_ms: int, batch_size: int, compression: str | None) -> dict[str, Any]:
    return {"linger_ms": linger_ms, "batch_size": batch_size, "compression_type": compression}


CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("no batching, none", config(0, 16384, None)),
    ("linger 5 ms, 256 KiB, none", config(5, 262144, None)),
    ("linger 5 ms, 256 KiB, gzip", config(5, 262144, "gzip")),
    ("linger 20 ms, 1 MiB, gzip", config(20, 1048576, "gzip")),
    ("linger 5 ms, 256 KiB, lz4", config(5, 262144, "lz4")),
    ("linger 5 ms, 256 KiB, zstd", config(5, 262144, "zstd")),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=21000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-producer-"))
    with broker(tmp) as bootstrap:
        world = make_world(tmp)
        messages = sealed_messages(world, args.events // 7, "urn:p:")
        print(f"{len(messages)} envelopes of ~{len(messages[0][1])} B, acks=all, idempotent")
        print(f"{'configuration':<30}{'events/s':>10}")
        for name, config in CONFIGS:
            topic = f"bench.producer.{uuid.uuid4().hex[:6]}"
            ensure_topics(bootstrap, [TopicSpec(topic, 6)])
            try:
                with Producer(bootstrap, **config) as producer:
                    start = time.perf_counter()
                    for key, value in messages:
                        producer.send(topic, value, key=key)
                    producer.flush()
                    rate = len(messages) / (time.perf_counter() - start)
            except Exception as e:  # a codec whose library is not installed
                print(f"{name:<30}{'n/a':>10}  ({type(e).__name__}: {e})")
                continue
            print(f"{name:<30}{rate:>10.0f}")


if __name__ == "__main__":
    main()
