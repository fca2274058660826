"""Deep copies of aggregates (what eventsourcing's cache hands out on every load).

Items, their state and parties copy their containers and share the values in them, which
is a deep copy only while every such value is immutable: these tests walk a rich item and
a party and check both the independence of the copy and that premise.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from datetime import timedelta
from typing import Any

from domain.base import SHARED_TYPES
from domain.custody import ErrorReason, Kind
from domain.items import Item
from domain.parties import Party
from tests.domain.factory import T0, Bench, make_party


def rich_item() -> Item:
    bench = Bench().commissioned().authenticated()
    bench.do(Kind.SHIPPING, "brand", counterparty="dc", latitude=48.85, longitude=2.35)
    bench.do(Kind.RECEIVING, "dc", latitude=22.3, longitude=114.2, minutes=1)  # too fast
    first = bench.stored[0].custody
    bench.apply(replace(first, location="elsewhere"))  # the same event id, other content
    bench.do(
        Kind.ERROR_DECLARATION,
        "dc",
        declared_event_id="e4",
        error_reason=ErrorReason.INCORRECT_DATA,
    )
    assert bench.item is not None
    state = bench.item.state
    assert state.flags and state.conflicts and state.recorded and state.declared
    assert state.last_fix is not None
    return bench.item


def rich_party() -> Party:
    party = make_party("dc")
    party.enrol_device("dc-d2", "11" * 32, T0, effective_from=T0 - timedelta(days=30))
    party.revoke_device("dc-d1", T0 + timedelta(days=1))
    party.collect_events()
    return party


def values_in(obj: Any) -> list[Any]:
    """Every value held directly or inside a container attribute of ``obj``."""
    out: list[Any] = []
    for value in vars(obj).values():
        if isinstance(value, dict):
            out += [*value.keys(), *value.values()]
        elif isinstance(value, list | set):
            out += list(value)
        else:
            out.append(value)
    return out


def shared_safely(value: Any) -> bool:
    if type(value) is tuple:
        return all(shared_safely(v) for v in value)
    return type(value) in SHARED_TYPES or copy.deepcopy(value) is value


def test_every_value_an_item_or_party_shares_with_its_copy_is_immutable() -> None:
    item, party = rich_item(), rich_party()
    held = values_in(item.state) + values_in(party)
    held += [v for v in values_in(item) if v is not item.state]
    unsafe = [v for v in held if not shared_safely(v)]
    assert not unsafe


def test_a_copy_of_an_item_is_equal_and_independent() -> None:
    item = rich_item()
    clone = copy.deepcopy(item)
    assert type(clone) is Item and clone is not item
    assert (clone.id, clone.version, clone.created_on, clone.modified_on) == (
        item.id,
        item.version,
        item.created_on,
        item.modified_on,
    )
    assert clone.state == item.state and clone.state is not item.state
    for f in fields(item.state):
        value = getattr(item.state, f.name)
        if isinstance(value, dict | list | set):
            assert getattr(clone.state, f.name) is not value, f.name
    before = copy.deepcopy(item.state)
    clone.state.recorded.clear()
    clone.state.seen.clear()
    clone.state.flags.clear()
    clone.state.conflicts.clear()
    clone.state.declared.clear()
    clone.state.holder = "someone else"
    assert item.state == before


def test_a_copy_of_a_party_is_equal_and_independent() -> None:
    party = rich_party()
    clone = copy.deepcopy(party)
    assert (clone.id, clone.version, clone.name, clone.role) == (
        party.id,
        party.version,
        party.name,
        party.role,
    )
    assert clone.devices == party.devices and clone.devices is not party.devices
    clone.devices.clear()
    assert len(party.devices) == 2
