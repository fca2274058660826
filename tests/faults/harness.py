"""Crash injection: the pipeline under steady load, SIGKILLed at random points, again and again.

Three processes run as in production (``assay ingest``, ``assay anchor``, ``assay project``)
while a publisher sends signed custody events at a steady rate. Each round waits a random
0.2–2 s, SIGKILLs one process chosen at random and restarts it. Then the publisher pauses
and the round checks, once everything caught up:

* every published event is stored exactly once (count == distinct event ids == published);
* ``assay audit`` recomputes the whole chain from the store: clean;
* the analyst snapshot of the projections equals a fresh rebuild from the store.

The suite runs a few rounds (tests/faults/test_crash_injection.py); the full run is::

    uv run python -m tests.faults.harness --rounds 100
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from streams.envelope import seal
from streams.producer import Producer
from tests.faults.support import Deployment, projected_and_rebuilt
from tests.support import story_events

ROLES = ("ingest", "anchor", "project")


@dataclass
class CrashReport:
    rounds: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    published: int = 0
    stored: int = 0
    checks: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        kills = ", ".join(f"{role} {n}" for role, n in sorted(self.kills.items()))
        return (
            f"{self.rounds} rounds, {sum(self.kills.values())} SIGKILLs ({kills}); "
            f"{self.published} events published, {self.stored} stored exactly once; "
            f"{self.checks} audits and rebuild comparisons clean; {self.seconds:.0f} s"
        )


class Load(threading.Thread):
    """Publishes whole item stories at about ``rate`` events/s while not paused."""

    def __init__(self, site: Deployment, rate: float = 300.0) -> None:
        super().__init__(daemon=True, name="load")
        self.site, self.rate = site, rate
        self.running = threading.Event()
        self.stopped = threading.Event()
        self.idle = threading.Event()
        self.next_item = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Producer(self.site.bootstrap) as producer:
                while not self.stopped.is_set():
                    if not self.running.wait(0.1):
                        self.idle.set()
                        continue
                    self.idle.clear()
                    began = time.monotonic()
                    sent = self._publish_items(producer, 3)
                    producer.flush()
                    self.site.published += sent
                    time.sleep(max(0.0, sent / self.rate - (time.monotonic() - began)))
        except BaseException as e:
            self.error = e
            raise

    def _publish_items(self, producer: Producer, count: int) -> int:
        sent = 0
        for _ in range(count):
            n = self.next_item
            self.next_item += 1
            for event in story_events(f"urn:crash:{n}", f"CRASH-{n}"):
                envelope = seal(event, self.site.keys[event.party_id])
                producer.send(self.site.events_topic, envelope, key=event.item_id.encode())
                sent += 1
        return sent

    def pause(self) -> None:
        self.running.clear()
        while not self.idle.wait(0.1):
            if self.error is not None:
                raise self.error


class Pipeline:
    """The three processes of one deployment; each can be killed and restarted."""

    def __init__(self, site: Deployment, logs: Path) -> None:
        self.site, self.logs = site, logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str) -> None:
        self.processes[role] = self.site.popen(role, log=self.logs / f"{role}.log")

    def start_all(self) -> None:
        for role in ROLES:
            self.start(role)

    def kill(self, role: str) -> None:
        process = self.processes[role]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def check_alive(self) -> None:
        for role, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"{role}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{role} exited by itself ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def custody_counts(site: Deployment) -> tuple[int, int]:
    """(stored custody events, distinct event ids) read straight from the SQLite store."""
    con = sqlite3.connect(f"file:{site.data_dir / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT count(*), count(DISTINCT json_extract(CAST(state AS TEXT), "
            "'$.custody._data_.event_id')) FROM stored_events "
            "WHERE topic LIKE 'domain.items:Item.%'"
        ).fetchone()
    finally:
        con.close()
    return int(row[0]), int(row[1])


def snapshot_positions(site: Deployment) -> tuple[int, int]:
    path = site.data_dir / "analyst.duckdb"
    try:
        con = duckdb.connect(str(path), read_only=True)
    except (duckdb.Error, OSError):
        return -1, -1
    try:
        rows = dict(con.execute("SELECT name, position FROM projection_tracking").fetchall())
        return int(rows.get("ledger", 0)), int(rows.get("chain", 0))
    except duckdb.Error:
        return -1, -1
    finally:
        con.close()


def wait_until(condition: object, timeout: float, what: str, pipeline: Pipeline) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        pipeline.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def check(site: Deployment, pipeline: Pipeline, scratch: Path, report: CrashReport) -> None:
    """Pause-time invariants: exactly once, a clean audit, projections equal a rebuild."""
    wait_until(lambda: custody_counts(site)[0] >= site.published, 180, "ingest", pipeline)
    stored, distinct = custody_counts(site)
    assert stored == distinct == site.published, (stored, distinct, site.published)
    ledger = site.ledger()  # keep the application: its connection pool closes with it
    ledger_head = ledger.recorder.max_notification_id() or 0
    chain = site.chain()
    wait_until(lambda: chain.position() >= ledger_head, 180, "the anchor", pipeline)
    chain_head = chain.recorder.max_notification_id() or 0
    wait_until(
        lambda: all(p >= h for p, h in zip(snapshot_positions(site), (ledger_head, chain_head),
                                           strict=True)),
        180, "the projector", pipeline,
    )  # fmt: skip
    site.audit_clean()
    fresh_path = scratch / f"rebuild-{report.rounds}.duckdb"
    snapshot = site.data_dir / "analyst.duckdb"
    projected, rebuilt = projected_and_rebuilt(snapshot, ledger, chain, fresh_path)
    fresh_path.unlink()
    assert projected == rebuilt, _difference(projected, rebuilt, report.rounds)
    report.stored, report.checks = stored, report.checks + 1


def _difference(projected: dict[str, list[Any]], rebuilt: dict[str, list[Any]], at: int) -> str:
    """Which rows of which table differ (a few of each), for the failure message."""
    lines = [f"round {at}: the projection differs from a rebuild"]
    for table in sorted(set(projected) | set(rebuilt)):
        live, fresh = Counter(projected.get(table, [])), Counter(rebuilt.get(table, []))
        if live != fresh:
            only_live, only_fresh = list((live - fresh).elements()), list((fresh - live).elements())
            lines.append(
                f"  {table}: {len(only_live)} row(s) only live, {len(only_fresh)} only rebuilt"
            )
            lines += [f"    live:    {row!r}"[:400] for row in only_live[:3]]
            lines += [f"    rebuilt: {row!r}"[:400] for row in only_fresh[:3]]
    return "\n".join(lines)


def run(
    bootstrap: str,
    work: Path,
    rounds: int,
    seed: int,
    rate: float = 300.0,
    progress: bool = False,
    static: bool = True,
) -> CrashReport:
    rng = random.Random(seed)
    site = Deployment(work / "data", bootstrap)
    if static:  # static membership: the restarted ingest takes its partitions back at once
        site.env["ASSAY_INGEST_INSTANCE_ID"] = "crash-harness-ingest"
    pipeline = Pipeline(site, work)
    load = Load(site, rate)
    report = CrashReport()
    began = time.monotonic()
    pipeline.start_all()
    load.start()
    try:
        for _ in range(rounds):
            load.running.set()
            time.sleep(rng.uniform(0.2, 2.0))
            pipeline.check_alive()
            victim = rng.choice(ROLES)
            pipeline.kill(victim)
            report.kills[victim] += 1
            time.sleep(rng.uniform(0.0, 0.5))  # load keeps coming while it is down
            pipeline.start(victim)
            load.pause()
            report.rounds += 1
            report.published = site.published
            check(site, pipeline, work, report)
            if progress:
                print(f"round {report.rounds}: killed {victim}; {report.line()}", flush=True)
    finally:
        load.stopped.set()
        load.running.set()
        load.join(timeout=30)
        pipeline.stop()
        report.seconds = time.monotonic() - began
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=300.0, help="events/s while loading")
    parser.add_argument("--bootstrap", help="a running Kafka (default: start a local broker)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--dynamic", action="store_true", help="dynamic group membership (restarts wait ~10 s)"
    )
    args = parser.parse_args(argv)
    from devtools.localbroker import LocalBroker

    with tempfile.TemporaryDirectory(prefix="assay-crash-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        broker = None if args.bootstrap else LocalBroker(work / "broker")
        bootstrap = args.bootstrap or broker.start()  # type: ignore[union-attr]
        try:
            report = run(bootstrap, work, args.rounds, args.seed, args.rate, progress=True,
                         static=not args.dynamic)  # fmt: skip
        finally:
            if broker is not None:
                broker.stop()
    print(json.dumps(report.__dict__, default=dict) if args.json else report.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
