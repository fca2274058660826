"""An item's history as plain sentences, one per stored event, for people (CLI, reports).

for line in tell(ledger.item_events(item_id)):
    print(line)

2026-01-01 01:00Z  brand commissioned B M serial S (tag TAG-1) at loc-brand.
2026-01-01 02:00Z  lab inspected it: genuine (certificate C-1).
2026-01-01 08:00Z  FLAG scan_after_sale: observing by osaka after the item was sold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from domain.custody import CustodyEvent
from domain.items import Item
from domain.kinds import RULES


def describe(c: CustodyEvent) -> str:
    """What one custody event says happened, as a sentence without its time
    (the kind's sentence in domain/kinds.py, with unknown values shown as ``?``)."""
    fields = {k: "?" if v is None else str(v) for k, v in c.to_primitive().items()}
    return RULES[c.kind].sentence.format(who=c.party_id, **fields)


def sentence(event: object) -> str:
    """One stored Item event as a dated sentence."""
    if isinstance(event, Item.Commissioned | Item.CustodyRecorded):
        return _line(event.custody.occurred_at, describe(event.custody))
    if isinstance(event, Item.Sighted):
        c = event.custody
        return _line(c.occurred_at, f"FLAG {event.signal}: {describe(c)}, never commissioned")
    if isinstance(event, Item.Flagged):
        when = event.evidence.occurred_at if event.evidence else event.timestamp
        return _line(when, f"FLAG {event.signal}: {event.detail}")
    raise TypeError(f"not an Item event: {type(event).__name__}")


def tell(events: Iterable[object]) -> list[str]:
    """The item's history as the story it tells, in the order it was recorded."""
    return [sentence(event) for event in events]


def _line(when: datetime, text: str) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M}Z  {text}."
