"""Assay's aggregates take a shorter way to their events than eventsourcing's generic one
(domain/base.py); what it makes is what eventsourcing's way makes: the same topics, ids,
versions, events and state."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

from domain.authority import AuthorityClaim
from domain.base import Aggregate, Event, make_event
from domain.custody import Role
from domain.items import Item
from domain.parties import Party
from domain.tags import TagClaim
from tests.support import story_events


def generic_create(cls: type[Any], event_class: type[Any], **kwargs: Any) -> Any:
    return BaseAggregate._create.__func__(cls, event_class, **kwargs)  # type: ignore[attr-defined]


def without_time(event: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(event).items() if k != "timestamp"}


def test_every_aggregate_takes_the_short_way_with_eventsourcing_s_topic() -> None:
    made = [
        Item.commission(story_events()[0], b"e"),
        Party.register("p", "P", Role.STORE),
        TagClaim.claim("T", "urn:item:1"),
        AuthorityClaim.claim("authority:brand:b", "brand", "B"),
    ]
    for aggregate in made:
        assert isinstance(aggregate, Aggregate)
        (created,) = aggregate.collect_events()
        assert created.originator_topic == get_topic(type(aggregate))  # type: ignore[attr-defined]
        assert (aggregate.version, aggregate.created_on) == (1, created.timestamp)


def test_an_item_s_events_are_eventsourcing_s_and_replay_by_its_generic_mutate() -> None:
    story = story_events()
    short = Item.commission(story[0], b"env")
    short.trigger_event(Item.CustodyRecorded, custody=story[1], envelope=b"env")
    events = list(short.collect_events())
    generic = generic_create(Item, Item.Commissioned, id=story[0].item_id, custody=story[0],
                             envelope=b"env")  # fmt: skip
    BaseAggregate.trigger_event(generic, Item.CustodyRecorded, custody=story[1], envelope=b"env")
    assert [without_time(e) for e in events] == [without_time(e) for e in generic.collect_events()]
    first = events[0]
    assert isinstance(first, Item.Commissioned)
    replayed: Item | None = CanInitAggregate.mutate(first, None)
    CanMutateAggregate.mutate(events[1], replayed)
    assert isinstance(replayed, Item)
    assert vars(replayed).keys() == vars(short).keys()
    assert replayed.state == short.state
    assert (replayed.id, replayed.version, replayed.modified_on) == (
        short.id,
        short.version,
        short.modified_on,
    )


EVENT_CLASSES = sorted(
    {
        value
        for aggregate in (Item, Party, TagClaim, AuthorityClaim)
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, Event) and dataclasses.is_dataclass(value)
    },
    key=lambda cls: cls.__qualname__,
)


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda cls: cls.__qualname__)
def test_an_event_made_in_one_step_is_the_one_its_init_makes(event_class: type[Any]) -> None:
    """Its attributes in the order of its fields: the stored JSON's members follow them."""
    values = {f.name: f"value of {f.name}" for f in reversed(dataclasses.fields(event_class))}
    made, by_init = make_event(event_class, values), event_class(**values)
    assert type(made) is event_class
    assert list(vars(made).items()) == list(vars(by_init).items())
    assert made == by_init and hash(made) == hash(by_init)


def test_an_event_not_given_every_field_is_made_by_its_init() -> None:
    custody = story_events()[0]
    values: dict[str, Any] = {"originator_id": "i", "originator_version": 1, "timestamp": None,
              "originator_topic": "t", "custody": custody, "envelope": b"e"}  # fmt: skip
    sighted = make_event(Item.Sighted, values)  # its signal and detail: the defaults
    assert list(vars(sighted).items()) == list(vars(Item.Sighted(**values)).items())
    assert (sighted.signal, sighted.detail) == (Item.Sighted.signal, Item.Sighted.detail)
    with pytest.raises(TypeError):
        make_event(Item.Commissioned, {**values, "signal": "x"})  # as its init refuses
    assert len(EVENT_CLASSES) >= 10
