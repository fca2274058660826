"""Invariants that hold after any sequence of custody commands by any actors."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings

from domain.custody import Kind, Verdict
from domain.items import Item, ItemState, Result, Signal, Status
from domain.kinds import RULES
from domain.state import VIEW_FIELDS, fold
from tests.domain.factory import replay
from tests.domain.walk import PARTIES, Command, Step, Walk, run_walk, walks

PROPERTY_SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def custody_fields(state: ItemState | None) -> tuple[Any, ...] | None:
    if state is None:
        return None
    s = state
    fields = (s.status, s.holder, s.location, s.shipper, s.consignee, s.sold_by, s.buyer_ref)
    return (*fields, s.verdict, s.certificate, s.commissioned, s.tag_uid, s.last_fix)


def check_state(s: ItemState) -> None:
    """Exactly one holder, or one consignment, or neither when sold, retired or unknown."""
    consignment = (s.shipper, s.consignee)
    if s.status is Status.IN_CUSTODY:
        assert s.holder in PARTIES and consignment == (None, None) and s.sold_by is None
    elif s.status is Status.IN_TRANSIT:
        assert s.holder is None and None not in consignment and s.shipper != s.consignee
        assert s.sold_by is None
    elif s.status is Status.SOLD:
        assert s.holder is None and consignment == (None, None) and s.sold_by and s.buyer_ref
    else:
        assert s.holder is None and consignment == (None, None) and s.sold_by is None
    assert s.commissioned == (s.status is not Status.UNREGISTERED)


def check_step(step: Step) -> None:
    names = [type(e).__name__ for e in step.new_events]
    if step.refusal is not None or step.outcome is None:
        assert names == [] and step.after == step.before, "a refusal changed the item"
        return
    result = step.outcome.result
    if result is Result.DUPLICATE:
        assert names == [] and step.after == step.before
    elif result is Result.FLAGGED:
        assert names in (["Flagged"], ["Sighted"])
        assert custody_fields(step.after) == custody_fields(step.before) or names == ["Sighted"]
    else:
        assert names in (["Commissioned"], ["CustodyRecorded"], ["CustodyRecorded", "Flagged"])
        if step.before is not None and step.before.frozen:
            withdraws = RULES[step.custody.kind].withdraws
            assert step.custody.kind is Kind.DECOMMISSIONING or withdraws, "a frozen item moved"
        if RULES[step.custody.kind].withdraws:
            check_declaration(step)


def check_declaration(step: Step) -> None:
    """An accepted declaration names an accepted event of the item not declared before,
    and is made by its recorder or the item's brand."""
    before, after, c = step.before, step.after, step.custody
    assert before is not None and after is not None and c.declared_event_id
    declared = [e for e in before.recorded if e.event_id == c.declared_event_id]
    assert declared and c.declared_event_id not in before.declared
    assert c.party_id in (declared[0].party_id, before.brand_party)
    assert after.declared[c.declared_event_id].event_id == c.event_id


def rested_on_declared(state: ItemState) -> str:
    """The details of the item's rests_on_declared flags: the events that may break rules."""
    return " ".join(f.detail for f in state.flags if f.signal is Signal.RESTS_ON_DECLARED)


def check_history(stored: list[Any], state: ItemState) -> None:
    """Read from the stored events alone: sales, returns, freezing and retirement, over the
    events that stand. A later event that rested on a declared one is named by a flag; it
    stands, so events recorded after it were judged against a state that includes it, and
    the stored history alone no longer shows why they were allowed: the flag is the record
    of that (docs/custody-rules.md, "Corrections")."""
    sold = frozen = retired = False
    verdict: Verdict | None = None
    declared = set(state.declared)
    exempt = rested_on_declared(state)
    downstream = False  # after an event a flag names
    for e in stored:
        if not isinstance(e, Item.Commissioned | Item.CustodyRecorded):
            continue
        kind = e.custody.kind
        if RULES[kind].withdraws or e.custody.event_id in declared:
            continue
        named = f" {e.custody.event_id} by " in exempt
        ok = named or downstream
        downstream = downstream or named
        assert ok or not retired, "custody after retirement"
        assert ok or not frozen or kind is Kind.DECOMMISSIONING, "custody after counterfeit"
        if kind is Kind.RETAIL_SELLING:
            assert ok or not sold, "sold twice without a return"
            assert ok or verdict is Verdict.GENUINE, "sold without a genuine verdict"
            sold = True
        elif kind is Kind.RETURNING:
            assert ok or sold, "returned without a sale"
            sold = False
        elif kind is Kind.INSPECTING:
            verdict = e.custody.verdict
            frozen = verdict is Verdict.COUNTERFEIT
        elif kind is Kind.DECOMMISSIONING:
            retired = True
    creations = [e for e in stored if isinstance(e, Item.Commissioned | Item.Sighted)]
    assert stored[:1] == creations, "created once, first"


def reapply_everything(walk: Walk) -> None:
    """Re-sending any report the item ever kept changes nothing."""
    item = walk.bench.item
    assert item is not None
    version = item.version
    for e in list(walk.bench.stored):
        custody = getattr(e, "custody", None) or getattr(e, "evidence", None)
        if custody is None or custody.item_id != item.id:
            continue
        assert walk.bench.apply(custody).result is Result.DUPLICATE
    assert item.version == version


@PROPERTY_SETTINGS
@given(walks)
def test_custody_invariants_hold_for_any_walk(walk_spec: tuple[str, list[Command]]) -> None:
    walk = run_walk(*walk_spec)
    for step in walk.steps:
        check_step(step)
        if step.after is not None and not rested_on_declared(step.after):
            check_state(step.after)
        note_statistics(step)
    item = walk.bench.item
    if item is None:
        return
    event(f"ends {item.state.status.value}" + (" frozen" if item.state.frozen else ""))
    assert item.version == len(walk.bench.stored)
    check_history(walk.bench.stored, item.state)
    assert replay(walk.bench.stored).state == item.state, "replay differs"
    view = fold(item.state.standing)
    assert [getattr(view, f) for f in VIEW_FIELDS] == [
        getattr(item.state, f) for f in VIEW_FIELDS
    ], "the state is not the fold of the standing events"
    reapply_everything(walk)


def note_statistics(step: Step) -> None:
    """What the walks reach: see ``pytest --hypothesis-show-statistics``."""
    if step.refusal is not None:
        event(f"refused: {step.refusal.rule}")
    elif step.outcome is not None:
        event(f"{step.outcome.result.value}: {step.custody.kind.value}")
        for signal in step.outcome.signals:
            event(f"signal: {signal.value}")


def test_an_item_found_counterfeit_is_not_commissioned_again_after_a_declaration() -> None:
    """Found by the walk above: once its commissioning is declared in error, an item found
    counterfeit is no longer commissioned, and a new commissioning was taken as a late one
    (which skipped the freeze). It is refused: only decommissioning remains."""

    def command(kind: Kind, actor: str, **more: Any) -> Command:
        fields: dict[str, Any] = {
            "counterparty": None, "verdict": Verdict.GENUINE, "complete": True, "minutes": 0,
            "place": 0, "repeat": None, "tamper": False,
        }  # fmt: skip
        return Command(kind, actor, **(fields | more))

    walk = run_walk(
        "frozen",
        [
            command(Kind.ERROR_DECLARATION, "@recorder", target=0),
            command(Kind.COMMISSIONING, "brand"),
        ],
    )
    declared, again = walk.steps[-2:]
    assert declared.outcome is not None and declared.outcome.result is Result.ACCEPTED
    assert again.before is not None and again.before.frozen
    assert again.refusal is not None and again.refusal.rule == "item_frozen"
    for step in walk.steps:
        check_step(step)
