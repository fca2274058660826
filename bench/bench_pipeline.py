"""End to end as deployed: N ingest processes, one `assay anchor`, one `assay project`.

    uv run python bench/bench_pipeline.py [--items 3000] [--workers 1 2]

For each worker count, in a fresh data directory and fresh topics on one broker:

1. start the processes (SQLite store, product defaults) and wait until the consumer group
   is stable with every worker and a warm-up item is visible in the analyst snapshot;
2. throughput: publish ``items`` × 7 signed events (sealed beforehand) as fast as the
   producer goes, then time first publish → all stored (ledger), all sealed (chain) and
   all anchored *and* projected (visible with a block height in the analyst snapshot);
3. latency: publish at a steady rate below capacity; per event, publish → first signed
   checkpoint covering its block (the anchor's checkpoint messages on the checkpoints
   topic carry the broker-side time of publication) and publish → first analyst snapshot
   that shows it (polled every 50 ms by this process);
4. memory: RSS of every process (and the local broker) sampled from /proc twice a second;
5. CPU: µs per burst event of every process (ingest workers, anchor, projector, broker, and
   this one as ``bench``: the producer and snapshot polling) from the first publish to
   stored, sealed and projected, from /proc (``bench.process_cpu``), with each phase's wall
   time: where the cores went. The burst is signed before the clock starts, as before.

The processes and the instruments that watch them live in bench/pipeline_watch.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from anchoring.chain import Chain
from bench.bench_ingest import sealed_messages
from bench.pipeline_watch import (
    POLL,
    RssSampler,
    SnapshotWatcher,
    checkpoint_times,
    group_is_stable,
    max_notification,
    percentile,
    processes,
    wait_until,
)
from bench.process_cpu import cpu_between, cpu_marks, cpu_table
from ledger.config import store_env
from streams.producer import Producer
from streams.topics import custody_topics, ensure_topics
from tests.support import make_world

PARTITIONS = 6


# ----- one configuration --------------------------------------------------------------------


def run_config(
    bootstrap: str,
    root: Path,
    workers: int,
    items: int,
    latency_rate: float,
    latency_seconds: float,
    broker_pid: int | None = None,
) -> dict[str, Any]:
    data = root / f"pipeline-{workers}w"
    logs = data / "logs"
    logs.mkdir(parents=True)
    world = make_world(data)
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "ASSAY_KAFKA_BOOTSTRAP": bootstrap,
        "ASSAY_DATA_DIR": str(data),
        "ASSAY_DATABASE_URL": "",
        "ASSAY_EVENTS_TOPIC": f"bench.e2e.events.{suffix}",
        "ASSAY_REJECTED_TOPIC": f"bench.e2e.rejected.{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": f"bench.e2e.cp.{suffix}",
        "ASSAY_CONSUMER_GROUP": f"bench-e2e-{suffix}",
        "ASSAY_PARTITIONS": str(PARTITIONS),
    }
    topic = env["ASSAY_EVENTS_TOPIC"]
    ensure_topics(
        bootstrap,
        custody_topics(
            topic, env["ASSAY_REJECTED_TOPIC"], env["ASSAY_CHECKPOINTS_TOPIC"], PARTITIONS
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "assay", "keys", "init"], env=env, check=True, capture_output=True
    )
    warmup = sealed_messages(world, 6, "urn:warm:")
    burst = sealed_messages(world, items, "urn:tput:")
    steady_items = max(1, int(latency_rate * latency_seconds / 7))
    steady = sealed_messages(world, steady_items, "urn:lat:")
    ledger_db = data / "ledger.sqlite"
    watcher = SnapshotWatcher(data / "analyst.duckdb")
    chain: Chain | None = None
    result: dict[str, Any] = {"workers": workers, "partitions": PARTITIONS}
    with processes(env, workers, logs) as procs, Producer(bootstrap) as producer:
        pids = {name: p.pid for name, p in procs.items()}
        if broker_pid is not None:
            pids["kafka broker"] = broker_pid
        sampler = RssSampler(pids)
        sampler.start()
        try:
            began = time.time()
            wait_until(
                lambda: group_is_stable(bootstrap, env["ASSAY_CONSUMER_GROUP"], workers),
                180,
                f"{workers} ingest worker(s) in the group",
                every=0.5,
            )
            for key, value in warmup:
                producer.send(topic, value, key=key)
            producer.flush()
            wait_until(
                lambda: (watcher.poll() or True) and watcher.anchored >= len(warmup),
                120,
                "the warm-up events in the analyst snapshot",
            )
            result["startup_s"] = time.time() - began
            sampler.mark("warm")
            base = max_notification(ledger_db)
            chain = Chain(store_env("", data / "chain.sqlite"))
            total = len(burst)
            expected = len(warmup) + total

            # -- throughput -------------------------------------------------------------
            cpu0 = cpu_marks(pids)
            t0 = time.time()
            for key, value in burst:
                producer.send(topic, value, key=key)
            producer.flush(timeout=300)
            t_published = time.time()
            cpu_published = cpu_marks(pids)
            limit = max(300.0, total / 200)
            t_stored = wait_until(
                lambda: max_notification(ledger_db) - base >= total,
                limit,
                "every event stored",
                every=0.1,
            )
            cpu_stored = cpu_marks(pids)
            assert chain is not None
            last = max_notification(ledger_db)
            t_sealed = wait_until(lambda: chain.position() >= last, limit, "every event sealed")
            cpu_sealed = cpu_marks(pids)
            t_projected = wait_until(
                lambda: (watcher.poll() or True) and watcher.anchored >= expected,
                limit,
                "every event anchored and projected",
            )
            cpu_projected = cpu_marks(pids)
            result.update(
                events=total,
                publish_per_s=total / (t_published - t0),
                stored_per_s=total / (t_stored - t0),
                sealed_per_s=total / (t_sealed - t0),
                e2e_per_s=total / (t_projected - t0),
                e2e_seconds=t_projected - t0,
                phase_seconds={
                    "published": t_published - t0,
                    "stored": t_stored - t0,
                    "sealed": t_sealed - t0,
                    "projected": t_projected - t0,
                },
                # CPU µs per event of each process from the first publish to each mark
                cpu_us_per_event={
                    "published": cpu_between(cpu0, cpu_published, total),
                    "stored": cpu_between(cpu0, cpu_stored, total),
                    "sealed": cpu_between(cpu0, cpu_sealed, total),
                    "projected": cpu_between(cpu0, cpu_projected, total),
                },
            )

            # -- latency at a steady rate -------------------------------------------------
            rate = min(latency_rate, 0.5 * result["e2e_per_s"])
            published: dict[str, float] = {}
            event_ids = [f"{key.decode()}#e{1 + i % 7}" for i, (key, _) in enumerate(steady)]
            watcher.poll(track=True)  # baseline: what is visible already is not counted
            watcher.visible_at.clear()
            start = time.time()
            chunk = max(1, int(rate / 20))
            for first in range(0, len(steady), chunk):
                due = start + first / rate
                while (now := time.time()) < due:
                    watcher.poll(track=True)
                    time.sleep(min(POLL, max(0.0, due - now)))
                for i in range(first, min(len(steady), first + chunk)):
                    key, value = steady[i]
                    published[event_ids[i]] = time.time()
                    producer.send(topic, value, key=key)
            producer.flush()
            expected += len(steady)
            wait_until(
                lambda: (watcher.poll(track=True) or True) and watcher.anchored >= expected,
                max(120.0, len(steady) / 100),
                "the steady events in the analyst snapshot",
            )
            result["latency_rate_per_s"] = len(steady) / (time.time() - start)
            result["latency_offered_per_s"] = rate
            result["latency_events"] = len(steady)
            sampler.mark("end")
        finally:
            sampler.stop()
        result["rss"] = sampler.summary("warm")

    # checkpoint latency: each steady event's block height, from the final projection
    con = duckdb.connect(str(data / "analyst.duckdb"), read_only=True)
    with contextlib.closing(con):
        heights = dict(
            con.execute(
                "SELECT event_id, block_height FROM custody_events WHERE item_id LIKE 'urn:lat:%'"
            ).fetchall()
        )
    checkpoints = checkpoint_times(bootstrap, env["ASSAY_CHECKPOINTS_TOPIC"])
    to_checkpoint = []
    for event_id, at in published.items():
        height = heights.get(event_id)
        if height is None:
            continue
        signed = next((t for t, size in checkpoints if size > height), None)
        if signed is not None:
            to_checkpoint.append(max(0.0, signed - at))
    to_visible = [
        watcher.visible_at[e] - at for e, at in published.items() if e in watcher.visible_at
    ]
    result.update(
        checkpoint_samples=len(to_checkpoint),
        checkpoint_p50_s=percentile(to_checkpoint, 0.5),
        checkpoint_p99_s=percentile(to_checkpoint, 0.99),
        staleness_samples=len(to_visible),
        staleness_p50_s=percentile(to_visible, 0.5),
        staleness_p99_s=percentile(to_visible, 0.99),
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rate", type=float, default=1000.0, help="steady events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady phase length")
    args = parser.parse_args()
    from bench.bench_ingest import broker
    from devtools.localbroker import LocalBroker

    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with broker(tmp) as bootstrap:
            broker_pid = None
            if not os.environ.get("ASSAY_KAFKA_BOOTSTRAP"):
                broker_pid = LocalBroker(tmp / "broker").status().pid
            for workers in args.workers:
                result = run_config(
                    bootstrap, tmp, workers, args.items, args.rate, args.seconds, broker_pid
                )
                print(result)
                print(f"\n{workers} worker(s): {result['e2e_per_s']:,.0f} events/s end to end")
                print(cpu_table(result), flush=True)


if __name__ == "__main__":
    main()
