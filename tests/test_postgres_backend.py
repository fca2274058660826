"""The event store runs on both backends with one body of tests (see tests/postgres.py)."""

from __future__ import annotations

from pathlib import Path

from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from streams.envelope import seal
from tests.support import make_world, story_events


def test_a_story_round_trips_through_the_event_store(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    reports = [Report(e, seal(e, world.keys[e.party_id])) for e in story_events()]
    decisions = world.ledger.process(reports, None)
    assert all(d.accepted for d in decisions)
    # A second application instance (as another process would) reads it all back.
    reopened = CustodyLedger(store_env(database_url, tmp_path / "ledger.sqlite"))
    item = reopened.get_item("urn:item:1")
    assert item.state.status.value == "sold"
    assert [e.envelope for e in reopened.item_events("urn:item:1")] == [r.envelope for r in reports]
