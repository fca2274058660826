"""Counterfeit signals and what the ledger did with a report.

A signal does not stop valid history: it is recorded on the item as a ``Flagged`` event with
the report that raised it as evidence, so the evidence is anchored with everything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Signal(StrEnum):
    DUPLICATE_COMMISSIONING = "duplicate_commissioning"
    LOCATION_CONFLICT = "location_conflict"
    IMPOSSIBLE_TRAVEL = "impossible_travel"
    SCAN_AFTER_SALE = "scan_after_sale"
    SCAN_AFTER_RETIREMENT = "scan_after_retirement"
    UNKNOWN_ITEM = "unknown_item"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    RESTS_ON_DECLARED = "rests_on_declared"
    REPORTED_MISSING = "reported_missing"


class Result(StrEnum):
    ACCEPTED = "accepted"  # the event is now part of the item's custody history
    DUPLICATE = "duplicate"  # already recorded: nothing changed
    FLAGGED = "flagged"  # kept as evidence of a signal; custody did not change


@dataclass(frozen=True)
class Outcome:
    result: Result
    signals: tuple[Signal, ...] = ()
    detail: str = ""


#: A plain acceptance (no signal, no detail): one value, shared.
ACCEPTED = Outcome(Result.ACCEPTED)


@dataclass(frozen=True)
class Policy:
    """Tunable thresholds of the counterfeit signals."""

    max_speed_kmh: float = 900.0  # faster than a scheduled flight between two scans
    min_distance_km: float = 1.0  # closer than this is the same place, whatever the clock says


@dataclass(frozen=True)
class Flag:
    signal: Signal
    detail: str
    evidence_event_id: str | None
    raised_at: datetime

    def __deepcopy__(self, memo: dict[int, object]) -> Flag:
        # A frozen value: a deep copy of an aggregate (eventsourcing's cache hands
        # out copies) may share it rather than rebuild it.
        return self


@dataclass(frozen=True)
class Fix:
    """Where and when an accepted scan put the item."""

    latitude: float
    longitude: float
    at: datetime

    def __deepcopy__(self, memo: dict[int, object]) -> Fix:
        # A frozen value: a deep copy of an aggregate (eventsourcing's cache hands
        # out copies) may share it rather than rebuild it.
        return self


EARTH_RADIUS_KM = 6371.0088


def distance_km(a: Fix, b: Fix) -> float:
    """Great-circle (haversine) distance."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def impossible_travel(last: Fix | None, here: Fix | None, policy: Policy) -> str | None:
    """Why going from ``last`` to ``here`` is impossible, or ``None`` if it is not."""
    if last is None or here is None:
        return None
    km = distance_km(last, here)
    if km < policy.min_distance_km:
        return None
    hours = (here.at - last.at).total_seconds() / 3600
    speed = math.inf if hours <= 0 else km / hours
    if speed <= policy.max_speed_kmh:
        return None
    return (
        f"{km:.0f} km in {hours * 60:.0f} min "
        f"({speed:.0f} km/h > {policy.max_speed_kmh:.0f} km/h allowed)"
    )
