"""What a verified bundle says about corrections: which of its events are declared in error.

docs/proof-bundle.md §4.9 is normative (the browser verifier computes the same list): an
``E`` event whose signed fields have ``kind`` ``error_declaration`` and a
``declared_event_id`` declares in error the earlier ``E`` event of the bundle with that
``event_id``. Both are signed and anchored; the verifier reports the pair, it does not judge
whether the declarer was entitled to it (the ledger's rules did, docs/custody-rules.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The kind of the events that declare another one in error (domain/kinds.py).
DECLARING_KIND = "error_declaration"


def declared_in_error(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per event declared in error, in the order of the declarations:
    ``{version, event_id, kind, by, at, reason, corrective_event_ids,
    declaration_version}`` (versions are the events' positions, from 1)."""
    earlier: dict[str, tuple[int, Mapping[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    for version, summary in enumerate(summaries, 1):
        if "flag" in summary:  # a platform record (P): nothing it says is a declaration
            continue
        declared = summary.get("declared_event_id")
        if summary.get("kind") == DECLARING_KIND and isinstance(declared, str):
            found = earlier.get(declared)
            if found is not None:
                out.append(_entry(found[0], found[1], version, summary))
            continue
        event_id = summary.get("event_id")
        if isinstance(event_id, str):
            earlier.setdefault(event_id, (version, summary))
    return out


def _entry(
    version: int, original: Mapping[str, Any], at_version: int, declaration: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "version": version,
        "event_id": original["event_id"],
        "kind": original.get("kind"),
        "by": declaration.get("party_id"),
        "at": declaration.get("occurred_at"),
        "reason": declaration.get("error_reason"),
        "corrective_event_ids": list(declaration.get("corrective_event_ids", [])),
        "declaration_version": at_version,
    }
