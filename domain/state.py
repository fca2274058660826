"""An item's state and how each stored custody event changes it (as ``domain/kinds.py``
says each kind does).

The state is the item's **corrected view**: the effects of its accepted custody events in
the order they were recorded, leaving out the events declared in error (an
``error_declaration`` folds the view again without the event it declares; see
``domain/corrections.py``). The record beside it (what was seen, the flags, every accepted
event and every declaration) is never folded away.

Only the events' ``apply`` methods call ``evolve`` and ``note_evidence``: replaying the stored
events of an item always rebuilds the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from domain.base import copy_of_values
from domain.corrections import Declaration
from domain.custody import CustodyEvent, Verdict
from domain.kinds import RULES, Status
from domain.owner_statement import OwnerStatement
from domain.ownership import Ownership, after_custody, apply_statement
from domain.signals import Fix, Flag

__all__ = ["Declaration", "ItemState", "Status", "fix_of"]


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
    last_fix: Fix | None = None
    #: Who owns the item after its sale (``domain/ownership.py``).
    ownership: Ownership = field(default_factory=Ownership)
    # ----- the record: never folded away -----
    #: Event id -> the first report of it (its digest is computed only when the id
    #: comes again: most events never need one).
    seen: dict[str, CustodyEvent] = field(default_factory=dict)
    conflicts: set[tuple[str, str]] = field(default_factory=set)  # (event id, digest) flagged
    flags: list[Flag] = field(default_factory=list)
    #: Every accepted custody event except declarations, in the order recorded.
    recorded: list[CustodyEvent] = field(default_factory=list)
    #: Declarations by the id of the event they declare in error.
    declared: dict[str, Declaration] = field(default_factory=dict)
    #: Accepted owner statements, each with the number of ``recorded`` events before it.
    owner_log: list[tuple[int, OwnerStatement]] = field(default_factory=list)

    def __deepcopy__(self, memo: dict[int, Any]) -> ItemState:
        # Every field is an immutable value or a flat container of them.
        return copy_of_values(self, memo)

    @property
    def frozen(self) -> bool:
        """An appraiser found the item counterfeit: only decommissioning is accepted."""
        return self.verdict is Verdict.COUNTERFEIT

    @property
    def standing(self) -> list[CustodyEvent]:
        """The accepted custody events the corrected view is folded from."""
        return [c for c in self.recorded if c.event_id not in self.declared]

    @property
    def brand_party(self) -> str | None:
        """The party that commissioned the item last (declared in error or not)."""
        creations = (c.party_id for c in reversed(self.recorded) if RULES[c.kind].creates)
        return next(creations, None)

    @property
    def provenance(self) -> str | None:
        """Who put the item on the ledger and how ("commissioned by brand", "authenticated
        at intake by lab"): its first standing event that created it."""
        first = next((c for c in self.standing if RULES[c.kind].creates), None)
        return RULES[first.kind].provenance.format(who=first.party_id) if first else None

    @property
    def claim_digest(self) -> str | None:
        """The claim-code commitment of the sale that made the item sold (None: not sold,
        or sold without one)."""
        if self.status is not Status.SOLD:
            return None
        sales = (c for c in reversed(self.standing) if RULES[c.kind].status is Status.SOLD)
        return next((c.claim_digest for c in sales), None)

    def note_evidence(self, custody: CustodyEvent) -> None:
        """Remember a report by its event id; the first content stands, others conflict."""
        known = self.seen.setdefault(custody.event_id, custody)
        if known is not custody and known.digest() != custody.digest():
            self.conflicts.add((custody.event_id, custody.digest()))

    def evolve(self, c: CustodyEvent) -> None:
        """Apply one accepted custody event."""
        self.note_evidence(c)
        if RULES[c.kind].withdraws:
            declaration = Declaration.of(c)
            self.declared[declaration.declared_event_id] = declaration
            self.refold()
            return
        self.recorded.append(c)
        self.apply(c)

    def apply(self, c: CustodyEvent) -> None:
        """What one standing custody event does to the view (its kind's rule)."""
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
        after_custody(self, c, rule.status)

    def state_owner(self, statement: OwnerStatement) -> None:
        """Apply one accepted owner statement (only ``Item.OwnerStated`` calls it)."""
        self.owner_log.append((len(self.recorded), statement))
        apply_statement(self, statement)

    def refold(self) -> None:
        """The view again from the standing events (after a declaration)."""
        self._take_view(fold(self.recorded, self.owner_log, set(self.declared)))

    def as_recorded(self) -> ItemState:
        """The view as if nothing had been declared in error (the original)."""
        return fold(self.recorded, self.owner_log)

    def _take_view(self, other: ItemState) -> None:
        for name in VIEW_FIELDS:
            setattr(self, name, getattr(other, name))


def fold(
    events: list[CustodyEvent],
    statements: list[tuple[int, OwnerStatement]] | None = None,
    leave_out: set[str] | None = None,
) -> ItemState:
    """A fresh view with the effects of ``events`` in order (no record kept), the owner
    statements among them where they were accepted, without the events ``leave_out`` names."""
    view = ItemState()
    pending = statements or []
    j = 0
    for i, c in enumerate(events):
        while j < len(pending) and pending[j][0] <= i:
            apply_statement(view, pending[j][1])
            j += 1
        if not leave_out or c.event_id not in leave_out:
            view.apply(c)
    for _, statement in pending[j:]:
        apply_statement(view, statement)
    return view


#: The fields of the view (folded again after a declaration); the others are the record.
VIEW_FIELDS = tuple(
    f.name
    for f in fields(ItemState)
    if f.name not in ("seen", "conflicts", "flags", "recorded", "declared", "owner_log")
)


def fix_of(custody: CustodyEvent) -> Fix | None:
    if custody.latitude is None or custody.longitude is None:
        return None
    return Fix(custody.latitude, custody.longitude, custody.occurred_at)
