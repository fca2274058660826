"""An item's stored history as GS1 EPCIS 2.0: an EPCISDocument or an EPCISQueryDocument.

Each event keeps its EPCIS ``eventID`` (events that did not come through EPCIS get a
stable ``urn:uuid:`` from the item and their custody event id), narrowed to this item
(``epcList`` / ``childEPCs`` name only it), with Assay's anchoring and the recording party
in the extension namespace ``https://assay.example/epcis#`` (prefix ``assay``). A report
the ledger kept as evidence rather than custody carries ``assay:flags``; an event declared
in error carries GS1's ``errorDeclaration``. The rules are in
docs/epcis.md ("Export").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from domain.custody import CustodyEvent, Kind, RetirementReason, Verdict
from domain.kinds import RULES
from epcis.fields import ASSAY_NS, ASSAY_PREFIX
from epcis.identifiers import looks_like_uri
from epcis.parties import ASSAY_PARTY_URN

if TYPE_CHECKING:
    from anchoring.chain import Chain
    from ledger.application import CustodyLedger

GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CONTEXT: list[Any] = [GS1_CONTEXT, {ASSAY_PREFIX: ASSAY_NS}]
#: Ids of events that did not come through EPCIS: ``uuid5(EXPORT_NAMESPACE, item + " " + id)``.
EXPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://assay.example/epcis#export")
LOCATION_URN = "urn:assay:location:"

#: Assay kinds that are not CBV steps of the same name.
STEP_OF_KIND = {Kind.OBSERVING: "cycle_counting", Kind.RETURNING: "receiving"}
DISPOSITION_OF_KIND = {
    Kind.COMMISSIONING: "active",
    Kind.SHIPPING: "in_transit",
    Kind.RECEIVING: "in_progress",
    Kind.RETAIL_SELLING: "retail_sold",
    Kind.RETURNING: "returned",
}
DISPOSITION_OF_VERDICT = {Verdict.GENUINE: "conformant", Verdict.COUNTERFEIT: "non_conformant"}
DISPOSITION_OF_REASON = {RetirementReason.DESTROYED: "destroyed", RetirementReason.STOLEN: "stolen"}


class Anchor(Protocol):
    @property
    def height(self) -> int: ...
    @property
    def leaf_index(self) -> int: ...
    @property
    def leaf_hash(self) -> bytes: ...


def _assay(name: str) -> str:
    return f"{ASSAY_PREFIX}:{name}"


def item_history(ledger: CustodyLedger, chain: Chain, item_id: str) -> list[dict[str, Any]]:
    """The EPCIS events of one item from the event store (``ItemNotFound`` if unknown)."""
    ledger.get_item(item_id)
    anchors = {row.version: row for row in chain.leaves_for(item_id)}
    return history_events(item_id, ledger.item_events(item_id), anchors)


def history_events(
    item_id: str, stored: Iterable[Any], anchors: Mapping[int, Anchor]
) -> list[dict[str, Any]]:
    """EPCIS events of one item from its stored domain events (oldest first).

    An accepted error declaration is not an event of its own here: as GS1 does, the event it
    declares in error carries it as ``errorDeclaration`` (with Assay's anchoring of the
    declaration), and a flag citing a declaration is noted on that event too."""
    out: list[dict[str, Any]] = []
    by_custody_id: dict[str, dict[str, Any]] = {}
    declarations: list[tuple[Any, CustodyEvent]] = []
    for event in stored:
        custody: CustodyEvent | None = getattr(event, "custody", None)
        flagged = type(event).__name__ in ("Sighted", "Flagged")
        if custody is not None and RULES[custody.kind].withdraws:
            if not flagged:
                declarations.append((event, custody))
            continue
        if custody is None:
            custody = getattr(event, "evidence", None)
            if custody is None:
                continue
            if RULES[custody.kind].withdraws:  # a flag citing a declaration: on the original
                declarations.append((event, custody))
                continue
            if getattr(event, "envelope", None) is None and custody.event_id in by_custody_id:
                # A platform flag about a report already in the history: noted on it.
                _add_flag(by_custody_id[custody.event_id], event)
                continue
        exported = epcis_event(item_id, custody)
        exported[_assay("itemVersion")] = event.originator_version
        exported["recordTime"] = _time(event.timestamp)
        exported.update(_anchoring(anchors.get(event.originator_version)))
        if flagged:
            _add_flag(exported, event)
        by_custody_id.setdefault(custody.event_id, exported)
        out.append(exported)
    for event, declaration in declarations:
        original = by_custody_id.get(str(declaration.declared_event_id))
        if original is None:
            continue
        if type(event).__name__ == "Flagged":
            _add_flag(original, event)
            continue
        original["errorDeclaration"] = _error_declaration(
            item_id, event, declaration, anchors, by_custody_id
        )
    return out


def _anchoring(anchor: Anchor | None) -> dict[str, Any]:
    if anchor is None:
        return {}
    return {
        _assay("blockHeight"): anchor.height,
        _assay("leafIndex"): anchor.leaf_index,
        _assay("leafHash"): anchor.leaf_hash.hex(),
    }


def _error_declaration(
    item_id: str,
    event: Any,
    c: CustodyEvent,
    anchors: Mapping[int, Anchor],
    exported: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """GS1's errorDeclaration from an accepted declaration: the corrective events by their
    EPCIS ids (as captured, else as this export names them), and who declared it and where
    the declaration is anchored in Assay's namespace."""
    captured = c.attributes.get("epcis:correctiveEventIDs")
    if captured is not None:
        corrective = [str(i) for i in json.loads(captured)]
    else:
        corrective = [
            exported[i]["eventID"] if i in exported else stable_event_id(item_id, i)
            for i in c.corrective_event_ids
        ]
    out: dict[str, Any] = {"declarationTime": _time(c.occurred_at)}
    if c.error_reason is not None:
        out["reason"] = c.error_reason.value
    if corrective:
        out["correctiveEventIDs"] = corrective
    out[_assay("party")] = c.party_id
    out[_assay("device")] = c.device_id
    out[_assay("itemVersion")] = event.originator_version
    out.update(_anchoring(anchors.get(event.originator_version)))
    return out


def _add_flag(exported: dict[str, Any], event: Any) -> None:
    signal = getattr(event, "signal", None) or "unknown_item"
    detail = getattr(event, "detail", None) or "scanned before any commissioning"
    exported.setdefault(_assay("flags"), []).append(
        {_assay("signal"): str(signal), _assay("detail"): str(detail)}
    )


def epcis_event(item_id: str, c: CustodyEvent) -> dict[str, Any]:
    """One custody event as this item's share of an EPCIS event (no anchoring yet)."""
    a = c.attributes
    etype = a.get("epcis:type", "ObjectEvent")
    offset = a.get("epcis:eventTimeZoneOffset") or "+00:00"
    out: dict[str, Any] = {
        "type": etype,
        "eventTime": _time(c.occurred_at, offset),
        "eventTimeZoneOffset": offset,
        "eventID": a.get("epcis:eventID") or stable_event_id(item_id, c.event_id),
        "action": a.get("epcis:action") or _action(c.kind),
    }
    if etype == "AggregationEvent":
        out["parentID"] = a["epcis:parentID"]
        out["childEPCs"] = [item_id]
    else:
        out["epcList"] = [item_id]
    out["bizStep"] = a.get("epcis:bizStep") or STEP_OF_KIND.get(c.kind, c.kind.value)
    disposition = a.get("epcis:disposition") or _disposition(c)
    if disposition:
        out["disposition"] = disposition
    out["readPoint"] = {"id": a.get("epcis:readPoint") or _uri(LOCATION_URN, c.location)}
    if "epcis:bizLocation" in a:
        out["bizLocation"] = {"id": a["epcis:bizLocation"]}
    for name in ("bizTransactionList", "sourceList", "destinationList"):
        if f"epcis:{name}" in a:
            out[name] = json.loads(a[f"epcis:{name}"])
    if c.kind is Kind.SHIPPING and c.counterparty and "destinationList" not in out:
        party = _uri(ASSAY_PARTY_URN, c.counterparty)
        out["destinationList"] = [{"type": "possessing_party", "destination": party}]
    if c.kind is Kind.COMMISSIONING and etype == "ObjectEvent":
        out["ilmd"] = {
            _assay(k): v
            for k, v in (("brand", c.brand), ("model", c.model), ("serial", c.serial),
                         ("tagUID", c.tag_uid))
            if v
        }  # fmt: skip
    out.update(_assay_fields(c))
    return out


def _assay_fields(c: CustodyEvent) -> dict[str, Any]:
    out: dict[str, Any] = {_assay("party"): c.party_id, _assay("device"): c.device_id}
    values: dict[str, Any] = {
        "verdict": c.verdict.value if c.verdict else None,
        "certificate": c.certificate,
        "buyerRef": c.buyer_ref,
        "reason": c.reason.value if c.reason else None,
        "latitude": c.latitude,
        "longitude": c.longitude,
        "via": c.attributes.get("epcis:via"),
    }
    out.update({_assay(k): v for k, v in values.items() if v is not None})
    return out


def stable_event_id(item_id: str, custody_event_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(EXPORT_NAMESPACE, f'{item_id} {custody_event_id}')}"


def _action(kind: Kind) -> str:
    return {Kind.COMMISSIONING: "ADD", Kind.DECOMMISSIONING: "DELETE"}.get(kind, "OBSERVE")


def _disposition(c: CustodyEvent) -> str | None:
    if c.kind is Kind.INSPECTING and c.verdict is not None:
        return DISPOSITION_OF_VERDICT.get(c.verdict)
    if c.kind is Kind.DECOMMISSIONING and c.reason is not None:
        return DISPOSITION_OF_REASON.get(c.reason)
    return DISPOSITION_OF_KIND.get(c.kind)


def _uri(prefix: str, value: str) -> str:
    return value if looks_like_uri(value) else prefix + quote(value, safe="")


def _time(moment: datetime, offset: str = "+00:00") -> str:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = (int(p) for p in offset[1:].split(":"))
    zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).isoformat()


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    """An EPCISDocument holding the events."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(datetime.now(UTC)),
        "epcisBody": {"eventList": events},
    }


def query_document(events: list[dict[str, Any]]) -> dict[str, Any]:
    """An EPCISQueryDocument answering a SimpleEventQuery with the events."""
    return {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(datetime.now(UTC)),
        "epcisBody": {
            "queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}
        },
    }
