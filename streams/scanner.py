"""The scanner SDK: what a warehouse scanner, store terminal or appraiser app calls.

    with Scanner(key, bootstrap, location="urn:epc:id:sgln:0614141.00001.0") as s:
        s.receive("urn:epc:id:sgtin:0614141.107346.2017")

Each call builds a custody event, signs it with the device key and publishes the envelope
to ``custody.events`` keyed by item id, so one item's events stay in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from domain.custody import CustodyEvent, ErrorReason, Kind, RetirementReason, Verdict
from streams.connection import KafkaConnection
from streams.envelope import seal
from streams.keys import DeviceKey
from streams.producer import Producer


def new_event_id() -> str:
    return str(uuid.uuid4())


class Scanner:
    def __init__(
        self,
        key: DeviceKey,
        producer: Producer | KafkaConnection | str,
        *,
        location: str = "",
        topic: str = "custody.events",
        schema_version: int | None = None,
    ) -> None:
        self.key = key
        self.producer = producer if isinstance(producer, Producer) else Producer(producer)
        self.location = location
        self.topic = topic
        self.schema_version = schema_version

    def publish(self, event: CustodyEvent) -> bytes:
        """Sign and send one event; returns the exact envelope bytes sent."""
        if (event.party_id, event.device_id) != (self.key.party_id, self.key.device_id):
            raise ValueError("an event must name the party and device of the signing key")
        envelope = seal(event, self.key, schema_version=self.schema_version)
        self.producer.send(self.topic, envelope, key=event.item_id.encode())
        return envelope

    def event(self, kind: Kind, item_id: str, **details: Any) -> CustodyEvent:
        return CustodyEvent(
            event_id=details.pop("event_id", None) or new_event_id(),
            item_id=item_id,
            kind=kind,
            party_id=self.key.party_id,
            device_id=self.key.device_id,
            location=details.pop("location", None) or self.location,
            occurred_at=details.pop("occurred_at", None) or datetime.now(UTC),
            **details,
        )

    def _report(self, kind: Kind, item_id: str, **details: Any) -> CustodyEvent:
        event = self.event(kind, item_id, **details)
        self.publish(event)
        return event

    def commission(
        self, item_id: str, *, tag_uid: str, brand: str, model: str, serial: str, **details: Any
    ) -> CustodyEvent:
        return self._report(
            Kind.COMMISSIONING,
            item_id,
            tag_uid=tag_uid,
            brand=brand,
            model=model,
            serial=serial,
            **details,
        )

    def inspect(
        self, item_id: str, *, verdict: Verdict | str, certificate: str, **details: Any
    ) -> CustodyEvent:
        return self._report(
            Kind.INSPECTING, item_id, verdict=Verdict(verdict), certificate=certificate, **details
        )

    def ship(self, item_id: str, *, to: str, **details: Any) -> CustodyEvent:
        return self._report(Kind.SHIPPING, item_id, counterparty=to, **details)

    def recall(self, item_id: str, **details: Any) -> CustodyEvent:
        return self._report(Kind.VOID_SHIPPING, item_id, **details)

    def receive(self, item_id: str, **details: Any) -> CustodyEvent:
        return self._report(Kind.RECEIVING, item_id, **details)

    def observe(self, item_id: str, **details: Any) -> CustodyEvent:
        return self._report(Kind.OBSERVING, item_id, **details)

    def sell(self, item_id: str, *, buyer_ref: str, **details: Any) -> CustodyEvent:
        return self._report(Kind.RETAIL_SELLING, item_id, buyer_ref=buyer_ref, **details)

    def take_back(self, item_id: str, **details: Any) -> CustodyEvent:
        return self._report(Kind.RETURNING, item_id, **details)

    def decommission(
        self, item_id: str, *, reason: RetirementReason | str, **details: Any
    ) -> CustodyEvent:
        return self._report(
            Kind.DECOMMISSIONING, item_id, reason=RetirementReason(reason), **details
        )

    def declare_error(
        self,
        item_id: str,
        declared_event_id: str,
        *,
        reason: ErrorReason | str | None = None,
        corrective: tuple[str, ...] | list[str] = (),
        **details: Any,
    ) -> CustodyEvent:
        """Declare one of the item's events in error (only its recorder or the item's brand
        may: docs/custody-rules.md); ``corrective`` names the events that replace it."""
        return self._report(
            Kind.ERROR_DECLARATION,
            item_id,
            declared_event_id=declared_event_id,
            error_reason=ErrorReason(reason) if reason else None,
            corrective_event_ids=tuple(corrective),
            **details,
        )

    def flush(self) -> None:
        self.producer.flush()

    def close(self) -> None:
        self.producer.close()

    def __enter__(self) -> Scanner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def event_from_json(data: Mapping[str, Any], key: DeviceKey) -> CustodyEvent:
    """A custody event from one line of ``assay publish`` input (see README)."""
    allowed = set(CustodyEvent.__dataclass_fields__) - {"party_id", "device_id"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for required in ("item_id", "kind"):
        if not data.get(required):
            raise ValueError(f"missing field {required!r}")
    fields = dict(data)
    fields.setdefault("event_id", new_event_id())
    fields["occurred_at"] = (
        datetime.fromisoformat(str(fields["occurred_at"]))
        if fields.get("occurred_at")
        else datetime.now(UTC)
    )
    if fields["occurred_at"].tzinfo is None:
        raise ValueError("occurred_at needs a time zone, e.g. 2026-11-27T10:00:00+00:00")
    if not isinstance(fields.get("attributes", {}), dict):
        raise ValueError("attributes must be an object of strings")
    fields["party_id"], fields["device_id"] = key.party_id, key.device_id
    return CustodyEvent(**fields)
