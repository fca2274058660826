"""Brand authority through the ledger: brands declare names and GS1 prefixes, and only the
owner of both commissions under them (docs/custody-rules.md, "Brand authority")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from domain.authority import AuthorityClaim, brand_claim_id, company_prefix_of, prefix_claim_id
from domain.custody import CustodyEvent, Kind, Role
from domain.errors import (
    AuthorityTaken,
    InvalidCompanyPrefix,
    PartyExists,
    ReservedId,
    RoleNotAllowed,
    UnknownParty,
)
from domain.items import Result, Signal
from ledger.application import CustodyLedger, Decision
from tests.domain.factory import T0
from tests.ledger.helpers import ANY_KEY, open_ledger, register, report

AUREL_BAG = "urn:epc:id:sgtin:0614141.107346.2017"
VELLO_BAG = "urn:epc:id:sgtin:0777777.100001.1"


@pytest.fixture
def ledger() -> CustodyLedger:
    ledger = register(open_ledger(), {"lab": Role.APPRAISER, "ginza": Role.STORE})
    ledger.register_party("aurel", "Maison Aurel", Role.BRAND, ["Maison Aurel"], ["0614141"])
    ledger.register_party("vello", "Vello", Role.BRAND, ["Vello"], ["0777777"])
    ledger.register_party("newco", "Newco", Role.BRAND)
    for party in ("aurel", "vello", "newco"):
        ledger.enrol_device(party, f"{party}-d1", ANY_KEY, at=T0 - timedelta(days=1))
    return ledger


def commissioning(party: str, item: str, brand: str, **details: Any) -> CustodyEvent:
    fields: dict[str, Any] = {
        "tag_uid": f"tag-{item}",
        "model": "M",
        "serial": "1",
        "location": f"loc-{party}",
        **details,
    }
    return CustodyEvent(
        event_id=f"{item}#1",
        item_id=item,
        kind=Kind.COMMISSIONING,
        party_id=party,
        device_id=f"{party}-d1",
        occurred_at=T0,
        brand=brand,
        **fields,
    )


def decide(ledger: CustodyLedger, custody: CustodyEvent) -> Decision:
    offset = (ledger.position("custody.events:0") or 0) + 1
    (decision,) = ledger.process([report(custody)], Tracking("custody.events:0", offset))
    return decision


def refusal_of(ledger: CustodyLedger, custody: CustodyEvent) -> str:
    decision = decide(ledger, custody)
    assert decision.refusal is not None, decision
    return decision.refusal.rule


def test_a_brand_commissions_under_its_own_name_and_prefix(ledger: CustodyLedger) -> None:
    decision = decide(ledger, commissioning("aurel", AUREL_BAG, "Maison Aurel"))
    assert decision.outcome is not None and decision.outcome.result is Result.ACCEPTED
    # Names compare case-insensitively, with white space collapsed; any non-GS1 id goes.
    decision = decide(ledger, commissioning("aurel", "urn:aurel:bag:9", "  maison   AUREL "))
    assert decision.outcome is not None and decision.outcome.result is Result.ACCEPTED


def test_another_brands_name_is_refused(ledger: CustodyLedger) -> None:
    decision = decide(ledger, commissioning("aurel", "urn:aurel:bag:1", "Vello"))
    assert decision.refusal is not None and decision.refusal.rule == "brand_not_owned"
    assert "it belongs to vello" in decision.refusal.reason
    with pytest.raises(LookupError):
        ledger.get_item("urn:aurel:bag:1")


def test_a_name_nobody_declared_is_refused(ledger: CustodyLedger) -> None:
    assert refusal_of(ledger, commissioning("aurel", "urn:x:1", "Aurel Atelier")) == (
        "brand_not_owned"
    )


def test_an_sgtin_under_another_brands_prefix_is_refused(ledger: CustodyLedger) -> None:
    decision = decide(ledger, commissioning("aurel", VELLO_BAG, "Maison Aurel"))
    assert decision.refusal is not None and decision.refusal.rule == "brand_not_owned"
    assert "vello's GS1 company prefix 0777777" in decision.refusal.reason


def test_an_sgtin_under_an_undeclared_prefix_is_refused(ledger: CustodyLedger) -> None:
    item = "urn:epc:id:sgtin:0999999.100001.1"
    assert refusal_of(ledger, commissioning("aurel", item, "Maison Aurel")) == "brand_not_owned"


def test_an_sgln_location_under_another_brands_prefix_is_refused(ledger: CustodyLedger) -> None:
    vello_site = "urn:epc:id:sgln:0777777.00001.0"
    custody = commissioning("aurel", AUREL_BAG, "Maison Aurel", location=vello_site)
    assert refusal_of(ledger, custody) == "brand_not_owned"
    # A site whose prefix nobody declared (a contract workshop's) is fine.
    workshop = "urn:epc:id:sgln:0555555.00001.0"
    custody = commissioning("aurel", AUREL_BAG, "Maison Aurel", location=workshop)
    assert decide(ledger, custody).outcome is not None


def test_a_brand_with_no_declared_brand_cannot_commission(ledger: CustodyLedger) -> None:
    assert refusal_of(ledger, commissioning("newco", "urn:newco:1", "Newco")) == (
        "brand_not_declared"
    )
    assert ledger.declare_authority("newco", ["Newco"], []) == ["Newco"]
    assert decide(ledger, commissioning("newco", "urn:newco:1", "Newco")).outcome is not None


def test_a_missing_brand_is_a_missing_detail_first(ledger: CustodyLedger) -> None:
    custody = commissioning("aurel", AUREL_BAG, "Maison Aurel")
    custody = CustodyEvent(**{**custody.__dict__, "brand": None})
    assert refusal_of(ledger, custody) == "missing_detail"


def test_a_clone_by_a_rogue_brand_is_refused_before_any_flag(ledger: CustodyLedger) -> None:
    assert decide(ledger, commissioning("aurel", AUREL_BAG, "Maison Aurel")).outcome
    # Same id and tag, another brand's name: refused, not a duplicate commissioning.
    clone = commissioning("vello", AUREL_BAG, "Maison Aurel")
    clone = CustodyEvent(**{**clone.__dict__, "event_id": "clone#1"})
    assert refusal_of(ledger, clone) == "brand_not_owned"
    assert ledger.get_item(AUREL_BAG).state.flags == []
    # Under its own name and prefix but with the bag's tag uid: the cloned tag is flagged.
    clone = commissioning("vello", VELLO_BAG, "Vello", tag_uid=f"tag-{AUREL_BAG}")
    outcome = decide(ledger, clone).outcome
    assert outcome is not None and outcome.signals == (Signal.DUPLICATE_COMMISSIONING,)


def test_a_name_or_prefix_belongs_to_the_first_brand(ledger: CustodyLedger) -> None:
    with pytest.raises(AuthorityTaken, match="owned by aurel"):
        ledger.declare_authority("vello", ["MAISON aurel"], [])
    with pytest.raises(AuthorityTaken, match="0614141"):
        ledger.declare_authority("vello", ["Vello Sport"], ["0614141"])
    # Refused as a whole: the new name was not declared either.
    assert ledger.get_party("vello").brands == ["Vello"]
    with pytest.raises(AuthorityTaken):
        ledger.register_party("copycat", "Copycat", Role.BRAND, ["Vello"], [])
    with pytest.raises(UnknownParty):
        ledger.get_party("copycat")


def test_declaring_again_changes_nothing_and_more_adds(ledger: CustodyLedger) -> None:
    version = ledger.get_party("aurel").version
    assert ledger.declare_authority("aurel", ["maison aurel"], ["0614141"]) == []
    assert ledger.get_party("aurel").version == version
    assert ledger.declare_authority("aurel", ["Aurel Atelier"], ["0614199"]) == [
        "Aurel Atelier",
        "0614199",
    ]
    party = ledger.get_party("aurel")
    assert (party.brands, party.company_prefixes) == (
        ["Maison Aurel", "Aurel Atelier"],
        ["0614141", "0614199"],
    )
    claim = ledger.repository.get(prefix_claim_id("0614199"))
    assert isinstance(claim, AuthorityClaim) and claim.party_id == "aurel"
    claim = ledger.repository.get(brand_claim_id("AUREL atelier"))
    assert isinstance(claim, AuthorityClaim) and claim.value == "Aurel Atelier"


def test_only_a_brand_declares_and_prefixes_are_digits(ledger: CustodyLedger) -> None:
    with pytest.raises(RoleNotAllowed):
        ledger.declare_authority("lab", ["Certa"], [])
    with pytest.raises(InvalidCompanyPrefix):
        ledger.declare_authority("aurel", [], ["06141"])
    with pytest.raises(InvalidCompanyPrefix):
        ledger.declare_authority("aurel", [], ["0614141x"])
    with pytest.raises(ValueError, match="empty"):
        ledger.declare_authority("aurel", ["  "], [])
    with pytest.raises(PartyExists):
        ledger.register_party("aurel", "Again", Role.BRAND, ["Other"], [])


def test_claim_ids_are_reserved(ledger: CustodyLedger) -> None:
    with pytest.raises(ReservedId):
        ledger.register_party("authority:brand:nobody", "Squatter", Role.BRAND)
    custody = commissioning("aurel", "authority:prefix:0614141", "Maison Aurel")
    assert refusal_of(ledger, custody) == "reserved_id"


def test_company_prefixes_of_gs1_keys() -> None:
    assert company_prefix_of("urn:epc:id:sgtin:0614141.107346.2017") == "0614141"
    assert company_prefix_of("urn:epc:id:sgln:0614141.00001.0") == "0614141"
    assert company_prefix_of("urn:epc:id:sgtin:06141.107346.2017") is None  # too short
    assert company_prefix_of("urn:epc:id:sscc:0614141.1234567890") is None
    assert company_prefix_of("urn:aurel:bag:1") is None


def test_declarations_survive_a_reload(tmp_path: Any) -> None:
    ledger = open_ledger(tmp_path / "l.sqlite")
    ledger.register_party("aurel", "Maison Aurel", Role.BRAND, ["Maison Aurel"], ["0614141"])
    ledger.declare_authority("aurel", ["Aurel Atelier"], [])
    again = open_ledger(tmp_path / "l.sqlite")
    party = again.get_party("aurel")
    assert (party.brands, party.company_prefixes) == (
        ["Maison Aurel", "Aurel Atelier"],
        ["0614141"],
    )
    with pytest.raises(AuthorityTaken):
        again.register_party("vello", "Vello", Role.BRAND, ["aurel atelier"], [])
