"""EPCIS error declarations: read and checked, not yet recorded (the ledger has no kind for
them). A corrective document resends an event with ``errorDeclaration`` (when, why, and
the ids of the events that correct it); the gateway answers it with a problem saying
corrections are not supported yet, naming what it understood.

What recording one needs from the domain is in docs/epcis.md ("Corrections").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from epcis.vocab import ERROR_REASONS, bare


@dataclass(frozen=True)
class DeclaredError:
    """One event declared in error: the original stays; this says who, when and why."""

    event_id: str
    declared_at: datetime
    reason: str | None
    corrective_event_ids: tuple[str, ...]

    def describe(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        fixed = (
            f", corrected by {', '.join(self.corrective_event_ids)}"
            if self.corrective_event_ids
            else ""
        )
        return f"{self.event_id} declared in error at {self.declared_at.isoformat()}{why}{fixed}"


class DeclarationError(ValueError):
    """An ``errorDeclaration`` that cannot be read."""


def declared_error(event: dict[str, Any], event_id: str) -> DeclaredError:
    declaration = event["errorDeclaration"]
    try:
        declared_at = datetime.fromisoformat(str(declaration["declarationTime"]))
    except ValueError:
        raise DeclarationError("errorDeclaration.declarationTime is not a time") from None
    if declared_at.tzinfo is None:
        raise DeclarationError("errorDeclaration.declarationTime needs a time zone")
    reason = declaration.get("reason")
    if reason is not None:
        reason = bare(str(reason), "errorReason")
        if reason not in ERROR_REASONS:
            raise DeclarationError(
                f"errorDeclaration.reason {reason!r} is not a CBV error reason "
                f"({', '.join(sorted(ERROR_REASONS))})"
            )
    corrective = tuple(str(i) for i in declaration.get("correctiveEventIDs", []))
    return DeclaredError(event_id, declared_at, reason, corrective)
