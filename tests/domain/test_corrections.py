"""Declaring an event in error: every rule both ways, the corrected view, and what rested
on a declared event (docs/custody-rules.md, "Corrections")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.custody import CustodyEvent, ErrorReason, Kind, Role, Verdict
from domain.items import Item, Result, Signal, Status
from tests.domain.factory import T0, Bench, make_party, replay
from tests.domain.test_rules import assert_refused

DECLARE = Kind.ERROR_DECLARATION


def declare(bench: Bench, party: str, event_id: str, **details: Any) -> Any:
    return bench.do(DECLARE, party, declared_event_id=event_id, **details)


def ids(bench: Bench) -> list[str]:
    return [c.event_id for c in bench.state.recorded]


# ----- who may declare what ----------------------------------------------------------------


def test_the_recorder_declares_its_event_and_the_view_is_folded_without_it() -> None:
    bench = Bench().commissioned()  # e1
    bench.do(Kind.OBSERVING, "brand", location="wrong-shelf")  # e2
    assert bench.state.location == "wrong-shelf"
    outcome = declare(bench, "brand", "e2", error_reason="incorrect_data")  # e3
    assert outcome.result is Result.ACCEPTED and outcome.signals == ()
    s = bench.state
    assert (s.status, s.holder, s.location) == (Status.IN_CUSTODY, "brand", "loc-brand")
    assert [type(e).__name__ for e in bench.stored] == [
        "Commissioned", "CustodyRecorded", "CustodyRecorded",
    ]  # fmt: skip
    assert ids(bench) == ["e1", "e2"]  # the original stays in the record
    assert [c.event_id for c in s.standing] == ["e1"]
    declared = s.declared["e2"]
    assert (declared.event_id, declared.by, declared.reason) == (
        "e3", "brand", ErrorReason.INCORRECT_DATA,
    )  # fmt: skip
    assert declared.at == bench.stored[-1].custody.occurred_at
    assert s.as_recorded().location == "wrong-shelf"  # the original view, still at hand


def test_the_brand_declares_another_partys_event() -> None:
    bench = Bench().commissioned().moved("dc")  # e1, e2 shipping, e3 receiving by dc
    bench.do(Kind.OBSERVING, "dc", location="dc-aisle-9")  # e4
    assert declare(bench, "brand", "e4").result is Result.ACCEPTED
    assert bench.state.location == "loc-dc"


@pytest.mark.parametrize("party", ["lab", "ginza", "osaka"])
def test_a_party_that_neither_recorded_it_nor_is_the_brand_may_not(party: str) -> None:
    bench = Bench().commissioned().moved("dc")
    bench.do(Kind.OBSERVING, "dc")  # e4
    refusal = bench.refuse(DECLARE, party, declared_event_id="e4")
    assert_refused(refusal, "not_declarable", party, "e4", "dc", "brand")


def test_the_brand_is_the_party_that_commissioned_the_item() -> None:
    brand = make_party("other-brand", Role.BRAND)
    bench = Bench(parties={**Bench().parties, "other-brand": brand})
    bench.commissioned()
    bench.do(Kind.OBSERVING, "brand")  # e2
    refusal = bench.refuse(DECLARE, "other-brand", declared_event_id="e2")
    assert_refused(refusal, "not_declarable", "other-brand", "(brand)")


def test_an_event_the_item_does_not_have_is_unknown() -> None:
    bench = Bench().commissioned()
    assert_refused(bench.refuse(DECLARE, "brand", declared_event_id="e99"), "unknown_event", "e99")


def test_a_report_kept_only_as_a_flags_evidence_cannot_be_declared() -> None:
    bench = Bench().commissioned().moved("ginza")  # e1-e3
    assert bench.do(Kind.OBSERVING, "osaka").result is Result.FLAGGED  # e4, location_conflict
    refusal = bench.refuse(DECLARE, "osaka", declared_event_id="e4")
    assert_refused(refusal, "unknown_event", "e4", "evidence", "flag stands")


def test_an_event_of_another_item_is_unknown_here() -> None:
    bench = Bench().commissioned()
    other = bench.event(Kind.COMMISSIONING, "brand", item_id="urn:other", tag_uid="T-2")
    assert bench.apply(other).result is Result.ACCEPTED
    refusal = bench.refuse(DECLARE, "brand", declared_event_id=other.event_id)
    assert_refused(refusal, "unknown_event", other.event_id)


def test_an_event_is_declared_once() -> None:
    bench = Bench().commissioned()
    bench.do(Kind.OBSERVING, "brand")  # e2
    declare(bench, "brand", "e2", error_reason="did_not_occur")  # e3
    refusal = bench.refuse(DECLARE, "brand", declared_event_id="e2")
    assert_refused(refusal, "already_declared", "e2", "e3", "did_not_occur")


def test_a_declaration_is_final() -> None:
    bench = Bench().commissioned()
    bench.do(Kind.OBSERVING, "brand")  # e2
    declare(bench, "brand", "e2")  # e3
    assert_refused(
        bench.refuse(DECLARE, "brand", declared_event_id="e3"), "not_declarable", "final"
    )


def test_a_declaration_names_the_event() -> None:
    bench = Bench().commissioned()
    assert_refused(bench.refuse(DECLARE, "brand"), "missing_detail", "declared_event_id")


def test_nothing_to_declare_for_an_item_never_seen_or_only_sighted() -> None:
    bench = Bench()
    assert_refused(bench.refuse(DECLARE, "osaka", declared_event_id="e0"), "unknown_event")
    bench.do(Kind.OBSERVING, "osaka")  # e2: sighted, unknown_item
    refusal = bench.refuse(DECLARE, "osaka", declared_event_id="e2")
    assert_refused(refusal, "unknown_event", "e2", "evidence")


def test_a_revoked_device_declares_nothing() -> None:
    bench = Bench().commissioned()
    bench.do(Kind.OBSERVING, "brand")  # e2
    bench.parties["brand"].revoke_device("brand-d1", bench.clock)
    refusal = bench.refuse(DECLARE, "brand", declared_event_id="e2")
    assert_refused(refusal, "device_revoked")


@pytest.mark.parametrize(
    ("setup", "recorder", "event_id"),
    [
        (lambda b: b.shipped("dc"), "brand", "e2"),  # in transit: the shipping itself
        (lambda b: b.authenticated().sold(), "ginza", "e5"),  # sold: the sale
        (lambda b: b.retired(), "brand", "e2"),  # retired: the decommissioning
        (lambda b: b.authenticated("counterfeit"), "lab", "e2"),  # frozen: the verdict
    ],
    ids=["in transit", "sold", "retired", "frozen"],
)
def test_a_declaration_is_judged_by_who_declares_whatever_the_status(
    setup: Any, recorder: str, event_id: str
) -> None:
    bench = Bench().commissioned()
    setup(bench)
    before = bench.state.status
    assert declare(bench, recorder, event_id).result is Result.ACCEPTED
    assert bench.state.declared[event_id].by == recorder
    assert bench.state.status != before or bench.state.verdict is None


# ----- the corrected view -----------------------------------------------------------------


def test_a_shipping_that_did_not_occur_leaves_the_item_with_its_shipper() -> None:
    bench = Bench().commissioned().shipped("dc")  # e2 shipping to dc
    declare(bench, "brand", "e2", error_reason="did_not_occur")
    s = bench.state
    assert (s.status, s.holder, s.shipper, s.consignee) == (
        Status.IN_CUSTODY, "brand", None, None,
    )  # fmt: skip
    # dc cannot have it now: a receiving there is a location_conflict, kept as evidence.
    assert bench.do(Kind.RECEIVING, "dc").signals == (Signal.LOCATION_CONFLICT,)


def test_corrective_events_arrive_as_ordinary_events() -> None:
    bench = Bench().commissioned().shipped("dc")  # e2: to the wrong consignee
    declare(bench, "brand", "e2", error_reason="incorrect_data", corrective_event_ids=["fix-1"])
    fixed = bench.do(Kind.SHIPPING, "brand", counterparty="ginza", event_id="fix-1")
    assert fixed.result is Result.ACCEPTED
    assert bench.do(Kind.RECEIVING, "ginza").result is Result.ACCEPTED
    s = bench.state
    assert (s.status, s.holder) == (Status.IN_CUSTODY, "ginza")
    assert s.declared["e2"].corrective_event_ids == ("fix-1",)
    assert [c.event_id for c in s.standing] == ["e1", "fix-1", "e5"]


def test_a_commissioning_declared_in_error_can_be_made_again() -> None:
    bench = Bench().commissioned()
    declare(bench, "brand", "e1", error_reason="incorrect_data")
    s = bench.state
    assert (s.status, s.commissioned, s.brand, s.tag_uid) == (
        Status.UNREGISTERED, False, None, None,
    )  # fmt: skip
    assert bench.do(Kind.COMMISSIONING, "brand", model="Lune 30").result is Result.ACCEPTED
    assert (bench.state.model, bench.state.status) == ("Lune 30", Status.IN_CUSTODY)


def test_later_events_that_rested_on_the_declared_one_stand_and_are_flagged() -> None:
    bench = Bench().commissioned().moved("dc")  # e2 shipping, e3 receiving by dc
    bench.do(Kind.OBSERVING, "dc")  # e4
    outcome = declare(bench, "brand", "e2", error_reason="did_not_occur")  # e5
    assert outcome.result is Result.ACCEPTED
    assert outcome.signals == (Signal.RESTS_ON_DECLARED,)
    assert outcome.detail == (
        "shipping e2 by brand is declared in error; 1 later event(s) rested on it: "
        "receiving e3 by dc (location_conflict)"
    )
    s = bench.state
    assert (s.status, s.holder) == (Status.IN_CUSTODY, "dc")  # dc's receipt stands
    flag = s.flags[-1]
    assert (flag.signal, flag.evidence_event_id) == (Signal.RESTS_ON_DECLARED, "e5")
    assert [type(e).__name__ for e in bench.stored[-2:]] == ["CustodyRecorded", "Flagged"]


def test_a_sale_resting_on_a_withdrawn_verdict_is_flagged_once() -> None:
    bench = Bench().commissioned().authenticated().sold()  # e2 inspecting, … e5 sale
    outcome = declare(bench, "lab", "e2", error_reason="incorrect_data")
    assert outcome.signals == (Signal.RESTS_ON_DECLARED,)
    assert outcome.detail.endswith("retail_selling e5 by ginza (not_authenticated)")
    s = bench.state
    assert (s.status, s.verdict, s.certificate, s.sold_by) == (Status.SOLD, None, None, "ginza")
    # Declaring the sale too leaves nothing else resting on anything: no new flag.
    assert declare(bench, "ginza", "e5").signals == ()
    assert (bench.state.status, bench.state.holder) == (Status.IN_CUSTODY, "ginza")
    assert sum(f.signal is Signal.RESTS_ON_DECLARED for f in bench.state.flags) == 1


def test_an_independent_later_event_rests_on_nothing() -> None:
    bench = Bench().commissioned()
    bench.do(Kind.OBSERVING, "brand", location="a")  # e2
    bench.do(Kind.OBSERVING, "brand", location="b")  # e3
    assert declare(bench, "brand", "e2").signals == ()
    assert bench.state.location == "b"


def test_the_fix_of_a_declared_scan_is_forgotten() -> None:
    tokyo = {"latitude": 35.6719, "longitude": 139.7650}
    bench = Bench().commissioned()
    bench.do(Kind.OBSERVING, "brand", **tokyo)  # e2: a fix in Tokyo (it was Paris)
    declare(bench, "brand", "e2", error_reason="incorrect_data")
    assert bench.state.last_fix is None
    paris = {"latitude": 48.8698, "longitude": 2.3075}
    assert bench.do(Kind.OBSERVING, "brand", minutes=1, **paris).signals == ()


def test_replay_and_redelivery() -> None:
    bench = Bench().commissioned().moved("dc")
    bench.do(Kind.OBSERVING, "dc")
    declaration = bench.event(DECLARE, "brand", declared_event_id="e2")
    assert bench.apply(declaration).result is Result.ACCEPTED
    assert replay(bench.stored).state == bench.state
    version = bench.item.version if bench.item else 0
    assert bench.apply(declaration).result is Result.DUPLICATE
    assert bench.item is not None and bench.item.version == version


def test_declarations_are_accepted_in_transit_only_by_their_rule() -> None:
    bench = Bench().commissioned().moved("dc").shipped("ginza")  # e4 shipping, in transit
    assert_refused(bench.refuse(Kind.OBSERVING, "dc"), "item_in_transit")
    outcome = declare(bench, "dc", "e3")  # dc's receipt: its shipping rested on it
    assert outcome.detail.endswith("shipping e4 by dc (item_in_transit)")
    assert bench.state.status is Status.IN_TRANSIT


# ----- the value object ---------------------------------------------------------------------


def test_correction_fields_belong_to_a_declaration() -> None:
    with pytest.raises(ValueError, match="belong to an error_declaration"):
        CustodyEvent("e", "i", Kind.OBSERVING, "p", "d", "l", T0, declared_event_id="e0")
    with pytest.raises(ValueError, match="not one string"):
        CustodyEvent("e", "i", DECLARE, "p", "d", "l", T0, corrective_event_ids="abc")  # type: ignore[arg-type]


def test_the_primitive_form_leaves_unset_correction_fields_out() -> None:
    plain = CustodyEvent("e", "i", Kind.OBSERVING, "p", "d", "l", T0)
    assert "declared_event_id" not in plain.to_primitive()
    declaration = CustodyEvent(
        "e", "i", DECLARE, "p", "d", "l", T0 + timedelta(hours=1),
        declared_event_id="e0", error_reason="did_not_occur", corrective_event_ids=["f1", "f2"],
    )  # fmt: skip
    primitive = declaration.to_primitive()
    assert (primitive["declared_event_id"], primitive["error_reason"]) == ("e0", "did_not_occur")
    assert primitive["corrective_event_ids"] == ["f1", "f2"]
    assert CustodyEvent.from_primitive(primitive) == declaration
    assert declaration.corrective_event_ids == ("f1", "f2")


def test_an_item_records_declarations_beside_its_history() -> None:
    bench = Bench().commissioned().authenticated(Verdict.GENUINE.value)
    declare(bench, "lab", "e2")
    item = bench.item
    assert isinstance(item, Item)
    assert [c.kind for c in item.state.recorded] == [Kind.COMMISSIONING, Kind.INSPECTING]
    assert list(item.state.declared) == ["e2"]
