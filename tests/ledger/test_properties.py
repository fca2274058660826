"""The ledger decides as the domain does, however the reports are cut into batches."""

from __future__ import annotations

from itertools import pairwise

from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.custody import Role
from ledger.application import CustodyLedger
from tests.domain.factory import ITEM, ROLES, comparable, replay
from tests.domain.walk import REVOKED_AT, Command, run_walk, walks
from tests.ledger.helpers import open_ledger, register, report


def ledger_like_the_walk() -> CustodyLedger:
    ledger = register(open_ledger(), {**ROLES, "gone": Role.STORE})
    ledger.revoke_device("gone", "gone-d1", at=REVOKED_AT)
    return ledger


def cut(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return list(pairwise(edges))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walks, st.lists(st.integers(0, 100), max_size=8))
def test_batches_decide_like_the_domain(
    walk_spec: tuple[str, list[Command]], cuts: list[int]
) -> None:
    walk = run_walk(*walk_spec)
    ledger = ledger_like_the_walk()
    decisions = []
    for offset, (start, end) in enumerate(cut(len(walk.steps), cuts)):
        batch = [report(step.custody) for step in walk.steps[start:end]]
        decisions += ledger.process(batch, Tracking("t:0", offset))

    for step, decision in zip(walk.steps, decisions, strict=True):
        if step.refusal is not None:
            assert decision.refusal is not None, step.custody
            assert decision.refusal.rule == step.refusal.rule
        else:
            assert decision.outcome is not None, (step.custody, decision.refusal)
            assert step.outcome is not None
            assert decision.outcome.result is step.outcome.result, step.custody
            assert decision.outcome.signals == step.outcome.signals, step.custody
    if walk.bench.item is None:
        return
    stored = ledger.item_events(ITEM)
    assert comparable(ledger.get_item(ITEM).state) == comparable(walk.bench.item.state)
    assert ledger.get_item(ITEM).state == replay(stored).state
