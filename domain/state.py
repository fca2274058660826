"""An item's state and how each stored custody event changes it (as ``domain/kinds.py``
says each kind does).

Only the events' ``apply`` methods call ``evolve`` and ``note_evidence``: replaying the stored
events of an item always rebuilds the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.custody import CustodyEvent, Verdict
from domain.kinds import RULES, Status
from domain.signals import Fix, Flag

__all__ = ["ItemState", "Status", "fix_of"]


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
        rule = RULES[c.kind]
        if rule.creates:
            self.commissioned = True
        for name in rule.sets:
            setattr(self, name, getattr(c, name))
        if rule.status is not None:
            self.status = rule.status
        if rule.holder == "actor":
            self.holder = c.party_id
        elif rule.holder == "none":
            self.holder = None
        if rule.location == "event":
            self.location = c.location
        elif rule.location == "none":
            self.location = None
        if rule.clears_parties:
            self.shipper = self.consignee = self.sold_by = None
            if "buyer_ref" not in rule.sets:
                self.buyer_ref = None
        if rule.opens_transit:
            self.shipper, self.consignee = c.party_id, c.counterparty
        if rule.status is Status.SOLD:
            self.sold_by = c.party_id


def fix_of(custody: CustodyEvent) -> Fix | None:
    if custody.latitude is None or custody.longitude is None:
        return None
    return Fix(custody.latitude, custody.longitude, custody.occurred_at)
