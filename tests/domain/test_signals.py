"""Every counterfeit signal, both ways: when it is flagged (with evidence) and when it is not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.custody import Kind
from domain.items import Item, Outcome, Policy, Result, Signal, Status
from domain.signals import Fix, distance_km, impossible_travel
from tests.domain.factory import ITEM, T0, Bench, envelope_of

TOKYO = {"latitude": 35.6719, "longitude": 139.7650}
GINZA_2 = {"latitude": 35.6717, "longitude": 139.7660}  # ~100 m from TOKYO
OSAKA = {"latitude": 34.7025, "longitude": 135.4959}  # ~400 km from TOKYO
PARIS = {"latitude": 48.8698, "longitude": 2.3075}  # ~9,700 km from TOKYO


def assert_flagged(bench: Bench, outcome: Outcome, signal: Signal, *words: str) -> Any:
    """Flagged, with the report kept as evidence (its event and its exact envelope)."""
    assert outcome.result is Result.FLAGGED
    assert outcome.signals == (signal,)
    flagged = bench.stored[-1]
    assert isinstance(flagged, Item.Flagged)
    assert flagged.signal == signal.value
    assert flagged.evidence is not None
    assert flagged.envelope == envelope_of(flagged.evidence)
    flag = bench.state.flags[-1]
    assert (flag.signal, flag.evidence_event_id) == (signal, flagged.evidence.event_id)
    for word in words:
        assert word in flag.detail, (word, flag.detail)
    return flagged


def custody_of(bench: Bench) -> tuple[Any, ...]:
    s = bench.state
    return (s.status, s.holder, s.location, s.shipper, s.consignee, s.sold_by, s.verdict)


# ----- duplicate commissioning ----------------------------------------------------------


def test_a_second_commissioning_of_the_item_id_is_flagged_on_it() -> None:
    bench = Bench().commissioned().moved("ginza")
    before = custody_of(bench)
    outcome = bench.do(Kind.COMMISSIONING, "brand", tag_uid="CLONE-TAG")
    flagged = assert_flagged(bench, outcome, Signal.DUPLICATE_COMMISSIONING, "again", "brand")
    assert flagged.evidence.tag_uid == "CLONE-TAG"
    assert custody_of(bench) == before
    assert bench.state.tag_uid != "CLONE-TAG"


def test_a_commissioning_of_a_cloned_tag_under_another_id_is_flagged_on_the_original() -> None:
    bench = Bench().commissioned()
    clone = bench.event(Kind.COMMISSIONING, "brand", item_id="urn:clone")
    outcome = bench.apply(clone)  # its tag uid is the original's: the tag claim knows
    detail = "commissioned again for urn:clone"
    flagged = assert_flagged(bench, outcome, Signal.DUPLICATE_COMMISSIONING, detail)
    assert flagged.evidence.item_id == "urn:clone"
    assert "urn:clone" not in bench.others  # the clone's item is never created


def test_an_item_first_sighted_is_commissioned_late_without_a_duplicate_flag() -> None:
    bench = Bench()
    assert bench.do(Kind.OBSERVING, "ginza").result is Result.FLAGGED
    outcome = bench.do(Kind.COMMISSIONING, "brand")
    assert outcome.result is Result.ACCEPTED
    s = bench.state
    assert (s.commissioned, s.status, s.holder) == (True, Status.IN_CUSTODY, "brand")
    assert [f.signal for f in s.flags] == [Signal.UNKNOWN_ITEM]


def test_a_late_commissioning_checks_the_identity() -> None:
    bench = Bench()
    bench.do(Kind.OBSERVING, "ginza")
    assert bench.refuse(Kind.COMMISSIONING, "brand", serial=None).rule == "missing_detail"


# ----- location conflict -----------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.OBSERVING, Kind.RECEIVING])
def test_a_scan_by_a_party_that_does_not_hold_the_item_is_flagged(kind: Kind) -> None:
    bench = Bench().commissioned().moved("ginza")
    before = custody_of(bench)
    outcome = bench.do(kind, "osaka")
    assert_flagged(bench, outcome, Signal.LOCATION_CONFLICT, "osaka", "held by ginza")
    assert custody_of(bench) == before


@pytest.mark.parametrize("kind", [Kind.OBSERVING, Kind.RECEIVING])
def test_a_scan_by_a_third_party_while_in_transit_is_flagged(kind: Kind) -> None:
    bench = Bench().commissioned().shipped("dc")
    outcome = bench.do(kind, "osaka")
    assert_flagged(bench, outcome, Signal.LOCATION_CONFLICT, "in transit from brand to dc")
    assert bench.state.status is Status.IN_TRANSIT


def test_the_holder_and_the_consignee_are_where_the_item_can_be() -> None:
    bench = Bench().commissioned()
    assert bench.do(Kind.OBSERVING, "brand").signals == ()
    bench.shipped("dc")
    assert bench.do(Kind.RECEIVING, "dc").signals == ()
    assert bench.state.flags == []


# ----- impossible travel -----------------------------------------------------------------


def test_two_scans_too_far_apart_for_the_time_between_them_are_flagged() -> None:
    bench = Bench().commissioned().moved("ginza")
    bench.do(Kind.OBSERVING, "ginza", **TOKYO)
    outcome = bench.do(Kind.OBSERVING, "ginza", minutes=60, **PARIS)
    # The scan is accepted (the holder made it) and flagged besides.
    assert outcome.result is Result.ACCEPTED
    assert outcome.signals == (Signal.IMPOSSIBLE_TRAVEL,)
    recorded, flagged = bench.stored[-2:]
    assert isinstance(recorded, Item.CustodyRecorded) and isinstance(flagged, Item.Flagged)
    assert flagged.evidence == recorded.custody
    assert flagged.envelope is None  # stored once, with the custody event
    assert "km/h" in flagged.detail


@pytest.mark.parametrize(
    ("where", "minutes"),
    [(OSAKA, 60), (PARIS, 14 * 60), (GINZA_2, 0)],
    ids=["train-speed", "a-flight", "next-door-same-minute"],
)
def test_plausible_travel_is_not_flagged(where: dict[str, float], minutes: int) -> None:
    bench = Bench().commissioned()
    bench.do(Kind.OBSERVING, "brand", **TOKYO)
    assert bench.do(Kind.OBSERVING, "brand", minutes=minutes, **where).signals == ()


def test_the_speed_limit_is_a_policy() -> None:
    bench = Bench(policy=Policy(max_speed_kmh=200)).commissioned()
    bench.do(Kind.OBSERVING, "brand", **TOKYO)
    assert bench.do(Kind.OBSERVING, "brand", minutes=60, **OSAKA).signals == (
        Signal.IMPOSSIBLE_TRAVEL,
    )


def test_a_scan_earlier_than_the_last_one_somewhere_else_is_impossible() -> None:
    last = Fix(TOKYO["latitude"], TOKYO["longitude"], T0)
    here = Fix(OSAKA["latitude"], OSAKA["longitude"], T0 - timedelta(minutes=5))
    assert impossible_travel(last, here, Policy()) is not None
    assert impossible_travel(None, here, Policy()) is None


def test_distances_are_great_circle() -> None:
    tokyo = Fix(TOKYO["latitude"], TOKYO["longitude"], T0)
    paris = Fix(PARIS["latitude"], PARIS["longitude"], T0)
    assert 9_600 < distance_km(tokyo, paris) < 9_800
    assert distance_km(tokyo, tokyo) == 0


def test_flagged_scans_do_not_move_the_item() -> None:
    bench = Bench().commissioned().moved("ginza")
    bench.do(Kind.OBSERVING, "ginza", **TOKYO)
    bench.do(Kind.OBSERVING, "osaka", minutes=5, **PARIS)  # a clone: location conflict
    assert bench.do(Kind.OBSERVING, "ginza", minutes=5, **GINZA_2).signals == ()


# ----- scans after sale and after retirement ---------------------------------------------

AFTER_SALE: list[tuple[Kind, str, dict[str, Any]]] = [
    (Kind.OBSERVING, "osaka", {}),
    (Kind.OBSERVING, "ginza", {}),
    (Kind.RECEIVING, "dc", {}),
    (Kind.SHIPPING, "ginza", {"counterparty": "dc"}),
    (Kind.RETAIL_SELLING, "ginza", {"buyer_ref": "b2"}),
    (Kind.INSPECTING, "lab", {"verdict": "genuine", "certificate": "C"}),
    (Kind.VOID_SHIPPING, "ginza", {}),
    (Kind.DECOMMISSIONING, "ginza", {"reason": "lost"}),
]


@pytest.mark.parametrize(("kind", "party", "details"), AFTER_SALE)
def test_any_scan_of_a_sold_item_but_its_return_is_flagged(
    kind: Kind, party: str, details: dict[str, Any]
) -> None:
    bench = Bench().commissioned().authenticated().sold("ginza")
    before = custody_of(bench)
    outcome = bench.do(kind, party, **details)
    assert_flagged(bench, outcome, Signal.SCAN_AFTER_SALE, kind.value, party)
    assert custody_of(bench) == before


@pytest.mark.parametrize(
    ("kind", "party", "details"),
    [
        (Kind.OBSERVING, "ginza", {}),
        (Kind.RECEIVING, "ginza", {}),
        (Kind.RETURNING, "ginza", {}),
        (Kind.DECOMMISSIONING, "brand", {"reason": "lost"}),
        (Kind.INSPECTING, "lab", {"verdict": "genuine", "certificate": "C"}),
    ],
)
def test_any_scan_of_a_retired_item_is_flagged(
    kind: Kind, party: str, details: dict[str, Any]
) -> None:
    bench = Bench().commissioned().moved("ginza").retired()
    outcome = bench.do(kind, party, **details)
    assert_flagged(bench, outcome, Signal.SCAN_AFTER_RETIREMENT, "retired", party)
    assert bench.state.status is Status.RETIRED


# ----- unknown item ------------------------------------------------------------------------


def test_a_scan_of_an_item_never_commissioned_is_kept_as_a_sighting() -> None:
    bench = Bench()
    bench.do(Kind.OBSERVING, "osaka")
    (sighted,) = bench.stored
    assert isinstance(sighted, Item.Sighted)
    s = bench.state
    assert (s.commissioned, s.status, s.holder) == (False, Status.UNREGISTERED, None)
    assert [(f.signal, f.evidence_event_id) for f in s.flags] == [(Signal.UNKNOWN_ITEM, "e1")]


@pytest.mark.parametrize(
    ("kind", "party", "details"),
    [
        (Kind.OBSERVING, "ginza", {}),
        (Kind.SHIPPING, "osaka", {"counterparty": "dc"}),
        (Kind.INSPECTING, "lab", {"verdict": "genuine", "certificate": "C"}),
        (Kind.RETAIL_SELLING, "osaka", {"buyer_ref": "b"}),
    ],
)
def test_every_later_event_of_an_unknown_item_is_flagged_too(
    kind: Kind, party: str, details: dict[str, Any]
) -> None:
    bench = Bench()
    bench.do(Kind.OBSERVING, "osaka")
    outcome = bench.do(kind, party, **details)
    assert_flagged(bench, outcome, Signal.UNKNOWN_ITEM, "never commissioned", party)
    s = bench.state
    assert (s.status, s.holder, s.verdict, s.sold_by) == (Status.UNREGISTERED, None, None, None)


def test_a_sighting_still_checks_the_role() -> None:
    refusal = Bench().refuse(Kind.RETAIL_SELLING, "dc", buyer_ref="b")
    assert refusal.rule == "role_not_allowed"


# ----- a signal does not stop valid history ----------------------------------------------


def test_after_a_flag_the_real_holder_carries_on() -> None:
    bench = Bench().commissioned().authenticated().moved("ginza")
    bench.do(Kind.OBSERVING, "osaka")
    assert bench.do(Kind.RETAIL_SELLING, "ginza", buyer_ref="b").result is Result.ACCEPTED
    assert [f.signal for f in bench.state.flags] == [Signal.LOCATION_CONFLICT]
    assert bench.state.holder is None and bench.state.sold_by == "ginza"
    assert ITEM in bench.stored[0].originator_id
