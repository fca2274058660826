"""Deciding a report: the one place where a reported custody event meets the ledger's rules.

``decide`` runs the steps of docs/custody-rules.md ("In what order a scan is judged") in
that order, loading what it needs through :class:`Aggregates` and handing every aggregate
it changed back to it. The ledger implements :class:`Aggregates` over its event store
(``ledger/application.py``), the domain's tests over dictionaries: both take this path.

1. an exact repeat of a recorded (or flagged) event is a ``duplicate``;
2. the party, its device (valid at the event's time) and its role are checked, and what
   the kind asks it to own (a commissioning: the brand and GS1 prefixes it names);
3. a kind that creates an item commissions it — or flags a ``duplicate_commissioning`` on
   the item that already has its id or its tag uid (an item only sighted so far is
   commissioned late);
4. a report about an item never seen makes a sighting (``unknown_item``), except a
   declaration of an event in error, which is refused (``unknown_event``);
5. everything else is the item's to judge (``Item.record``: conflicting repeats, status
   and location signals, the freeze, the kind's guards, impossible travel).
"""

from __future__ import annotations

from typing import Protocol

from domain.authority import AuthorityClaim, check_authority
from domain.custody import CustodyEvent
from domain.errors import ReservedId, UnknownEvent, UnknownParty
from domain.items import SIGHTED_DETAIL, Item, Outcome, Policy, Result, Signal
from domain.kinds import RULES
from domain.parties import Party
from domain.signals import ACCEPTED
from domain.tags import TagClaim, tag_claim_id


class Aggregates(Protocol):
    """What deciding reads and changes: aggregates by id, loaded once per batch."""

    def load(self, aggregate_id: str) -> object | None:
        """The aggregate with this id as of the decisions made so far, or None."""

    def keep(self, *aggregates: Item | Party | TagClaim) -> None:
        """Aggregates with new events, to be saved with the batch."""


def decide(
    custody: CustodyEvent, envelope: bytes, world: Aggregates, policy: Policy | None = None
) -> Outcome:
    """Apply one report; raises a ``DomainError`` naming the rule if it is refused.

    A refusal changes nothing: every check runs before any event is triggered.
    """
    actor = world.load(custody.party_id)
    if not isinstance(actor, Party):
        raise UnknownParty(f"party {custody.party_id!r} is not registered")
    item = _item(world, custody.item_id)
    if item is not None:
        repeat = item.repeat_of(custody)
        if repeat is not None:
            # A redelivery of what is already recorded: nothing to check, nothing to do,
            # even if the device was revoked since.
            return repeat
    actor.check_may_record(custody)
    if RULES[custody.kind].creates:
        return _commission(custody, envelope, actor, item, world)
    if item is None:
        if RULES[custody.kind].withdraws:
            raise UnknownEvent(
                f"item {custody.item_id} has no history: event {custody.declared_event_id} "
                "cannot be declared in error"
            )
        world.keep(Item.sighted(custody, envelope))
        return Outcome(Result.FLAGGED, (Signal.UNKNOWN_ITEM,), SIGHTED_DETAIL)
    counterparty_known = custody.counterparty is not None and isinstance(
        world.load(custody.counterparty), Party
    )
    outcome = item.record(
        custody,
        envelope,
        actor,
        counterparty_known=counterparty_known,
        policy=policy,
        parties=lambda party_id: _party(world, party_id),
    )
    world.keep(item)
    return outcome


def _claim_owner(world: Aggregates, claim_id: str) -> str | None:
    found = world.load(claim_id)
    return found.party_id if isinstance(found, AuthorityClaim) else None


def _party(world: Aggregates, party_id: str) -> Party | None:
    found = world.load(party_id)
    return found if isinstance(found, Party) else None


def _item(world: Aggregates, item_id: str) -> Item | None:
    found = world.load(item_id)
    if found is not None and not isinstance(found, Item):
        what = "a party" if isinstance(found, Party) else "a tag claim"
        raise ReservedId(f"{item_id!r} names {what}, not an item")
    return found


def _commission(
    custody: CustodyEvent, envelope: bytes, actor: Party, item: Item | None, world: Aggregates
) -> Outcome:
    Item.check_details(custody)
    check_authority(custody, actor, lambda claim_id: _claim_owner(world, claim_id))
    tag_uid = custody.tag_uid
    assert tag_uid is not None  # a detail every creating kind requires
    claim = world.load(tag_claim_id(tag_uid))
    if claim is not None and not isinstance(claim, TagClaim):
        raise ReservedId(f"tag {tag_uid!r} collides with {getattr(claim, 'id', '?')!r}")
    owner = claim.item_id if isinstance(claim, TagClaim) else None
    if owner is not None and owner != custody.item_id:
        original = world.load(owner)
        if not isinstance(original, Item):
            raise ReservedId(f"tag {tag_uid!r} is claimed by {owner!r}, not an item")
        detail = f"tag {tag_uid} commissioned again for {custody.item_id} by {actor.id}"
        outcome = original.record_duplicate_commissioning(custody, envelope, detail)
        world.keep(original)
        return outcome
    if item is not None:
        detail = f"item {custody.item_id} commissioned again by {actor.id}"
        outcome = item.record_duplicate_commissioning(custody, envelope, detail)
        if owner is None and outcome.result is Result.ACCEPTED:
            world.keep(TagClaim.claim(tag_uid, custody.item_id))
        world.keep(item)
        return outcome
    world.keep(Item.commission(custody, envelope), TagClaim.claim(tag_uid, custody.item_id))
    return ACCEPTED
