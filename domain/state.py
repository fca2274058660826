"""An item's state and how each stored custody event changes it.

Only the events' ``apply`` methods call ``evolve`` and ``note_evidence``: replaying the stored
events of an item always rebuilds the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.custody import CustodyEvent, Kind, Verdict
from domain.signals import Fix, Flag


class Status(StrEnum):
    UNREGISTERED = "unregistered"  # seen by a scanner but never commissioned
    IN_CUSTODY = "in_custody"
    IN_TRANSIT = "in_transit"
    SOLD = "sold"
    RETIRED = "retired"


@dataclass
class ItemState:
    """Mutable state, rebuilt from events; kept apart from the aggregate's plumbing."""

    commissioned: bool = False
    brand: str | None = None
    model: str | None = None
    serial: str | None = None
    tag_uid: str | None = None
    status: Status = Status.UNREGISTERED
    verdict: Verdict | None = None
    certificate: str | None = None
    holder: str | None = None
    location: str | None = None
    shipper: str | None = None
    consignee: str | None = None
    sold_by: str | None = None
    buyer_ref: str | None = None
    seen: dict[str, str] = field(default_factory=dict)  # event id -> digest of the first report
    conflicts: set[tuple[str, str]] = field(default_factory=set)  # (event id, digest) flagged
    flags: list[Flag] = field(default_factory=list)
    last_fix: Fix | None = None

    @property
    def frozen(self) -> bool:
        """An appraiser found the item counterfeit: only decommissioning is accepted."""
        return self.verdict is Verdict.COUNTERFEIT

    def note_evidence(self, custody: CustodyEvent) -> None:
        """Remember a report by its event id; the first content stands, others conflict."""
        digest = custody.digest()
        known = self.seen.setdefault(custody.event_id, digest)
        if known != digest:
            self.conflicts.add((custody.event_id, digest))

    def evolve(self, c: CustodyEvent) -> None:
        """Apply one accepted custody event."""
        self.note_evidence(c)
        fix = fix_of(c)
        if fix is not None:
            self.last_fix = fix
        if c.kind is Kind.COMMISSIONING:
            self.commissioned = True
            self.brand, self.model = c.brand, c.model
            self.serial, self.tag_uid = c.serial, c.tag_uid
            self._hold(c.party_id, c.location)
        elif c.kind is Kind.INSPECTING:
            self.verdict, self.certificate = c.verdict, c.certificate
        elif c.kind is Kind.SHIPPING:
            self.status = Status.IN_TRANSIT
            self.shipper, self.consignee, self.holder = c.party_id, c.counterparty, None
        elif c.kind is Kind.VOID_SHIPPING:
            self._hold(self.shipper, c.location)
        elif c.kind is Kind.RECEIVING:
            self._hold(c.party_id, c.location)
        elif c.kind is Kind.OBSERVING:
            self.location = c.location
        elif c.kind is Kind.RETAIL_SELLING:
            self.status, self.sold_by, self.buyer_ref = Status.SOLD, c.party_id, c.buyer_ref
            self.holder = self.location = None
        elif c.kind is Kind.RETURNING:
            self._hold(c.party_id, c.location)
        elif c.kind is Kind.DECOMMISSIONING:
            self.status = Status.RETIRED
            self.holder = self.shipper = self.consignee = self.sold_by = self.buyer_ref = None

    def _hold(self, holder: str | None, location: str) -> None:
        self.status, self.holder, self.location = Status.IN_CUSTODY, holder, location
        self.shipper = self.consignee = self.sold_by = self.buyer_ref = None


def fix_of(custody: CustodyEvent) -> Fix | None:
    if custody.latitude is None or custody.longitude is None:
        return None
    return Fix(custody.latitude, custody.longitude, custody.occurred_at)
