"""Pure-domain test helpers: parties with enrolled devices, and a bench that walks one item.

No store, no keys: an envelope here is just bytes naming its event.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.authority import AuthorityClaim, brand_claim_id, prefix_claim_id
from domain.custody import CustodyEvent, Kind, Role
from domain.errors import DomainError
from domain.items import Item, ItemState, Outcome, Policy, Result
from domain.parties import Party
from domain.reports import decide
from domain.tags import TagClaim

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ITEM = "urn:epc:id:sgtin:0614141.107346.2017"
TAG = "E280-1160-6000-2017"

ROLES: dict[str, Role] = {
    "brand": Role.BRAND,
    "lab": Role.APPRAISER,
    "dc": Role.WAREHOUSE,
    "ginza": Role.STORE,
    "osaka": Role.STORE,
}

#: What the test brands declare they own (``domain/authority.py``): the brand names and
#: GS1 company prefixes the tests commission under.
TEST_BRANDS = ("B", "Maison Aurel", "Maison", "Hermès")
TEST_PREFIXES = ("0614141", "4012345")

COMMISSION_DETAILS: dict[str, Any] = {
    "tag_uid": TAG,
    "brand": "Maison Aurel",
    "model": "Lune 28",
    "serial": "2017",
}


def make_party(party_id: str, role: Role | None = None) -> Party:
    party = Party.register(party_id, party_id.title(), role or ROLES[party_id])
    party.enrol_device(f"{party_id}-d1", "00" * 32, T0 - timedelta(days=1))
    if party.role is Role.BRAND and party_id == "brand":
        party.declare_authority(list(TEST_BRANDS), list(TEST_PREFIXES))
    party.collect_events()
    return party


def make_parties() -> dict[str, Party]:
    return {party_id: make_party(party_id) for party_id in ROLES}


def envelope_of(custody: CustodyEvent) -> bytes:
    return f"envelope:{custody.event_id}:{custody.digest()[:8]}".encode()


def comparable(state: ItemState) -> ItemState:
    """The state without the flags' platform timestamps (the only wall-clock values)."""
    return replace(state, flags=[replace(f, raised_at=T0) for f in state.flags])


@dataclass
class Bench:
    """One item walked through custody events by parties, the way the ledger applies them.

    ``do`` applies an event and returns the outcome; ``refuse`` expects a refusal and checks
    that nothing changed. ``stored`` holds every event the item would have saved.
    """

    item_id: str = ITEM
    parties: dict[str, Party] = field(default_factory=make_parties)
    policy: Policy = field(default_factory=Policy)
    item: Item | None = None
    stored: list[Any] = field(default_factory=list)
    others: dict[str, Item] = field(default_factory=dict)  # items of other ids it touched
    claims: dict[str, TagClaim] = field(default_factory=dict)
    #: Brand-name and prefix claims of the parties' declarations (``domain/authority.py``).
    authority: dict[str, AuthorityClaim] = field(default_factory=dict)
    clock: datetime = T0
    count: int = 0

    def event(
        self, kind: Kind | str, party: str, *, minutes: float = 60, **details: Any
    ) -> CustodyEvent:
        self.count += 1
        self.clock += timedelta(minutes=minutes)
        details.setdefault("location", f"loc-{party}")
        if Kind(kind) is Kind.COMMISSIONING:
            for name, value in COMMISSION_DETAILS.items():
                details.setdefault(name, value)
        return CustodyEvent(
            event_id=details.pop("event_id", None) or f"e{self.count}",
            item_id=details.pop("item_id", None) or self.item_id,
            kind=Kind(kind),
            party_id=party,
            device_id=details.pop("device_id", None) or f"{party}-d1",
            occurred_at=details.pop("occurred_at", None) or self.clock,
            **details,
        )

    def apply(self, custody: CustodyEvent) -> Outcome:
        """Decide the report as the ledger does (``domain.reports.decide``)."""
        world = _World(self)
        outcome = decide(custody, envelope_of(custody), world, self.policy)
        for aggregate in world.kept:
            events = aggregate.collect_events()
            if isinstance(aggregate, Item) and aggregate.id == self.item_id:
                self.item = aggregate
                self.stored.extend(events)
            elif isinstance(aggregate, Item):
                self.others[aggregate.id] = aggregate
            elif isinstance(aggregate, TagClaim):
                self.claims[aggregate.id] = aggregate
        return outcome

    def do(self, kind: Kind | str, party: str, **details: Any) -> Outcome:
        return self.apply(self.event(kind, party, **details))

    def refuse(self, kind: Kind | str, party: str, **details: Any) -> DomainError:
        return self.refuse_event(self.event(kind, party, **details))

    def refuse_event(self, custody: CustodyEvent) -> DomainError:
        before = copy.deepcopy(self.item.state) if self.item else None
        version = self.item.version if self.item else None
        try:
            self.apply(custody)
        except DomainError as refusal:
            if self.item is not None:
                assert self.item.state == before, "a refusal changed the state"
                assert self.item.version == version
                assert not self.item.pending_events
            return refusal
        raise AssertionError(f"{custody.kind.value} by {custody.party_id} was not refused")

    @property
    def state(self) -> ItemState:
        assert self.item is not None
        return self.item.state

    # ----- the usual steps -------------------------------------------------------------

    def commissioned(self) -> Bench:
        self.do(Kind.COMMISSIONING, "brand")
        return self

    def authenticated(self, verdict: str = "genuine") -> Bench:
        self.do(Kind.INSPECTING, "lab", verdict=verdict, certificate="CERTA-1")
        return self

    def moved(self, *hops: str) -> Bench:
        for to in hops:
            holder = self.state.holder
            assert holder is not None
            assert self.do(Kind.SHIPPING, holder, counterparty=to).result is Result.ACCEPTED
            assert self.do(Kind.RECEIVING, to).result is Result.ACCEPTED
        return self

    def shipped(self, to: str) -> Bench:
        holder = self.state.holder
        assert holder is not None
        self.do(Kind.SHIPPING, holder, counterparty=to)
        return self

    def sold(self, store: str = "ginza") -> Bench:
        if self.state.holder != store:
            self.moved(store)
        assert self.do(Kind.RETAIL_SELLING, store, buyer_ref="buyer-7f3a").result is Result.ACCEPTED
        return self

    def retired(self, reason: str = "destroyed") -> Bench:
        self.do(Kind.DECOMMISSIONING, "brand", reason=reason)
        return self


class _World:
    """The bench's aggregates as ``domain.reports.Aggregates``: dictionaries, no store."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.kept: list[Item | Party | TagClaim] = []

    def load(self, aggregate_id: str) -> object | None:
        bench = self.bench
        if aggregate_id == bench.item_id:
            return bench.item
        if not bench.authority:
            bench.authority = authority_claims(bench.parties)
        return (
            bench.parties.get(aggregate_id)
            or bench.others.get(aggregate_id)
            or bench.claims.get(aggregate_id)
            or bench.authority.get(aggregate_id)
        )

    def keep(self, *aggregates: Item | Party | TagClaim) -> None:
        self.kept.extend(aggregates)


def authority_claims(parties: dict[str, Party]) -> dict[str, AuthorityClaim]:
    claims = {}
    for party in parties.values():
        for name in party.brands:
            claims[brand_claim_id(name)] = AuthorityClaim.claim(
                brand_claim_id(name), party.id, name
            )
        for prefix in party.company_prefixes:
            claim_id = prefix_claim_id(prefix)
            claims[claim_id] = AuthorityClaim.claim(claim_id, party.id, prefix)
    return claims


def replay(events: list[Any]) -> Item:
    """The aggregate rebuilt from its stored events, as a repository would."""
    item: Any = None
    for event in events:
        item = event.mutate(item)
    assert isinstance(item, Item)
    return item
