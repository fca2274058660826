"""CPU time per event of the ingest path, for comparing two checkouts on a busy machine.

    cd <checkout> && .venv/bin/python <this repo>/bench/cpu_compare.py [--items 1000]

Run it from the root of the checkout to measure (it imports that checkout's code, through
public APIs older checkouts have too), alternating checkouts: base, branch, base, branch.
Wall-clock rates on a shared machine follow the other load; thread CPU time does not (much),
so this prints CPU µs per event of: envelope, signature, body (decoding and checking each
message), ledger.process (load + decide, and the transaction), prove p50, and, if
``$ASSAY_KAFKA_BOOTSTRAP`` names a broker, the whole in-process ingest of the same stories.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.getcwd())  # the checkout being measured, not this file's

BATCH = 350


def cpu(run: Callable[[], object]) -> float:
    began = time.thread_time()
    run()
    return time.thread_time() - began


def stages(tmp: Path, items: int) -> dict[str, float]:
    from bench.bench_ingest import sealed_messages
    from ledger.application import Report
    from streams.envelope import open_envelope, read_body
    from streams.keys import verify_signature
    from tests.support import make_world

    world = make_world(tmp)
    messages = [value for _, value in sealed_messages(world, items, "urn:cpu:")]
    keys = {p: bytes.fromhex(k.public_key_hex) for p, k in world.keys.items()}
    envelopes: list[Any] = []
    reports: list[Any] = []
    out = {"envelope": cpu(lambda: envelopes.extend(open_envelope(m) for m in messages))}

    def check_all() -> None:
        for e in envelopes:
            verify_signature(keys[e.party_id], e.body, e.signature)

    out["signature"] = cpu(check_all)
    out["body"] = cpu(
        lambda: reports.extend(
            Report(read_body(e), m) for e, m in zip(envelopes, messages, strict=True)
        )
    )
    ledger: Any = world.ledger
    record = ledger._record
    saving = [0.0]

    def timed_record(*args: Any, **kwargs: Any) -> Any:
        began = time.thread_time()
        try:
            return record(*args, **kwargs)
        finally:
            saving[0] += time.thread_time() - began

    ledger._record = timed_record

    def process_all() -> None:
        for first in range(0, len(reports), BATCH):
            assert all(d.accepted for d in ledger.process(reports[first : first + BATCH], None))

    total = cpu(process_all)
    out["rules"], out["save"] = total - saving[0], saving[0]
    return {name: seconds / len(messages) * 1e6 for name, seconds in out.items()}


def prove_p50_ms(tmp: Path, samples: int = 300) -> float:
    from anchoring.prove import Prover
    from bench.bench_anchoring import build_store

    ledger, chain, checkpoint, _ = build_store(tmp, 2000)
    prover = Prover(ledger, chain, checkpoint)
    rng = random.Random(3)
    chosen = [f"urn:item:{rng.randrange(200)}" for _ in range(samples)]
    prover.prove(chosen[0])
    times = sorted(cpu(lambda i=item: prover.prove(i)) for item in chosen)  # type: ignore[misc]
    return times[len(times) // 2] * 1e3


def ingest_cpu_us(tmp: Path, bootstrap: str, items: int) -> float:
    from bench.bench_ingest import TimedIngest, raw_produce, sealed_messages
    from streams.topics import custody_topics, ensure_topics
    from tests.support import make_world

    class Timed(TimedIngest):
        began: float | None = None
        ended = 0.0

        def process_partition(self, tp: Any, records: Any) -> None:
            if self.began is None:
                self.began = time.thread_time()
            super().process_partition(tp, records)  # type: ignore[no-untyped-call]
            self.ended = time.thread_time()

    world = make_world(tmp)
    suffix = uuid.uuid4().hex[:6]
    topic, rejected = f"cpu.events.{suffix}", f"cpu.rejected.{suffix}"
    ensure_topics(bootstrap, custody_topics(topic, rejected, f"cpu.cp.{suffix}", 6))
    messages = sealed_messages(world, items, "urn:cpu-ingest:")
    raw_produce(bootstrap, topic, messages)
    ingest = Timed(world.ledger, bootstrap, topic=topic, rejected_topic=rejected,
                   group=f"cpu-{suffix}")  # fmt: skip
    stats = ingest.run(until_idle=3.0)
    assert stats.accepted == len(messages), stats
    return (ingest.ended - (ingest.began or ingest.ended)) / len(messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="stories of 7 events")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        per_event = stages(tmp / "stages", args.items)
        print(f"checkout {os.getcwd()}: CPU µs per event, {args.items * 7:,} events")
        for stage, micros in per_event.items():
            print(f"  {stage:<12}{micros:8.1f}")
        print(f"  prove p50 CPU {prove_p50_ms(tmp / 'prove'):.3f} ms (2,000-event store)")
        bootstrap = os.environ.get("ASSAY_KAFKA_BOOTSTRAP")
        if bootstrap:
            micros = ingest_cpu_us(tmp / "ingest", bootstrap, args.items)
            print(f"  ingest in one process {micros:.1f} µs/event ({1e6 / micros:,.0f}/s a core)")


if __name__ == "__main__":
    main()
