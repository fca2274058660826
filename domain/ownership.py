"""Owner statements: what the holder of an item's owner key says about it after the sale.

Consistency boundary: the item's ownership, inside the item aggregate — which key owns the
item (``owner_key``), which claim-code commitment a claim must open (``open_claim``), and
whether its owner reported it stolen or lost (``missing``). A store's sale opens a claim
(the sale's ``claim_digest``); the buyer's **claim** proves the code and names a public key
of the buyer's own, which becomes the owner key; the owner **transfers** the item by naming
a new claim commitment (the code goes to the next owner), **reports** it stolen or lost
(later scans are flagged), **withdraws** that report, or **consigns** it to a registered
party for resale: the item is in transit to that party, its verdict is withdrawn (an
appraiser inspects it again before any sale) and the next sale opens a new claim.

Every statement is signed by the key it names (the gate checks the signature,
``streams/owner_gate.py``); here the rules decide whether that key may say it now. A custody
event that changes the item's status (a sale, a return, a receiving, a write-off) ends the
ownership: only a sale opens a new claim. docs/custody-rules.md ("Ownership") is the
normative text; the refusal codes are in ``domain/errors.py``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from domain.errors import (
    ClaimCodeReused,
    NoOpenClaim,
    NotOwner,
    NotReported,
    ReportedMissing,
    StaleStatement,
    StatementIdReused,
    UnknownConsignee,
    WrongClaimCode,
)
from domain.kinds import Status
from domain.owner_statement import VERSIONED, MissingReason, OwnerKind, OwnerStatement, fingerprint
from domain.privacy import digest_of
from domain.signals import ACCEPTED, Outcome, Result

if TYPE_CHECKING:
    from domain.custody import CustodyEvent
    from domain.items import Item
    from domain.state import ItemState

__all__ = [
    "STATEMENT_RULES",
    "OwnerReport",
    "Ownership",
    "StatementRule",
    "decide_owner",
    "judge_owner",
]


@dataclass(frozen=True)
class OwnerReport:
    """An owner statement as it arrived, with the exact signed envelope bytes."""

    statement: OwnerStatement
    envelope: bytes


@dataclass(frozen=True)
class Ownership:
    """The item's ownership in its current view (folded like the rest of the view)."""

    owner_key: str | None = None
    open_claim: str | None = None
    missing: MissingReason | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> Ownership:
        return self  # a frozen value

    @property
    def owner(self) -> str | None:
        """The owner key's fingerprint, or None."""
        return fingerprint(self.owner_key) if self.owner_key else None


#: The ownership of an item no claim is open on (a frozen value, shared).
_NO_OWNERSHIP = Ownership()


# ----- how custody events and statements change the view ---------------------------------


def after_custody(state: ItemState, custody: CustodyEvent, status: Status | None) -> None:
    """A custody event that sets the item's status ends its ownership; a sale opens the
    claim it commits to (a sale without one opens none)."""
    if status is None:
        return
    opened = custody.claim_digest if status is Status.SOLD else None
    state.ownership = _NO_OWNERSHIP if opened is None else Ownership(open_claim=opened)


@dataclass(frozen=True)
class StatementRule:
    """What a kind of statement does to the view: the one home of that rule (the item view
    applies it, ``projections/derive.py`` generates the analysts' fold from it).

    ``owner``: the signer's key becomes the owner key, the owner key is cleared, or kept;
    ``missing``: the statement's reason becomes the report, the report is cleared, or kept;
    ``open_claim``: the statement's commitment becomes the open claim, it is cleared, or
    kept; ``status``: the status the item takes (``consigns``: in transit to the statement's
    consignee, holder and parties cleared, the verdict withdrawn).
    """

    owner: Literal["key", "clear", "keep"]
    missing: Literal["reason", "clear", "keep"]
    open_claim: Literal["digest", "clear", "keep"]
    status: Status | None = None
    consigns: bool = False


STATEMENT_RULES: Mapping[OwnerKind, StatementRule] = {
    OwnerKind.CLAIM: StatementRule("key", "clear", "clear"),
    OwnerKind.TRANSFER: StatementRule("clear", "clear", "digest"),
    OwnerKind.REPORT_MISSING: StatementRule("keep", "reason", "keep"),
    OwnerKind.WITHDRAW_REPORT: StatementRule("keep", "clear", "keep"),
    # In transit to the consignee, to be inspected again before a sale.
    OwnerKind.CONSIGN: StatementRule("clear", "clear", "clear", Status.IN_TRANSIT, True),
}


_T = TypeVar("_T")


def _take(effect: str, kept: _T | None, stated: _T | None) -> _T | None:
    return kept if effect == "keep" else None if effect == "clear" else stated


def apply_statement(state: ItemState, statement: OwnerStatement) -> None:
    """What an accepted statement does to the view (its rules were checked)."""
    o = state.ownership
    rule = STATEMENT_RULES[statement.kind]
    state.ownership = Ownership(
        owner_key=_take(rule.owner, o.owner_key, statement.owner_key),
        open_claim=_take(rule.open_claim, o.open_claim, statement.claim_digest),
        missing=_take(rule.missing, o.missing, statement.reason),
    )
    if rule.status is not None:
        state.status = rule.status
    if rule.consigns:
        state.holder = state.shipper = state.sold_by = state.buyer_ref = None
        state.consignee = statement.consignee
        state.verdict = None


def used_claims(state: ItemState) -> set[str]:
    """Every claim commitment the item's sales and transfers ever made (a code opens one
    claim, once)."""
    used = {c.claim_digest for c in state.recorded if c.claim_digest}
    used.update(s.claim_digest for _, s in state.owner_log if s.claim_digest)
    return used


# ----- the rules ------------------------------------------------------------------------


class Parties(Protocol):
    def __call__(self, party_id: str) -> bool: ...


def check_statement(item: Item, statement: OwnerStatement, party_known: Parties) -> None:
    """Whether ``statement``'s key may say it now; raises the ``DomainError`` naming the
    rule it breaks."""
    s: ItemState = item.state
    o = s.ownership
    kind = statement.kind
    where = f"item {item.id}"
    if kind in VERSIONED and statement.after_version != item.version:
        raise StaleStatement(
            f"{kind.value} of {where} was signed after version {statement.after_version}, "
            f"but the item is at version {item.version}: sign it again"
        )
    if statement.after_version > item.version:
        raise StaleStatement(
            f"{kind.value} of {where} names version {statement.after_version}, beyond the "
            f"item's version {item.version}"
        )
    if kind is OwnerKind.CLAIM:
        _check_claim(where, s, statement)
        return
    if o.owner_key is None or not hmac.compare_digest(o.owner_key, statement.owner_key):
        owner = o.owner or "nobody"
        raise NotOwner(
            f"{where} is owned by {owner}; key {statement.fingerprint} is not its owner key"
        )
    if kind is OwnerKind.WITHDRAW_REPORT:
        if o.missing is None:
            raise NotReported(f"{where} is not reported stolen or lost: nothing to withdraw")
        return
    if o.missing is not None:
        raise ReportedMissing(
            f"{where} is reported {o.missing.value} by its owner; withdraw the report first"
        )
    if kind is OwnerKind.TRANSFER and statement.claim_digest in used_claims(s):
        raise ClaimCodeReused(
            f"the transfer of {where} names a claim commitment already used; "
            "a claim code is used once"
        )
    if kind is OwnerKind.CONSIGN and not party_known(str(statement.consignee)):
        raise UnknownConsignee(
            f"consignee {statement.consignee!r} is not a registered party; "
            f"{where} is consigned only to a party the ledger knows"
        )


def _check_claim(where: str, s: ItemState, statement: OwnerStatement) -> None:
    """The code must open the open claim; a code that opens an earlier commitment of the
    item (claimed or replaced already) is a reused code, whether a claim is open or not."""
    code = str(statement.claim_code)
    target = s.ownership.open_claim
    committed = {c.claim_digest: c.claim_salt for c in s.recorded if c.claim_digest}
    committed.update({t.claim_digest: t.claim_salt for _, t in s.owner_log if t.claim_digest})
    for digest, salt in committed.items():
        if salt and hmac.compare_digest(digest_of(bytes.fromhex(salt), code), digest):
            if digest == target:
                return
            raise ClaimCodeReused(
                f"the code opens an earlier claim of {where}, used already; "
                "a claim code is used once"
            )
    if target is None:
        owned = "has an owner already" if s.ownership.owner_key else "has no open claim"
        raise NoOpenClaim(f"{where} {owned}: there is nothing to claim")
    raise WrongClaimCode(f"the code does not open the claim of {where}")


def claim_salt_of(state: ItemState, digest: str) -> str | None:
    """The salt committed with ``digest`` by a sale or transfer of the item."""
    for c in state.recorded:
        if c.claim_digest == digest:
            return c.claim_salt
    for _, t in state.owner_log:
        if t.claim_digest == digest:
            return t.claim_salt
    return None


# ----- deciding a statement ------------------------------------------------------------


class Loads(Protocol):
    def load(self, aggregate_id: str) -> object | None: ...


class World(Loads, Protocol):
    def keep(self, *aggregates: Any) -> None: ...


def judge_owner(statement: OwnerStatement, world: Loads) -> Item | None:
    """The item ``statement`` may change now, or None if the item holds it already (a
    duplicate); raises the ``DomainError`` naming the rule it breaks. :func:`decide_owner`
    applies it; the owner endpoint asks first, to answer a refusal at once (the ingest still
    decides: the item may change in between)."""
    from domain.items import Item  # the aggregate imports this module

    item = world.load(statement.item_id)
    if not isinstance(item, Item):
        raise NoOpenClaim(f"no item {statement.item_id!r} on the ledger: nothing to claim")
    known = next(
        (s for _, s in item.state.owner_log if s.statement_id == statement.statement_id), None
    )
    if known is not None:
        if known == statement:
            return None
        raise StatementIdReused(
            f"statement id {statement.statement_id} was used for other content on item "
            f"{item.id}; the first statement stands"
        )

    def party_known(party_id: str) -> bool:
        from domain.parties import Party

        return isinstance(world.load(party_id), Party)

    check_statement(item, statement, party_known)
    return item


def decide_owner(statement: OwnerStatement, envelope: bytes, world: World) -> Outcome:
    """Apply one owner statement: duplicate, refusal (``DomainError``) or accepted."""
    item = judge_owner(statement, world)
    if item is None:
        return Outcome(Result.DUPLICATE, detail=f"statement {statement.statement_id} again")
    item.trigger_event(item.OwnerStated, statement=statement, envelope=envelope)
    world.keep(item)
    return ACCEPTED
