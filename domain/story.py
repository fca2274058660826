"""An item's history as plain sentences, one per stored event, for people (CLI, reports).

for line in tell(ledger.item_events(item_id)):
    print(line)

2026-01-01 01:00Z  brand commissioned B M serial S (tag TAG-1) at loc-brand.
2026-01-01 02:00Z  lab inspected it: genuine (certificate C-1).
2026-01-01 08:00Z  FLAG scan_after_sale: observing by osaka after the item was sold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from domain.corrections import Declaration
from domain.custody import CustodyEvent
from domain.items import Item
from domain.kinds import RULES
from domain.owner_statement import describe_statement


def describe(c: CustodyEvent) -> str:
    """What one custody event says happened, as a sentence without its time
    (the kind's sentence in domain/kinds.py, with unknown values shown as ``?``)."""
    fields = _Unknown((k, "?" if v is None else str(v)) for k, v in c.to_primitive().items())
    fields["who"] = c.party_id
    for name in c.commitments:  # personal data: the history shows that it is committed
        fields[name] = "(committed)"
    return RULES[c.kind].sentence.format_map(fields)


class _Unknown(dict[str, str]):
    """Fields a record leaves out when unset (the correction fields) read as ``?``."""

    def __missing__(self, key: str) -> str:
        return "?"


def sentence(event: object, declared: Mapping[str, Declaration] | None = None) -> str:
    """One stored Item event as a dated sentence, marked if ``declared`` holds a
    declaration of it in error (``ItemState.declared``)."""
    if isinstance(event, Item.Commissioned | Item.CustodyRecorded):
        c = event.custody
        declaration = (declared or {}).get(c.event_id)
        note = f" [{declaration.describe()}]" if declaration else ""
        return _line(c.occurred_at, describe(c) + note)
    if isinstance(event, Item.Sighted):
        c = event.custody
        return _line(c.occurred_at, f"FLAG {event.signal}: {describe(c)}, never commissioned")
    if isinstance(event, Item.Flagged):
        when = event.evidence.occurred_at if event.evidence else event.timestamp
        return _line(when, f"FLAG {event.signal}: {event.detail}")
    if isinstance(event, Item.OwnerStated):
        return _line(event.statement.occurred_at, describe_statement(event.statement))
    raise TypeError(f"not an Item event: {type(event).__name__}")


def tell(events: Iterable[object]) -> list[str]:
    """The item's history as the story it tells, in the order it was recorded; an event
    declared in error keeps its line, marked with who declared it, when and why."""
    events = list(events)
    declared = {
        d.declared_event_id: d
        for d in (
            Declaration.of(e.custody)
            for e in events
            if isinstance(e, Item.CustodyRecorded) and RULES[e.custody.kind].withdraws
        )
    }
    return [sentence(event, declared) for event in events]


def _line(when: datetime, text: str) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M}Z  {text}."
