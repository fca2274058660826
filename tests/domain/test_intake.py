"""Pre-owned intake: an appraiser registers an item no brand commissioned, at its
authentication (docs/custody-rules.md, "Pre-owned intake")."""

from __future__ import annotations

from typing import Any

from domain.custody import Kind, Verdict
from domain.items import Result, Signal, Status
from domain.story import tell
from tests.domain.factory import Bench, replay

PREOWNED = "urn:assay:item:po-1"
INTAKE: dict[str, Any] = {
    "tag_uid": "NFC-PO-1",
    "brand": "Hermès",
    "model": "Kelly 28",
    "verdict": "genuine",
    "certificate": "CERTA-PO-1",
}


def taken_in(**details: Any) -> Bench:
    bench = Bench(item_id=PREOWNED)
    outcome = bench.do(Kind.INTAKE, "lab", **{**INTAKE, **details})
    assert outcome.result is Result.ACCEPTED, outcome
    return bench


def test_an_appraiser_registers_a_preowned_item_authenticated() -> None:
    bench = taken_in()
    s = bench.state
    assert s.commissioned and s.status is Status.IN_CUSTODY
    assert (s.holder, s.location) == ("lab", "loc-lab")
    assert (s.brand, s.model, s.tag_uid) == ("Hermès", "Kelly 28", "NFC-PO-1")
    assert (s.verdict, s.certificate) == (Verdict.GENUINE, "CERTA-PO-1")
    assert s.provenance == "authenticated at intake by lab"
    assert s.brand_party == "lab"  # it may declare the item's events in error
    assert tell(bench.stored)[0].endswith(
        "lab authenticated it at intake: Hermès Kelly 28 (tag NFC-PO-1), genuine "
        "(certificate CERTA-PO-1) at loc-lab."
    )
    assert replay(bench.stored).state == s


def test_a_commissioned_items_provenance_is_its_brand() -> None:
    assert Bench().commissioned().state.provenance == "commissioned by brand"


def test_an_intake_item_is_sold_without_another_inspection() -> None:
    bench = taken_in().moved("ginza")
    assert bench.do(Kind.RETAIL_SELLING, "ginza", buyer_ref="b-1").result is Result.ACCEPTED
    assert bench.state.status is Status.SOLD


def test_only_an_appraiser_takes_items_in() -> None:
    for party in ("brand", "dc", "ginza"):
        refusal = Bench(item_id=PREOWNED).refuse(Kind.INTAKE, party, **INTAKE)
        assert refusal.rule == "role_not_allowed"


def test_intake_needs_what_was_appraised() -> None:
    for missing in ("tag_uid", "brand", "model", "verdict", "certificate"):
        refusal = Bench(item_id=PREOWNED).refuse(Kind.INTAKE, "lab", **{**INTAKE, missing: None})
        assert refusal.rule == "missing_detail", missing
    # The serial is optional: many pre-owned items have none readable.
    assert taken_in().state.serial is None


def test_a_counterfeit_found_at_intake_is_frozen() -> None:
    bench = taken_in(verdict="counterfeit")
    assert bench.state.frozen
    assert bench.refuse(Kind.SHIPPING, "lab", counterparty="dc").rule == "item_frozen"


def test_an_intake_cannot_mint_a_brands_sgtin() -> None:
    # The test brand declared prefix 0614141 (tests/domain/factory.py).
    item = "urn:epc:id:sgtin:0614141.107346.77"
    refusal = Bench(item_id=item).refuse(Kind.INTAKE, "lab", **INTAKE)
    assert refusal.rule == "brand_not_owned"


def test_a_reused_tag_at_intake_is_a_cloned_tag() -> None:
    bench = Bench().commissioned()
    genuine_tag = bench.state.tag_uid
    clone = bench.event(Kind.INTAKE, "lab", item_id=PREOWNED, **{**INTAKE, "tag_uid": genuine_tag})
    outcome = bench.apply(clone)
    assert outcome.signals == (Signal.DUPLICATE_COMMISSIONING,)
    assert PREOWNED not in bench.others  # the clone is not created
    assert [f.signal for f in bench.state.flags] == [Signal.DUPLICATE_COMMISSIONING]


def test_scans_after_the_sale_of_an_intake_item_are_flagged() -> None:
    bench = taken_in().moved("ginza")
    bench.do(Kind.RETAIL_SELLING, "ginza", buyer_ref="b-1")
    assert bench.do(Kind.OBSERVING, "osaka").signals == (Signal.SCAN_AFTER_SALE,)


def test_a_later_commissioning_by_the_brand_is_flagged_and_the_intake_stands() -> None:
    bench = taken_in()
    outcome = bench.do(Kind.COMMISSIONING, "brand", tag_uid="NFC-BRAND-9", brand="Hermès")
    assert outcome.result is Result.FLAGGED
    assert outcome.signals == (Signal.DUPLICATE_COMMISSIONING,)
    assert bench.state.provenance == "authenticated at intake by lab"
    assert bench.state.holder == "lab"


def test_a_second_intake_of_the_same_id_is_flagged() -> None:
    bench = taken_in()
    outcome = bench.do(Kind.INTAKE, "lab", **{**INTAKE, "certificate": "CERTA-PO-2"})
    assert outcome.signals == (Signal.DUPLICATE_COMMISSIONING,)
