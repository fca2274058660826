"""Value objects shared by the custody domain: verdicts, retirement reasons, the custody event.

Roles and event kinds, and what each kind does, are in ``domain/kinds.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.kinds import ALLOWED_KINDS, Kind, Role

__all__ = [
    "ALLOWED_KINDS",
    "CustodyEvent",
    "Kind",
    "RetirementReason",
    "Role",
    "Verdict",
]


class Verdict(StrEnum):
    GENUINE = "genuine"
    COUNTERFEIT = "counterfeit"
    INCONCLUSIVE = "inconclusive"


class RetirementReason(StrEnum):
    DESTROYED = "destroyed"
    LOST = "lost"
    STOLEN = "stolen"


@dataclass(frozen=True)
class CustodyEvent:
    """One thing that happened to one item, as a device of a party reported it."""

    event_id: str
    item_id: str
    kind: Kind
    party_id: str
    device_id: str
    location: str
    occurred_at: datetime
    counterparty: str | None = None
    tag_uid: str | None = None
    brand: str | None = None
    model: str | None = None
    serial: str | None = None
    verdict: Verdict | None = None
    certificate: str | None = None
    buyer_ref: str | None = None
    reason: RetirementReason | None = None
    latitude: float | None = None
    longitude: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept plain strings for the enumerations; refuse what cannot be one.
        object.__setattr__(self, "kind", Kind(self.kind))
        if self.verdict is not None:
            object.__setattr__(self, "verdict", Verdict(self.verdict))
        if self.reason is not None:
            object.__setattr__(self, "reason", RetirementReason(self.reason))
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        for name in ("event_id", "item_id", "party_id", "device_id", "location"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together")
        if self.latitude is not None and not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude {self.latitude} is outside -90..90")
        if self.longitude is not None and not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude {self.longitude} is outside -180..180")

    def to_primitive(self) -> dict[str, object]:
        """Plain JSON-able form; also the basis of the content digest."""
        return {
            "event_id": self.event_id,
            "item_id": self.item_id,
            "kind": self.kind.value,
            "party_id": self.party_id,
            "device_id": self.device_id,
            "location": self.location,
            "occurred_at": self.occurred_at.isoformat(),
            "counterparty": self.counterparty,
            "tag_uid": self.tag_uid,
            "brand": self.brand,
            "model": self.model,
            "serial": self.serial,
            "verdict": self.verdict.value if self.verdict else None,
            "certificate": self.certificate,
            "buyer_ref": self.buyer_ref,
            "reason": self.reason.value if self.reason else None,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "attributes": dict(sorted(self.attributes.items())),
        }

    @classmethod
    def from_primitive(cls, data: Mapping[str, object]) -> CustodyEvent:
        def opt(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        def opt_float(name: str) -> float | None:
            value = data.get(name)
            return None if value is None else float(str(value))

        verdict = opt("verdict")
        reason = opt("reason")
        attributes = data.get("attributes") or {}
        assert isinstance(attributes, Mapping)
        return cls(
            event_id=str(data["event_id"]),
            item_id=str(data["item_id"]),
            kind=Kind(str(data["kind"])),
            party_id=str(data["party_id"]),
            device_id=str(data["device_id"]),
            location=str(data["location"]),
            occurred_at=datetime.fromisoformat(str(data["occurred_at"])),
            counterparty=opt("counterparty"),
            tag_uid=opt("tag_uid"),
            brand=opt("brand"),
            model=opt("model"),
            serial=opt("serial"),
            verdict=Verdict(verdict) if verdict else None,
            certificate=opt("certificate"),
            buyer_ref=opt("buyer_ref"),
            reason=RetirementReason(reason) if reason else None,
            latitude=opt_float("latitude"),
            longitude=opt_float("longitude"),
            attributes={str(k): str(v) for k, v in attributes.items()},
        )

    def digest(self) -> str:
        """Content fingerprint: two reports with one event id but other content differ here."""
        cached: str | None = self.__dict__.get("_digest")
        if cached is None:
            canonical = json.dumps(self.to_primitive(), sort_keys=True, separators=(",", ":"))
            cached = hashlib.sha256(canonical.encode()).hexdigest()
            object.__setattr__(self, "_digest", cached)  # a value object: computed once
        return cached
