"""EPCIS documents the tests send: commissioning, packing, shipping and receiving of bags."""

from __future__ import annotations

import json
from typing import Any

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"assay": "https://assay.example/epcis#"},
]
BRAND_SITE = "urn:epc:id:sgln:0614141.00001.0"
DC_SITE = "urn:epc:id:sgln:4012345.00001.0"


def bag(n: int, product: str = "107346") -> str:
    return f"urn:epc:id:sgtin:0614141.{product}.{n}"


def document(*events: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "@context": CONTEXT,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-01T00:00:00Z",
            "epcisBody": {"eventList": list(events)},
        }
    ).encode()


def event(
    event_id: str,
    step: str,
    time: str,
    site: str,
    *,
    epcs: list[str] | None = None,
    action: str = "OBSERVE",
    **fields: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": time,
        "eventTimeZoneOffset": time[-6:] if time[-6] in "+-" else "+00:00",
        "action": action,
        "bizStep": step,
        "readPoint": {"id": site},
    }
    if epcs is not None:
        out["epcList"] = epcs
    out.update(fields)
    return out


def commissioning(
    event_id: str, time: str, items: list[str], model: str = "Lune 28"
) -> dict[str, Any]:
    return event(
        event_id,
        "commissioning",
        time,
        BRAND_SITE,
        epcs=items,
        action="ADD",
        disposition="active",
        ilmd={
            "assay:brand": "Maison Aurel",
            "assay:model": model,
            "assay:tagUIDs": {item: f"E280-{item.rsplit('.', 1)[1]}" for item in items},
        },
    )


def shipping(
    event_id: str, time: str, epcs: list[str], to: str, site: str = BRAND_SITE
) -> dict[str, Any]:
    return event(
        event_id,
        "shipping",
        time,
        site,
        epcs=epcs,
        disposition="in_transit",
        destinationList=[{"type": "owning_party", "destination": to}],
    )


def aggregation(
    event_id: str,
    step: str,
    time: str,
    site: str,
    parent: str,
    children: list[str] | None,
    action: str,
) -> dict[str, Any]:
    out = event(event_id, step, time, site, action=action)
    out.update(type="AggregationEvent", parentID=parent)
    if children is not None:
        out["childEPCs"] = children
    return out
