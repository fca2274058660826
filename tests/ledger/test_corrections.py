"""Corrections and backdated keys through the ledger, on both event-store backends: what is
stored reads back the same in another application instance, and the audit finds it whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from anchoring.audit import audit_stores
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.sealer import Anchor
from domain.custody import CustodyEvent
from domain.items import Result, Signal, Status
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from streams.envelope import seal
from streams.keys import DeviceKey
from tests.support import T0, custody, make_world

ITEM = "urn:item:c"
A_YEAR_AGO = T0 - timedelta(days=365)


def test_a_declaration_and_a_backdated_key_round_trip(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    ledger = world.ledger
    migration = DeviceKey.generate("dc", "dc-migration")
    ledger.enrol_device("dc", "dc-migration", migration.public_key_hex, effective_from=A_YEAR_AGO)
    keys = {**world.keys, "dc-migration": migration}
    past = T0 - timedelta(days=200)

    def report(event: CustodyEvent) -> Report:
        return Report(event, seal(event, keys[event.device_id.removesuffix("-d1")]))

    events = [
        custody(1, "commissioning", "brand", ITEM, tag_uid="T-C", brand="B", model="M",
                serial="C"),
        custody(2, "shipping", "brand", ITEM, counterparty="dc"),
        custody(3, "receiving", "dc", ITEM),
        # dc's history of the past year, signed by its migration key: accepted …
        replace(custody(4, "observing", "dc", ITEM, occurred_at=past), device_id="dc-migration"),
        # … the same past scan by its key enrolled the usual way: refused.
        custody(5, "observing", "dc", ITEM, occurred_at=past),
        custody(6, "error_declaration", "brand", ITEM, declared_event_id=f"{ITEM}#e2",
                error_reason="did_not_occur", corrective_event_ids=[f"{ITEM}#e7"]),
        custody(7, "shipping", "dc", ITEM, counterparty="ginza"),
        custody(8, "error_declaration", "ginza", ITEM, declared_event_id=f"{ITEM}#e7"),
    ]  # fmt: skip
    decisions = ledger.process([report(e) for e in events], None)
    outcomes = [
        d.outcome.result if d.outcome else d.refusal.rule if d.refusal else None for d in decisions
    ]
    assert outcomes == [
        Result.ACCEPTED, Result.ACCEPTED, Result.ACCEPTED, Result.ACCEPTED,
        "device_not_enrolled", Result.ACCEPTED, Result.ACCEPTED, "not_declarable",
    ]  # fmt: skip
    declared = decisions[5].outcome
    assert declared is not None and declared.signals == (Signal.RESTS_ON_DECLARED,)

    reopened = CustodyLedger(store_env(database_url, tmp_path / "ledger.sqlite"))
    item = reopened.get_item(ITEM)
    state = item.state
    assert (state.status, state.shipper, state.consignee) == (Status.IN_TRANSIT, "dc", "ginza")
    assert state.declared[f"{ITEM}#e2"].by == "brand"
    assert state.declared[f"{ITEM}#e2"].corrective_event_ids == (f"{ITEM}#e7",)
    assert state.as_recorded().consignee == "ginza"
    assert [e.originator_version for e in reopened.item_events(ITEM)] == list(range(1, 8))
    dc = reopened.get_party("dc")
    migrated = dc.devices["dc-migration"]
    assert (migrated.effective_from, migrated.recorded_at is not None) == (A_YEAR_AGO, True)
    assert dc.devices["dc-d1"].effective_from is None

    chain = Chain(store_env(database_url, tmp_path / "chain.sqlite"))
    signer = Signer.generate("test")
    Anchor(ledger, chain, signer, origin="test").catch_up()
    audit = audit_stores(lambda: reopened, lambda: chain, signer.verifier(), None, None)
    assert audit.ok, audit.divergence
