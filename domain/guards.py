"""The guards a kind's rule names (``KindRule.guards`` in ``domain/kinds.py``): each checks
one custody rule against an item's state and raises the domain error naming it.

A guard is a function of the item's id, its state, the report, the acting party and whether
the report's counterparty is a registered party; ``Item`` runs a kind's guards in the
order of its rule (after the transit check), then the details it needs. Adding a guard is
its function here, its line in :data:`GUARDS` and its name in ``kinds.GUARDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from domain.corrections import check_declarable
from domain.custody import CustodyEvent, Role, Verdict
from domain.errors import (
    ClaimCodeReused,
    InvalidConsignee,
    MissingDetail,
    NotAuthenticated,
    NotConsignee,
    NotHolder,
    NotInTransit,
    NotShipper,
    NotSold,
    UnknownConsignee,
    WrongReturnStore,
)
from domain.kinds import Status
from domain.ownership import used_claims
from domain.parties import Party
from domain.state import ItemState

#: ``guard(item_id, state, custody, actor, counterparty_known)``
Guard = Callable[[str, ItemState, CustodyEvent, Party, bool], None]


def check_holder(item: str, s: ItemState, custody: CustodyEvent, actor: Party, _: bool) -> None:
    if actor.id != s.holder:
        raise NotHolder(
            f"{actor.id} does not hold item {item} (holder: {s.holder}); "
            f"only the holder may record {custody.kind.value}"
        )


def check_consignee(
    item: str, _: ItemState, custody: CustodyEvent, actor: Party, known: bool
) -> None:
    if not custody.counterparty:
        raise MissingDetail("shipping needs the consignee (counterparty)")
    if custody.counterparty == actor.id:
        raise InvalidConsignee(f"{actor.id} cannot ship item {item} to itself")
    if not known:
        raise UnknownConsignee(
            f"consignee {custody.counterparty!r} is not a registered party; "
            f"item {item} can only be shipped to a party the ledger knows"
        )


def check_recall(item: str, s: ItemState, _: CustodyEvent, actor: Party, __: bool) -> None:
    if s.status is not Status.IN_TRANSIT:
        raise NotInTransit(f"item {item} is not in transit; there is nothing to recall")
    if actor.id != s.shipper:
        raise NotShipper(f"only the shipper {s.shipper} may recall item {item}, not {actor.id}")


def check_receiver(item: str, s: ItemState, _: CustodyEvent, actor: Party, __: bool) -> None:
    if s.status is not Status.IN_TRANSIT:
        raise NotInTransit(
            f"item {item} is not in transit ({actor.id} already holds it); "
            f"there is nothing to receive"
        )
    if actor.id != s.consignee:
        raise NotConsignee(
            f"item {item} was shipped to {s.consignee}; only the consignee receives it "
            f"(the shipper {s.shipper} recalls it with void_shipping)"
        )


def check_authenticated(item: str, s: ItemState, _: CustodyEvent, __: Party, ___: bool) -> None:
    if s.verdict is not Verdict.GENUINE:
        verdict = s.verdict.value if s.verdict else "none"
        raise NotAuthenticated(
            f"item {item} has no genuine verdict from an appraiser (verdict: {verdict}); "
            f"it cannot be sold"
        )


def check_return(item: str, s: ItemState, _: CustodyEvent, actor: Party, __: bool) -> None:
    if s.status is not Status.SOLD:
        raise NotSold(f"item {item} is not sold; there is nothing to return")
    if actor.id != s.sold_by:
        raise WrongReturnStore(
            f"item {item} was sold by {s.sold_by}; returns go back there, not to {actor.id}"
        )


def check_may_decommission(
    item: str, s: ItemState, _: CustodyEvent, actor: Party, __: bool
) -> None:
    if actor.id != s.holder and actor.role is not Role.BRAND:
        raise NotHolder(
            f"only the holder ({s.holder}) or the brand decommissions item {item}, not {actor.id}"
        )


def check_may_declare(
    item: str, s: ItemState, custody: CustodyEvent, actor: Party, _: bool
) -> None:
    check_declarable(item, s, custody, actor)


def check_fresh_claim(item: str, s: ItemState, custody: CustodyEvent, _: Party, __: bool) -> None:
    if custody.claim_digest is None:
        return
    if custody.claim_digest in used_claims(s):
        raise ClaimCodeReused(
            f"the claim code of sale {custody.event_id} was committed to by an earlier sale "
            f"of item {item}; a claim code is used once"
        )


#: The guards a kind's rule may name (``domain.kinds.GUARDS``).
GUARDS: Mapping[str, Guard] = {
    "holder": check_holder,
    "consignee": check_consignee,
    "recall": check_recall,
    "receiver": check_receiver,
    "authenticated": check_authenticated,
    "return": check_return,
    "may_decommission": check_may_decommission,
    "declarable": check_may_declare,
    "fresh_claim": check_fresh_claim,
}
