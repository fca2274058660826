"""Declaring an event in error: what a declaration records, who may make one, and which
later events rested on the event it withdraws.

An ``error_declaration`` (GS1 EPCIS ``errorDeclaration``) is a signed custody event like any
other: it names one of the item's accepted custody events (``declared_event_id``), why
(``error_reason``) and, optionally, the events that replace it (``corrective_event_ids``,
ordinary events of the item that may arrive later). The declared event stays in the history
and in every proof; the item's state becomes its corrected view, folded without it
(``domain/state.py``). docs/custody-rules.md ("Corrections") gives the rules.

Later events stand as recorded: each is its own party's signed statement, and a
declaration withdraws only the one it names. A later event whose rules no longer hold once
the declared event is left out (a receiving of a shipment that did not occur, a sale of an
item whose authentication is withdrawn) is reported with the ``rests_on_declared`` signal
(:func:`resting_on` finds them), so that it is looked at rather than hidden.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn, Protocol

from domain.custody import CustodyEvent, ErrorReason
from domain.errors import AlreadyDeclared, MissingDetail, NotDeclarable, UnknownEvent

if TYPE_CHECKING:
    from domain.items import Item
    from domain.parties import Party
    from domain.state import ItemState

#: The rule (or signal) code that would refuse (or flag) a standing event recorded against a
#: view (``None``: it would be accepted).
Judge = Callable[["ItemState", CustodyEvent], "str | None"]


class Acting(Protocol):
    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class Declaration:
    """One event declared in error: by whom, when, why, and in which event."""

    event_id: str  # the declaration's own custody event id
    declared_event_id: str
    by: str
    at: datetime
    reason: ErrorReason | None
    corrective_event_ids: tuple[str, ...]

    def __deepcopy__(self, memo: dict[int, object]) -> Declaration:
        # A frozen value: a deep copy of an aggregate (eventsourcing's cache hands
        # out copies) may share it rather than rebuild it.
        return self

    @classmethod
    def of(cls, c: CustodyEvent) -> Declaration:
        if c.declared_event_id is None:
            raise ValueError(f"event {c.event_id} declares no event in error")
        return cls(
            c.event_id,
            c.declared_event_id,
            c.party_id,
            c.occurred_at,
            c.error_reason,
            c.corrective_event_ids,
        )

    def describe(self) -> str:
        why = f" ({self.reason.value})" if self.reason else ""
        fixed = (
            f"; corrected by {', '.join(self.corrective_event_ids)}"
            if self.corrective_event_ids
            else ""
        )
        return f"declared in error by {self.by} at {self.at.isoformat()}{why}{fixed}"


def check_declarable(
    item_id: str, state: ItemState, custody: CustodyEvent, actor: Acting
) -> CustodyEvent:
    """The event ``custody`` declares in error, if ``actor`` may declare it now.

    Refuses: no declared id (``missing_detail``); not an accepted custody event of the item
    (``unknown_event``); a party other than its recorder or the item's brand, or an event
    that is itself a declaration (``not_declarable``); declared already
    (``already_declared``).
    """
    target_id = custody.declared_event_id
    if not target_id:
        raise MissingDetail(
            f"error_declaration of {item_id} by {actor.id} needs the id of the event it "
            "declares in error (declared_event_id)"
        )
    target = next((c for c in state.recorded if c.event_id == target_id), None)
    if target is None:
        _refuse_unknown(item_id, state, target_id, actor)
    brand = state.brand_party
    if actor.id not in (target.party_id, brand):
        raise NotDeclarable(
            f"{actor.id} may not declare event {target_id} of item {item_id} in error: only "
            f"{target.party_id}, which recorded it, or the item's brand ({brand}) may"
        )
    earlier = state.declared.get(target_id)
    if earlier is not None:
        raise AlreadyDeclared(
            f"event {target_id} of item {item_id} was already {earlier.describe()} "
            f"(event {earlier.event_id})"
        )
    return target


def _refuse_unknown(item_id: str, state: ItemState, target_id: str, actor: Acting) -> NoReturn:
    if any(d.event_id == target_id for d in state.declared.values()):
        raise NotDeclarable(
            f"event {target_id} of item {item_id} is an error declaration; a declaration is "
            f"final ({actor.id} may correct the item with new events instead)"
        )
    if target_id in state.seen:
        raise UnknownEvent(
            f"event {target_id} of item {item_id} was kept as a flag's evidence, not accepted; "
            "only accepted custody events are declared in error (the flag stands)"
        )
    raise UnknownEvent(f"item {item_id} has no event {target_id} to declare in error")


def unsupported(
    view: ItemState, events: Iterable[CustodyEvent], judge: Judge
) -> dict[str, tuple[CustodyEvent, str]]:
    """Events the rules would not accept if recorded in this order onto ``view``, with the
    code that would refuse or flag each; each is applied all the same (later events stand)."""
    out: dict[str, tuple[CustodyEvent, str]] = {}
    for c in events:
        why = judge(view, c)
        if why is not None:
            out[c.event_id] = (c, why)
        view.apply(c)
    return out


def newly_unsupported(
    state: ItemState, declared_id: str, judge: Judge
) -> list[tuple[CustodyEvent, str]]:
    """Standing events that the rules accept in today's view but would not once
    ``declared_id`` is left out of it: the events that rested on it."""
    blank = type(state)
    before = unsupported(blank(), state.standing, judge)
    rest = [c for c in state.standing if c.event_id != declared_id]
    after = unsupported(blank(), rest, judge)
    return [entry for event_id, entry in after.items() if event_id not in before]


def resting_on(
    item: Item, declaration: CustodyEvent, parties: Callable[[str], Party | None]
) -> str | None:
    """The ``rests_on_declared`` detail if later events rested on the event ``declaration``
    withdraws (``None``: none did). Each event is judged by the item's own checks
    (``Item.would_refuse``) on a copy of the item holding the view being folded."""
    declared = declaration.declared_event_id
    original = next((c for c in item.state.recorded if c.event_id == declared), None)
    if original is None:
        return None
    scratch = copy.copy(item)

    def judge(view: ItemState, c: CustodyEvent) -> str | None:
        actor = parties(c.party_id)
        if actor is None:  # parties are never removed: nothing to judge it by
            return None
        scratch.state = view
        return scratch.would_refuse(c, actor)

    rested = newly_unsupported(item.state, original.event_id, judge)
    if not rested:
        return None
    shown = "; ".join(
        f"{c.kind.value} {c.event_id} by {c.party_id} ({why})" for c, why in rested[:5]
    )
    more = f"; and {len(rested) - 5} more" if len(rested) > 5 else ""
    return (
        f"{original.kind.value} {original.event_id} by {original.party_id} is declared in "
        f"error; {len(rested)} later event(s) rested on it: {shown}{more}"
    )
