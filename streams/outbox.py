"""A durable local outbox: messages wait in a SQLite file until the broker acknowledged them.

A scanner writes each signed scan here first (one committed transaction, fsynced), so a
scan made while the network or the broker is away survives until it can be sent, across
crashes and restarts. :class:`streams.sender.OutboxSender` drains it in order and removes an
entry only after the broker acknowledged it. The file format is specified in
``docs/outbox.md``.

Entries leave in ``seq`` order (the order they were written); an entry the broker refused
for good (e.g. too large) is kept, marked ``failed`` with the reason, for an operator to
see (``assay outbox status``) and retry (``assay outbox flush --retry-failed``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: ``outbox_meta.format`` of the files this code writes and reads.
FORMAT = "assay-outbox-v1"
SUFFIX = ".outbox.sqlite"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        key BLOB,
        value BLOB NOT NULL,
        created_at REAL NOT NULL,
        failed TEXT
    )""",
    "CREATE TABLE IF NOT EXISTS outbox_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class OutboxError(RuntimeError):
    """The file is not an outbox this version can use."""


@dataclass(frozen=True)
class Entry:
    seq: int
    topic: str
    key: bytes | None
    value: bytes
    created_at: float


@dataclass(frozen=True)
class OutboxState:
    path: Path
    pending: int
    failed: int
    #: Unix time of the oldest pending entry (None if none).
    oldest: float | None
    failures: tuple[tuple[int, str], ...] = ()

    def age(self, now: float | None = None) -> float | None:
        if self.oldest is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.oldest)


def outbox_beside(key_file: Path) -> Path:
    """The default outbox of a device: ``<key file>.outbox.sqlite`` next to its key."""
    return key_file.with_name(key_file.name + SUFFIX)


class Outbox:
    """One outbox file; safe to use from several threads and processes at once."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._prepare()
        except sqlite3.DatabaseError as e:
            self._con.close()
            raise OutboxError(f"{self.path} is not a usable outbox: {e}") from None
        except OutboxError:
            self._con.close()
            raise

    def _prepare(self) -> None:
        """Check what the file is before changing anything in it, then make it ready."""
        con = self._con
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables - {"outbox", "outbox_meta", "sqlite_sequence"}:
            raise OutboxError(f"{self.path} holds other tables: not an Assay outbox")
        if "outbox_meta" in tables:
            row = con.execute("SELECT value FROM outbox_meta WHERE name = 'format'").fetchone()
            if row is not None and row[0] != FORMAT:
                raise OutboxError(
                    f"{self.path} is an outbox of format {row[0]!r}; this Assay reads {FORMAT!r}"
                )
        con.execute("PRAGMA journal_mode=WAL")
        # A committed scan must survive a power cut, not only a crash.
        con.execute("PRAGMA synchronous=FULL")
        with self._transaction():
            for statement in _SCHEMA:
                con.execute(statement)
            con.execute("INSERT OR IGNORE INTO outbox_meta VALUES ('format', ?)", (FORMAT,))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    # ----- writing ---------------------------------------------------------------------

    def put(self, topic: str, key: bytes | None, value: bytes) -> int:
        """Keep one message durably; returns its sequence number."""
        return self.put_many([(topic, key, value)])[0]

    def put_many(self, messages: Iterable[tuple[str, bytes | None, bytes]]) -> list[int]:
        """Keep several messages in one transaction (all or none), in this order."""
        now = time.time()
        seqs: list[int] = []
        with self._transaction() as con:
            for topic, key, value in messages:
                cursor = con.execute(
                    "INSERT INTO outbox (topic, key, value, created_at) VALUES (?, ?, ?, ?)",
                    (topic, key, value, now),
                )
                seqs.append(int(cursor.lastrowid or 0))
        return seqs

    # ----- draining --------------------------------------------------------------------

    def pending(self, limit: int = 500) -> list[Entry]:
        """The oldest entries still to send, in the order they were written."""
        with self._lock:
            rows = self._con.execute(
                "SELECT seq, topic, key, value, created_at FROM outbox WHERE failed IS NULL "
                "ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [Entry(int(s), str(t), k, bytes(v), float(c)) for s, t, k, v, c in rows]

    def ack(self, seqs: Iterable[int]) -> int:
        """Forget entries the broker acknowledged; returns how many were removed."""
        wanted = [(s,) for s in seqs]
        if not wanted:
            return 0
        with self._transaction() as con:
            before = con.total_changes
            con.executemany("DELETE FROM outbox WHERE seq = ?", wanted)
            return con.total_changes - before

    def fail(self, seq: int, reason: str) -> None:
        """Keep an entry the broker refused for good, with why; it is no longer sent."""
        with self._transaction() as con:
            con.execute("UPDATE outbox SET failed = ? WHERE seq = ?", (reason or "refused", seq))

    def retry_failed(self) -> int:
        """Make refused entries pending again (after the cause was fixed)."""
        with self._transaction() as con:
            before = con.total_changes
            con.execute("UPDATE outbox SET failed = NULL WHERE failed IS NOT NULL")
            return con.total_changes - before

    # ----- looking ---------------------------------------------------------------------

    def depth(self) -> int:
        """Entries still to send (refused ones not counted)."""
        with self._lock:
            (n,) = self._con.execute("SELECT count(*) FROM outbox WHERE failed IS NULL").fetchone()
        return int(n)

    def last_seq(self) -> int:
        """The sequence number of the newest entry ever written (0: none)."""
        with self._lock:
            row = self._con.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
            ).fetchone()
        return int(row[0]) if row else 0

    def has_pending_up_to(self, seq: int) -> bool:
        """Whether any entry up to ``seq`` is still to send."""
        with self._lock:
            row = self._con.execute(
                "SELECT 1 FROM outbox WHERE failed IS NULL AND seq <= ? LIMIT 1", (seq,)
            ).fetchone()
        return row is not None

    def state(self, failures: int = 10) -> OutboxState:
        with self._lock:
            pending, oldest = self._con.execute(
                "SELECT count(*), min(created_at) FROM outbox WHERE failed IS NULL"
            ).fetchone()
            (failed,) = self._con.execute(
                "SELECT count(*) FROM outbox WHERE failed IS NOT NULL"
            ).fetchone()
            reasons = self._con.execute(
                "SELECT seq, failed FROM outbox WHERE failed IS NOT NULL ORDER BY seq LIMIT ?",
                (failures,),
            ).fetchall()
        return OutboxState(
            self.path,
            int(pending),
            int(failed),
            None if oldest is None else float(oldest),
            tuple((int(s), str(r)) for s, r in reasons),
        )

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
