"""Assay's aggregates take a shorter way to their events than eventsourcing's generic one
(domain/base.py); what it makes is what eventsourcing's way makes: the same topics, ids,
versions, events and state."""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

from domain.authority import AuthorityClaim
from domain.base import Aggregate
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
