"""The tag-claim check of anchoring/audit_records.py on a real store: a claim must name an
item whose commissioning carries its tag; the first unmet claim in ledger order is named."""

from __future__ import annotations

import json
from pathlib import Path

from anchoring.audit_records import LedgerChecks
from ledger.application import CustodyLedger
from ledger.config import store_env
from tests.anchoring.stores import set_state, stored_row
from tests.anchoring.tamper import build_store, run_audit

CLAIMS = "WHERE topic LIKE 'domain.tags:%' ORDER BY rowid"


def _reclaim(db: Path, where: str, other: str) -> int:
    """Make the tag claim ``where`` picks name item ``other``; its notification id."""
    rowid, state = stored_row(db, where)
    item = json.loads(state)["item_id"]
    assert item != other
    set_state(
        db, rowid, state.replace(f'"item_id":"{item}"'.encode(), f'"item_id":"{other}"'.encode())
    )
    return rowid


def test_the_first_tag_claim_no_commissioning_carries_is_named(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    db = store / "ledger.sqlite"
    assert run_audit(store).ok
    _, last = stored_row(db, f"{CLAIMS} DESC LIMIT 1")
    _, second = stored_row(db, f"{CLAIMS} LIMIT 1 OFFSET 1")
    other = json.loads(last)["item_id"]
    later = _reclaim(db, f"{CLAIMS} LIMIT 1 OFFSET 2", other)
    first = _reclaim(db, f"{CLAIMS} LIMIT 1", json.loads(second)["item_id"])
    assert first < later
    divergence = run_audit(store).divergence or ""
    assert divergence.startswith(f"ledger event {first} "), divergence
    assert "claims tag" in divergence and "which no commissioning of" in divergence


def test_an_item_record_asked_for_after_another_event_was_checked_is_its_own(
    tmp_path: Path,
) -> None:
    """The record the last check made is reused only for that event: asking for an earlier
    one (another item) gives the earlier one's record, not the last one's."""
    store = build_store(tmp_path / "store")
    ledger = CustodyLedger(store_env("", store / "ledger.sqlite"))
    items = [
        n
        for n in ledger.recorder.select_notifications(start=1, limit=10_000)
        if n.topic.startswith("domain.items:Item.")
    ]
    first = next(n for n in items if n.originator_id != items[-1].originator_id)
    checks = LedgerChecks(ledger.mapper)
    events = {n.id: checks.check(n, f"ledger event {n.id}") for n in items}
    made = checks.item_record(events[first.id], str(first.originator_id), first.originator_version)
    assert (made.item_id, made.version) == (str(first.originator_id), first.originator_version)
    last = items[-1]
    again = checks.item_record(events[last.id], str(last.originator_id), last.originator_version)
    assert again is checks.record  # the last one checked: made once, by its check
