"""The Item aggregate: one physical luxury item and everything that happened to it.

Consistency boundary: one item's custody — who holds it, whether it is in transit, sold,
authenticated or retired — and the idempotency of the events reported for it. Rules that
are broken refuse the event (a ``DomainError`` naming the rule) and change nothing; signals
of counterfeiting are recorded as ``Flagged`` events so that the evidence is anchored with
the history. ``domain.reports.decide`` judges a report in the order docs/custody-rules.md
gives; the item holds its own steps: idempotency, duplicate commissionings, the status and
location signals, the freeze, and the guards each kind's rule names (``domain/kinds.py``,
``domain/guards.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain import base
from domain.corrections import resting_on
from domain.custody import CustodyEvent, Kind, Role
from domain.errors import ActorMismatch, DomainError, ItemFrozen, ItemInTransit, MissingDetail
from domain.guards import GUARDS
from domain.kinds import DETAIL_HINTS, RULES, KindRule
from domain.owner_statement import OwnerStatement
from domain.parties import Party
from domain.signals import (
    ACCEPTED,
    Flag,
    Outcome,
    Policy,
    Result,
    Signal,
    impossible_travel,
)
from domain.state import ItemState, Status, fix_of
from domain.tags import check_not_a_claim_id

__all__ = [
    "SIGHTED_DETAIL",
    "Flag",
    "Item",
    "ItemState",
    "Outcome",
    "Policy",
    "Result",
    "Signal",
    "Status",
]

#: What a sighting of an item never commissioned says (hashed into its leaf).
SIGHTED_DETAIL = "scanned before any commissioning"


class Item(base.Aggregate):
    Event = base.Event
    Created = base.Created

    state: ItemState

    def __init__(self) -> None:
        self.state = ItemState()

    def __deepcopy__(self, memo: dict[int, Any]) -> Item:
        return base.copy_of_values(self, memo)

    @dataclass(frozen=True)
    class Commissioned(base.Created):
        custody: CustodyEvent
        envelope: bytes

        def apply(self, item: Item) -> None:
            item.state.evolve(self.custody)  # on the fresh state of Item.__init__

    @dataclass(frozen=True)
    class Sighted(base.Created):
        """Platform-made: a scan of an item id that was never commissioned.

        ``signal`` and ``detail`` are stored with the event; records written before they
        were lack them and read as these defaults (what those leaves were sealed with).
        """

        custody: CustodyEvent
        envelope: bytes
        signal: str = Signal.UNKNOWN_ITEM.value
        detail: str = SIGHTED_DETAIL

        def apply(self, item: Item) -> None:
            item.state.note_evidence(self.custody)  # on the fresh state of Item.__init__
            item.state.flags.append(
                Flag(Signal(self.signal), self.detail, self.custody.event_id, self.timestamp)
            )

    @dataclass(frozen=True)
    class CustodyRecorded(base.Event):
        custody: CustodyEvent
        envelope: bytes

        def apply(self, item: Item) -> None:
            item.state.evolve(self.custody)

    @dataclass(frozen=True)
    class Flagged(base.Event):
        """Platform-made: a counterfeit signal, with the report that raised it as evidence."""

        signal: str
        detail: str
        evidence: CustodyEvent | None
        envelope: bytes | None

        def apply(self, item: Item) -> None:
            evidence_id = self.evidence.event_id if self.evidence else None
            if self.evidence is not None:
                item.state.note_evidence(self.evidence)
            item.state.flags.append(
                Flag(Signal(self.signal), self.detail, evidence_id, self.timestamp)
            )

    @dataclass(frozen=True)
    class OwnerStated(base.Event):
        """An owner statement (``domain/ownership.py``), with its owner-signed envelope."""

        statement: OwnerStatement
        envelope: bytes

        def apply(self, item: Item) -> None:
            item.state.state_owner(self.statement)

    # ----- creation -------------------------------------------------------------------

    @classmethod
    def commission(cls, custody: CustodyEvent, envelope: bytes) -> Item:
        """A new item from a report that creates one (its actor and the tag uid's
        uniqueness were checked by ``domain.reports.decide``)."""
        if not RULES[custody.kind].creates:
            raise ValueError(f"Item.commission needs a commissioning, not {custody.kind.value}")
        check_not_a_claim_id(custody.item_id, "item")
        cls.check_details(custody)
        return cls._create(cls.Commissioned, id=custody.item_id, custody=custody, envelope=envelope)

    @classmethod
    def sighted(cls, custody: CustodyEvent, envelope: bytes) -> Item:
        """A scan of an item id nobody commissioned: kept as an ``unknown_item`` signal."""
        check_not_a_claim_id(custody.item_id, "item")
        return cls._create(
            cls.Sighted,
            id=custody.item_id,
            custody=custody,
            envelope=envelope,
            signal=Signal.UNKNOWN_ITEM.value,
            detail=SIGHTED_DETAIL,
        )

    # ----- commands -------------------------------------------------------------------

    def record(
        self,
        custody: CustodyEvent,
        envelope: bytes,
        actor: Party,
        *,
        counterparty_known: bool = False,
        policy: Policy | None = None,
        parties: Callable[[str], Party | None] | None = None,
    ) -> Outcome:
        """Apply one report whose actor may record it (``domain.reports.decide`` checked the
        party, its device and its role): no-op, refuse (``DomainError``), flag or accept.

        ``parties`` finds the parties of earlier events (a declaration judges them again,
        see ``domain/corrections.py``); without it only the actor is known."""
        self.check_addressed_to_me(custody)
        actor.check_made(custody)
        repeat = self.repeat_of(custody)
        if repeat is not None:
            return repeat
        if RULES[custody.kind].creates:
            detail = f"item {self.id} commissioned again by {actor.id}"
            return self.record_duplicate_commissioning(custody, envelope, detail)
        conflict = self._conflicting_repeat(custody, envelope)
        if conflict is not None:
            return conflict
        signal = self._status_signal(custody, actor)
        if signal is not None:
            return self._flagged(*signal, custody, envelope)
        self.check_not_frozen(custody.kind)
        signal = self._location_signal(custody, actor)
        if signal is not None:
            return self._flagged(*signal, custody, envelope)
        self._check_rules(custody, actor, counterparty_known)
        if RULES[custody.kind].withdraws:
            return self._declare(custody, envelope, parties or {actor.id: actor}.get)
        travel = impossible_travel(self.state.last_fix, fix_of(custody), policy or Policy())
        self.trigger_event(self.CustodyRecorded, custody=custody, envelope=envelope)
        if travel is not None:
            # The envelope is stored with the custody event just recorded.
            self.flag(Signal.IMPOSSIBLE_TRAVEL, travel, custody, None)
            return Outcome(Result.ACCEPTED, (Signal.IMPOSSIBLE_TRAVEL,), travel)
        return ACCEPTED

    def record_duplicate_commissioning(
        self, custody: CustodyEvent, envelope: bytes, detail: str
    ) -> Outcome:
        """A commissioning naming this item's id or tag uid: flagged on this item.

        An item only sighted so far (never commissioned) is commissioned late instead.
        """
        if not RULES[custody.kind].creates:
            raise ValueError(f"a duplicate commissioning, not {custody.kind.value}")
        repeat = self.repeat_of(custody)
        if repeat is not None:
            return repeat
        conflict = self._conflicting_repeat(custody, envelope)
        if conflict is not None:
            return conflict
        if not self.state.commissioned and custody.item_id == self.id:
            # Not even late: an item found counterfeit is never commissioned (again, once
            # its commissioning was declared in error): only decommissioning remains.
            self.check_not_frozen(custody.kind)
            self.trigger_event(self.CustodyRecorded, custody=custody, envelope=envelope)
            return ACCEPTED
        return self._flagged(Signal.DUPLICATE_COMMISSIONING, detail, custody, envelope)

    def flag(
        self, signal: Signal, detail: str, evidence: CustodyEvent | None, envelope: bytes | None
    ) -> None:
        self.trigger_event(
            self.Flagged, signal=signal.value, detail=detail, evidence=evidence, envelope=envelope
        )

    def _declare(
        self, custody: CustodyEvent, envelope: bytes, parties: Callable[[str], Party | None]
    ) -> Outcome:
        """Record a declaration (its guards passed) and flag the later events that rested on
        the event it withdraws, citing the declaration (``domain/corrections.py``)."""
        rested = resting_on(self, custody, parties)
        self.trigger_event(self.CustodyRecorded, custody=custody, envelope=envelope)
        if not rested:
            return ACCEPTED
        self.flag(Signal.RESTS_ON_DECLARED, rested, custody, None)
        return Outcome(Result.ACCEPTED, (Signal.RESTS_ON_DECLARED,), rested)

    def would_refuse(self, custody: CustodyEvent, actor: Party) -> str | None:
        """The rule or signal code that would refuse or flag ``custody`` now (None: it would
        be accepted): the steps of ``record`` after idempotency, changing nothing."""
        try:
            if RULES[custody.kind].creates:
                if self.state.commissioned:
                    return Signal.DUPLICATE_COMMISSIONING.value
                self.check_not_frozen(custody.kind)
                return None
            signal = self._status_signal(custody, actor)
            if signal is None:
                self.check_not_frozen(custody.kind)
                signal = self._location_signal(custody, actor)
            if signal is not None:
                return signal[0].value
            self._check_rules(custody, actor, counterparty_known=True)
        except DomainError as refusal:
            return refusal.rule
        return None

    def _flagged(
        self, signal: Signal, detail: str, evidence: CustodyEvent, envelope: bytes
    ) -> Outcome:
        self.flag(signal, detail, evidence, envelope)
        return Outcome(Result.FLAGGED, (signal,), detail)

    # ----- idempotency ----------------------------------------------------------------

    def repeat_of(self, custody: CustodyEvent) -> Outcome | None:
        """A ``duplicate`` outcome if this exact report is already recorded or flagged."""
        known = self.state.seen.get(custody.event_id)
        if known is None:  # every id in conflicts is also in seen
            return None
        digest = custody.digest()
        if known.digest() == digest or (custody.event_id, digest) in self.state.conflicts:
            return Outcome(Result.DUPLICATE, detail=f"event {custody.event_id} already recorded")
        return None

    def _conflicting_repeat(self, custody: CustodyEvent, envelope: bytes) -> Outcome | None:
        if custody.event_id not in self.state.seen:
            return None
        detail = (
            f"event id {custody.event_id} reused by {custody.party_id} with different content "
            f"({custody.kind.value}); the first report stands"
        )
        return self._flagged(Signal.CONFLICTING_DUPLICATE, detail, custody, envelope)

    # ----- signals --------------------------------------------------------------------

    def _status_signal(self, custody: CustodyEvent, actor: Party) -> tuple[Signal, str] | None:
        """Any event for an item never commissioned, retired or sold is a signal."""
        s = self.state
        kind = custody.kind  # a StrEnum formats as its value; .value is a Python-level lookup
        if RULES[custody.kind].withdraws:  # judged by who may declare (check_declarable)
            return None
        if not s.commissioned:
            return Signal.UNKNOWN_ITEM, f"{kind} by {actor.id} of an item never commissioned"
        if s.ownership.missing is not None and not (
            custody.kind is Kind.DECOMMISSIONING and actor.role is Role.BRAND
        ):
            reported = f"reported {s.ownership.missing.value} by its owner {s.ownership.owner}"
            return Signal.REPORTED_MISSING, f"{kind} by {actor.id} of an item {reported}"
        if s.status is Status.RETIRED:
            return Signal.SCAN_AFTER_RETIREMENT, f"{kind} by {actor.id} of a retired item"
        if s.status is Status.SOLD and not self._allowed_after_sale(RULES[custody.kind], actor):
            return Signal.SCAN_AFTER_SALE, f"{kind} by {actor.id} after the item was sold"
        return None

    def _location_signal(self, custody: CustodyEvent, actor: Party) -> tuple[Signal, str] | None:
        """A kind that needs the item present, recorded by a party that cannot have it, is a
        signal. The holder or the shipper "receiving" is not a clone but a mistake the rules
        refuse."""
        if not RULES[custody.kind].presence:
            return None
        if self._is_present(actor._id):  # the id property's value, without the call
            return None
        where = self._whereabouts()
        return (
            Signal.LOCATION_CONFLICT,
            f"{custody.kind.value} by {actor.id} at {custody.location}; {where}",
        )

    @staticmethod
    def _allowed_after_sale(rule: KindRule, actor: Party) -> bool:
        # A return is the sold item's normal next step; the brand may write off a sold
        # item (reported lost or stolen) so that any later scan of it is flagged.
        return rule.after_sale == "any" or (rule.after_sale == "brand" and actor.role is Role.BRAND)

    def _is_present(self, party_id: str) -> bool:
        """The party may have the item: its shipper or consignee in transit, else its
        holder."""
        s = self.state
        if s.status is Status.IN_TRANSIT:
            return bool(party_id) and party_id in (s.shipper, s.consignee)
        return bool(party_id) and party_id == s.holder

    def _whereabouts(self) -> str:
        s = self.state
        if s.status is Status.IN_TRANSIT:
            return f"it is in transit from {s.shipper} to {s.consignee}"
        return f"it is held by {s.holder} at {s.location}"

    # ----- rules ----------------------------------------------------------------------

    def _check_rules(self, custody: CustodyEvent, actor: Party, counterparty_known: bool) -> None:
        """The kind's guards in the order of its rule (domain/kinds.py), then its details."""
        rule = RULES[custody.kind]
        self.check_transit_allows(custody, actor)
        item_id = self._id  # the id property's value, read once
        for guard in rule.guards:
            GUARDS[guard](item_id, self.state, custody, actor, counterparty_known)
        self.check_details(custody)

    def check_addressed_to_me(self, custody: CustodyEvent) -> None:
        if custody.item_id != self._id:  # the id property's value, without the call
            raise ActorMismatch(
                f"event {custody.event_id} is for item {custody.item_id}, not {self.id}"
            )

    def check_not_frozen(self, kind: Kind) -> None:
        if self.state.frozen and kind is not Kind.DECOMMISSIONING and not RULES[kind].withdraws:
            raise ItemFrozen(
                f"item {self.id} was found counterfeit (certificate {self.state.certificate}); "
                f"{kind.value} refused, only decommissioning remains"
            )

    def check_transit_allows(self, custody: CustodyEvent, actor: Party) -> None:
        s = self.state
        if s.status is not Status.IN_TRANSIT or RULES[custody.kind].in_transit:
            return
        raise ItemInTransit(
            f"item {self.id} is in transit from {s.shipper} to {s.consignee}; "
            f"{custody.kind.value} by {actor.id} refused: only {s.consignee}'s receiving "
            f"or {s.shipper}'s recall is accepted"
        )

    @staticmethod
    def check_details(custody: CustodyEvent) -> None:
        """The fields the kind needs (``details`` of its rule) are set."""
        missing = [
            n
            for n in RULES[custody.kind].details
            if getattr(custody, n) in (None, "") and n not in custody.commitments
        ]
        if missing:
            needs = "; ".join(DETAIL_HINTS.get(name, name) for name in missing)
            raise MissingDetail(
                f"{custody.kind.value} of {custody.item_id} by {custody.party_id} needs {needs}"
            )
