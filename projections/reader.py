"""Read-ahead of ledger pages, so reading the event store overlaps with writing DuckDB.

Reading is pure Python (``ledger.stored.select_rows``, then ``staging.prepare_rows``);
DuckDB's side is mostly native code. ``PageReader`` reads on a thread: enough for a
catch-up. For a large rebuild ``ProcessPageReader`` reads in a child process with its own
application object, so the two sides do not share one GIL, and hands pages over as files
that DuckDB reads itself (``staging.spill_rows``); bench/bench_projections.py measures it.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.utils import get_topic, resolve_topic

from ledger.stored import select_rows
from projections.staging import Page, prepare_rows, spill_rows

_Item = Page | BaseException | None


def read_page(ledger: Application[str], start: int, limit: int) -> Page | None:
    """The ledger's notifications from ``start`` on (at most ``limit``), prepared."""
    rows = select_rows(ledger, start, limit)
    return prepare_rows(ledger.mapper, rows) if rows else None


class PageReader:
    def __init__(self, ledger: Application[str], *, start: int, limit: int) -> None:
        self.ledger = ledger
        self.first = start
        self.limit = limit
        self.pages: queue.Queue[_Item] = queue.Queue(maxsize=2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, name="projector-reader", daemon=True)

    def start(self) -> None:
        """Start reading now, ahead of the first page asked for."""
        if self.thread.ident is None:
            self.thread.start()

    def close(self) -> None:
        self.stopped.set()
        if self.thread.ident is not None:
            self.thread.join()

    def __iter__(self) -> Iterator[Page]:
        self.start()
        try:
            while (item := self.pages.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # The consumer stopped (done, or failed): let the thread finish, not block.
            self.close()

    def _read(self) -> None:
        try:
            start = self.first
            while not self.stopped.is_set():
                page = read_page(self.ledger, start, self.limit)
                if page is None:
                    break
                self._put(page)
                start = page.last_id + 1
            self._put(None)
        except BaseException as e:  # handed to the consumer, which raises it
            self._put(e)

    def _put(self, item: _Item) -> None:
        while not self.stopped.is_set():
            try:
                self.pages.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


#: Persistence modules whose store another process can open (not the in-memory POPO one).
SHARED_STORES = ("eventsourcing.sqlite", "eventsourcing.postgres")


def shareable(app: Application[str]) -> bool:
    env = app.env
    if env.get("PERSISTENCE_MODULE") not in SHARED_STORES:
        return False
    return ":memory:" not in env.get("SQLITE_DBNAME", "")


def page_reader(
    ledger: Application[str],
    *,
    start: int,
    limit: int,
    process: bool,
    spill_dir: Path | None = None,
) -> PageReader | ProcessPageReader:
    """A thread reader, or with ``process`` (and a store another process can open) a
    process reader, which hands pages over as files in ``spill_dir`` if given."""
    if process and shareable(ledger):
        return ProcessPageReader(ledger, start=start, limit=limit, spill_dir=spill_dir)
    return PageReader(ledger, start=start, limit=limit)


class ProcessPageReader:
    """As ``PageReader``, reading in a spawned child process.

    Pages arrive pickled, or with ``spill_dir`` as files there (``staging.spill_rows``:
    CSV, or JSON lines) which DuckDB reads itself; each file is removed once the consumer
    asks for the next page, and the directory when reading ends.
    """

    def __init__(
        self,
        ledger: Application[str],
        *,
        start: int,
        limit: int,
        spill_dir: Path | None = None,
    ) -> None:
        self.args = (get_topic(type(ledger)), dict(ledger.env), start, limit)
        self.spill_dir = spill_dir
        self.child: Any = None
        self.pages: Any = None

    def start(self) -> None:
        """Start reading now, ahead of the first page asked for (a child takes a moment)."""
        if self.child is not None:
            return
        if self.spill_dir is not None:
            shutil.rmtree(self.spill_dir, ignore_errors=True)
            self.spill_dir.mkdir(parents=True)
        context = multiprocessing.get_context("spawn")  # fork is unsafe with DuckDB threads
        self.pages = context.Queue(maxsize=4)
        spill_to = None if self.spill_dir is None else str(self.spill_dir)
        self.child = context.Process(
            target=_read_in_child,
            args=(*self.args, spill_to, self.pages),
            name="projector-reader",
            daemon=True,
        )
        self.child.start()

    def close(self) -> None:
        if self.child is not None:
            self.child.terminate()
            self.child.join()
        if self.spill_dir is not None:
            shutil.rmtree(self.spill_dir, ignore_errors=True)

    def __iter__(self) -> Iterator[Page]:
        self.start()
        child, pages = self.child, self.pages
        try:
            while True:
                try:
                    item = pages.get(timeout=1.0)
                except queue.Empty:
                    if not child.is_alive():
                        raise RuntimeError(f"the reader process died ({child.exitcode})") from None
                    continue
                if item is None:
                    return
                if isinstance(item, str):
                    raise RuntimeError(f"the reader process failed: {item}")
                yield item
                if item.file is not None:
                    os.unlink(item.file)
        finally:
            self.close()


def _read_in_child(
    topic: str, env: dict[str, str], start: int, limit: int, spill_dir: str | None, pages: Any
) -> None:
    try:
        ledger = resolve_topic(topic)(env=env)
        while rows := select_rows(ledger, start, limit):
            if spill_dir is None:
                page = prepare_rows(ledger.mapper, rows)
            else:
                page = spill_rows(ledger.mapper, rows, Path(spill_dir) / f"{rows[0][0]}.page")
            pages.put(page)
            start = page.last_id + 1
        pages.put(None)
    except BaseException as e:
        pages.put(f"{type(e).__name__}: {e}")
