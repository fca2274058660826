"""End-to-end ingest rate with 1 and 2 worker processes, on SQLite and on PostgreSQL.

    uv run python bench/bench_scale.py [--items 3000] [--postgres postgresql://…]
                                       [--stores sqlite,postgresql]

Publishes items × 7 signed events, then starts N `assay ingest` processes in one
consumer group and times publish-complete → every event stored. Without --postgres the
PostgreSQL rows use a private cluster started like the test suite does (Debian's
postgresql binaries), or are skipped with a note if there are none. Each row is also
given as a multiple of the verify floor, measured in the same run as the full benchmark
measures it (``bench_ingest.stage_cpu``: Ed25519 verifies of the ingest's signature check
per CPU second); issue 19's goal is PostgreSQL with 2 workers at ≥ 0.3× that floor.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.bench_ingest import stage_cpu
from streams.envelope import seal
from streams.producer import Producer
from streams.topics import custody_topics, ensure_topics
from tests.support import make_world, story_events

PARTITIONS = 6
#: Items of the verify floor's run (× 7 signed events; bench_ingest's default is 3,000).
FLOOR_ITEMS = 1000
STORES = ("sqlite", "postgresql")


def sqlite_counter(path: Path) -> Callable[[], int]:
    def count() -> int:
        with sqlite3.connect(path) as conn:
            row = conn.execute(
                "SELECT count(*) FROM stored_events WHERE topic LIKE 'domain.items:Item.%'"
            ).fetchone()
        return int(row[0])

    return count


def postgres_counter(url: str) -> Callable[[], int]:
    def count() -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM ledger_events WHERE topic LIKE 'domain.items:Item.%'"
            ).fetchone()
        return int(row[0]) if row else 0

    return count


def one_run(bootstrap: str, items: int, workers: int, database_url: str) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    world = make_world(tmp, database_url)
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "ASSAY_KAFKA_BOOTSTRAP": bootstrap,
        "ASSAY_DATA_DIR": str(tmp),
        "ASSAY_DATABASE_URL": database_url,
        "ASSAY_EVENTS_TOPIC": f"b.events.{suffix}",
        "ASSAY_REJECTED_TOPIC": f"b.rejected.{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": f"b.cp.{suffix}",
        "ASSAY_CONSUMER_GROUP": f"b-{suffix}",
    }
    ensure_topics(
        bootstrap,
        custody_topics(
            env["ASSAY_EVENTS_TOPIC"],
            env["ASSAY_REJECTED_TOPIC"],
            env["ASSAY_CHECKPOINTS_TOPIC"],
            PARTITIONS,
        ),
    )
    total = 0
    with Producer(bootstrap) as producer:
        for n in range(items):
            for event in story_events(f"urn:b:{n}", f"B{n}"):
                producer.send(
                    env["ASSAY_EVENTS_TOPIC"],
                    seal(event, world.keys[event.party_id]),
                    key=event.item_id.encode(),
                )
                total += 1
    count = (
        postgres_counter(database_url) if database_url else sqlite_counter(tmp / "ledger.sqlite")
    )
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "assay", "ingest"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        while count() < total:
            time.sleep(0.2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--postgres", help="server DSN (a fresh database is created on it)")
    parser.add_argument("--stores", default=",".join(STORES), help="rows to run, of " + str(STORES))
    args = parser.parse_args()
    stores = args.stores.split(",")
    if not set(stores) <= set(STORES):
        parser.error(f"--stores: of {', '.join(STORES)}, not {args.stores!r}")
    with tempfile.TemporaryDirectory(prefix="assay-bench-floor-") as tmp:
        floor = stage_cpu(Path(tmp), FLOOR_ITEMS)["verify_floor_per_s"]
    from devtools.localbroker import LocalBroker

    broker_dir = Path(tempfile.mkdtemp(prefix="assay-bench-broker-"))
    bootstrap = os.environ.get("ASSAY_KAFKA_BOOTSTRAP") or LocalBroker(broker_dir).start()
    cluster = None
    server = args.postgres
    if server is None:
        from tests.postgres import PrivateCluster

        try:
            cluster = PrivateCluster()
            server = cluster.start()
        except Exception as e:
            print(f"(no PostgreSQL rows: {e})")
            cluster = None
    try:
        print(
            f"{args.items * 7} events per run, {PARTITIONS} partitions, workers include "
            "group join and process start-up"
        )
        print(f"verify floor (Ed25519, same run): {floor:,.0f} verifies/s")
        print(f"load average (1 min) at the start: {os.getloadavg()[0]:.1f}")
        print(f"{'store':<12}{'workers':>8}{'events/s':>12}{'/ floor':>10}")
        for label, url in (("sqlite", ""), ("postgresql", server)):
            if url is None or label not in stores:
                continue
            for workers in (1, 2):
                db = url
                if url:
                    name = f"bench_{uuid.uuid4().hex[:8]}"
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{name}"')
                    db = url.rsplit("/", 1)[0] + "/" + name
                rate = one_run(bootstrap, args.items, workers, db)
                print(f"{label:<12}{workers:>8}{rate:>12.0f}{rate / floor:>9.2f}×", flush=True)
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    finally:
        if cluster is not None:
            cluster.stop()
        if not os.environ.get("ASSAY_KAFKA_BOOTSTRAP"):
            LocalBroker(broker_dir).stop()


if __name__ == "__main__":
    main()
