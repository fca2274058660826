"""The witness's memory: per log, the last checkpoint it cosigned; and the evidence it kept.

One SQLite file, ``<state dir>/witness.sqlite``, in WAL mode with ``synchronous=FULL``:
a transaction that returned from COMMIT is on disk, so neither a SIGKILL nor a power cut
loses or rolls back a cosigned state. Every update runs in one ``BEGIN IMMEDIATE``
transaction that reads the state, decides and writes — the compare-and-swap on the old
size that C2SP tlog-witness requires, across threads and processes alike.

Tables (the format is specified in docs/witnesses.md):

* ``logs(origin PRIMARY KEY, size, root_hash, note, updated_at)``: ``note`` is the
  checkpoint as the witness cosigned it (log signature lines it verified + its own line);
* ``evidence(id, origin, kind, seen_at, held_note, offered_note, detail)``: two notes
  that cannot both be honest heads of one append-only log, kept forever, de-duplicated.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATE_FILE = "witness.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY,
    size TEXT NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    held_note TEXT NOT NULL,
    offered_note TEXT NOT NULL,
    detail TEXT NOT NULL,
    UNIQUE (origin, kind, held_note, offered_note)
);
"""


@dataclass(frozen=True)
class LogState:
    """The last checkpoint cosigned for ``origin``, and when (POSIX seconds)."""

    origin: str
    size: int
    root_hash: bytes
    note: str
    updated_at: int


@dataclass(frozen=True)
class Evidence:
    """A checkpoint the witness refused beside the one it held at the time.

    ``kind`` is ``fork`` (same size, different root: the log signed two heads),
    ``rollback`` (smaller than the cosigned size) or ``unproven`` (larger, but the
    consistency proof from the cosigned size does not verify).
    """

    id: int
    origin: str
    kind: str
    seen_at: int
    held_note: str
    offered_note: str
    detail: str


class StateTransaction:
    """The view of one origin inside an open ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, connection: sqlite3.Connection, origin: str) -> None:
        self._db = connection
        self.origin = origin
        self.state = _read_state(connection, origin)

    def save(self, size: int, root_hash: bytes, note: str, at: int) -> None:
        self._db.execute(
            "INSERT INTO logs (origin, size, root_hash, note, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (origin) DO UPDATE SET size = excluded.size,"
            " root_hash = excluded.root_hash, note = excluded.note,"
            " updated_at = excluded.updated_at",
            (self.origin, str(size), root_hash, note, at),
        )

    def record_evidence(
        self, kind: str, held_note: str, offered_note: str, detail: str, at: int
    ) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO evidence"
            " (origin, kind, seen_at, held_note, offered_note, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (self.origin, kind, at, held_note, offered_note, detail),
        )


class StateStore:
    """The witness's SQLite state; safe to share between threads of one process."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = self.directory / STATE_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def transaction(self) -> Iterator[Callable[[str], StateTransaction]]:
        """One ``BEGIN IMMEDIATE`` transaction, committed (and fsync'd) on normal exit.

        Yields a function opening an origin's view inside it; a view opened after another
        one wrote sees that write, so several requests can be decided in order and made
        durable by one commit (group commit).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield lambda origin: StateTransaction(self._db, origin)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def update(self, origin: str) -> Iterator[StateTransaction]:
        """One read-decide-write transaction on ``origin``: committed on normal exit."""
        with self.transaction() as view:
            yield view(origin)

    def get(self, origin: str) -> LogState | None:
        with self._lock:
            return _read_state(self._db, origin)

    def states(self) -> list[LogState]:
        with self._lock:
            rows = self._db.execute(
                "SELECT origin, size, root_hash, note, updated_at FROM logs ORDER BY origin"
            ).fetchall()
        return [_state(row) for row in rows]

    def evidence(self) -> list[Evidence]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, origin, kind, seen_at, held_note, offered_note, detail"
                " FROM evidence ORDER BY id"
            ).fetchall()
        return [Evidence(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _read_state(db: sqlite3.Connection, origin: str) -> LogState | None:
    row = db.execute(
        "SELECT origin, size, root_hash, note, updated_at FROM logs WHERE origin = ?", (origin,)
    ).fetchone()
    return None if row is None else _state(row)


def _state(row: tuple[str, str, bytes, str, int]) -> LogState:
    origin, size, root_hash, note, updated_at = row
    # Sizes go up to 2**64-1, beyond SQLite's signed 64-bit integers (or exact REALs),
    # so they are stored as decimal text.
    return LogState(origin, int(size), bytes(root_hash), note, updated_at)
