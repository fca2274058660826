"""Event base classes for aggregates identified by strings (item URNs, party ids)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.domain import CanInitAggregate, CanMutateAggregate


@dataclass(frozen=True)
class Event(CanMutateAggregate[str]):
    originator_id: str
    originator_version: int
    timestamp: datetime


@dataclass(frozen=True)
class Created(Event, CanInitAggregate[str]):
    originator_topic: str


T = TypeVar("T")

#: Immutable types whose values a copy shares as they are.
SHARED_TYPES: frozenset[type] = frozenset(
    {str, int, float, bool, bytes, type(None), datetime, tuple}
)


def copy_of_values(obj: T, memo: dict[int, Any]) -> T:
    """``copy.deepcopy`` of an object whose attributes are immutable values, objects that
    know their own deep copy, or flat containers (dict, list, set) of immutable values:
    each container is copied, the values in it shared, anything else deep-copied.

    Aggregates and item state hold only such attributes (reports, flags and enrolments are
    frozen dataclasses; the rest strings, enumerations and datetimes), and
    eventsourcing's cache makes one deep copy per load: this one does not walk every
    value."""
    clone = object.__new__(type(obj))
    memo[id(obj)] = clone
    attributes = clone.__dict__
    for name, value in obj.__dict__.items():
        kind = type(value)
        if kind is dict or kind is list or kind is set:
            value = kind(value)
        elif kind not in SHARED_TYPES:
            value = copy.deepcopy(value, memo)
        attributes[name] = value
    return clone
