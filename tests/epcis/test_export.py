"""The export of histories that did not come through EPCIS: scanner-made events become
valid EPCIS with stable ids, CBV steps and dispositions, and Assay's fields (docs/epcis.md)."""

from __future__ import annotations

from pathlib import Path

from anchoring.chain import Chain
from epcis.export import document, item_history, query_document, stable_event_id
from epcis.schema import EPCISSchema
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from streams.envelope import seal
from tests.support import custody, make_world, story_events


def _stored(tmp_path: Path) -> tuple[Chain, CustodyLedger]:
    world = make_world(tmp_path)
    story = story_events("urn:epc:id:sgtin:0614141.107346.1")
    story.append(custody(8, "returning", "ginza", story[0].item_id))
    reports = [Report(e, seal(e, world.keys[e.party_id])) for e in story]
    decisions = world.ledger.process(reports, None)
    assert all(d.accepted for d in decisions), [d.refusal for d in decisions]
    return Chain(store_env("", tmp_path / "chain.sqlite")), world.ledger


def test_a_scanner_made_history_exports_as_valid_epcis(tmp_path: Path, schema: EPCISSchema) -> None:
    chain, ledger = _stored(tmp_path)
    item = "urn:epc:id:sgtin:0614141.107346.1"
    events = item_history(ledger, chain, item)
    for exported in (document(events), query_document(events)):
        assert schema.violation(exported) is None, schema.violation(exported)
    assert [e["eventID"] for e in events] == [
        stable_event_id(item, f"{item}#e{n}") for n in range(1, 9)
    ]
    assert [(e["action"], e["bizStep"], e.get("disposition")) for e in events] == [
        ("ADD", "commissioning", "active"),
        ("OBSERVE", "inspecting", "conformant"),
        ("OBSERVE", "shipping", "in_transit"),
        ("OBSERVE", "receiving", "in_progress"),
        ("OBSERVE", "shipping", "in_transit"),
        ("OBSERVE", "receiving", "in_progress"),
        ("OBSERVE", "retail_selling", "retail_sold"),
        ("OBSERVE", "receiving", "returned"),
    ]
    first, sale = events[0], events[6]
    assert first["readPoint"] == {"id": "urn:assay:location:loc-brand"}
    assert first["ilmd"] == {
        "assay:brand": "B", "assay:model": "M", "assay:serial": "S", "assay:tagUID": "TAG-1"
    }  # fmt: skip
    assert events[2]["destinationList"] == [
        {"type": "possessing_party", "destination": "urn:assay:party:dc"}
    ]
    assert (sale["assay:party"], sale["assay:device"], sale["assay:buyerRef"]) == (
        "ginza", "ginza-d1", "buyer-1",
    )  # fmt: skip
    assert events[1]["assay:verdict"] == "genuine"
    assert first["eventTime"] == "2026-01-01T01:00:00+00:00"
    assert [e["assay:itemVersion"] for e in events] == list(range(1, 9))
    assert not any("assay:blockHeight" in e for e in events)  # nothing anchored yet


def test_export_ids_are_stable(tmp_path: Path) -> None:
    chain, ledger = _stored(tmp_path)
    item = "urn:epc:id:sgtin:0614141.107346.1"
    once = item_history(ledger, chain, item)
    again = item_history(ledger, chain, item)
    assert [e["eventID"] for e in once] == [e["eventID"] for e in again]
    assert stable_event_id("a", "e1") != stable_event_id("b", "e1")


def test_an_event_declared_in_error_carries_its_error_declaration(
    tmp_path: Path, schema: EPCISSchema
) -> None:
    """As GS1 does: the original with errorDeclaration, the declaration's own anchoring and
    party in Assay's namespace; a flag citing the declaration is noted on the original."""
    world = make_world(tmp_path)
    item = "urn:epc:id:sgtin:0614141.107346.3"
    story = [
        custody(1, "commissioning", "brand", item, tag_uid="T3", brand="B", model="M", serial="3"),
        custody(2, "shipping", "brand", item, counterparty="dc"),
        custody(3, "receiving", "dc", item),
        custody(4, "error_declaration", "brand", item, declared_event_id=f"{item}#e2",
                error_reason="did_not_occur", corrective_event_ids=[f"{item}#e5", "later"]),
        custody(5, "observing", "dc", item),
    ]  # fmt: skip
    decisions = world.ledger.process(
        [Report(e, seal(e, world.keys[e.party_id])) for e in story], None
    )
    assert all(d.accepted for d in decisions)
    events = item_history(world.ledger, Chain(store_env("", tmp_path / "chain.sqlite")), item)
    assert schema.violation(document(events)) is None, schema.violation(document(events))
    assert [e["bizStep"] for e in events] == [
        "commissioning", "shipping", "receiving", "cycle_counting",
    ]  # fmt: skip
    shipping = events[1]
    assert shipping["errorDeclaration"] == {
        "declarationTime": "2026-01-01T04:00:00+00:00",
        "reason": "did_not_occur",
        "correctiveEventIDs": [events[3]["eventID"], stable_event_id(item, "later")],
        "assay:party": "brand",
        "assay:device": "brand-d1",
        "assay:itemVersion": 4,
    }
    assert [f["assay:signal"] for f in shipping["assay:flags"]] == ["rests_on_declared"]
    assert not any("errorDeclaration" in e for e in events if e is not shipping)
