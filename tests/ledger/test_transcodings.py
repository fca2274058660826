"""The ledger's transcoder writes exactly eventsourcing's JSONTranscoder bytes.

Stored events are a contract (docs/architecture.md: the event store's records), so the
fast path of ``StateTranscoder`` must never change a byte: every event a real ledger
saves, and states that must take the base path, are written both ways and compared.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bench_ingest import sealed_messages
from domain.custody import CustodyEvent, ErrorReason, Kind, RetirementReason, Verdict
from domain.kinds import RULES
from ledger.application import CustodyLedger, Report
from ledger.transcodings import (
    BytesAsBase64,
    CustodyEventAsDict,
    OwnerStatementAsDict,
    StateTranscoder,
    custody_json,
)
from streams.envelope import open_envelope, read_body
from tests.support import make_world


def both(ledger: CustodyLedger) -> tuple[StateTranscoder, JSONTranscoder]:
    base = JSONTranscoder()
    ledger.register_transcodings(base)
    fast = ledger.mapper.transcoder
    assert isinstance(fast, StateTranscoder)
    return fast, base


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (DatetimeAsISO(), BytesAsBase64(), CustodyEventAsDict()):
        transcoder.register(transcoding)
    transcoder.register(OwnerStatementAsDict())
    return transcoder


FAST, BASE = _registered(StateTranscoder()), _registered(JSONTranscoder())


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


texts = st.text(max_size=12)  # any code point: quotes, controls, surrogates, non-ASCII
optional_texts = st.none() | texts


@st.composite
def everyday_events(draw: st.DrawFn) -> CustodyEvent:
    kind = draw(st.sampled_from([k for k in Kind if not RULES[k].withdraws]))
    placed = draw(st.booleans())
    return CustodyEvent(
        event_id=draw(texts.filter(bool)),
        item_id=draw(texts.filter(bool)),
        kind=kind,
        party_id=draw(texts.filter(bool)),
        device_id=draw(texts.filter(bool)),
        location=draw(texts.filter(bool)),
        occurred_at=draw(
            st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=9))]))
        ),
        counterparty=draw(optional_texts),
        tag_uid=draw(optional_texts),
        brand=draw(optional_texts),
        model=draw(optional_texts),
        serial=draw(optional_texts),
        verdict=draw(st.none() | st.sampled_from(Verdict)),
        certificate=draw(optional_texts),
        buyer_ref=draw(optional_texts),
        reason=draw(st.none() | st.sampled_from(RetirementReason)),
        latitude=draw(st.floats(-90, 90)) if placed else None,
        longitude=draw(st.floats(-180, 180)) if placed else None,
        attributes=draw(st.dictionaries(texts, texts, max_size=3)),
    )


@settings(max_examples=300, deadline=None)
@given(event=everyday_events(), envelope=st.binary(max_size=80))
def test_everyday_custody_events_are_spelt_as_the_json_encoder_spells_them(
    event: CustodyEvent, envelope: bytes
) -> None:
    plain = json.dumps(event.to_primitive(), separators=(",", ":"), ensure_ascii=False)
    assert custody_json(event) == plain
    state = {"timestamp": event.occurred_at, "custody": event, "envelope": envelope}
    assert FAST.encode(state) == BASE.encode(state)


def test_events_off_the_spelt_path_are_written_alike() -> None:
    sale = CustodyEvent(
        "e", "i", Kind.RETAIL_SELLING, "p", "d", "l", datetime(2026, 1, 1, tzinfo=UTC)
    )
    unusual = [
        replace(sale, commitments={"buyer_ref": "ab" * 32}),
        replace(sale, latitude=1, longitude=2),  # ints, as a caller may pass them
        replace(sale, attributes={"k": 3}),  # type: ignore[dict-item]
        CustodyEvent(
            "e2",
            "i",
            Kind.ERROR_DECLARATION,
            "p",
            "d",
            "l",
            sale.occurred_at,
            declared_event_id="e",
            error_reason=ErrorReason.DID_NOT_OCCUR,
        ),
    ]
    for event in unusual:
        assert custody_json(event) is None
        state = {"timestamp": event.occurred_at, "custody": event, "envelope": b"x"}
        assert FAST.encode(state) == BASE.encode(state)
