"""How the ledger application uses the domain: batches, tag claims, unknown items, parties,
idempotency and the exactly-once position."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.custody import CustodyEvent, Kind
from domain.errors import PartyExists, UnknownParty
from domain.items import Item, Signal, Status
from ledger.application import CustodyLedger, Decision, ItemNotFound
from ledger.config import store_env
from tests.domain.factory import ITEM, T0, TAG, Bench, comparable
from tests.ledger.helpers import open_ledger, register, report


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> CustodyLedger:
    """The same tests on every event store: in memory, a SQLite file and PostgreSQL."""
    if request.param == "memory":
        return register(open_ledger())
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    return register(CustodyLedger(store_env(url, tmp_path / "ledger.sqlite")))


def story(bench: Bench | None = None) -> list[CustodyEvent]:
    b = bench or Bench()
    return [
        b.event(Kind.COMMISSIONING, "brand"),
        b.event(Kind.INSPECTING, "lab", verdict="genuine", certificate="C-1"),
        b.event(Kind.SHIPPING, "brand", counterparty="ginza"),
        b.event(Kind.RECEIVING, "ginza"),
        b.event(Kind.RETAIL_SELLING, "ginza", buyer_ref="buyer-1"),
    ]


def results(decisions: list[Decision]) -> list[str]:
    return [
        d.outcome.result.value if d.outcome else f"refused: {d.refusal.rule}"  # type: ignore[union-attr]
        for d in decisions
    ]


# ----- batches ---------------------------------------------------------------------------


def test_a_batch_takes_the_parties_its_caller_loaded(ledger: CustodyLedger) -> None:
    """``loaded`` (the ingest's gate read the parties): the batch decides with those objects
    and does not read them again; without it, with the stored ones."""
    events = story()
    brand = ledger.get_party("brand")
    brand.revoke_device("brand-d1", T0 - timedelta(hours=1))
    brand.collect_events()  # revoked in this copy only, never saved
    decisions = ledger.process([report(events[0])], None, loaded={"brand": brand})
    assert results(decisions) == ["refused: device_revoked"]
    assert results(ledger.process([report(events[0])], None)) == ["accepted"]


def test_a_batch_is_applied_in_order_and_saved_with_its_position(ledger: CustodyLedger) -> None:
    decisions = ledger.process([report(c) for c in story()], Tracking("t:0", 41))
    assert results(decisions) == ["accepted"] * 5
    assert ledger.position("t:0") == 41
    assert ledger.get_item(ITEM).version == 5
    assert ledger.get_item(ITEM).state.status is Status.SOLD


def test_one_batch_or_one_report_at_a_time_gives_the_same_item() -> None:
    events = story()
    batched, single = register(open_ledger()), register(open_ledger())
    batched.process([report(c) for c in events], Tracking("t:0", 0))
    for offset, c in enumerate(events):
        single.process([report(c)], Tracking("t:0", offset))
    assert comparable(batched.get_item(ITEM).state) == comparable(single.get_item(ITEM).state)


def test_a_refusal_inside_a_batch_does_not_stop_it(ledger: CustodyLedger) -> None:
    b = Bench()
    events = story(b)
    events.insert(2, b.event(Kind.SHIPPING, "dc", counterparty="osaka"))  # dc does not hold it
    decisions = ledger.process([report(c) for c in events], Tracking("t:0", 0))
    assert results(decisions) == [
        "accepted",
        "accepted",
        "refused: not_holder",
        *["accepted"] * 3,
    ]
    assert decisions[2].refusal is not None and not decisions[2].accepted
    assert ledger.get_item(ITEM).version == 5


def test_before_commit_sees_every_decision_before_anything_is_saved(
    ledger: CustodyLedger,
) -> None:
    seen: list[tuple[list[str], bool]] = []

    def before_commit(decisions: list[Decision]) -> None:
        try:
            ledger.get_item(ITEM)
            saved = True
        except ItemNotFound:
            saved = False
        seen.append((results(decisions), saved))

    ledger.process([report(c) for c in story()[:2]], Tracking("t:0", 0), before_commit)
    assert seen == [(["accepted", "accepted"], False)]


def test_a_position_is_recorded_once(ledger: CustodyLedger) -> None:
    first = story()[:1]
    ledger.process([report(c) for c in first], Tracking("t:0", 7))
    with pytest.raises(IntegrityError):
        ledger.process([report(c) for c in story()[1:2]], Tracking("t:0", 7))
    assert ledger.get_item(ITEM).version == 1  # the failed batch saved nothing


# ----- idempotency -----------------------------------------------------------------------


def test_reports_delivered_again_change_nothing(ledger: CustodyLedger) -> None:
    events = story()
    ledger.process([report(c) for c in events], Tracking("t:0", 0))
    again = ledger.process([report(c) for c in events], Tracking("t:0", 1))
    assert results(again) == ["duplicate"] * 5
    assert ledger.get_item(ITEM).version == 5


def test_a_report_repeated_inside_one_batch_is_stored_once(ledger: CustodyLedger) -> None:
    first = story()[0]
    decisions = ledger.process([report(first), report(first)], Tracking("t:0", 0))
    assert results(decisions) == ["accepted", "duplicate"]
    assert ledger.get_item(ITEM).version == 1


def test_an_event_id_reused_with_other_content_is_flagged(ledger: CustodyLedger) -> None:
    events = story()
    ledger.process([report(c) for c in events[:4]], Tracking("t:0", 0))
    forged = replace(events[3], location="elsewhere")
    decisions = ledger.process([report(forged), report(forged)], Tracking("t:0", 1))
    assert results(decisions) == ["flagged", "duplicate"]
    item = ledger.get_item(ITEM)
    assert [f.signal for f in item.state.flags] == [Signal.CONFLICTING_DUPLICATE]
    assert item.state.location == "loc-ginza"


# ----- tag claims ------------------------------------------------------------------------


def test_a_cloned_tag_is_flagged_on_the_item_that_claimed_it_first(ledger: CustodyLedger) -> None:
    b = Bench()
    original = b.event(Kind.COMMISSIONING, "brand")
    clone = b.event(Kind.COMMISSIONING, "brand", item_id="urn:clone")  # same tag uid
    decisions = ledger.process([report(original), report(clone)], Tracking("t:0", 0))
    assert results(decisions) == ["accepted", "flagged"]
    assert decisions[1].outcome and decisions[1].outcome.signals == (
        Signal.DUPLICATE_COMMISSIONING,
    )
    with pytest.raises(ItemNotFound):
        ledger.get_item("urn:clone")
    flagged = ledger.item_events(ITEM)[-1]
    assert isinstance(flagged, Item.Flagged)
    assert flagged.evidence == clone and flagged.envelope == report(clone).envelope
    assert f"tag {TAG} commissioned again for urn:clone by brand" == flagged.detail


def test_a_cloned_tag_in_a_later_batch_is_flagged_too(ledger: CustodyLedger) -> None:
    b = Bench()
    ledger.process([report(b.event(Kind.COMMISSIONING, "brand"))], Tracking("t:0", 0))
    clone = b.event(Kind.COMMISSIONING, "brand", item_id="urn:clone")
    assert results(ledger.process([report(clone)], Tracking("t:0", 1))) == ["flagged"]
    assert results(ledger.process([report(clone)], Tracking("t:0", 2))) == ["duplicate"]


def test_the_same_item_id_with_another_tag_is_flagged_on_the_item(ledger: CustodyLedger) -> None:
    b = Bench()
    events = [
        b.event(Kind.COMMISSIONING, "brand"),
        b.event(Kind.COMMISSIONING, "brand", tag_uid="T2"),
    ]
    assert results(ledger.process([report(c) for c in events], Tracking("t:0", 0))) == [
        "accepted",
        "flagged",
    ]
    assert ledger.get_item(ITEM).state.tag_uid == TAG


def test_another_item_may_use_another_tag(ledger: CustodyLedger) -> None:
    b = Bench()
    events = [
        b.event(Kind.COMMISSIONING, "brand"),
        b.event(Kind.COMMISSIONING, "brand", item_id="urn:item:2", tag_uid="T2"),
    ]
    assert results(ledger.process([report(c) for c in events], Tracking("t:0", 0))) == [
        "accepted",
        "accepted",
    ]


@pytest.mark.parametrize(
    ("details", "rule"), [({"serial": None}, "missing_detail"), ({}, "role_not_allowed")]
)
def test_a_commissioning_is_checked_before_any_tag_claim(
    ledger: CustodyLedger, details: dict[str, Any], rule: str
) -> None:
    b = Bench()
    party = "brand" if details else "ginza"
    bad = b.event(Kind.COMMISSIONING, party, **details)
    assert results(ledger.process([report(bad)], Tracking("t:0", 0))) == [f"refused: {rule}"]
    good = b.event(Kind.COMMISSIONING, "brand")  # the tag uid is still free
    assert results(ledger.process([report(good)], Tracking("t:0", 1))) == ["accepted"]


# ----- unknown items ---------------------------------------------------------------------


def test_a_scan_of_an_unknown_item_is_kept_as_a_sighting(ledger: CustodyLedger) -> None:
    b = Bench()
    scans = [b.event(Kind.OBSERVING, "osaka"), b.event(Kind.RECEIVING, "ginza")]
    decisions = ledger.process([report(c) for c in scans], Tracking("t:0", 0))
    assert results(decisions) == ["flagged", "flagged"]
    assert all(d.outcome and d.outcome.signals == (Signal.UNKNOWN_ITEM,) for d in decisions)
    events = ledger.item_events(ITEM)
    assert [type(e).__name__ for e in events] == ["Sighted", "Flagged"]
    assert ledger.get_item(ITEM).state.status is Status.UNREGISTERED


def test_an_item_sighted_first_is_commissioned_late_and_claims_its_tag(
    ledger: CustodyLedger,
) -> None:
    b = Bench()
    events = [
        b.event(Kind.OBSERVING, "osaka"),
        b.event(Kind.COMMISSIONING, "brand"),
        b.event(Kind.COMMISSIONING, "brand", item_id="urn:clone"),
    ]
    decisions = ledger.process([report(c) for c in events], Tracking("t:0", 0))
    assert results(decisions) == ["flagged", "accepted", "flagged"]
    state = ledger.get_item(ITEM).state
    assert (state.status, state.holder, state.tag_uid) == (Status.IN_CUSTODY, "brand", TAG)
    assert [f.signal for f in state.flags] == [
        Signal.UNKNOWN_ITEM,
        Signal.DUPLICATE_COMMISSIONING,
    ]


def test_a_sighting_still_checks_the_role(ledger: CustodyLedger) -> None:
    scan = Bench().event(Kind.RETAIL_SELLING, "dc", buyer_ref="b")
    assert results(ledger.process([report(scan)], Tracking("t:0", 0))) == [
        "refused: role_not_allowed"
    ]
    with pytest.raises(ItemNotFound):
        ledger.get_item(ITEM)


def test_a_scan_cannot_squat_the_claim_of_a_tag_not_yet_commissioned(
    ledger: CustodyLedger,
) -> None:
    """Tag claims live beside items as ``tag:<uid>``: an item with such an id would make the
    genuine commissioning unsavable (an IntegrityError the ingest would retry forever)."""
    b = Bench()
    squat = b.event(Kind.OBSERVING, "osaka", item_id=f"tag:{TAG}")
    genuine = b.event(Kind.COMMISSIONING, "brand")
    decisions = ledger.process([report(squat)], Tracking("t:0", 0))
    decisions += ledger.process([report(genuine)], Tracking("t:0", 1))
    assert results(decisions) == ["refused: reserved_id", "accepted"]


# ----- parties and devices ---------------------------------------------------------------


def test_a_report_from_an_unregistered_party_is_refused(ledger: CustodyLedger) -> None:
    scan = Bench().event(Kind.OBSERVING, "stranger")
    (decision,) = ledger.process([report(scan)], Tracking("t:0", 0))
    assert decision.refusal is not None and decision.refusal.rule == "unknown_party"


def test_a_report_signed_after_the_device_was_revoked_is_refused(ledger: CustodyLedger) -> None:
    b = Bench()
    first = b.event(Kind.COMMISSIONING, "brand")
    ledger.revoke_device("brand", "brand-d1", at=first.occurred_at + timedelta(minutes=30))
    late = b.event(Kind.OBSERVING, "brand")
    decisions = ledger.process([report(first), report(late)], Tracking("t:0", 0))
    assert results(decisions) == ["accepted", "refused: device_revoked"]


def test_a_redelivery_after_a_backdated_revocation_stays_a_duplicate(
    ledger: CustodyLedger,
) -> None:
    b = Bench()
    first = b.event(Kind.COMMISSIONING, "brand")
    ledger.process([report(first)], Tracking("t:0", 0))
    # Revoked later, with a time before the event: the stored history is not re-judged.
    ledger.revoke_device("brand", "brand-d1", at=first.occurred_at - timedelta(minutes=1))
    assert results(ledger.process([report(first)], Tracking("t:0", 1))) == ["duplicate"]


def test_shipping_needs_a_consignee_the_ledger_knows(ledger: CustodyLedger) -> None:
    b = Bench()
    events = [
        b.event(Kind.COMMISSIONING, "brand"),
        b.event(Kind.SHIPPING, "brand", counterparty="nobody"),
        b.event(Kind.SHIPPING, "brand", counterparty=ITEM),  # an item is not a party
        b.event(Kind.SHIPPING, "brand", counterparty="dc"),
    ]
    decisions = ledger.process([report(c) for c in events], Tracking("t:0", 0))
    assert results(decisions) == [
        "accepted",
        "refused: unknown_consignee",
        "refused: unknown_consignee",
        "accepted",
    ]


def test_an_item_id_that_names_a_party_is_refused(ledger: CustodyLedger) -> None:
    scan = Bench().event(Kind.OBSERVING, "ginza", item_id="dc")
    assert results(ledger.process([report(scan)], Tracking("t:0", 0))) == ["refused: reserved_id"]


def test_parties_are_registered_once_and_looked_up_by_id(ledger: CustodyLedger) -> None:
    with pytest.raises(PartyExists):
        ledger.register_party("brand", "Brand", ledger.get_party("brand").role)
    with pytest.raises(UnknownParty, match="'stranger' is not registered"):
        ledger.get_party("stranger")
    with pytest.raises(UnknownParty, match="is not a party"):
        ledger.process([report(story()[0])], Tracking("t:0", 0))
        ledger.get_party(ITEM)


def test_the_store_round_trips_parties_and_items(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    first = register(open_ledger(db))
    first.process([report(c) for c in story()], Tracking("t:0", 0))
    reopened = open_ledger(db)
    assert reopened.get_party("ginza").devices == first.get_party("ginza").devices
    assert comparable(reopened.get_item(ITEM).state) == comparable(first.get_item(ITEM).state)
    assert reopened.item_events(ITEM)[1].custody == story()[1]


def test_a_cached_item_is_handed_out_as_a_copy_that_shares_only_frozen_values(
    tmp_path: Path,
) -> None:
    """The aggregate cache deep-copies what it hands out; the reports and flags in an item's
    record are frozen values, shared, while every container is the copy's own."""
    ledger = register(CustodyLedger(store_env("", tmp_path / "ledger.sqlite")))
    ledger.process([report(c) for c in story()], None)
    first, second = ledger.get_item(ITEM), ledger.get_item(ITEM)
    assert first is not second and first.state is not second.state
    assert first.state.recorded == second.state.recorded
    assert first.state.recorded is not second.state.recorded
    assert all(a is b for a, b in zip(first.state.recorded, second.state.recorded, strict=True))
    assert first.state.seen is not second.state.seen
    first.state.recorded.clear()
    first.state.seen.clear()
    first.state.status = Status.RETIRED
    third = ledger.get_item(ITEM)
    assert len(third.state.recorded) == 5 and len(third.state.seen) == 5
    assert third.state.status is Status.SOLD
    party = ledger.get_party("brand")
    assert ledger.get_party("brand").devices == party.devices
    assert ledger.get_party("brand").devices is not party.devices
