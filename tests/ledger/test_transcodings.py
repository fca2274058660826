"""The ledger's transcoder writes exactly eventsourcing's JSONTranscoder bytes.

Stored events are a contract (docs/architecture.md: the event store's records), so the
fast path of ``StateTranscoder`` must never change a byte: every event a real ledger
saves, and states that must take the base path, are written both ways and compared.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder

from bench.bench_ingest import sealed_messages
from ledger.application import CustodyLedger, Report
from ledger.transcodings import StateTranscoder
from streams.envelope import open_envelope, read_body
from tests.support import make_world


def both(ledger: CustodyLedger) -> tuple[StateTranscoder, JSONTranscoder]:
    base = JSONTranscoder()
    ledger.register_transcodings(base)
    fast = ledger.mapper.transcoder
    assert isinstance(fast, StateTranscoder)
    return fast, base


def test_every_saved_event_is_written_as_the_base_transcoder_writes_it(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    messages = [value for _, value in sealed_messages(world, 40, "urn:tc:")]
    saved: list[Any] = []
    record = world.ledger._record

    def capture(processing_event: Any, *args: Any, **kwargs: Any) -> Any:
        saved.extend(processing_event.events)
        return record(processing_event, *args, **kwargs)

    world.ledger._record = capture  # type: ignore[method-assign]
    reports = [Report(read_body(open_envelope(m)), m) for m in messages]
    world.ledger.process(reports, None)
    fast, base = both(world.ledger)
    assert len(saved) >= len(messages)
    kinds = set()
    for event in saved:
        state = dict(vars(event))
        kinds.add(type(event).__name__)
        assert fast.encode(state) == base.encode(state)
        assert fast.decode(fast.encode(state)) == base.decode(base.encode(state))
    assert {"Commissioned", "CustodyRecorded"} <= kinds


@pytest.mark.parametrize(
    "state",
    [
        {"nested": {"at": datetime(2026, 1, 1, tzinfo=UTC)}},  # a transcoded value inside
        {"items": [b"\x00\x01", "x"]},
        {"name": "caf\u00e9 \u2603", "n": 3, "x": 1.5, "flag": True, "none": None},
        {"at": datetime(2026, 1, 1, tzinfo=UTC), "raw": b"\xff" * 40},
    ],
)
def test_states_off_the_fast_path_are_written_alike(tmp_path: Path, state: dict[str, Any]) -> None:
    fast, base = both(make_world(tmp_path).ledger)
    assert fast.encode(state) == base.encode(state)
