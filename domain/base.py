"""Event base classes for aggregates identified by strings (item URNs, party ids)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import CanInitAggregate, CanMutateAggregate


@dataclass(frozen=True)
class Event(CanMutateAggregate[str]):
    originator_id: str
    originator_version: int
    timestamp: datetime


@dataclass(frozen=True)
class Created(Event, CanInitAggregate[str]):
    originator_topic: str
