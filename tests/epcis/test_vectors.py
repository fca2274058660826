"""The mapping contract (docs/epcis.md): one JSON vector per scenario, EPCIS document in,
custody events (or a refusal) out, driven by this one test."""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from domain.custody import Kind
from epcis.capture import Limits, Reader
from epcis.corrections import DECLARATION_NAMESPACE
from epcis.mapping import EVENT_NAMESPACE, Signer
from epcis.parties import PartyTable
from epcis.problems import Problem
from epcis.schema import EPCISSchema
from epcis.store import GatewayStore

VECTORS = sorted((Path(__file__).parent / "vectors").glob("*.json"))


def test_there_are_vectors() -> None:
    assert len(VECTORS) >= 20


def _store(tmp_path: Path, memory: dict[str, list[str]]) -> GatewayStore:
    store = GatewayStore(tmp_path / "gateway.sqlite")
    if memory:  # what earlier documents packed, saved the way a capture saves it
        store.start_job("earlier", 0, 0)
        placed = {child: parent for parent, kids in memory.items() for child in kids}
        store.finish_job("earlier", placed, set())
    return store


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path, tmp_path: Path, schema: EPCISSchema) -> None:
    vector: dict[str, Any] = json.loads(path.read_text())
    assert vector["desc"]
    store = _store(tmp_path, vector.get("memory", {}))
    reader = Reader(
        schema,
        Signer(**vector["signer"]),
        PartyTable(vector.get("parties", {})),
        Limits(100, 1 << 20),
    )
    body = json.dumps(vector["document"]).encode()
    if "want_problem" in vector:
        want = vector["want_problem"]
        with pytest.raises(Problem) as refused:
            reader.read(body, store)
        problem = refused.value
        assert (problem.status, problem.type) == (want["status"], want["type"]), problem
        if "pointer" in want:
            assert problem.errors[0]["pointer"] == want["pointer"], problem.errors
        return
    prepared = reader.read(body, store)
    assert [c.to_primitive() for c in prepared.custody] == vector["want"]
    memory = vector["want_memory"]
    assert prepared.containment.placed == memory["placed"]
    assert sorted(prepared.containment.removed) == memory["removed"]
    for custody in prepared.custody:  # the id rules of docs/epcis.md, recomputed
        name = f"{custody.attributes['epcis:eventID']} {custody.item_id}"
        if custody.kind is not Kind.ERROR_DECLARATION:
            assert custody.event_id == str(uuid.uuid5(EVENT_NAMESPACE, name))
            continue
        assert custody.declared_event_id == str(uuid.uuid5(EVENT_NAMESPACE, name))
        at = custody.occurred_at.astimezone(UTC).isoformat()
        declaration = f"{custody.attributes['epcis:eventID']} {at} {custody.item_id}"
        assert custody.event_id == str(uuid.uuid5(DECLARATION_NAMESPACE, declaration))
        corrective = json.loads(custody.attributes.get("epcis:correctiveEventIDs", "[]"))
        assert list(custody.corrective_event_ids) == [
            str(uuid.uuid5(EVENT_NAMESPACE, f"{c} {custody.item_id}")) for c in corrective
        ]


def test_reading_twice_gives_the_same_events(tmp_path: Path, schema: EPCISSchema) -> None:
    """Deterministic: the same document maps to the same custody events, byte for byte."""
    vector = json.loads(
        (Path(__file__).parent / "vectors" / "packing-then-shipping-the-case.json").read_text()
    )
    reader = Reader(schema, Signer("dc", "g"), PartyTable(vector["parties"]), Limits(100, 1 << 20))
    body = json.dumps(vector["document"]).encode()
    first = reader.read(body, _store(tmp_path / "a", {}))
    again = reader.read(body, _store(tmp_path / "b", {}))
    assert [c.digest() for c in first.custody] == [c.digest() for c in again.custody]


def test_a_declaration_without_event_id_names_the_original_by_its_hash(
    tmp_path: Path, schema: EPCISSchema
) -> None:
    """GS1's event hash leaves errorDeclaration out: resent without eventID, an event's
    declaration names the custody event its first capture made."""
    vector = json.loads((Path(__file__).parent / "vectors" / "receiving-one-item.json").read_text())
    original = vector["document"]
    original["epcisBody"]["eventList"][0].pop("eventID")
    resent = json.loads(json.dumps(original))
    resent["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2026-03-02T08:00:00Z", "reason": "did_not_occur",
    }  # fmt: skip
    reader = Reader(schema, Signer("dc", "g"), PartyTable({}), Limits(100, 1 << 20))
    (first,) = reader.read(json.dumps(original).encode(), _store(tmp_path / "a", {})).custody
    (declared,) = reader.read(json.dumps(resent).encode(), _store(tmp_path / "b", {})).custody
    assert first.attributes["epcis:eventIDHashed"] == "true"
    assert declared.attributes["epcis:eventID"] == first.attributes["epcis:eventID"]
    assert declared.declared_event_id == first.event_id
    assert declared.kind is Kind.ERROR_DECLARATION and first.kind is Kind.RECEIVING
