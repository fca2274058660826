"""Helpers for the fault tests: run ``assay`` as a separate process against a data dir, on a
disk that is full or read-only, and compare the store, the chain and the projections."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from anchoring.chain import Chain
from ledger.application import CustodyLedger
from ledger.config import store_env
from projections.projector import Projector
from streams.envelope import seal
from streams.keys import DeviceKey
from streams.outbox import Outbox
from streams.producer import Producer
from streams.scanner import Scanner
from streams.topics import custody_topics, ensure_topics
from tests.projections.support import contents
from tests.support import make_world, story_events


@dataclass
class Deployment:
    """One Assay data dir and its own topics on the test broker, driven by CLI processes."""

    data_dir: Path
    bootstrap: str
    database_url: str = ""
    keys: dict[str, DeviceKey] = field(default_factory=dict)
    published: int = 0

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "ASSAY_DATA_DIR": str(self.data_dir),
            "ASSAY_KAFKA_BOOTSTRAP": self.bootstrap,
            "ASSAY_DATABASE_URL": self.database_url,
            "ASSAY_EVENTS_TOPIC": f"faults.events.{suffix}",
            "ASSAY_REJECTED_TOPIC": f"faults.rejected.{suffix}",
            "ASSAY_CHECKPOINTS_TOPIC": f"faults.cp.{suffix}",
            "ASSAY_CONSUMER_GROUP": f"faults-{suffix}",
            "ASSAY_PARTITIONS": "3",
            "ASSAY_BLOCK_MAX_EVENTS": "200",
            "ASSAY_BLOCK_MAX_SECONDS": "0.5",
            "ASSAY_SNAPSHOT_INTERVAL": "0.5",
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        world = make_world(self.data_dir, self.database_url)
        self.keys = world.keys
        ensure_topics(
            self.bootstrap,
            custody_topics(self.events_topic, self.env["ASSAY_REJECTED_TOPIC"],
                           self.env["ASSAY_CHECKPOINTS_TOPIC"], 3),
        )  # fmt: skip
        self.assay("keys", "init", check=True)

    @property
    def events_topic(self) -> str:
        return self.env["ASSAY_EVENTS_TOPIC"]

    def publish_items(self, first: int, count: int) -> int:
        """Publish the 7-event story of items ``first .. first+count-1``; returns events sent."""
        sent = 0
        with Producer(self.bootstrap) as producer:
            for n in range(first, first + count):
                for event in story_events(f"urn:fault:{n}", f"TAG-{n}"):
                    envelope = seal(event, self.keys[event.party_id])
                    producer.send(self.events_topic, envelope, key=event.item_id.encode())
                    sent += 1
        self.published += sent
        return sent

    def scan_items(self, first: int, count: int, outbox: Path, timeout: float = 180) -> int:
        """Like ``publish_items``, through the scanner SDK: every party's scanner keeps its
        scans in one outbox (a site's hub: one item's scans leave in the order made), and
        this returns once the broker acknowledged them all."""
        shared = Outbox(outbox)
        scanners = {
            party: Scanner(key, self.bootstrap, topic=self.events_topic, outbox=shared)
            for party, key in self.keys.items()
        }
        sent = 0
        try:
            for n in range(first, first + count):
                for event in story_events(f"urn:fault:{n}", f"TAG-{n}"):
                    scanners[event.party_id].publish(event)
                    sent += 1
            scanners["brand"].flush(timeout=timeout)
        finally:
            for scanner in scanners.values():
                scanner.close(timeout=0)
            shared.close()
        self.published += sent
        return sent

    def assay(
        self, *args: str, check: bool = False, timeout: float = 180, prefix: tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "assay", *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert done.returncode == 0, f"assay {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def popen(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "assay", *args], env=self.env, stdout=out, stderr=out
            )

    # ----- what is stored ----------------------------------------------------------------

    def ledger(self) -> CustodyLedger:
        return CustodyLedger(store_env(self.database_url, self.data_dir / "ledger.sqlite"))

    def chain(self) -> Chain:
        return Chain(store_env(self.database_url, self.data_dir / "chain.sqlite"))

    def stored_custody(self) -> tuple[int, int]:
        """(custody events stored, distinct event ids among them) over the whole store."""
        ids: list[str] = []
        ledger = self.ledger()
        for notification in _all_notifications(ledger):
            if notification.topic.startswith("domain.items:Item."):
                event = ledger.mapper.to_domain_event(notification)
                custody_event = getattr(event, "custody", None)
                if custody_event is not None:
                    ids.append(custody_event.event_id)
        return len(ids), len(set(ids))

    def audit_clean(self) -> None:
        """``assay audit`` recomputes every block from the store and checks every signature."""
        done = self.assay("audit")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "audit OK" in done.stdout

    def projection_equals_rebuild(self, scratch: Path) -> None:
        """The live projection holds exactly what a fresh projection of the store holds."""
        fresh_path = scratch / f"rebuild-{uuid.uuid4().hex}.duckdb"
        projected, rebuilt = projected_and_rebuilt(
            self.data_dir / "projections.duckdb", self.ledger(), self.chain(), fresh_path
        )
        assert projected == rebuilt


Contents = dict[str, list[tuple[Any, ...]]]


def projected_and_rebuilt(
    projection: Path, ledger: CustodyLedger, chain: Chain, fresh_path: Path
) -> tuple[Contents, Contents]:
    """The contents of the projection file ``projection``, and those of a fresh projection
    of ``ledger`` and ``chain`` built at ``fresh_path``."""
    con = duckdb.connect(str(projection), read_only=True)
    try:
        projected = contents(con)
    finally:
        con.close()
    with Projector(ledger, chain, fresh_path) as fresh:
        fresh.catch_up()
        rebuilt = contents(fresh.con)
    return projected, rebuilt


def _all_notifications(app: Any) -> Iterator[Any]:
    start = 1
    while True:
        page = app.recorder.select_notifications(start, 1000)
        if not page:
            return
        yield from page
        start = page[-1].id + 1


def sqlite_ok(path: Path) -> bool:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()


# ----- a full disk -------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size_mb: int = 256) -> Iterator[Path]:
    """A real, separate small file system (needs root, as CI runs) to fill up."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@contextlib.contextmanager
def nearly_full(fs: Path, leave_bytes: int) -> Iterator[None]:
    """Fill the file system ``fs`` with a filler file until only ``leave_bytes`` are free."""
    filler = fs / "filler"
    stat = os.statvfs(fs)
    free = stat.f_bavail * stat.f_frsize
    with filler.open("wb") as f:
        remaining = max(0, free - leave_bytes)
        chunk = b"\0" * (1 << 20)
        while remaining > 0:
            n = f.write(chunk[: min(len(chunk), remaining)])
            remaining -= n
    try:
        yield
    finally:
        filler.unlink()


def without_write_permission() -> tuple[str, ...]:
    """A command prefix under which permission bits bind even for root.

    Root bypasses them through CAP_DAC_OVERRIDE; dropping it (and DAC_READ_SEARCH) from the
    bounding set makes a read-only directory read-only for the child as for anyone.
    """
    if os.geteuid() != 0:
        return ()
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")
