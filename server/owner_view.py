"""What the owner endpoint says about an item's ownership: its version (what a statement
signs after), its status, and its owner by key and fingerprint — never by name; and
whether the ledger, as it stands, would refuse a statement."""

from __future__ import annotations

from typing import Any

from domain.errors import DomainError
from domain.owner_statement import OwnerStatement
from domain.ownership import judge_owner
from ledger.application import CustodyLedger, ItemNotFound


def ownership_view(ledger: CustodyLedger, item_id: str) -> dict[str, Any] | None:
    """The item's ownership view, or None if the ledger has no such item."""
    try:
        item = ledger.get_item(item_id)
    except ItemNotFound:
        return None
    state, o = item.state, item.state.ownership
    return {
        "item_id": item_id,
        "version": item.version,
        "status": state.status.value,
        "owner": o.owner,
        "owner_key": o.owner_key,
        "claim_open": o.open_claim is not None,
        "missing": o.missing.value if o.missing else None,
    }


def refusal(ledger: CustodyLedger, statement: OwnerStatement) -> tuple[str, str] | None:
    """``(rule, reason)`` if the ledger, as it stands, would refuse ``statement``; None if
    it would take it (or holds it already). The same rules the ingest applies
    (``domain.ownership.judge_owner``), read-only."""
    try:
        judge_owner(statement, ledger)
    except DomainError as e:
        return e.rule, e.reason
    return None
