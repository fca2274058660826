"""Shared by the anchoring tests: record stories, open an anchor, read and edit stored rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.sealer import Anchor, SealPolicy
from ledger.application import CustodyLedger, Report
from streams.envelope import seal
from tests.support import World, story_events


def record_items(world: World, first: int, count: int) -> None:
    """Record the stories of items ``first`` .. ``first + count - 1``; each one accepted."""
    reports = []
    for n in range(first, first + count):
        for event in story_events(f"urn:item:{n}", f"TAG-{n}"):
            reports.append(Report(event, seal(event, world.keys[event.party_id])))
    for report in reports:
        (decision,) = world.ledger.process([report], None)
        assert decision.accepted, decision.refusal


def new_anchor(
    ledger: CustodyLedger,
    chain: Chain,
    signer: Signer,
    root: Path,
    *,
    origin: str,
    policy: SealPolicy,
    **kw: Any,
) -> Anchor:
    """An anchor whose checkpoint is ``root / "checkpoint"``."""
    return Anchor(
        ledger,
        chain,
        signer,
        origin=origin,
        policy=policy,
        checkpoint_path=root / "checkpoint",
        **kw,
    )


def stored_row(db: Path, where: str, *params: Any) -> tuple[int, bytes]:
    """The first ``(rowid, state)`` of ``stored_events`` ``where`` (the rest of the query)."""
    with sqlite3.connect(db) as conn:
        rowid, state = conn.execute(
            f"SELECT rowid, state FROM stored_events {where}", params
        ).fetchone()
    conn.close()
    return int(rowid), bytes(state)


def item_row(db: Path, item: str, version: int) -> tuple[int, bytes]:
    """``(rowid, state)`` of version ``version`` of ``item``."""
    return stored_row(db, "WHERE originator_id=? AND originator_version=?", item, version)


def set_state(db: Path, rowid: int, state: bytes) -> None:
    """Overwrite one stored event's state behind the application's back."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (state, rowid))
    conn.close()
