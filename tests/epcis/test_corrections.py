"""Corrections through the whole pipeline: real gateways, a real ``assay ingest``, and the
proof, the verifier, the history and the export of the corrected item.

Use case: a warehouse (dc) holds two bags and ships them to the Ginza store with the event
of GS1's errorDeclaration example (github.com/gs1/EPCIS, ``ObjectEvent_with_error_
declaration``), before the correction: GS1 publishes only the corrective document, so the
original is its first event without the ``errorDeclaration`` (and with the destination the
ledger needs). Ginza tries to declare dc's event in error (refused ``not_declarable``); dc
declares an event it never sent (``unknown_event``); then dc sends GS1's document as it is:
both bags' shipping is declared in error, and the document's second event, dc "receiving"
a bag it now holds again, is refused ``not_in_transit``. A second declaration of the same
event is refused ``already_declared``; the corrective event GS1's document names
(``urn:uuid:f81d4fae-…``) ships the bags to Osaka instead.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from domain.custody import Role
from epcis.mapping import custody_event_id
from epcis.schema import EPCISSchema
from streams.envelope import open_envelope, read_body
from tests.epcis import gs1
from tests.epcis.documents import DC_SITE, bag, commissioning, document, event, shipping
from tests.epcis.support import Platform, platform

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BAGS = [bag(2017), bag(2018)]
CORRECTIVE = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"  # named by GS1's declaration
GINZA = "urn:assay:party:ginza"


@pytest.fixture
def site(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Platform]:
    with platform(tmp_path, kafka_bootstrap) as made:
        yield made


def _gs1_declaration() -> dict[str, Any]:
    example: dict[str, Any] = json.loads(gs1.example(gs1.ERROR_DECLARATION))
    return example


def _only_first_event(doc: dict[str, Any], **changes: Any) -> bytes:
    out = copy.deepcopy(doc)
    first = out["epcisBody"]["eventList"][0]
    first.update(changes)
    out["epcisBody"]["eventList"] = [first]
    return json.dumps(out).encode()


def _original() -> bytes:
    """GS1's shipping as dc first sent it: no errorDeclaration, shipped to Ginza."""
    doc = _gs1_declaration()
    first = doc["epcisBody"]["eventList"][0]
    del first["errorDeclaration"]
    return _only_first_event(
        doc, destinationList=[{"type": "possessing_party", "destination": GINZA}]
    )


def _rejected(site: Platform) -> list[tuple[str, str, str]]:
    """(rule code, kind, item) of every dead letter, read by `assay rejected --json`."""
    done = site.assay("rejected", "--json", "--limit", "100")
    assert done.returncode == 0, done.stderr
    out = []
    for line in done.stdout.splitlines():
        letter = json.loads(line)
        custody = read_body(open_envelope(base64.b64decode(letter["value_b64"])))
        out.append((letter["code"], custody.kind.value, custody.item_id))
    return sorted(out)


def test_gs1s_error_declaration_is_recorded_proven_verified_and_exported(
    site: Platform, schema: EPCISSchema
) -> None:
    brand = site.gateway(site.party("maison-aurel", Role.BRAND))
    dc = site.gateway(site.party("dc", Role.WAREHOUSE))
    ginza = site.gateway(site.party("ginza", Role.STORE))
    site.party("osaka", Role.STORE)
    brand.capture_all(
        document(
            commissioning("urn:uuid:c0e1a000-0000-4000-8000-000000000001",
                          "2005-03-01T09:00:00-06:00", BAGS),
            shipping("urn:uuid:c0e1a000-0000-4000-8000-000000000002",
                     "2005-03-10T09:00:00-06:00", BAGS, "urn:assay:party:dc"),
        )
    )  # fmt: skip
    dc.capture_all(
        document(
            event("urn:uuid:c0e1a000-0000-4000-8000-000000000003", "receiving",
                  "2005-03-20T09:00:00-06:00", DC_SITE, epcs=BAGS)
        )
    )  # fmt: skip
    dc.capture_all(_original())
    counts = site.ingest()
    assert (counts["accepted"], counts["rejected"]) == (8, 0)
    declaration = _gs1_declaration()
    declared_id = declaration["epcisBody"]["eventList"][0]["eventID"]
    for item in BAGS:
        assert site.ledger.get_item(item).state.consignee == "ginza"

    # Refusals: Ginza did not record dc's event; dc never sent GS1's other example event.
    ginza.capture_all(_only_first_event(declaration))
    never_sent = json.loads(gs1.example(gs1.OBJECT_EVENT))["epcisBody"]["eventList"][0]
    never_sent["errorDeclaration"] = {"declarationTime": "2021-02-01T22:46:31Z"}
    dc.capture_all(document(never_sent))
    # GS1's corrective document, as published: accepted for both bags.
    job = dc.capture_all(gs1.example(gs1.ERROR_DECLARATION))
    assert (job["epcisEvents"], job["itemEvents"]) == (2, 3)
    # The same event declared again (another declaration time): refused.
    again = copy.deepcopy(declaration["epcisBody"]["eventList"][0]["errorDeclaration"])
    again["declarationTime"] = "2021-02-02T08:00:00Z"
    dc.capture_all(_only_first_event(declaration, errorDeclaration=again))
    # The corrective event GS1's declaration names: the bags went to Osaka.
    dc.capture_all(
        document(
            shipping(CORRECTIVE, "2005-04-03T20:33:31.116-06:00", BAGS, "urn:assay:party:osaka",
                     site="urn:epc:id:sgln:0614141.07346.1234")
        )
    )  # fmt: skip
    counts = site.ingest()
    assert (counts["accepted"], counts["rejected"], counts["flagged"]) == (4, 7, 0)
    assert _rejected(site) == sorted(
        [("not_declarable", "error_declaration", item) for item in BAGS]
        + [("unknown_event", "error_declaration", item) for item in BAGS]
        + [("already_declared", "error_declaration", item) for item in BAGS]
        + [("not_in_transit", "receiving", bag(2018))]
    )
    for item in BAGS:
        state = site.ledger.get_item(item).state
        assert (state.status.value, state.shipper, state.consignee) == (
            "in_transit", "dc", "osaka",
        )  # fmt: skip
        declared = state.declared[custody_event_id(declared_id, item)]
        assert (declared.by, declared.at.isoformat(), declared.reason) == (
            "dc", "2021-02-01T22:46:31.117000+00:00", "incorrect_data",
        )  # fmt: skip
        assert declared.corrective_event_ids[1] == custody_event_id(CORRECTIVE, item)

    assert site.assay("anchor", "--once").returncode == 0
    item = bag(2018)
    _proven_and_verified(site, item, custody_event_id(declared_id, item))
    _exported(site, schema, item, declaration)
    _projected(site, item)


def _proven_and_verified(site: Platform, item: str, declared: str) -> None:
    bundle_path = site.root / "bundle.json"
    proved = site.assay("prove", item, "-o", str(bundle_path))
    assert proved.returncode == 0, proved.stderr
    bundle = json.loads(bundle_path.read_text())
    summaries = [e["summary"] for e in bundle["events"]]
    kinds = [s["kind"] for s in summaries]
    assert kinds == [
        "commissioning", "shipping", "receiving", "shipping", "error_declaration", "shipping",
    ]  # fmt: skip
    original, correction = summaries[3], summaries[4]
    assert original["event_id"] == declared and "declared_event_id" not in original
    assert (correction["declared_event_id"], correction["error_reason"]) == (
        declared, "incorrect_data",
    )  # fmt: skip
    assert correction["occurred_at"] == "2021-02-01T22:46:31.117000+00:00"
    assert len(correction["corrective_event_ids"]) == 2
    key = site.data_dir / "keys" / "platform.pub"
    verified = site.assay("verify", str(bundle_path), "--key", str(key), "--json")
    assert verified.returncode == 0, verified.stdout
    result = json.loads(verified.stdout)
    assert (result["verified"], result["events"]) == (True, 6)
    assert result["declared_in_error"] == [
        {
            "version": 4,
            "event_id": declared,
            "kind": "shipping",
            "by": "dc",
            "at": "2021-02-01T22:46:31.117000+00:00",
            "reason": "incorrect_data",
            "corrective_event_ids": correction["corrective_event_ids"],
            "declaration_version": 5,
        }
    ]
    text = site.assay("verify", str(bundle_path), "--key", str(key)).stdout.splitlines()
    assert text[0].startswith(f"VERIFIED: {item}: 6 event(s)")
    assert text[1].startswith(
        f"  v4 shipping {declared}: declared in error by dc at 2021-02-01T22:46:31.117000+00:00 "
        "(incorrect_data) in v5; corrected by "
    )


def _exported(site: Platform, schema: EPCISSchema, item: str, declaration: dict[str, Any]) -> None:
    done = site.assay("history", item, "--epcis")
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    assert schema.violation(exported) is None, schema.violation(exported)
    raw = json.loads(schema.path.read_text())
    jsonschema.validators.validator_for(raw)(raw).validate(exported)
    events = exported["epcisBody"]["eventList"]
    gs1_event = declaration["epcisBody"]["eventList"][0]
    original = next(e for e in events if e["eventID"] == gs1_event["eventID"])
    declared = original["errorDeclaration"]
    gs1_declaration = gs1_event["errorDeclaration"]
    assert declared["declarationTime"] == "2021-02-01T22:46:31.117000+00:00"
    assert declared["reason"] == gs1_declaration["reason"]
    assert declared["correctiveEventIDs"] == gs1_declaration["correctiveEventIDs"]
    assert declared["assay:party"] == "dc" and isinstance(declared["assay:blockHeight"], int)
    assert [e["eventID"] for e in events if "errorDeclaration" in e] == [gs1_event["eventID"]]
    assert events[-1]["eventID"] == CORRECTIVE


def _projected(site: Platform, item: str) -> None:
    done = site.assay("project", "--until-idle", "1")
    assert done.returncode == 0, done.stderr
    history = site.assay("history", item)
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert lines[-2] == (
        "v4 shipping declared in error by dc at 2021-02-01T22:46:31.117000+00:00 (incorrect_data)"
    )
    assert lines[-1] == "corrected view (without the 1 event(s) above): in_transit, to osaka"
