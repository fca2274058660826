"""A repeated event id changes nothing; a repeated id with other content is a flag, once."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import replace

import pytest

from domain.custody import CustodyEvent, Kind
from domain.items import Item, Result, Signal
from tests.domain.factory import Bench, envelope_of


def story() -> Bench:
    return Bench().commissioned().authenticated().moved("dc", "ginza").sold("ginza")


def custody_events(bench: Bench) -> list[CustodyEvent]:
    return [
        e.custody for e in bench.stored if isinstance(e, Item.Commissioned | Item.CustodyRecorded)
    ]


@pytest.mark.parametrize("index", range(7))
def test_re_applying_an_accepted_event_is_a_no_op(index: int) -> None:
    bench = story()
    assert bench.item is not None
    version, state = bench.item.version, deepcopy(bench.state)
    custody = custody_events(bench)[index]
    outcome = bench.apply(custody)
    assert outcome.result is Result.DUPLICATE
    assert bench.item.version == version == 7
    assert bench.state == state
    assert len(bench.stored) == 7


def test_re_applying_a_flagged_report_is_a_no_op() -> None:
    bench = story()
    clone = bench.event(Kind.OBSERVING, "osaka")
    assert bench.apply(clone).result is Result.FLAGGED
    assert bench.apply(clone).result is Result.DUPLICATE
    assert [f.signal for f in bench.state.flags] == [Signal.SCAN_AFTER_SALE]


def test_re_applying_the_sighting_of_an_unknown_item_is_a_no_op() -> None:
    bench = Bench()
    sighting = bench.event(Kind.OBSERVING, "osaka")
    bench.apply(sighting)
    assert bench.apply(sighting).result is Result.DUPLICATE
    assert len(bench.stored) == 1


def test_an_event_id_reused_with_other_content_is_flagged_once_and_changes_nothing() -> None:
    bench = Bench().commissioned().moved("ginza")
    first = custody_events(bench)[-1]  # ginza's receiving
    forged = replace(first, location="somewhere-else")
    holder, location = bench.state.holder, bench.state.location

    outcome = bench.apply(forged)
    assert outcome.result is Result.FLAGGED
    assert outcome.signals == (Signal.CONFLICTING_DUPLICATE,)
    flagged = bench.stored[-1]
    assert isinstance(flagged, Item.Flagged)
    assert flagged.evidence == forged and flagged.envelope == envelope_of(forged)
    assert "reused" in flagged.detail and "first report stands" in flagged.detail
    assert (bench.state.holder, bench.state.location) == (holder, location)

    # Both versions are now known: each one again is a no-op.
    assert bench.apply(forged).result is Result.DUPLICATE
    assert bench.apply(first).result is Result.DUPLICATE
    assert [f.signal for f in bench.state.flags] == [Signal.CONFLICTING_DUPLICATE]


def test_a_reused_id_with_a_third_content_is_flagged_again() -> None:
    bench = Bench().commissioned()
    first = custody_events(bench)[0]
    bench.apply(replace(first, location="x", kind=Kind.OBSERVING))
    bench.apply(replace(first, location="y", kind=Kind.OBSERVING))
    assert [f.signal for f in bench.state.flags] == [Signal.CONFLICTING_DUPLICATE] * 2


def test_a_duplicate_is_a_no_op_even_after_the_item_moved_on() -> None:
    bench = Bench().commissioned()
    shipping = bench.event(Kind.SHIPPING, "brand", counterparty="dc")
    assert bench.apply(shipping).result is Result.ACCEPTED
    bench.do(Kind.RECEIVING, "dc")
    bench.do(Kind.SHIPPING, "dc", counterparty="ginza")
    assert bench.apply(shipping).result is Result.DUPLICATE  # no "not_holder" refusal
    assert bench.state.consignee == "ginza"


def test_a_conflicting_reuse_by_a_party_without_the_role_is_refused() -> None:
    bench = Bench().commissioned()
    first = custody_events(bench)[0]
    forged = replace(
        first, party_id="lab", device_id="lab-d1", kind=Kind.RETAIL_SELLING, buyer_ref="b"
    )
    assert bench.refuse_event(forged).rule == "role_not_allowed"
