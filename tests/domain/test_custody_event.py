"""The custody event value: what it accepts, its primitive form, its content digest."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from domain.custody import CustodyEvent, Kind, RetirementReason, Verdict
from tests.domain.factory import T0


def event(**overrides: Any) -> CustodyEvent:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "item_id": "urn:item:1",
        "kind": "inspecting",
        "party_id": "lab",
        "device_id": "lab-d1",
        "location": "urn:epc:id:sgln:0614142.00001.0",
        "occurred_at": T0,
        "verdict": "genuine",
        "certificate": "CERTA-1",
        "latitude": 35.0,
        "longitude": 139.0,
        "attributes": {"b": "2", "a": "1"},
    }
    return CustodyEvent(**(fields | overrides))


def test_plain_strings_become_enumerations() -> None:
    e = event(kind="decommissioning", verdict=None, reason="stolen")
    assert (e.kind, e.verdict, e.reason) == (Kind.DECOMMISSIONING, None, RetirementReason.STOLEN)
    assert event().verdict is Verdict.GENUINE


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "teleporting"}, "teleporting"),
        ({"verdict": "maybe"}, "maybe"),
        ({"occurred_at": datetime(2026, 1, 1)}, "time zone"),
        ({"event_id": ""}, "event_id must not be empty"),
        ({"location": ""}, "location must not be empty"),
        ({"longitude": None}, "go together"),
        ({"latitude": 91.0}, "latitude"),
        ({"longitude": -181.0}, "longitude"),
    ],
)
def test_malformed_events_are_refused_at_construction(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        event(**overrides)


def test_the_primitive_form_round_trips() -> None:
    original = event(counterparty="dc", buyer_ref="b", reason="lost")
    assert CustodyEvent.from_primitive(original.to_primitive()) == original


def test_the_digest_covers_every_field_and_ignores_attribute_order() -> None:
    base = event()
    assert base.digest() == event(attributes={"a": "1", "b": "2"}).digest()
    for change in (
        {"location": "elsewhere"},
        {"occurred_at": T0.replace(second=1)},
        {"verdict": Verdict.COUNTERFEIT},
        {"attributes": {"a": "1"}},
        {"latitude": 35.0001},
    ):
        assert replace(base, **change).digest() != base.digest(), change


def test_the_first_empty_name_is_the_one_refused() -> None:
    with pytest.raises(ValueError, match=r"^party_id must not be empty$"):
        event(party_id="", device_id="", location="")
    with pytest.raises(ValueError, match=r"^device_id must not be empty$"):
        event(device_id="", location="")


@pytest.mark.parametrize("ids", [["a", "b"], ("a", "b"), iter(["a", "b"]), ("a", 7)])
def test_corrective_event_ids_become_a_tuple_of_strings(ids: Any) -> None:
    e = event(kind="error_declaration", declared_event_id="x", corrective_event_ids=ids)
    assert type(e.corrective_event_ids) is tuple
    assert all(type(i) is str for i in e.corrective_event_ids)
    assert event().corrective_event_ids == ()


@pytest.mark.parametrize("ids", ["abc", ""])
def test_one_string_of_corrective_ids_is_refused(ids: str) -> None:
    with pytest.raises(ValueError, match="a list of event ids, not one string"):
        event(kind="error_declaration", declared_event_id="x", corrective_event_ids=ids)


def test_an_enumeration_member_is_kept_and_a_wrong_value_refused() -> None:
    e = event(verdict=Verdict.COUNTERFEIT)
    assert e.verdict is Verdict.COUNTERFEIT
    with pytest.raises(ValueError):
        event(verdict="maybe")
