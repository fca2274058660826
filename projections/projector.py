"""The projector: follows the ledger's and the chain's notification logs into DuckDB.

Two followers share one DuckDB connection, each with its own tracking row ("ledger",
"chain"). The chain follower never runs ahead of the ledger follower: a block is projected
only once every notification it covers has been, because it stamps leaf hashes onto those
rows. ``rebuild`` projects everything into a side file and swaps it in, so a crash during a
rebuild leaves the previous projection (and the analyst snapshot) untouched.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
from eventsourcing.application import Application

from projections.derive import derive_all
from projections.reader import PageReader, page_reader
from projections.schema import SCHEMA_VERSION, stored_schema_version
from projections.snapshot import default_target, publish, remove_leftovers
from projections.staging import prepare
from projections.writer import CHAIN, LEDGER, Writer, connect, coverable, decode_block

log = logging.getLogger(__name__)

PAGE = 20000
REBUILD_PAGE = 20000
REBUILD_COMMIT = 500_000
#: Blocks per chain page, following or rebuilding: a block's stored state holds all its
#: leaves (~0.3 MB at 1,000 leaves), so a page of 20,000 would hold the whole chain in
#: memory (with its decoded text, twice: ~750 MB at 1M events; a catch-up over 2M events
#: peaked at 2.1 GB). A projector made with a smaller ``page_size`` pages by that.
CHAIN_PAGE = 64
POLL_SECONDS = 0.1
#: Following, after a page that emptied the backlog: wait this long before the next, so
#: pages hold what arrived meanwhile. A page costs tens of ms of DuckDB statements
#: whatever its size (deriving ``items`` alone is seven), and stepping again at once
#: while ingest writes made pages of a few hundred events: 2-5x the CPU per event
#: (bench/results/e2e-2026-12-05.md). Analysts see a snapshot every
#: ``snapshot_interval`` (2 s) anyway.
GATHER_SECONDS = 0.5
#: From this many ledger notifications on, a rebuild reads in a child process (starting
#: one costs a fraction of a second; see projections/reader.py).
PROCESS_READER_MIN = 100_000

Progress = Callable[[int, int], None]


class ProjectorBusy(RuntimeError):
    """Another projector writes these projections; DuckDB allows one writer."""


def take_writer_lock(duckdb_path: Path) -> int:
    """An exclusive flock on ``<file>.lock`` for the projector's lifetime.

    DuckDB's own lock is an fcntl record lock, which POSIX drops as soon as the process
    closes *any* descriptor of the file — and publishing the analyst snapshot reads the
    file. A flock on a separate file is held until we close it.
    """
    fd = os.open(f"{duckdb_path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ProjectorBusy(
            f"another projector is writing {duckdb_path} (is another `assay project` or "
            "`assay run` using it?)"
        ) from None
    return fd


class Projector:
    def __init__(
        self,
        ledger: Application[str],
        chain: Application[str] | None,
        duckdb_path: Path,
        *,
        snapshot_path: Path | None = None,
        snapshot_interval: float = 2.0,
        page_size: int = PAGE,
    ) -> None:
        self.ledger = ledger
        self.chain = chain
        self.path = duckdb_path
        self.snapshot_path = snapshot_path or default_target(duckdb_path)
        self.snapshot_interval = snapshot_interval
        self.page_size = page_size
        duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = take_writer_lock(duckdb_path)
        self._discard_rebuild_leftovers()
        self.writer = Writer(self._open_current())
        remove_leftovers(self.snapshot_path)
        self.dirty = False
        self.published_at = 0.0
        #: Notifications projected by ``step`` and ``catch_up`` since start (metrics).
        self.projected = 0
        #: Whether the last :meth:`step` left a full page of either log behind it.
        self.backlog = False

    def _open_current(self) -> duckdb.DuckDBPyConnection:
        """The projection file, started afresh if an older Assay wrote another schema.

        It is derived data: projecting again from position 0 recreates it.
        """
        con = connect(self.path)
        stored = stored_schema_version(con)
        if stored is None or stored == SCHEMA_VERSION:
            return con
        log.warning("%s has schema %s, not %s: projecting again", self.path, stored, SCHEMA_VERSION)
        con.close()
        for old in (self.path, wal_of(self.path)):
            old.unlink(missing_ok=True)
        return connect(self.path)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.writer.con

    def close(self) -> None:
        self.writer.con.close()
        os.close(self._lock)

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- following ----------------------------------------------------------------------

    def position(self, name: str) -> int:
        return self.writer.position(name)

    def catch_up(self) -> int:
        """Project everything recorded so far; returns notifications projected.

        The ledger is read ahead (``projections.reader``); each page is still its own
        transaction with its tracking position.
        """
        total = 0
        while True:
            done = 0
            start = self.writer.position(LEDGER) + 1
            # A thread is enough here: per-page work on the DuckDB side is the bottleneck.
            for page in PageReader(self.ledger, start=start, limit=self.page_size):
                self.writer.ledger_page(page, derive_items=True)
                done += len(page)
            while n := self._chain_step():
                done += n
            if done:
                self.dirty = True
                self.projected += done
            total += done
            if not done:
                return total

    def step(self) -> int:
        """One ledger page and one chain page at most (each its own transaction);
        :attr:`backlog` says whether either page was full (more is waiting)."""
        ledger = self._ledger_step()
        chain = self._chain_step()
        self.backlog = ledger >= self.page_size or chain >= min(self.page_size, CHAIN_PAGE)
        done = ledger + chain
        if done:
            self.dirty = True
            self.projected += done
        return done

    def run(self, until_idle: float | None = None, stop: threading.Event | None = None) -> int:
        """Follow both logs until stopped (or idle that long), publishing analyst snapshots."""
        total = 0
        last_activity = time.monotonic()
        while not (stop is not None and stop.is_set()):
            done = self.step()
            total += done
            now = time.monotonic()
            if done:
                last_activity = now
            if self.dirty and now - self.published_at >= self.snapshot_interval:
                self.publish()
            if self.backlog:
                continue  # the next page of either log is waiting already
            if not done and until_idle is not None and now - last_activity >= until_idle:
                break
            pause = GATHER_SECONDS if done else POLL_SECONDS
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)
        if self.dirty or not self.snapshot_path.exists():
            self.publish()
        return total

    def publish(self) -> Path:
        """Refresh the analyst snapshot now."""
        publish(self.writer.con, self.path, self.snapshot_path)
        self.dirty = False
        self.published_at = time.monotonic()
        return self.snapshot_path

    def _ledger_step(self) -> int:
        start = self.writer.position(LEDGER) + 1
        page = self.ledger.recorder.select_notifications(start=start, limit=self.page_size)
        if page:
            self.writer.ledger_page(prepare(self.ledger.mapper, page), derive_items=True)
        return len(page)

    def _chain_step(self, writer: Writer | None = None, limit: int | None = None) -> int:
        if self.chain is None:
            return 0
        writer = writer or self.writer
        start = writer.position(CHAIN) + 1
        limit = limit or min(self.page_size, CHAIN_PAGE)
        page = self.chain.recorder.select_notifications(start=start, limit=limit)
        blocks = [decode_block(self.chain, n) for n in page]
        ready = coverable(blocks, writer.position(LEDGER))
        if ready:
            writer.chain_page(page[ready - 1].id, [b for b in blocks[:ready] if b is not None])
        return ready

    # ----- rebuild ------------------------------------------------------------------------

    @property
    def rebuild_path(self) -> Path:
        return self.path.with_name(self.path.name + ".rebuild")

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop every projection and project both logs again; returns notifications projected.

        Same statements as the incremental path, in larger pages and transactions; ``items``
        is derived once at the end instead of per page (the same query over the same rows).
        Reading the event store overlaps with DuckDB's work (``projections.reader``) and
        starts before the chain is projected; a large ledger is read in a child process
        that leaves its pages as files in ``spill_dir`` for DuckDB.
        """
        self._discard_rebuild_leftovers()
        total = self._total()
        done = 0
        large = (self.ledger.recorder.max_notification_id() or 0) >= PROCESS_READER_MIN
        pages = page_reader(
            self.ledger, start=1, limit=REBUILD_PAGE, process=large, spill_dir=self.spill_dir
        )
        # Reading the ledger starts now, while the chain is projected.
        pages.start()
        try:
            with connect(self.rebuild_path) as con:
                # One core is the reader's: DuckDB's threads would only contend for the other.
                con.execute(f"SET threads = {max(1, cores() - 1)}")
                writer = Writer(con)
                con.execute("BEGIN TRANSACTION")
                # The chain first: its leaves are then stamped on the rows as they are inserted.
                writer.start_leaves_ahead()
                for last_id, count, blocks in self._chain_pages():
                    writer.apply_chain_ahead(last_id, blocks)
                    done += count
                    if progress is not None:
                        progress(done, total)
                uncommitted = 0
                for page in pages:
                    writer.apply_ledger_page(page, derive_items=False, leaves_ahead=True)
                    done, uncommitted = done + len(page), uncommitted + len(page)
                    if uncommitted >= REBUILD_COMMIT:
                        con.execute("COMMIT")
                        con.execute("BEGIN TRANSACTION")
                        uncommitted = 0
                    if progress is not None:
                        progress(done, total)
                derive_all(con)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
        finally:
            pages.close()
        self.writer.con.execute("CHECKPOINT")
        self.writer.con.close()
        # The old file's WAL must not be replayed onto the new file.
        wal_of(self.path).unlink(missing_ok=True)
        os.replace(self.rebuild_path, self.path)
        self.writer = Writer(connect(self.path))
        self.dirty = True
        if progress is not None:
            progress(done, max(total, done))
        return done

    @property
    def spill_dir(self) -> Path:
        """Where a rebuild's reader process leaves pages for DuckDB (``staging.spill_rows``)."""
        return self.path.with_name(self.path.name + ".rebuild-pages")

    def _chain_pages(self) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        """Every chain notification, decoded, page by page: (last id, count, blocks)."""
        if self.chain is None:
            return
        start = 1
        while page := self.chain.recorder.select_notifications(start=start, limit=CHAIN_PAGE):
            blocks = [decode_block(self.chain, n) for n in page]
            yield page[-1].id, len(page), [b for b in blocks if b is not None]
            start = page[-1].id + 1

    def _total(self) -> int:
        total = self.ledger.recorder.max_notification_id() or 0
        if self.chain is not None:
            total += self.chain.recorder.max_notification_id() or 0
        return total

    def _discard_rebuild_leftovers(self) -> None:
        for leftover in (self.rebuild_path, wal_of(self.rebuild_path)):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(self.spill_dir, ignore_errors=True)


def cores() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")
