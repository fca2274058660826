"""The ledger's transcoder writes exactly eventsourcing's JSONTranscoder bytes.

Stored events are a contract (docs/architecture.md: the event store's records), so the
fast path of ``StateTranscoder`` must never change a byte: every event a real ledger
saves, and states that must take the base path, are written both ways and compared.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bench_ingest import sealed_messages
from domain.custody import (
    CUSTODY_FIELDS,
    CustodyEvent,
    ErrorReason,
    Kind,
    RetirementReason,
    Verdict,
)
from domain.kinds import RULES
from ledger.application import CustodyLedger, Report
from ledger.transcodings import (
    CUSTODY_MEMBERS,
    UNEVERYDAY,
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


# ----- the native spelling (native/src/statejson.rs) -------------------------------------


def native(state: dict[str, Any], left_out: tuple[str, ...] = ()) -> bytes | None:
    speller = FAST._native  # type: ignore[attr-defined]
    assert speller is not None  # the three transcodings it spells are registered
    result: bytes | None = speller(state, left_out)
    return result


def test_the_native_speller_writes_every_saved_event_without_its_columns(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    messages = [value for _, value in sealed_messages(world, 10, "urn:nt:")]
    ledger = world.ledger
    saved: list[Any] = []
    record = ledger._record

    def capture(processing_event: Any) -> Any:
        saved.extend(processing_event.events)
        return record(processing_event)

    ledger._record = capture  # type: ignore[method-assign]
    ledger.process([Report(read_body(open_envelope(m)), m) for m in messages], None)
    columns = ("originator_id", "originator_version")
    for event in saved:
        state = {n: v for n, v in vars(event).items() if n not in columns}
        assert native(vars(event), columns) == BASE.encode(state)  # answered, not declined
        assert FAST.encode_without(vars(event), columns) == BASE.encode(state)  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(event=everyday_events(), envelope=st.binary(max_size=80), at=st.datetimes())
def test_native_and_python_spellings_agree_on_everyday_events(
    event: CustodyEvent, envelope: bytes, at: datetime
) -> None:
    state = {"timestamp": at.replace(tzinfo=UTC), "custody": event, "envelope": envelope}
    spelt = native(state)
    if event.occurred_at.tzinfo is UTC and custody_json(event) is not None:
        assert spelt == BASE.encode(state)
    else:  # another zone or a surrogate in a text: the Python path decides
        assert spelt is None or spelt == BASE.encode(state)
    assert FAST.encode(state) == BASE.encode(state)


class Label(str):
    """A text of another type: the C encoder writes it, the fast paths leave it."""


SALE = CustodyEvent("e", "i", Kind.RETAIL_SELLING, "p", "d", "l", datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "state",
    [
        {"at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))},
        {"at": datetime(2026, 1, 1)},
        {"n": 1},
        {"flag": True},
        {"label": Label("x")},
        {1: "x"},
        {"custody": replace(SALE, commitments={"buyer_ref": "ab" * 32})},
        {"custody": replace(SALE, claim_digest="ab" * 32, claim_salt="cd" * 16)},
        {"custody": replace(SALE, latitude=True, longitude=1.0)},
        {"custody": replace(SALE, latitude=1, longitude=2)},
        {"custody": replace(SALE, attributes={"k": Label("v")})},
        {"custody": replace(SALE, occurred_at=datetime(2026, 1, 1, tzinfo=timezone.min))},
    ],
)
def test_the_native_speller_declines_what_it_does_not_spell(state: dict[Any, Any]) -> None:
    assert native(state) is None
    assert FAST.encode(state) == BASE.encode(state)
    with_columns = {"originator_id": "i", **state, "originator_version": 2}
    without = FAST.encode_without(with_columns, ("originator_id", "originator_version"))  # type: ignore[attr-defined]
    assert without == BASE.encode(state)


def test_a_text_utf8_cannot_carry_is_left_to_the_python_path() -> None:
    assert native({"text": "\ud800"}) is None  # which refuses it, as the base does
    with pytest.raises(UnicodeEncodeError):
        BASE.encode({"text": "\ud800"})


def test_the_native_speller_escapes_as_the_json_encoder_does() -> None:
    odd = "".join(map(chr, range(0x30))) + '"\\\x7f\u2028é☃\U0001f600'
    event = replace(SALE, location=odd, attributes={odd: odd, "": "", "b": "a"}, brand=odd)
    state = {odd: odd, "custody": event, "at": datetime(1, 1, 1, 0, 0, 0, 7, tzinfo=UTC)}
    assert native(state) == BASE.encode(state)
    assert native({}) == b"{}" == BASE.encode({})
    for size in range(5):  # every base64 padding
        assert native({"raw": bytes(range(size))}) == BASE.encode({"raw": bytes(range(size))})


def test_every_custody_field_is_spelt_natively_or_keeps_an_event_off_the_native_path() -> None:
    """A field the native spelling does not write must be one that, when set, sends the
    event to the Python path (else it would be dropped from the stored state): the members
    it writes, the fields that must be unset and ``claim_salt`` (set only with
    ``claim_digest``) are exactly the event's fields."""
    spelt = {name for name, _ in CUSTODY_MEMBERS}
    assert not spelt & set(UNEVERYDAY)
    assert spelt | set(UNEVERYDAY) | {"claim_salt"} == CUSTODY_FIELDS


def test_a_dict_subclass_is_written_in_its_own_order() -> None:
    """The native spelling walks a plain dict; a subclass (its own order) goes the
    encoder's way."""
    state = OrderedDict(a="1", b="2")
    state.move_to_end("a")
    written = FAST.encode_without(state, ())  # type: ignore[attr-defined]
    assert written == BASE.encode(state) == b'{"b":"2","a":"1"}'
