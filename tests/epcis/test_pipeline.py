"""EPCIS through the whole pipeline: real gateways publish to a real topic, a real
``assay ingest`` stores, and the history comes back out as EPCIS that validates.

Use case 1: GS1's own examples are captured, stored and exported with their event ids.
Use case 2: a document sent twice, and a gateway killed mid-document: each event once.
Use case 3: a case of 12 bags is packed, shipped, received and unpacked; one bag proves.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from domain.custody import Role
from epcis.schema import EPCISSchema
from tests.epcis import gs1
from tests.epcis.documents import (
    BRAND_SITE,
    DC_SITE,
    aggregation,
    bag,
    commissioning,
    document,
    event,
    shipping,
)
from tests.epcis.support import Gateway, Platform, free_port, platform, request

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CASE = "urn:epc:id:sscc:0614141.1234567890"
DC_PARTY_ID = "urn:epc:id:pgln:4012345.00000"


@pytest.fixture
def site(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Platform]:
    with platform(tmp_path, kafka_bootstrap) as made:
        yield made


def _valid(exported: dict[str, Any], schema: EPCISSchema) -> None:
    """Valid by GS1's schema, compiled (the gateway's validator) and read by jsonschema."""
    assert schema.violation(exported) is None, schema.violation(exported)
    raw = json.loads(schema.path.read_text())
    jsonschema.validators.validator_for(raw)(raw).validate(exported)


def _history(site: Platform, item: str) -> dict[str, Any]:
    done = site.assay("history", item, "--epcis")
    assert done.returncode == 0, done.stderr
    exported: dict[str, Any] = json.loads(done.stdout)
    return exported


def _events(exported: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = exported["epcisBody"]["eventList"]
    return events


# ----- use case 1 ---------------------------------------------------------------------


def test_gs1_examples_are_captured_stored_and_exported(site: Platform, schema: EPCISSchema) -> None:
    brand = site.gateway(site.party("maison-aurel", Role.BRAND))
    dc = site.gateway(site.party("dc", Role.WAREHOUSE))
    example_2017, example_2018 = bag(2017), bag(2018)
    # GS1 9.6.1 at the DC: a shipping and a receiving in 2005, of bags nobody commissioned
    # yet here: both are stored, as evidence (unknown_item), with their GS1 event ids.
    object_job = dc.capture_all(gs1.example(gs1.OBJECT_EVENT))
    assert (object_job["epcisEvents"], object_job["itemEvents"]) == (2, 3)
    dc.capture_all(gs1.example(gs1.AGGREGATION_EVENT_DIGITAL_LINK))  # Digital Link children
    # The brand commissions both bags and ships them to the DC, which receives them
    # with GS1's 9.6.3 AggregationEvent (2013-06-08): accepted custody.
    brand.capture_all(
        document(
            commissioning("urn:uuid:6a2f0b4e-0000-4000-8000-000000000001",
                          "2013-06-01T09:00:00+02:00", [example_2017, example_2018]),
            shipping("urn:uuid:6a2f0b4e-0000-4000-8000-000000000002",
                     "2013-06-07T09:00:00+02:00", [example_2017, example_2018],
                     "urn:assay:party:dc"),
        )
    )  # fmt: skip
    dc.capture_all(gs1.example(gs1.AGGREGATION_EVENT))
    counts = site.ingest()
    assert (counts["rejected"], counts["consumed"]) == (0, 3 + 2 + 4 + 2)
    for item in (example_2017, example_2018):
        state = site.ledger.get_item(item).state
        assert (state.status.value, state.holder, state.location) == (
            "in_custody", "dc", "urn:epc:id:sgln:0614141.00888.0",
        )  # fmt: skip
    assert site.ledger.get_item("urn:epc:id:sgtin:0614141.712345.2017").state.status.value == (
        "unregistered"
    )
    assert site.assay("anchor", "--once").returncode == 0

    exported = _history(site, example_2018)
    _valid(exported, schema)
    events = _events(exported)
    gs1_ids = [
        e["eventID"]
        for doc in (gs1.OBJECT_EVENT, gs1.AGGREGATION_EVENT)
        for e in json.loads(gs1.example(doc))["epcisBody"]["eventList"]
    ]
    assert [e["eventID"] for e in events] == [
        gs1_ids[0], gs1_ids[1],
        "urn:uuid:6a2f0b4e-0000-4000-8000-000000000001",
        "urn:uuid:6a2f0b4e-0000-4000-8000-000000000002",
        gs1_ids[2],
    ]  # fmt: skip
    assert [e["bizStep"] for e in events] == [
        "shipping", "receiving", "commissioning", "shipping", "receiving"
    ]  # fmt: skip
    assert [e.get("assay:flags", [{}])[0].get("assay:signal") for e in events] == [
        "unknown_item", "unknown_item", None, None, None
    ]  # fmt: skip
    received = events[-1]
    assert received["type"] == "AggregationEvent"
    assert (received["parentID"], received["childEPCs"]) == (CASE, [example_2018])
    assert received["eventTime"] == "2013-06-08T16:58:56.591000+02:00"  # GS1's offset kept
    assert all(isinstance(e["assay:blockHeight"], int) for e in events)
    _served_queries(site, schema, example_2018, [e["eventID"] for e in events])


def _served_queries(site: Platform, schema: EPCISSchema, item: str, ids: list[str]) -> None:
    """The same history from `assay serve`: /epcs/{epc}/events and /events?MATCH_epc=."""
    port = free_port()
    log = site.root / "serve.log"
    command = [sys.executable, "-m", "assay", "serve", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=site.env(), stdout=out, stderr=out)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request("GET", f"{base}/healthz").status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        by_path = request("GET", f"{base}/epcs/{item}/events")
        match = urllib.parse.quote(f"{item}|{bag(2017)}", safe="")
        by_query = request("GET", f"{base}/events?MATCH_epc={match}")
        unknown = request("GET", f"{base}/epcs/{bag(999)}/events")
        bad = request("GET", f"{base}/events?EQ_bizStep=shipping")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    for reply in (by_path, by_query):
        assert reply.status == 200, reply.body
        _valid(reply.json(), schema)
        assert reply.json()["type"] == "EPCISQueryDocument"
    assert [
        e["eventID"]
        for e in by_path.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    ] == ids
    both = by_query.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert {e.get("epcList", e.get("childEPCs"))[0] for e in both} == {item, bag(2017)}
    assert unknown.status == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert bad.status == 400 and bad.json()["type"] == "epcisException:QueryParameterException"


# ----- use case 2 ---------------------------------------------------------------------


def _commission_many(first: int, events: int, per_event: int = 10) -> bytes:
    return document(
        *[
            commissioning(
                f"urn:uuid:00000000-0000-4000-9000-{first + n:012d}",
                "2026-03-01T09:00:00+09:00",
                [bag(first + n * per_event + k, "207346") for k in range(per_event)],
            )
            for n in range(events)
        ]
    )


def test_each_event_is_stored_once_after_a_resend_and_after_a_kill(site: Platform) -> None:
    gateway = site.gateway(site.party("maison-aurel", Role.BRAND))
    small, large = _commission_many(0, 100), _commission_many(100_000, 1500)
    small_items, large_items = 1000, 15000
    gateway.capture_all(small)
    gateway.capture_all(small)  # the same document again: published twice
    assert site.published() == 2 * small_items

    reply = gateway.capture(large)
    assert reply.status == 202
    before = 2 * small_items
    deadline = time.monotonic() + 120
    while site.published() == before and time.monotonic() < deadline:
        time.sleep(0.005)
    gateway.kill()  # SIGKILL while it publishes the large document
    partial = site.published() - before
    assert 0 < partial < large_items, f"not killed mid-document: {partial} of {large_items}"

    restarted = Gateway(gateway.env, gateway.key, None, gateway.log)
    site.gateways.append(restarted)
    interrupted = restarted.job(reply.headers["location"])
    assert (interrupted["running"], interrupted["success"]) == (False, False)
    assert interrupted["errors"][0]["title"] == "Capture interrupted"
    restarted.capture_all(large)  # sent again, whole

    counts = site.ingest()
    assert counts["consumed"] == 2 * small_items + partial + large_items
    assert (counts["accepted"], counts["rejected"], counts["flagged"]) == (
        small_items + large_items, 0, 0,
    )  # fmt: skip
    assert counts["duplicates"] == small_items + partial
    items = [bag(k, "207346") for k in range(small_items)]
    items += [bag(100_000 + k, "207346") for k in range(large_items)]
    stored = [len(site.custody_ids(item)) for item in items]
    assert stored == [1] * len(items)


# ----- use case 3 ---------------------------------------------------------------------


def test_a_case_of_twelve_bags_moves_together_and_a_bag_proves(
    site: Platform, schema: EPCISSchema
) -> None:
    brand = site.gateway(site.party("maison-aurel", Role.BRAND), {DC_PARTY_ID: "dc"})
    dc = site.gateway(site.party("dc", Role.WAREHOUSE))
    bags = [bag(n, "307346") for n in range(1, 13)]
    ids = [f"urn:uuid:12ba65e0-0000-4000-8000-{n:012d}" for n in range(6)]
    brand.capture_all(
        document(
            commissioning(ids[0], "2026-03-01T09:00:00+09:00", bags),
            aggregation(ids[1], "packing", "2026-03-01T09:30:00+09:00", BRAND_SITE, CASE, bags,
                        "ADD"),
            shipping(ids[2], "2026-03-01T10:00:00+09:00", [CASE], DC_PARTY_ID),
        )
    )  # fmt: skip
    # The DC learns the case's contents as it receives it, then counts and unpacks it
    # in a later document: both expand from what its gateway remembers.
    dc.capture_all(
        document(
            aggregation(ids[3], "receiving", "2026-03-02T09:00:00+09:00", DC_SITE, CASE, bags,
                        "OBSERVE") | {"bizLocation": {"id": DC_SITE}},
        )
    )  # fmt: skip
    counted = document(
        event(ids[4], "cycle_counting", "2026-03-02T09:30:00+09:00", DC_SITE, epcs=[CASE]),
        aggregation(
            ids[5], "unpacking", "2026-03-02T10:00:00+09:00", DC_SITE, CASE, None, "DELETE"
        ),
    )
    assert dc.capture_all(counted)["itemEvents"] == 24
    counts = site.ingest()
    assert (counts["accepted"], counts["flagged"], counts["rejected"]) == (72, 0, 0)
    for item in bags:
        state = site.ledger.get_item(item).state
        assert (state.status.value, state.holder, state.location) == ("in_custody", "dc", DC_SITE)

    assert site.assay("anchor", "--once").returncode == 0
    one = bags[4]
    bundle = site.root / "bundle.json"
    proved = site.assay("prove", one, "-o", str(bundle))
    assert proved.returncode == 0, proved.stderr
    key = site.data_dir / "keys" / "platform.pub"
    verified = site.assay("verify", str(bundle), "--key", str(key), "--json")
    assert verified.returncode == 0, verified.stdout
    result = json.loads(verified.stdout)
    parties = result.pop("parties")  # version 4: the parties' names, proven
    assert result | {"checkpoint_size": 0, "checkpoint_time": ""} == {
        "verified": True, "item_id": one, "events": 6, "pending": 0, "checkpoint_size": 0,
        "checkpoint_time": "", "bundle_version": 5, "completeness": "complete", "absent": False,
        "declared_in_error": [],
    }  # fmt: skip
    assert parties["dc"] == {"name": "Dc", "role": "warehouse", "proven": True}

    exported = _history(site, one)
    _valid(exported, schema)
    events = _events(exported)
    assert [e["eventID"] for e in events] == ids
    assert [e["type"] for e in events] == ["ObjectEvent", "AggregationEvent"] * 3
    assert [e.get("assay:via") for e in events] == [None, None, CASE, None, CASE, None]
    assert events[2]["destinationList"] == [{"type": "owning_party", "destination": DC_PARTY_ID}]
    assert [e["bizStep"] for e in events] == [
        "commissioning", "packing", "shipping", "receiving", "cycle_counting", "unpacking",
    ]  # fmt: skip
