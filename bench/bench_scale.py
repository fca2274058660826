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
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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


#: Item events stored after a row id, and the last row id: only the rows new since the
#: last poll are read (a full count(*) each 0.2 s cost the store as much CPU as the ingest's
#: own inserts at 100,000 rows). Ids are issued in commit order (one writer at a time).
SQLITE_NEW = (
    "SELECT count(*) FILTER (WHERE topic LIKE 'domain.items:Item.%'), max(rowid) "
    "FROM stored_events WHERE rowid > ?"
)
POSTGRES_NEW = (
    "SELECT count(*) FILTER (WHERE topic LIKE 'domain.items:Item.%%'), max(notification_id) "
    "FROM ledger_events WHERE notification_id > %s"
)


def counter(query: Callable[[int], tuple[int, int | None]]) -> Callable[[], int]:
    """Item events stored so far, from ``query(after)``: (item events, last id) of rows
    after an id."""
    counted, after = 0, 0

    def count() -> int:
        nonlocal counted, after
        items, last = query(after)
        counted += items
        after = last if last is not None else after
        return counted

    return count


def sqlite_counter(path: Path) -> Callable[[], int]:
    def query(after: int) -> tuple[int, int | None]:
        with sqlite3.connect(path) as conn:
            items, last = conn.execute(SQLITE_NEW, (after,)).fetchone()
        return int(items), last

    return counter(query)


def postgres_counter(url: str) -> Callable[[], int]:
    def query(after: int) -> tuple[int, int | None]:
        with psycopg.connect(url) as conn:
            row = conn.execute(POSTGRES_NEW, (after,)).fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    return counter(query)


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended (the workers, once waited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(pid: int) -> float:
    """CPU seconds of process ``pid``, of its children that ended, and of those alive (a
    PostgreSQL server: the postmaster and its backends and background processes)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile: its time is in its parent's now
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    rate: float  # events/s, publish complete -> all stored
    worker_us: float  # CPU µs per event of the ingest processes (start-up included)
    server_us: float | None  # CPU µs per event of the PostgreSQL server, if it is ours


def one_run(
    bootstrap: str, items: int, workers: int, database_url: str, server_pid: int | None = None
) -> Run:
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
    started, cpu = time.perf_counter(), children_cpu()
    server = tree_cpu(server_pid) if server_pid else 0.0
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
    elapsed = time.perf_counter() - started
    server_us = (tree_cpu(server_pid) - server) / total * 1e6 if server_pid else None
    return Run(total / elapsed, (children_cpu() - cpu) / total * 1e6, server_us)


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
        print("CPU µs per event: the ingest processes (start-up included), the PostgreSQL server")
        print(
            f"{'store':<12}{'workers':>8}{'events/s':>12}{'/ floor':>10}{'ingest':>9}{'server':>9}"
        )
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
                ours = cluster.pid() if url and cluster is not None else None
                run = one_run(bootstrap, args.items, workers, db, ours)
                server_us = "" if run.server_us is None else f"{run.server_us:.0f}"
                print(
                    f"{label:<12}{workers:>8}{run.rate:>12.0f}{run.rate / floor:>9.2f}×"
                    f"{run.worker_us:>9.0f}{server_us:>9}",
                    flush=True,
                )
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    finally:
        if cluster is not None:
            cluster.stop()
        if not os.environ.get("ASSAY_KAFKA_BOOTSTRAP"):
            LocalBroker(broker_dir).stop()


if __name__ == "__main__":
    main()
