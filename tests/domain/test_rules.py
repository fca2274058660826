"""Every custody rule, both ways: what it accepts and what it refuses (with which rule code)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from domain.custody import Kind, Role, Verdict
from domain.errors import DomainError, MissingDetail
from domain.items import Item, Result, Status
from domain.parties import Party
from tests.domain.factory import ITEM, Bench, envelope_of


def assert_refused(refusal: DomainError, rule: str, *words: str) -> None:
    """The refusal names its rule, and its reason is a sentence naming who and what."""
    assert refusal.rule == rule
    assert f"[rule: {rule}]" in str(refusal)
    assert refusal.reason[0].isalnum() and len(refusal.reason.split()) >= 4
    for word in words:
        assert word in refusal.reason, (word, refusal.reason)


# ----- commissioning ---------------------------------------------------------------------


def test_a_brand_commissions_an_item_and_holds_it() -> None:
    bench = Bench().commissioned()
    s = bench.state
    assert (s.status, s.holder, s.location) == (Status.IN_CUSTODY, "brand", "loc-brand")
    assert (s.brand, s.model, s.serial, s.tag_uid) == (
        "Maison Aurel",
        "Lune 28",
        "2017",
        "E280-1160-6000-2017",
    )
    assert [type(e).__name__ for e in bench.stored] == ["Commissioned"]


@pytest.mark.parametrize("party", ["lab", "dc", "ginza"])
def test_only_a_brand_commissions(party: str) -> None:
    refusal = Bench().refuse(Kind.COMMISSIONING, party)
    assert_refused(refusal, "role_not_allowed", party, "commissioning")


@pytest.mark.parametrize("missing", ["tag_uid", "brand", "model", "serial"])
def test_commissioning_needs_the_identity(missing: str) -> None:
    refusal = Bench().refuse(Kind.COMMISSIONING, "brand", **{missing: None})
    assert_refused(refusal, "missing_detail", missing)


def test_commission_is_for_commissioning_events_only() -> None:
    bench = Bench()
    with pytest.raises(ValueError, match="needs a commissioning"):
        Item.commission(bench.event(Kind.OBSERVING, "brand"), b"")


# ----- inspecting ------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", list(Verdict))
def test_an_appraiser_records_a_verdict(verdict: Verdict) -> None:
    bench = Bench().commissioned().authenticated(verdict.value)
    assert (bench.state.verdict, bench.state.certificate) == (verdict, "CERTA-1")


@pytest.mark.parametrize("party", ["brand", "dc", "ginza"])
def test_only_an_appraiser_authenticates(party: str) -> None:
    bench = Bench().commissioned()
    refusal = bench.refuse(Kind.INSPECTING, party, verdict="genuine", certificate="X")
    assert_refused(refusal, "role_not_allowed", "inspecting")


@pytest.mark.parametrize(
    ("details", "missing"),
    [({"certificate": "C"}, "verdict"), ({"verdict": "genuine"}, "certificate")],
)
def test_an_inspection_needs_verdict_and_certificate(details: dict[str, Any], missing: str) -> None:
    refusal = Bench().commissioned().refuse(Kind.INSPECTING, "lab", **details)
    assert_refused(refusal, "missing_detail", missing)


FROZEN_ATTEMPTS: list[tuple[Kind, str, dict[str, Any]]] = [
    (Kind.INSPECTING, "lab", {"verdict": "genuine", "certificate": "C-2"}),
    (Kind.SHIPPING, "ginza", {"counterparty": "dc"}),
    (Kind.OBSERVING, "ginza", {}),
    (Kind.OBSERVING, "osaka", {}),  # even a scan elsewhere: the item accepts nothing more
    (Kind.RECEIVING, "dc", {}),
    (Kind.RETAIL_SELLING, "ginza", {"buyer_ref": "b"}),
]


@pytest.mark.parametrize(("kind", "party", "details"), FROZEN_ATTEMPTS)
def test_a_counterfeit_verdict_freezes_the_item(
    kind: Kind, party: str, details: dict[str, Any]
) -> None:
    bench = Bench().commissioned().moved("ginza").authenticated("counterfeit")
    assert bench.state.frozen
    refusal = bench.refuse(kind, party, **details)
    assert_refused(refusal, "item_frozen", ITEM, "counterfeit", kind.value)


@pytest.mark.parametrize("party", ["ginza", "brand"])
def test_a_frozen_item_can_still_be_decommissioned(party: str) -> None:
    bench = Bench().commissioned().moved("ginza").authenticated("counterfeit")
    outcome = bench.do(Kind.DECOMMISSIONING, party, reason="destroyed")
    assert outcome.result is Result.ACCEPTED
    assert bench.state.status is Status.RETIRED


# ----- shipping and receiving ------------------------------------------------------------


def test_the_holder_ships_to_a_registered_party_who_receives() -> None:
    bench = Bench().commissioned().shipped("dc")
    s = bench.state
    assert (s.status, s.holder, s.shipper, s.consignee) == (
        Status.IN_TRANSIT,
        None,
        "brand",
        "dc",
    )
    assert bench.do(Kind.RECEIVING, "dc").result is Result.ACCEPTED
    s = bench.state
    assert (s.status, s.holder, s.location, s.shipper, s.consignee) == (
        Status.IN_CUSTODY,
        "dc",
        "loc-dc",
        None,
        None,
    )


def test_only_the_holder_ships() -> None:
    refusal = Bench().commissioned().refuse(Kind.SHIPPING, "dc", counterparty="ginza")
    assert_refused(refusal, "not_holder", "dc", "brand", "shipping")


@pytest.mark.parametrize(
    ("counterparty", "rule"),
    [(None, "missing_detail"), ("nobody", "unknown_consignee"), ("brand", "invalid_consignee")],
)
def test_only_to_an_existing_other_party(counterparty: str | None, rule: str) -> None:
    refusal = Bench().commissioned().refuse(Kind.SHIPPING, "brand", counterparty=counterparty)
    assert_refused(refusal, rule)


def test_a_consignee_unknown_to_the_caller_is_refused_by_default() -> None:
    bench = Bench().commissioned()
    custody = bench.event(Kind.SHIPPING, "brand", counterparty="dc")
    assert bench.item is not None
    with pytest.raises(DomainError) as refused:
        bench.item.record(custody, b"", bench.parties["brand"])  # counterparty_known not given
    assert refused.value.rule == "unknown_consignee"


def test_the_shipper_cannot_receive_its_own_consignment() -> None:
    refusal = Bench().commissioned().shipped("dc").refuse(Kind.RECEIVING, "brand")
    assert_refused(refusal, "not_consignee", "dc", "void_shipping")


def test_nothing_to_receive_when_not_in_transit() -> None:
    refusal = Bench().commissioned().refuse(Kind.RECEIVING, "brand")
    assert_refused(refusal, "not_in_transit", "brand")


IN_TRANSIT_ATTEMPTS: list[tuple[Kind, str, dict[str, Any]]] = [
    (Kind.SHIPPING, "brand", {"counterparty": "ginza"}),
    (Kind.SHIPPING, "dc", {"counterparty": "ginza"}),
    (Kind.OBSERVING, "brand", {}),
    (Kind.OBSERVING, "dc", {}),
    (Kind.INSPECTING, "lab", {"verdict": "genuine", "certificate": "C"}),
    (Kind.DECOMMISSIONING, "brand", {"reason": "lost"}),
]


@pytest.mark.parametrize(("kind", "party", "details"), IN_TRANSIT_ATTEMPTS)
def test_in_transit_only_receiving_or_recall(
    kind: Kind, party: str, details: dict[str, Any]
) -> None:
    refusal = Bench().commissioned().shipped("dc").refuse(kind, party, **details)
    assert_refused(refusal, "item_in_transit", "brand", "dc", kind.value)


def test_the_shipper_recalls_a_consignment() -> None:
    bench = Bench().commissioned().shipped("dc")
    assert bench.do(Kind.VOID_SHIPPING, "brand").result is Result.ACCEPTED
    s = bench.state
    assert (s.status, s.holder, s.shipper, s.consignee) == (
        Status.IN_CUSTODY,
        "brand",
        None,
        None,
    )


def test_only_the_shipper_recalls() -> None:
    refusal = Bench().commissioned().shipped("dc").refuse(Kind.VOID_SHIPPING, "dc")
    assert_refused(refusal, "not_shipper", "brand", "dc")


def test_nothing_to_recall_when_not_in_transit() -> None:
    refusal = Bench().commissioned().refuse(Kind.VOID_SHIPPING, "brand")
    assert_refused(refusal, "not_in_transit")


def test_the_holder_observes_and_moves_the_item_between_its_locations() -> None:
    bench = Bench().commissioned()
    assert bench.do(Kind.OBSERVING, "brand", location="vault-2").result is Result.ACCEPTED
    assert bench.state.location == "vault-2"


# ----- selling and returning -------------------------------------------------------------


def test_a_store_sells_an_authenticated_item_it_holds() -> None:
    bench = Bench().commissioned().authenticated().moved("dc", "ginza").sold("ginza")
    s = bench.state
    assert (s.status, s.holder, s.sold_by, s.buyer_ref) == (
        Status.SOLD,
        None,
        "ginza",
        "buyer-7f3a",
    )


def test_only_the_holder_sells() -> None:
    bench = Bench().commissioned().authenticated().moved("ginza")
    refusal = bench.refuse(Kind.RETAIL_SELLING, "osaka", buyer_ref="b")
    assert_refused(refusal, "not_holder", "osaka", "ginza")


@pytest.mark.parametrize("party", ["brand", "dc"])
def test_only_a_store_sells(party: str) -> None:
    bench = Bench().commissioned().authenticated().moved(*(["dc"] if party == "dc" else []))
    refusal = bench.refuse(Kind.RETAIL_SELLING, party, buyer_ref="b")
    assert_refused(refusal, "role_not_allowed", "retail_selling")


@pytest.mark.parametrize("verdict", [None, "inconclusive"])
def test_only_an_authenticated_item_is_sold(verdict: str | None) -> None:
    bench = Bench().commissioned()
    if verdict:
        bench.authenticated(verdict)
    refusal = bench.moved("ginza").refuse(Kind.RETAIL_SELLING, "ginza", buyer_ref="b")
    assert_refused(refusal, "not_authenticated", verdict or "none")


def test_a_sale_names_a_buyer() -> None:
    bench = Bench().commissioned().authenticated().moved("ginza")
    assert_refused(bench.refuse(Kind.RETAIL_SELLING, "ginza"), "missing_detail", "buyer_ref")


def test_a_sold_item_returns_to_its_store_and_may_be_sold_again() -> None:
    bench = Bench().commissioned().authenticated().sold("ginza")
    assert bench.do(Kind.RETURNING, "ginza").result is Result.ACCEPTED
    s = bench.state
    assert (s.status, s.holder, s.sold_by, s.buyer_ref) == (
        Status.IN_CUSTODY,
        "ginza",
        None,
        None,
    )
    assert bench.do(Kind.RETAIL_SELLING, "ginza", buyer_ref="b2").result is Result.ACCEPTED


def test_returns_go_back_to_the_selling_store() -> None:
    refusal = Bench().commissioned().authenticated().sold("ginza").refuse(Kind.RETURNING, "osaka")
    assert_refused(refusal, "wrong_return_store", "ginza", "osaka")


def test_only_a_sold_item_is_returned() -> None:
    refusal = Bench().commissioned().moved("ginza").refuse(Kind.RETURNING, "ginza")
    assert_refused(refusal, "not_sold")


# ----- decommissioning -------------------------------------------------------------------


@pytest.mark.parametrize("party", ["ginza", "brand"])
def test_the_holder_or_the_brand_decommissions(party: str) -> None:
    bench = Bench().commissioned().moved("ginza")
    assert bench.do(Kind.DECOMMISSIONING, party, reason="stolen").result is Result.ACCEPTED
    assert (bench.state.status, bench.state.holder) == (Status.RETIRED, None)


def test_another_party_does_not_decommission() -> None:
    refusal = (
        Bench().commissioned().moved("ginza").refuse(Kind.DECOMMISSIONING, "dc", reason="lost")
    )
    assert_refused(refusal, "not_holder", "ginza", "dc")


def test_an_appraiser_does_not_decommission() -> None:
    refusal = Bench().commissioned().refuse(Kind.DECOMMISSIONING, "lab", reason="destroyed")
    assert_refused(refusal, "role_not_allowed")


def test_decommissioning_needs_a_reason() -> None:
    refusal = Bench().commissioned().refuse(Kind.DECOMMISSIONING, "brand")
    assert_refused(refusal, "missing_detail", "reason")


def test_the_brand_writes_off_a_sold_item_reported_stolen() -> None:
    bench = Bench().commissioned().authenticated().sold("ginza")
    assert bench.do(Kind.DECOMMISSIONING, "brand", reason="stolen").result is Result.ACCEPTED
    s = bench.state
    assert (s.status, s.holder, s.sold_by, s.buyer_ref) == (Status.RETIRED, None, None, None)


# ----- devices, actors -------------------------------------------------------------------


def test_a_device_signs_between_its_enrolment_and_its_revocation() -> None:
    bench = Bench().commissioned()
    bench.parties["brand"].revoke_device("brand-d1", bench.clock + timedelta(hours=2))
    assert bench.do(Kind.OBSERVING, "brand", minutes=60).result is Result.ACCEPTED
    refusal = bench.refuse(Kind.OBSERVING, "brand", minutes=60)
    assert_refused(refusal, "device_revoked", "brand-d1", "revoked at")


def test_an_event_before_the_device_was_enrolled_is_refused() -> None:
    bench = Bench().commissioned()
    bench.parties["brand"].enrol_device("brand-d2", "11" * 32, bench.clock + timedelta(hours=5))
    refusal = bench.refuse(Kind.OBSERVING, "brand", device_id="brand-d2")
    assert_refused(refusal, "device_not_enrolled", "brand-d2", "enrolled at")


def test_an_unknown_device_is_refused() -> None:
    refusal = Bench().commissioned().refuse(Kind.OBSERVING, "brand", device_id="stolen-scanner")
    assert_refused(refusal, "device_not_enrolled", "stolen-scanner")


def test_the_actor_must_be_the_events_party() -> None:
    bench = Bench().commissioned()
    custody = bench.event(Kind.OBSERVING, "brand")
    assert bench.item is not None
    with pytest.raises(DomainError) as refused:
        bench.item.record(custody, b"", bench.parties["ginza"])
    assert_refused(refused.value, "actor_mismatch", "brand", "ginza")


def test_the_event_must_be_for_this_item() -> None:
    bench = Bench().commissioned()
    custody = bench.event(Kind.OBSERVING, "brand", item_id="urn:other")
    assert bench.item is not None
    with pytest.raises(DomainError) as refused:
        bench.item.record(custody, b"", bench.parties["brand"])
    assert_refused(refused.value, "actor_mismatch", "urn:other", ITEM)


def test_missing_detail_is_a_domain_error_with_its_rule() -> None:
    error = MissingDetail("shipping needs the consignee (counterparty)")
    assert str(error) == "shipping needs the consignee (counterparty) [rule: missing_detail]"
    assert error.reason == "shipping needs the consignee (counterparty)"


def test_envelopes_differ_per_event() -> None:
    bench = Bench()
    assert envelope_of(bench.event("observing", "brand")) != envelope_of(
        bench.event("observing", "brand")
    )


# ----- ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda b: Item.commission(b.event(Kind.COMMISSIONING, "brand", item_id="tag:T1"), b""),
        lambda b: Item.sighted(b.event(Kind.OBSERVING, "osaka", item_id="tag:T1"), b""),
        lambda b: Party.register("tag:T1", "Squatter", Role.STORE),
    ],
    ids=["commission", "sighted", "party"],
)
def test_ids_in_the_tag_claim_namespace_are_refused(make: Callable[[Bench], object]) -> None:
    with pytest.raises(DomainError) as refused:
        make(Bench())
    assert_refused(refused.value, "reserved_id", "tag:T1", "reserved for tag claims")


# ----- repairing (added as the recipe of docs/architecture.md shows) ----------------------


def test_the_brand_services_an_item_it_holds_and_custody_does_not_change() -> None:
    bench = Bench().commissioned()
    before = (bench.state.status, bench.state.holder, bench.state.location)
    assert bench.do(Kind.REPAIRING, "brand").result is Result.ACCEPTED
    assert (bench.state.status, bench.state.holder, bench.state.location) == before


def test_only_the_holder_services_an_item() -> None:
    bench = Bench().commissioned().moved("ginza")
    refusal = bench.refuse(Kind.REPAIRING, "brand")
    assert_refused(refusal, "not_holder", "brand", "repairing")


@pytest.mark.parametrize("party", ["dc", "ginza"])
def test_warehouses_and_stores_do_not_service_items(party: str) -> None:
    bench = Bench().commissioned().moved(party)
    assert_refused(bench.refuse(Kind.REPAIRING, party), "role_not_allowed", "repairing")


def test_every_guard_a_rule_may_name_is_a_guard() -> None:
    from domain import guards, kinds

    assert set(guards.GUARDS) == kinds.GUARDS
