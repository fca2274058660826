"""The projector's follow loop: pages back to back through a backlog, and a pause after a
page that emptied it, so the next page gathers what arrived meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import projections.projector as projector_module
from projections.projector import GATHER_SECONDS, POLL_SECONDS, Projector
from tests.projections.support import make_store
from tests.support import story_events


class Steps(threading.Event):
    """A stop event that records each pause the loop asks of it and stops after ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.pauses: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.pauses.append(timeout)
        if len(self.pauses) >= self.limit:
            self.set()
        return self.is_set()


def test_a_backlog_goes_page_after_page_then_the_loop_gathers_and_polls(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.record(story_events())
    total = store.ledger.recorder.max_notification_id() or 0
    page = 4
    assert total > 2 * page  # a backlog of several full pages
    steps = Steps(limit=3)
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb", page_size=page) as projector:
        done: list[int] = []
        step = projector.step

        def counted() -> int:
            done.append(step())
            return done[-1]

        projector.step = counted  # type: ignore[method-assign]
        projector.run(stop=steps)
        assert projector.position("ledger") == total
    # No pause after a full page; after the one that emptied the backlog, a gathering one;
    # then, with nothing new, the short poll.
    full = [n for n in done if n >= page]
    assert len(full) >= total // page - 1
    assert done[: len(full)] == full
    assert steps.pauses == [GATHER_SECONDS, POLL_SECONDS, POLL_SECONDS]
    assert done[len(full) :] == [done[len(full)], 0, 0]
    assert 0 < done[len(full)] < page


def test_a_chain_backlog_goes_page_after_page_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full chain page (the ledger long caught up) is a backlog as a full ledger page is:
    the next chain page follows at once, not after a gathering pause."""
    monkeypatch.setattr(projector_module, "CHAIN_PAGE", 2)
    store = make_store(tmp_path)
    for n in range(5):  # five blocks, one per item; the ledger fits one page
        store.record(story_events(f"urn:item:{n}", f"TAG-{n}"))
    blocks = store.chain.recorder.max_notification_id() or 0
    assert blocks >= 5
    steps = Steps(limit=3)
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb", page_size=100) as projector:
        projector.run(stop=steps)
        assert projector.position("chain") == blocks
    assert steps.pauses == [GATHER_SECONDS, POLL_SECONDS, POLL_SECONDS]
