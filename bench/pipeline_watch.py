"""The pipeline bench's instruments (bench/bench_pipeline.py): the processes it runs, and
what it watches while they run: the stores, the analyst snapshot, the consumer group, the
checkpoints topic, and the memory of every process."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError

POLL = 0.05


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ----- memory ---------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class RssSampler:
    """Samples the RSS of named processes every ``interval`` seconds in a thread."""

    pids: dict[str, int]
    interval: float = 0.5
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def mark(self, name: str) -> None:
        self.marks[name] = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for name, pid in self.pids.items():
                value = rss_mb(pid)
                if value is not None:
                    self.samples.setdefault(name, []).append((now, value))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self, since: str) -> dict[str, dict[str, float]]:
        """start (first sample after the mark), mid, end and peak RSS per process, in MB."""
        begin = self.marks.get(since, 0.0)
        out = {}
        for name, series in self.samples.items():
            after = [v for t, v in series if t >= begin] or [v for _, v in series]
            out[name] = {
                "start_mb": after[0],
                "mid_mb": after[len(after) // 2],
                "end_mb": after[-1],
                "peak_mb": max(v for _, v in series),
                "samples": len(after),
            }
        return out


# ----- watching the stores ----------------------------------------------------------------


def max_notification(ledger_db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{ledger_db}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT max(rowid) FROM stored_events").fetchone()
    return int(row[0] or 0)


class SnapshotWatcher:
    """Notices each new analyst snapshot (a new inode) and reads what became visible."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # A snapshot's identity: inode numbers alone are reused (a snapshot replaced twice
        # between two polls can come back with the inode last seen), so mtime and size too.
        self.inode: tuple[int, int, int] | None = None
        self.anchored = 0
        self.seen_notification = 0
        self.visible_at: dict[str, float] = {}

    def poll(self, track: bool = False) -> bool:
        try:
            stat = self.path.stat()
            inode = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            return False
        if inode == self.inode:
            return False
        now = time.time()
        self.inode = inode
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error:
            self.inode = None  # replaced while opening: try again
            return False
        with contextlib.closing(con):
            row = con.execute(
                "SELECT count(block_height), max(notification_id) FROM custody_events"
            ).fetchone()
            self.anchored = int(row[0]) if row else 0
            if track:
                new = con.execute(
                    "SELECT event_id FROM custody_events WHERE notification_id > ?",
                    [self.seen_notification],
                ).fetchall()
                for (event_id,) in new:
                    self.visible_at.setdefault(str(event_id), now)
            if row and row[1] is not None:
                self.seen_notification = int(row[1])
        return True


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, every: float = POLL
) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def group_is_stable(bootstrap: str, group: str, members: int) -> bool:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="assay-bench")
    try:
        info: Any = admin.describe_groups([group])
    except KafkaError:  # no coordinator yet: the group is still forming
        return False
    finally:
        admin.close()
    desc = info.get(group, {}) if isinstance(info, dict) else {}
    state = str(desc.get("group_state", desc.get("state", "")))
    return state == "Stable" and len(desc.get("members", [])) == members


def checkpoint_times(bootstrap: str, topic: str) -> list[tuple[float, int]]:
    """(publication time in s, tree size) of each checkpoint on the topic."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    out = []
    try:
        for record in consumer:
            lines = record.value.decode().split("\n")
            if len(lines) > 1 and lines[1].isdigit():
                out.append((record.timestamp / 1000, int(lines[1])))
    finally:
        consumer.close()
    return sorted(out)


# ----- the processes -----------------------------------------------------------------------


@contextlib.contextmanager
def processes(
    env: dict[str, str], workers: int, logs: Path
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(name: str, *args: str) -> None:
        log = (logs / f"{name}.log").open("wb")
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "assay", *args], env=env, stdout=log, stderr=log
        )

    try:
        for n in range(workers):
            spawn(f"ingest-{n + 1}", "ingest")
        spawn("anchor", "anchor")
        spawn("project", "project")
        yield procs
    except BaseException as e:
        for name, p in procs.items():  # what each process said, for the failure report
            tail = (logs / f"{name}.log").read_text(errors="replace")[-1500:]
            e.add_note(f"--- {name} (exit {p.poll()}) ---\n{tail}")
        raise
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
