"""Event base classes for aggregates identified by strings (item URNs, party ids)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate


@dataclass(frozen=True)
class Event(CanMutateAggregate[str]):
    originator_id: str
    originator_version: int
    timestamp: datetime

    def mutate(self, aggregate: Any) -> Any:
        """eventsourcing's steps for the aggregates that take the short way, without its
        properties; anything else (and any refusal) is eventsourcing's own."""
        if (
            type(aggregate) not in _TOPICS
            or self.originator_id != aggregate._id
            or self.originator_version != aggregate._version + 1
        ):
            return super().mutate(aggregate)
        self.apply(aggregate)
        aggregate._version = self.originator_version
        aggregate._modified_on = self.timestamp
        return aggregate


@dataclass(frozen=True)
class Created(Event, CanInitAggregate[str]):
    originator_topic: str

    def mutate(self, aggregate: Any) -> Any:
        """The aggregate this event creates: eventsourcing's steps, without matching the
        event's fields to the parameters of an ``__init__`` that takes none."""
        cls = _SHORT.get(self.originator_topic)
        if cls is None:
            return super().mutate(aggregate)
        assert aggregate is None
        made = cls.__new__(cls)
        made.__base_init__(self.originator_id, self.originator_version, self.timestamp)
        cls.__init__(made)
        self.apply(made)
        return made


T = TypeVar("T")
A = TypeVar("A", bound="Aggregate")

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


class Aggregate(BaseAggregate[str]):
    """eventsourcing's aggregate with a shorter way to its events, for aggregates like
    Assay's: always given their id, with no topic of their own and an ``__init__`` that
    takes no arguments (anything else goes eventsourcing's way)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if (
            not getattr(cls, "TOPIC", None)
            and cls.__base_init__ is BaseAggregate.__base_init__
            and list(inspect.signature(cls.__init__).parameters) == ["self"]
        ):
            # The topic eventsourcing gives a class without a TOPIC of its own.
            _SHORT[f"{cls.__module__}:{cls.__qualname__}"] = cls
            _TOPICS[cls] = f"{cls.__module__}:{cls.__qualname__}"

    @classmethod
    def _create(
        cls: type[A],
        event_class: type[CanInitAggregate[str]],
        *,
        id: str | None = None,
        **kwargs: Any,
    ) -> A:
        topic = _TOPICS.get(cls)
        if topic is None or type(id) is not str:
            return super()._create(event_class, id=id, **kwargs)
        kwargs["originator_topic"] = topic
        kwargs["originator_id"] = id
        kwargs["originator_version"] = cls.INITIAL_VERSION
        if kwargs.get("timestamp") is None:
            kwargs["timestamp"] = event_class.create_timestamp()
        created = make_event(event_class, kwargs)
        aggregate = created.mutate(None)
        assert isinstance(aggregate, cls)
        aggregate.pending_events.append(created)
        return aggregate

    def trigger_event(self, event_class: type[CanMutateAggregate[str]], **kwargs: Any) -> None:
        if type(self) not in _TOPICS:
            super().trigger_event(event_class, **kwargs)
            return
        kwargs["originator_id"] = self._id
        kwargs["originator_version"] = self._version + 1
        if kwargs.get("timestamp") is None:
            kwargs["timestamp"] = event_class.create_timestamp()
        event = make_event(event_class, kwargs)
        event.mutate(self)
        self._pending_events.append(event)

    def collect_events(self) -> Sequence[CanMutateAggregate[str]]:
        collected, self._pending_events = self._pending_events, []
        return collected


E = TypeVar("E")


def make_event(event_class: type[E], values: Mapping[str, Any]) -> E:
    """``event_class(**values)``: for a frozen dataclass event given every field and
    nothing else, its attributes set in the order of its fields (as its ``__init__`` sets
    them, so it is stored alike) in one step, not one ``object.__setattr__`` each."""
    names = _FIELDS.get(event_class)
    if names is None:
        names = _FIELDS[event_class] = _plain_fields(event_class)
    if names and len(values) == len(names):
        try:
            state = {name: values[name] for name in names}
        except KeyError:
            pass
        else:
            event = object.__new__(event_class)
            object.__setattr__(event, "__dict__", state)
            return event
    return event_class(**values)


def _plain_fields(event_class: type) -> tuple[str, ...]:
    """The fields of a dataclass whose ``__init__`` only sets them, in order; () for
    anything else (a ``__post_init__``, a field out of ``__init__``, no ``__dict__``)."""
    if (
        not dataclasses.is_dataclass(event_class)
        or hasattr(event_class, "__post_init__")
        or not event_class.__dictoffset__
    ):
        return ()
    found = dataclasses.fields(event_class)
    if any(not f.init for f in found):
        return ()
    return tuple(f.name for f in found)


_FIELDS: dict[type, tuple[str, ...]] = {}

#: The aggregate classes that take the short way, by their topic, and their topics.
_SHORT: dict[str, type[Aggregate]] = {}
_TOPICS: dict[type[Aggregate], str] = {}
