"""Read-ahead of ledger pages, so reading the event store overlaps with writing DuckDB.

Reading is pure Python (~7 µs a notification: the recorder's select, then
``staging.prepare``); DuckDB's side is mostly native code. ``PageReader`` reads on a thread:
enough for a catch-up. For a large rebuild ``ProcessPageReader`` reads in a child process
with its own application object, so the two sides do not share one GIL: on two cores
that is ~1.5× the rate of the thread (bench/bench_projections.py).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from eventsourcing.application import Application
from eventsourcing.utils import get_topic, resolve_topic

from projections.staging import Page, prepare

_Item = Page | BaseException | None


class PageReader:
    def __init__(self, ledger: Application[str], *, start: int, limit: int) -> None:
        self.ledger = ledger
        self.start = start
        self.limit = limit
        self.pages: queue.Queue[_Item] = queue.Queue(maxsize=2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, name="projector-reader", daemon=True)

    def __iter__(self) -> Iterator[Page]:
        self.thread.start()
        try:
            while (item := self.pages.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # The consumer stopped (done, or failed): let the thread finish, not block.
            self.stopped.set()
            self.thread.join()

    def _read(self) -> None:
        try:
            start = self.start
            while not self.stopped.is_set():
                page = self.ledger.recorder.select_notifications(start=start, limit=self.limit)
                if not page:
                    break
                self._put(prepare(self.ledger.mapper, page))
                start = page[-1].id + 1
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
    ledger: Application[str], *, start: int, limit: int, process: bool
) -> Iterable[Page]:
    if process and shareable(ledger):
        return ProcessPageReader(ledger, start=start, limit=limit)
    return PageReader(ledger, start=start, limit=limit)


class ProcessPageReader:
    """As ``PageReader``, reading in a spawned child process (pages arrive pickled)."""

    def __init__(self, ledger: Application[str], *, start: int, limit: int) -> None:
        self.args = (get_topic(type(ledger)), dict(ledger.env), start, limit)

    def __iter__(self) -> Iterator[Page]:
        context = multiprocessing.get_context("spawn")  # fork is unsafe with DuckDB threads
        pages: Any = context.Queue(maxsize=3)
        child = context.Process(
            target=_read_in_child, args=(*self.args, pages), name="projector-reader", daemon=True
        )
        child.start()
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
        finally:
            child.terminate()
            child.join()


def _read_in_child(topic: str, env: dict[str, str], start: int, limit: int, pages: Any) -> None:
    try:
        ledger = resolve_topic(topic)(env=env)
        for page in PageReader(ledger, start=start, limit=limit):
            pages.put(page)
        pages.put(None)
    except BaseException as e:
        pages.put(f"{type(e).__name__}: {e}")
