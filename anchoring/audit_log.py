"""Reading a store's notification log for the audit: every record in id order, each
readable, ids from 1 with no gap where the backend guarantees it; an unreadable record or
a missing id is a :class:`~anchoring.audit_records.Divergence` that says where."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteAggregateRecorder

from anchoring.audit_records import Divergence, error_text

PAGE = 1000


def read_log(recorder: Any, what: str) -> Iterator[Notification]:
    """A recorder's notifications in id order, each readable, ids from 1 with no gap
    where the backend allocates them without gaps (SQLite's rowid: a rolled-back insert
    gives its id back; a PostgreSQL sequence does not)."""
    contiguous = isinstance(recorder, SQLiteAggregateRecorder)
    try:  # ids below 1 are outside every page read below
        first = list(recorder.select_notifications(start=None, limit=1))
        unreadable_first = None
    except Exception as e:
        first, unreadable_first = [], e
    if first and first[0].id < 1:
        raise Divergence(
            f"{what} {first[0].id} ({_name(first[0])}) has an id below 1 (a notification "
            "id was altered)"
        )
    expected = 1
    while True:
        page = _select(recorder, expected, PAGE, what)
        if not page:
            break
        for n in page:
            if contiguous and n.id != expected:
                raise Divergence(
                    f"{what} {expected} is missing: the log goes from {expected - 1} to "
                    f"{n.id} ({_name(n)}); a notification id was altered or a record deleted"
                )
            yield n
            expected = n.id + 1
    if unreadable_first is not None:
        raise Divergence(
            f"a {what} with an id below 1 cannot be read: {error_text(unreadable_first)}"
        )


def _name(n: Notification) -> str:
    """``item v3`` for a ledger record, ``block 3`` for a chain record."""
    oid = str(n.originator_id)
    if oid.startswith("block-") and oid[6:].isdigit():
        return f"block {int(oid[6:])}"
    return f"{oid} v{n.originator_version}"


def _select(recorder: Any, start: int, limit: int, what: str) -> list[Notification]:
    try:
        return list(recorder.select_notifications(start=start, limit=limit))
    except Exception as e:
        if limit > 1:  # find the unreadable one
            out: list[Notification] = []
            at = start
            while len(out) < limit:
                one = _select(recorder, at, 1, what)
                if not one:
                    break
                out += one
                at = one[0].id + 1
            return out
        contiguous = isinstance(recorder, SQLiteAggregateRecorder)
        place = f"{start}" if contiguous else f"after {start - 1}"
        raise Divergence(f"{what} {place} cannot be read: {error_text(e)}") from None
