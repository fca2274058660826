"""One capture: a document's bytes -> the custody events to publish, or a ``Problem``.

Everything is checked before anything is published (GS1's ``rollback`` behaviour): the
media type, the size, the JSON, GS1's schema, the CBV allow-list and the mapping of every
event (an event resent with an ``errorDeclaration`` maps to the declaration of the original
in error). Reading is pure; ``epcis.gateway`` publishes the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from domain.custody import CustodyEvent
from epcis.aggregation import Containment, SavedMemory
from epcis.fields import Namespaces
from epcis.hashing import EventHashError, event_hash_ids
from epcis.mapping import Mapper, Signer
from epcis.parties import PartyTable
from epcis.problems import MEDIA_TYPE, TOO_LARGE, VALIDATION, Problem
from epcis.refusal import Refused
from epcis.schema import EPCISSchema

MEDIA_TYPES = ("application/json", "application/ld+json")
#: At most this many per-event errors are listed in one problem.
MAX_LISTED_ERRORS = 50


@dataclass(frozen=True)
class Limits:
    events: int
    bytes: int


@dataclass
class Prepared:
    """A document read whole: its custody events, and the packing it changes."""

    epcis_events: int
    custody: list[CustodyEvent]
    containment: Containment


class Reader:
    def __init__(
        self, schema: EPCISSchema, signer: Signer, parties: PartyTable, limits: Limits
    ) -> None:
        self.schema = schema
        self.signer = signer
        self.parties = parties
        self.limits = limits

    def check_media_type(self, content_type: str | None) -> None:
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media not in MEDIA_TYPES:
            raise Problem(
                415,
                MEDIA_TYPE,
                "Unsupported Media Type",
                f"send the EPCIS document as {' or '.join(MEDIA_TYPES)}, not {media or 'nothing'}",
            )

    def too_large(self, size: int) -> Problem:
        return Problem(
            413,
            TOO_LARGE,
            "Capture Payload too large",
            f"the document has more than {self.limits.bytes} bytes "
            "(GS1-EPCIS-Capture-File-Size-Limit); split it",
        )

    def read(self, body: bytes, saved: SavedMemory) -> Prepared:
        if len(body) > self.limits.bytes:
            raise self.too_large(len(body))
        document = _parse(body)
        events = _event_list(document)
        if events is not None and len(events) > self.limits.events:
            raise Problem(
                413,
                TOO_LARGE,
                "Capture Payload too large",
                f"the document has {len(events)} events; at most {self.limits.events} "
                "(GS1-EPCIS-Capture-Limit): split it",
            )
        violations = self.schema.violations(document)
        if violations:
            first = violations[0]
            raise Problem(
                400,
                VALIDATION,
                "Invalid EPCIS document",
                f"{first.pointer or 'the document'}: {first.message} (GS1 EPCIS 2.0 "
                "JSON Schema); nothing was captured",
                [{"pointer": v.pointer, "detail": v.message} for v in violations],
            )
        assert events is not None  # the schema requires the event list
        ids, hashed = _event_ids(document, events)
        return self._map(document, events, ids, hashed, saved)

    def _map(
        self,
        document: dict[str, Any],
        events: list[dict[str, Any]],
        ids: list[str],
        hashed: set[int],
        saved: SavedMemory,
    ) -> Prepared:
        containment = Containment(saved)
        mapper = Mapper(self.signer, self.parties, containment, Namespaces(document["@context"]))
        custody: list[CustodyEvent] = []
        errors: list[dict[str, Any]] = []
        base = _events_pointer(document)
        for index, (event, event_id) in enumerate(zip(events, ids, strict=True)):
            try:
                if "errorDeclaration" in event:
                    custody.extend(mapper.map_declaration(event, event_id, index in hashed))
                else:
                    custody.extend(mapper.map_event(event, event_id, index in hashed))
            except Refused as e:
                errors.append(_event_error(base, index, event_id, e.where, e.message))
                if len(errors) >= MAX_LISTED_ERRORS:
                    break
        if errors:
            first = errors[0]
            raise Problem(
                400,
                VALIDATION,
                "EPCIS events Assay cannot record",
                f"{len(errors)} event(s) refused, first {first['pointer']}: {first['detail']}; "
                "nothing was captured",
                errors,
            )
        return Prepared(len(events), custody, containment)


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise Problem(400, VALIDATION, "Invalid EPCIS document", f"not JSON: {e}") from None


def _event_list(document: Any) -> list[dict[str, Any]] | None:
    """The events of an EPCISDocument or an EPCISQueryDocument (``None``: not there)."""
    if not isinstance(document, dict) or not isinstance(document.get("epcisBody"), dict):
        return None
    body = document["epcisBody"]
    if document.get("type") == "EPCISQueryDocument":
        body = body.get("queryResults", {}).get("resultsBody", {})
    events = body.get("eventList") if isinstance(body, dict) else None
    return events if isinstance(events, list) else None


def _events_pointer(document: dict[str, Any]) -> str:
    if document.get("type") == "EPCISQueryDocument":
        return "/epcisBody/queryResults/resultsBody/eventList"
    return "/epcisBody/eventList"


def _event_error(base: str, index: int, event_id: str, where: str, detail: str) -> dict[str, Any]:
    return {"pointer": f"{base}/{index}{where}", "eventID": event_id, "detail": detail}


def _event_ids(
    document: dict[str, Any], events: list[dict[str, Any]]
) -> tuple[list[str], set[int]]:
    missing = [i for i, e in enumerate(events) if not e.get("eventID")]
    ids = [str(e.get("eventID", "")) for e in events]
    if missing:
        try:
            hashes = event_hash_ids(document["@context"], [events[i] for i in missing])
        except EventHashError as e:
            raise Problem(
                400,
                VALIDATION,
                "Event id cannot be derived",
                f"events without eventID get GS1's CBV event hash as id, and {e}; "
                "give every event an eventID",
            ) from None
        for i, value in zip(missing, hashes, strict=True):
            ids[i] = value
    seen: dict[str, int] = {}
    for i, event_id in enumerate(ids):
        if event_id in seen:
            raise Problem(
                400,
                VALIDATION,
                "Invalid EPCIS document",
                f"events {seen[event_id]} and {i} have the same eventID {event_id}",
            )
        seen[event_id] = i
    return ids, set(missing)
