"""Random custody walks for property tests: commands by random actors, resolved and applied.

A command names its actor either directly or by the part it plays for the item right now
(``@holder``, ``@consignee``, ``@shipper``, ``@seller``), so that random walks reach deep
states (sold, returned, frozen, retired) as well as every kind of refusal.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from domain.custody import CustodyEvent, Kind, Role, Verdict
from domain.errors import DomainError
from domain.items import ItemState, Outcome
from tests.domain.factory import T0, Bench, make_parties, make_party

PARTIES = ["brand", "lab", "dc", "ginza", "osaka", "gone"]
ACTORS = [*PARTIES, "@holder", "@holder", "@consignee", "@shipper", "@seller"]
PLACES: list[dict[str, float]] = [
    {},
    {"latitude": 35.6719, "longitude": 139.7650},  # Tokyo
    {"latitude": 34.7025, "longitude": 135.4959},  # Osaka
    {"latitude": 48.8698, "longitude": 2.3075},  # Paris
]
REVOKED_AT = T0 + timedelta(hours=6)  # "gone" is a store whose scanner was revoked


@dataclass(frozen=True)
class Command:
    kind: Kind
    actor: str
    counterparty: str | None
    verdict: Verdict
    complete: bool  # carries the details its kind needs
    minutes: int
    place: int
    repeat: int | None  # re-send the n-th event sent so far …
    tamper: bool  # … with other content
    target: int | None = None  # a declaration: of the n-th event sent so far


def _command(kind: Any, actor: Any, **overrides: Any) -> st.SearchStrategy[Command]:
    fields: dict[str, Any] = {
        "kind": kind,
        "actor": actor,
        "counterparty": st.sampled_from([None, "nobody", *PARTIES[:5], "ginza", "osaka"]),
        "verdict": st.sampled_from([*[Verdict.GENUINE] * 4, *Verdict]),
        "complete": st.booleans() | st.just(True),
        "minutes": st.integers(0, 90) | st.integers(0, 24 * 60),
        "place": st.integers(0, len(PLACES) - 1),
        "repeat": st.just(None),
        "tamper": st.booleans(),
    }
    return st.builds(Command, **(fields | overrides))


# Anything by anyone, sometimes a re-sent or tampered earlier report.
anything = _command(
    st.sampled_from(list(Kind)),
    st.sampled_from(ACTORS),
    repeat=st.none() | st.integers(0, 60),
)
# What the trade normally does next, so that walks reach sales, returns and freezes.
ship = _command(
    st.just(Kind.SHIPPING),
    st.just("@holder"),
    counterparty=st.sampled_from(["ginza", "ginza", "osaka", "dc", "lab", "nobody"]),
    complete=st.just(True),
)
receive = _command(st.just(Kind.RECEIVING), st.just("@consignee"))
inspect = _command(st.just(Kind.INSPECTING), st.just("lab"), complete=st.just(True))
sell = _command(st.just(Kind.RETAIL_SELLING), st.just("@holder"), complete=st.just(True))
take_back = _command(st.just(Kind.RETURNING), st.just("@seller"))
observe = _command(st.just(Kind.OBSERVING), st.sampled_from(["@holder", "osaka"]))
recall = _command(st.just(Kind.VOID_SHIPPING), st.just("@shipper"))
# Declaring an earlier event in error, mostly by the party that sent it.
declare = _command(
    st.just(Kind.ERROR_DECLARATION),
    st.sampled_from(["@recorder", "@recorder", "@recorder", "brand", "lab", "osaka"]),
    target=st.integers(0, 60),
)
plausible = st.one_of(ship, ship, receive, receive, receive, inspect, sell, sell, sell)
plausible = st.one_of(plausible, plausible, plausible, take_back, observe, recall, declare)
commands = st.one_of(plausible, plausible, plausible, anything)
STARTS = ["new", "sighted", "commissioned", "in_transit", "in_store", "sold", "returned",
          "frozen", "retired"]  # fmt: skip
walks = st.tuples(st.sampled_from(STARTS), st.lists(commands, min_size=5, max_size=40))


def walk_parties() -> dict[str, Any]:
    parties = make_parties()
    parties["gone"] = make_party("gone", Role.STORE)
    parties["gone"].revoke_device("gone-d1", REVOKED_AT)
    parties["gone"].collect_events()
    return parties


@dataclass
class Step:
    custody: CustodyEvent
    before: ItemState | None
    after: ItemState | None
    new_events: list[Any]
    outcome: Outcome | None = None
    refusal: DomainError | None = None


@dataclass
class Walk:
    bench: Bench = field(default_factory=lambda: Bench(parties=walk_parties()))
    sent: list[CustodyEvent] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def resolve(self, command: Command) -> CustodyEvent:
        if command.repeat is not None and self.sent:
            earlier = self.sent[command.repeat % len(self.sent)]
            if not command.tamper:
                return earlier
            return replace(earlier, location=f"{earlier.location}-x")
        state = self.bench.item.state if self.bench.item else None
        target = None
        if command.target is not None and self.sent:
            target = self.sent[command.target % len(self.sent)]
        actor = self._actor(command.actor, state, target)
        details: dict[str, Any] = dict(PLACES[command.place])
        if command.complete:
            details.update(_details(command))
            if command.kind is Kind.ERROR_DECLARATION and target is not None:
                details["declared_event_id"] = target.event_id
                details["error_reason"] = ("did_not_occur", "incorrect_data", None)[
                    command.minutes % 3
                ]
        return self.bench.event(command.kind, actor, minutes=command.minutes, **details)

    def run(self, command: Command) -> Step:
        custody = self.resolve(command)
        self.sent.append(custody)
        item = self.bench.item
        before = copy.deepcopy(item.state) if item else None
        stored = len(self.bench.stored)
        step = Step(custody, before, None, [])
        try:
            step.outcome = self.bench.apply(custody)
        except DomainError as refusal:
            step.refusal = refusal
            assert item is None or not item.pending_events, "refused after a change"
        step.after = copy.deepcopy(self.bench.item.state) if self.bench.item else None
        step.new_events = self.bench.stored[stored:]
        self.steps.append(step)
        return step

    @staticmethod
    def _actor(actor: str, state: ItemState | None, target: CustodyEvent | None = None) -> str:
        if actor == "@recorder":
            return target.party_id if target is not None else "brand"
        if not actor.startswith("@") or state is None:
            return actor if not actor.startswith("@") else "brand"
        by_part = {
            "@holder": state.holder,
            "@consignee": state.consignee,
            "@shipper": state.shipper,
            "@seller": state.sold_by,
        }
        return by_part[actor] or "brand"


def _details(command: Command) -> dict[str, Any]:
    if command.kind is Kind.INSPECTING:
        return {"verdict": command.verdict, "certificate": "CERTA-1"}
    if command.kind is Kind.SHIPPING:
        return {"counterparty": command.counterparty}
    if command.kind is Kind.RETAIL_SELLING:
        return {"buyer_ref": "buyer-1"}
    if command.kind is Kind.DECOMMISSIONING:
        return {"reason": "destroyed"}
    return {}


def _c(kind: Kind, actor: str, counterparty: str | None = None, **kw: Any) -> Command:
    verdict = kw.get("verdict", Verdict.GENUINE)
    return Command(kind, actor, counterparty, verdict, True, 60, 0, None, False)


# The normal story, and how far along it each start point is.
STORY = [
    _c(Kind.COMMISSIONING, "brand"),
    _c(Kind.INSPECTING, "lab"),
    _c(Kind.SHIPPING, "brand", "ginza"),
    _c(Kind.RECEIVING, "ginza"),
    _c(Kind.RETAIL_SELLING, "ginza"),
    _c(Kind.RETURNING, "ginza"),
]
PREFIXES: dict[str, list[Command]] = {
    "new": [],
    "sighted": [_c(Kind.OBSERVING, "osaka")],
    "commissioned": STORY[:1],
    "in_transit": STORY[:3],
    "in_store": STORY[:4],
    "sold": STORY[:5],
    "returned": STORY[:6],
    "frozen": [*STORY[:4], _c(Kind.INSPECTING, "lab", verdict=Verdict.COUNTERFEIT)],
    "retired": [*STORY[:4], _c(Kind.DECOMMISSIONING, "ginza")],
}


def run_walk(start: str, cmds: list[Command]) -> Walk:
    walk = Walk()
    for command in [*PREFIXES[start], *cmds]:
        walk.run(command)
    return walk
