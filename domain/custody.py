"""Value objects shared by the custody domain: verdicts, retirement reasons, the custody event.

Roles and event kinds, and what each kind does, are in ``domain/kinds.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.kinds import ALLOWED_KINDS, RULES, Kind, Role
from domain.privacy import check_claim_commitment, check_digest

__all__ = [
    "ALLOWED_KINDS",
    "CORRECTION_FIELDS",
    "CUSTODY_FIELDS",
    "CustodyEvent",
    "ErrorReason",
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


class ErrorReason(StrEnum):
    """Why an event is declared in error (GS1 CBV error reasons)."""

    DID_NOT_OCCUR = "did_not_occur"
    INCORRECT_DATA = "incorrect_data"


#: The fields only an error declaration carries (custody_event v3 on the wire). Unset, they
#: are left out of ``to_primitive``: records stored before they existed read the same.
CORRECTION_FIELDS = ("declared_event_id", "error_reason", "corrective_event_ids")


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
    #: The id of the item's event this one declares in error (an ``error_declaration``).
    declared_event_id: str | None = None
    error_reason: ErrorReason | None = None
    #: Ids of the item's custody events that replace the declared one (they may come later).
    corrective_event_ids: tuple[str, ...] = ()
    #: Personal fields as salted commitments (``domain/privacy.py``): name -> digest hex.
    #: Left out of ``to_primitive`` when empty, so events recorded before read the same.
    commitments: Mapping[str, str] = field(default_factory=dict)
    #: A sale's commitment to the buyer's one-time claim code (``domain/privacy.py``'s
    #: digest, the salt in the event); left out of ``to_primitive`` when unset.
    claim_salt: str | None = None
    claim_digest: str | None = None

    def __post_init__(self) -> None:
        # Accept plain strings for the enumerations; refuse what cannot be one.
        if type(self.kind) is not Kind:
            object.__setattr__(self, "kind", Kind(self.kind))
        # (A member is its own enumeration value: no call for what is one already.)
        if self.verdict is not None and type(self.verdict) is not Verdict:
            object.__setattr__(self, "verdict", Verdict(self.verdict))
        if self.reason is not None and type(self.reason) is not RetirementReason:
            object.__setattr__(self, "reason", RetirementReason(self.reason))
        if self.error_reason is not None and type(self.error_reason) is not ErrorReason:
            object.__setattr__(self, "error_reason", ErrorReason(self.error_reason))
        ids = self.corrective_event_ids
        if ids != ():  # the usual empty tuple: nothing to check or convert
            if isinstance(ids, str):
                raise ValueError("corrective_event_ids is a list of event ids, not one string")
            if type(ids) is not tuple or not all(type(i) is str for i in ids):
                object.__setattr__(self, "corrective_event_ids", tuple(str(i) for i in ids))
        if not RULES[self.kind].withdraws and self.corrects:
            raise ValueError(
                f"{', '.join(CORRECTION_FIELDS)} belong to an error_declaration, "
                f"not to {self.kind.value}"
            )
        for name, digest in self.commitments.items():
            check_digest(name, digest)
            if getattr(self, name, None) is not None or name in self.attributes:
                raise ValueError(f"{name} is committed: it cannot also be given in clear")
        if self.claim_salt is not None or self.claim_digest is not None:
            check_claim_commitment(self.kind, self.claim_salt, self.claim_digest)
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        if not (
            self.event_id and self.item_id and self.party_id and self.device_id and self.location
        ):
            for name in ("event_id", "item_id", "party_id", "device_id", "location"):
                if not getattr(self, name):
                    raise ValueError(f"{name} must not be empty")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together")
        if self.latitude is not None and not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude {self.latitude} is outside -90..90")
        if self.longitude is not None and not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude {self.longitude} is outside -180..180")

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> CustodyEvent:
        """The event whose fields are ``values`` (a dict with exactly the field names, which
        the event keeps as its own), checked as the constructor checks them.

        For a reader that decoded a record straight into the fields' types: no keyword
        arguments are matched and no frozen field is set one at a time."""
        if values.keys() != CUSTODY_FIELDS:
            raise TypeError(f"a custody event has the fields {sorted(CUSTODY_FIELDS)}")
        event = cls.__new__(cls)
        object.__setattr__(event, "__dict__", values)
        event.__post_init__()
        return event

    def __deepcopy__(self, memo: dict[int, object]) -> CustodyEvent:
        # A frozen value (its attributes are never changed after it is made): a deep copy
        # of an item (eventsourcing's cache hands out copies) may share it.
        return self

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
            **self._correction_primitive(),
            **({"commitments": dict(sorted(self.commitments.items()))} if self.commitments else {}),
            **(
                {"claim_salt": self.claim_salt, "claim_digest": self.claim_digest}
                if self.claim_digest
                else {}
            ),
        }

    @property
    def corrects(self) -> bool:
        """The event carries any of the correction fields."""
        return bool(self.declared_event_id or self.error_reason or self.corrective_event_ids)

    def _correction_primitive(self) -> dict[str, object]:
        if not self.corrects:
            return {}
        return {
            "declared_event_id": self.declared_event_id,
            "error_reason": self.error_reason.value if self.error_reason else None,
            "corrective_event_ids": list(self.corrective_event_ids),
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
        error_reason = opt("error_reason")
        attributes = data.get("attributes") or {}
        assert isinstance(attributes, Mapping)
        commitments = data.get("commitments") or {}
        assert isinstance(commitments, Mapping)
        corrective = data.get("corrective_event_ids") or ()
        assert isinstance(corrective, list | tuple)
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
            declared_event_id=opt("declared_event_id"),
            error_reason=ErrorReason(error_reason) if error_reason else None,
            corrective_event_ids=tuple(str(i) for i in corrective),
            commitments={str(k): str(v) for k, v in commitments.items()},
            claim_salt=opt("claim_salt"),
            claim_digest=opt("claim_digest"),
        )

    def digest(self) -> str:
        """Content fingerprint: two reports with one event id but other content differ here."""
        cached: str | None = self.__dict__.get("_digest")
        if cached is None:
            canonical = json.dumps(self.to_primitive(), sort_keys=True, separators=(",", ":"))
            cached = hashlib.sha256(canonical.encode()).hexdigest()
            object.__setattr__(self, "_digest", cached)  # a value object: computed once
        return cached


#: The names of a custody event's fields.
CUSTODY_FIELDS = frozenset(f.name for f in fields(CustodyEvent))
