"""EPCIS events -> custody events: one per item, by business step (docs/epcis.md).

``Mapper.map_event`` reads one ObjectEvent or AggregationEvent that already passed GS1's
schema and returns a custody event for each item it concerns, or raises ``Refused``
naming the field. Containers (an SSCC, or any parent the gateway saw packed) expand to
the items inside them; AggregationEvents change what the gateway remembers of packing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.custody import CustodyEvent, ErrorReason, Kind
from epcis.aggregation import Containment
from epcis.corrections import DeclarationError, declaration_event_id, declared_error
from epcis.details import Details, kind_details
from epcis.fields import Namespaces
from epcis.identifiers import IdentifierError, canonical_epc, is_sgtin
from epcis.parties import PartyTable
from epcis.refusal import Refused
from epcis.vocab import (
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    SOURCE_DEST_TYPES,
    bare,
    refusal_reason,
    step_kind,
)

#: Custody event ids are ``uuid5(EVENT_NAMESPACE, "<EPCIS eventID> <item EPC URN>")``.
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://assay.example/epcis#event")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes
MAPPED_TYPES = ("ObjectEvent", "AggregationEvent")


def custody_event_id(epcis_event_id: str, item: str) -> str:
    """``str(uuid.uuid5(EVENT_NAMESPACE, f"{epcis_event_id} {item}"))``, without the UUID
    object (a tenth of a capture's mapping time went into building it)."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + f"{epcis_event_id} {item}".encode()).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Signer:
    party_id: str
    device_id: str


class Mapper:
    def __init__(
        self, signer: Signer, parties: PartyTable, containment: Containment, ns: Namespaces
    ) -> None:
        self.signer = signer
        self.parties = parties
        self.containment = containment
        self.ns = ns

    def map_event(self, event: dict[str, Any], event_id: str, hashed: bool) -> list[CustodyEvent]:
        etype = event["type"]
        if etype not in MAPPED_TYPES:
            only = " and ".join(MAPPED_TYPES)
            raise Refused("/type", f"{etype} is not recorded by Assay (only {only})")
        ns = self.ns.with_event(event)
        action = event["action"]
        step, disposition = _vocabulary(event)
        kind = step_kind(step, disposition)
        if kind is None:
            raise Refused("/bizStep", f"bizStep {step!r} is refused: {refusal_reason(step)}")
        _check_action(etype, action, step, kind)
        occurred_at = _event_time(event)
        location = _location(event)
        items = self._items(event, etype, action)
        details = kind_details(kind, event, ns, items, self.parties)
        attributes = _attributes(event, event_id, hashed, step, disposition)
        return [
            self._custody(event_id, item, kind, location, occurred_at, details, attributes, via)
            for item, via in items.items()
        ]

    def _custody(
        self,
        event_id: str,
        item: str,
        kind: Kind,
        location: str,
        occurred_at: datetime,
        details: Details,
        attributes: dict[str, str],
        via: str | None,
    ) -> CustodyEvent:
        attrs = {**attributes, "epcis:via": via} if via else attributes
        return CustodyEvent(
            event_id=custody_event_id(event_id, item),
            item_id=item,
            kind=kind,
            party_id=self.signer.party_id,
            device_id=self.signer.device_id,
            location=location,
            occurred_at=occurred_at,
            attributes=attrs,
            **details.for_item(item),
        )

    def map_declaration(
        self, event: dict[str, Any], event_id: str, hashed: bool
    ) -> list[CustodyEvent]:
        """A resent event with ``errorDeclaration``: one ``error_declaration`` per item it
        names (containers expanded from memory, which a declaration does not change)."""
        etype = event["type"]
        if etype not in MAPPED_TYPES:
            raise Refused("/type", f"{etype} is not recorded by Assay: nothing to declare")
        try:
            declared = declared_error(event, event_id)
        except DeclarationError as e:
            raise Refused("/errorDeclaration", str(e)) from None
        location = _location(event)
        name = "epcList" if etype == "ObjectEvent" else "childEPCs"
        epcs = _epcs(event, name)
        if etype == "AggregationEvent" and not epcs:
            epcs = list(self.containment.children(_canonical(str(event["parentID"]), "")))
        items: dict[str, str | None] = {}
        for i, epc in enumerate(epcs):
            self._expand(epc, None, items, f"/{name}/{i}")
        if not items:
            raise Refused("", "the declaration names no serialized item (SGTIN)")
        attributes = {"epcis:eventID": event_id, "epcis:type": etype}
        if hashed:
            attributes["epcis:eventIDHashed"] = "true"
        if declared.corrective_event_ids:
            ids = json.dumps(list(declared.corrective_event_ids), separators=(",", ":"))
            attributes["epcis:correctiveEventIDs"] = ids
        return [
            CustodyEvent(
                event_id=declaration_event_id(event_id, declared.declared_at, item),
                item_id=item,
                kind=Kind.ERROR_DECLARATION,
                party_id=self.signer.party_id,
                device_id=self.signer.device_id,
                location=location,
                occurred_at=declared.declared_at,
                attributes={**attributes, "epcis:via": via} if via else attributes,
                declared_event_id=custody_event_id(event_id, item),
                error_reason=ErrorReason(declared.reason) if declared.reason else None,
                corrective_event_ids=tuple(
                    custody_event_id(c, item) for c in declared.corrective_event_ids
                ),
            )
            for item, via in items.items()
        ]

    # ----- which items ----------------------------------------------------------------

    def _items(self, event: dict[str, Any], etype: str, action: str) -> dict[str, str | None]:
        """Item EPC -> the container it was reached through (``None``: named itself)."""
        items: dict[str, str | None] = {}
        if etype == "ObjectEvent":
            for i, epc in enumerate(_epcs(event, "epcList")):
                self._expand(epc, None, items, f"/epcList/{i}")
        else:
            parent = _canonical(str(event.get("parentID", "")), "/parentID")
            if not parent:
                raise Refused("", "an AggregationEvent without parentID names no container")
            children = _epcs(event, "childEPCs")
            if action == "DELETE":
                children = self.containment.unpack(parent, children or None)
            else:
                self.containment.pack(parent, children)
            for i, epc in enumerate(children):
                self._expand(epc, None, items, f"/childEPCs/{i}")
        if not items:
            raise Refused("", "the event names no serialized item (SGTIN) Assay could record")
        return items

    def _expand(
        self, epc: str, via: str | None, items: dict[str, str | None], where: str, depth: int = 0
    ) -> None:
        found = False
        if is_sgtin(epc):
            items.setdefault(epc, via)
            found = True
        if depth < 8:  # nesting deeper than pallet > case > box is a loop
            for child in list(self.containment.children(epc)):
                self._expand(child, via or epc, items, where, depth + 1)
                found = True
        if not found:
            raise Refused(
                where,
                f"{epc} is neither an item (SGTIN) nor a container the gateway knows: "
                "send its packing (an AggregationEvent) first",
            )


def _canonical(value: str, where: str) -> str:
    try:
        return canonical_epc(value) if value else value
    except IdentifierError as e:
        raise Refused(where, str(e)) from None


def _epcs(event: dict[str, Any], name: str) -> list[str]:
    return [_canonical(str(epc), f"/{name}/{i}") for i, epc in enumerate(event.get(name, []))]


def _vocabulary(event: dict[str, Any]) -> tuple[str, str | None]:
    if "bizStep" not in event:
        raise Refused("", "Assay needs a bizStep to know what happened to the items")
    step = bare(str(event["bizStep"]), "bizStep")
    disposition = None
    if "disposition" in event:
        disposition = bare(str(event["disposition"]), "disposition")
        if disposition not in DISPOSITIONS:
            raise Refused("/disposition", f"disposition {disposition!r} is not a CBV disposition")
    for i, bt in enumerate(event.get("bizTransactionList", [])):
        if "type" in bt and bare(str(bt["type"]), "bizTransaction") not in BIZ_TRANSACTION_TYPES:
            raise Refused(
                f"/bizTransactionList/{i}/type",
                f"bizTransaction type {bt['type']!r} is not a CBV business transaction type",
            )
    for name in ("sourceList", "destinationList"):
        for i, entry in enumerate(event.get(name, [])):
            if bare(str(entry["type"]), "sourceDest") not in SOURCE_DEST_TYPES:
                raise Refused(
                    f"/{name}/{i}/type", f"{entry['type']!r} is not a CBV source/destination type"
                )
    return step, disposition


def _check_action(etype: str, action: str, step: str, kind: Kind) -> None:
    if etype == "AggregationEvent":
        if kind in (Kind.COMMISSIONING, Kind.DECOMMISSIONING, Kind.INSPECTING):
            raise Refused("/bizStep", f"{step} is recorded with an ObjectEvent, not by packing")
        return
    if kind is Kind.COMMISSIONING and action != "ADD":
        raise Refused("/action", "commissioning creates the items: its action is ADD")
    if action == "ADD" and kind is not Kind.COMMISSIONING:
        raise Refused(
            "/action", f"ADD creates items: Assay reads it only as commissioning, not {step}"
        )
    if action == "DELETE" and kind is not Kind.DECOMMISSIONING:
        raise Refused(
            "/action", f"DELETE ends items: Assay reads it as decommissioning only, not {step}"
        )


def _event_time(event: dict[str, Any]) -> datetime:
    try:
        occurred = datetime.fromisoformat(str(event["eventTime"]))
    except ValueError:
        raise Refused("/eventTime", f"eventTime {event['eventTime']!r} cannot be read") from None
    if occurred.tzinfo is None:
        raise Refused("/eventTime", "eventTime needs a time zone offset")
    return occurred


def _location(event: dict[str, Any]) -> str:
    for name in ("bizLocation", "readPoint"):
        if name in event:
            return str(event[name]["id"])
    raise Refused("", "Assay needs a readPoint or bizLocation: where it happened")


def _attributes(
    event: dict[str, Any], event_id: str, hashed: bool, step: str, disposition: str | None
) -> dict[str, str]:
    out = {
        "epcis:eventID": event_id,
        "epcis:type": str(event["type"]),
        "epcis:action": str(event["action"]),
        "epcis:bizStep": step,
        "epcis:eventTimeZoneOffset": str(event["eventTimeZoneOffset"]),
    }
    if hashed:
        out["epcis:eventIDHashed"] = "true"
    if disposition is not None:
        out["epcis:disposition"] = disposition
    for name in ("readPoint", "bizLocation"):
        if name in event:
            out[f"epcis:{name}"] = str(event[name]["id"])
    if event["type"] == "AggregationEvent":
        out["epcis:parentID"] = canonical_epc(str(event["parentID"]))
    for name in ("bizTransactionList", "sourceList", "destinationList"):
        if event.get(name):
            out[f"epcis:{name}"] = json.dumps(event[name], sort_keys=True, separators=(",", ":"))
    return out
