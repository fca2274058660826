"""The gateway's own small SQLite file: capture jobs and the memory of packing.

Both survive a restart: ``GET /capture/{id}`` answers for jobs of an earlier process, and a
job that process left running is marked failed (its document may be sent again: event ids
are deterministic, so nothing is stored twice). The packing a document changed is saved in
the same transaction that records its job's success.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS capture_jobs (
    capture_id   TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    running      INTEGER NOT NULL,
    success      INTEGER NOT NULL,
    epcis_events INTEGER NOT NULL,
    item_events  INTEGER NOT NULL,
    errors       TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS aggregation (
    child  TEXT PRIMARY KEY,
    parent TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS aggregation_by_parent ON aggregation (parent);
"""
INTERRUPTED = (
    "the gateway stopped before this job finished; some of its events may have been "
    "published. Send the document again: its events keep their ids, so none is stored twice"
)


@dataclass(frozen=True)
class Job:
    capture_id: str
    created_at: str
    finished_at: str | None
    running: bool
    success: bool
    epcis_events: int
    item_events: int
    errors: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The capture job document of GS1's REST bindings (``CaptureJob``)."""
        out: dict[str, Any] = {
            "captureID": self.capture_id,
            "createdAt": self.created_at,
            "running": self.running,
            "success": self.success,
            "captureErrorBehaviour": "rollback",
            "errors": self.errors,
            "epcisEvents": self.epcis_events,
            "itemEvents": self.item_events,
        }
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        return out


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class GatewayStore:
    """Thread-safe; one connection (the gateway is one process)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            self._db.execute(
                "UPDATE capture_jobs SET running = 0, success = 0, finished_at = ?, errors = ? "
                "WHERE running = 1",
                (now(), json.dumps([problem_entry("Capture interrupted", INTERRUPTED)])),
            )
            self._parents = {
                r[0] for r in self._db.execute("SELECT DISTINCT parent FROM aggregation")
            }

    # ----- jobs -------------------------------------------------------------------------

    def start_job(self, capture_id: str, epcis_events: int, item_events: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO capture_jobs (capture_id, created_at, running, success, "
                "epcis_events, item_events) VALUES (?, ?, 1, 1, ?, ?)",
                (capture_id, now(), epcis_events, item_events),
            )

    def fail_job(self, capture_id: str, errors: list[dict[str, Any]]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE capture_jobs SET running = 0, success = 0, finished_at = ?, errors = ? "
                "WHERE capture_id = ?",
                (now(), json.dumps(errors), capture_id),
            )

    def finish_job(self, capture_id: str, placed: Mapping[str, str], removed: set[str]) -> None:
        """The job succeeded: record it and the packing it changed, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "DELETE FROM aggregation WHERE child = ?", [(c,) for c in removed]
                )
                self._db.executemany(
                    "INSERT INTO aggregation (child, parent) VALUES (?, ?) "
                    "ON CONFLICT (child) DO UPDATE SET parent = excluded.parent",
                    list(placed.items()),
                )
                self._db.execute(
                    "UPDATE capture_jobs SET running = 0, success = 1, finished_at = ? "
                    "WHERE capture_id = ?",
                    (now(), capture_id),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._parents.update(placed.values())

    def job(self, capture_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                "SELECT capture_id, created_at, finished_at, running, success, epcis_events, "
                "item_events, errors FROM capture_jobs WHERE capture_id = ?",
                (capture_id,),
            ).fetchone()
        if row is None:
            return None
        return Job(
            row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5], row[6], json.loads(row[7])
        )

    def recent_jobs(self, limit: int = 100) -> list[Job]:
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT capture_id FROM capture_jobs ORDER BY created_at DESC LIMIT ?", (limit,)
                )
            ]
        return [job for i in ids if (job := self.job(i)) is not None]

    # ----- packing (epcis.aggregation.SavedMemory) ---------------------------------------

    def is_parent(self, epc: str) -> bool:
        return epc in self._parents

    def children(self, parent: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT child FROM aggregation WHERE parent = ? ORDER BY rowid", (parent,)
            )
            return [r[0] for r in rows]

    def parent_of(self, child: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT parent FROM aggregation WHERE child = ?", (child,)
            ).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def problem_entry(title: str, detail: str, status: int = 500) -> dict[str, Any]:
    return {
        "type": "epcisException:ImplementationException",
        "title": title,
        "status": status,
        "detail": detail,
    }
