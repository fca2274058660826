"""EPCIS error declarations: a corrective document resends an event with
``errorDeclaration`` (when, why, and the ids of the events that correct it). The gateway
reads and checks it here; ``epcis.mapping`` makes one ``error_declaration`` custody event
per item of the resent event (docs/epcis.md, "Corrections"), which the ledger judges by its
rules (docs/custody-rules.md, "Corrections").

Ids, so that a resent declaration is stored once and names exactly what it declares:

* the declared custody event: ``custody_event_id(eventID, item)``, the original's own id
  (GS1's event hash leaves ``errorDeclaration`` out, so a hashed id is the original's too);
* the declaration: ``uuid5(DECLARATION_NAMESPACE, "<eventID> <declarationTime in UTC,
  ISO 8601> <item>")``, so a later declaration of the same event is another event (and
  refused ``already_declared``);
* the corrective events: ``custody_event_id(correctiveEventID, item)`` for each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from epcis.vocab import ERROR_REASONS, bare

#: Declaration ids are ``uuid5(DECLARATION_NAMESPACE, eventID + " " + time + " " + item)``.
DECLARATION_NAMESPACE = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://assay.example/epcis#errorDeclaration"
)


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


def declaration_event_id(epcis_event_id: str, declared_at: datetime, item: str) -> str:
    moment = declared_at.astimezone(UTC).isoformat()
    return str(uuid.uuid5(DECLARATION_NAMESPACE, f"{epcis_event_id} {moment} {item}"))
