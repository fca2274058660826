"""The scanner SDK: what a warehouse scanner, store terminal or appraiser app calls.

    with Scanner(DeviceKey.load(path), bootstrap, location="urn:epc:id:sgln:0614141.00001.0") as s:
        s.receive("urn:epc:id:sgtin:0614141.107346.2017")

Each call builds a custody event and signs it with the device key. Given a cluster, the
signed envelope is first kept in a durable outbox (:mod:`streams.outbox`: a SQLite file
beside the key file, or ``outbox=PATH``) and a background sender publishes it to
``custody.events`` keyed by item id, so one item's events stay in order: creating a
scanner never waits for the broker, and a scan made while the broker is away is sent when
it returns, also after a crash or restart. Given a :class:`Producer`, envelopes are sent
through it directly and the caller owns their delivery (tools, tests, benchmarks).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from domain.custody import CustodyEvent, ErrorReason, Kind, RetirementReason, Verdict
from domain.privacy import Disclosure, claim_commitment
from ledger.disclosures import DisclosureStore
from streams.connection import KafkaConnection
from streams.envelope import seal
from streams.keys import DeviceKey
from streams.outbox import Outbox, outbox_beside
from streams.producer import Producer
from streams.sender import OutboxSender

#: Seconds ``close`` waits for the outbox to drain before leaving the rest for next time.
STOP_TIMEOUT = 10.0


def new_event_id() -> str:
    return str(uuid.uuid4())


class Undelivered(TimeoutError):
    """Scans still in the outbox when a flush gave up waiting (kept, not lost)."""

    def __init__(self, pending: int, path: Path) -> None:
        super().__init__(f"{pending} scan(s) not yet acknowledged by the broker; kept in {path}")
        self.pending = pending
        self.path = path


def default_outbox(key: DeviceKey) -> Path:
    if key.source is None:
        raise ValueError("this device key was not loaded from a file: give the scanner outbox=PATH")
    return outbox_beside(key.source)


class Scanner:
    def __init__(
        self,
        key: DeviceKey,
        producer: Producer | KafkaConnection | str,
        *,
        location: str = "",
        topic: str = "custody.events",
        schema_version: int | None = None,
        outbox: Outbox | Path | str | None = None,
        stop_timeout: float = STOP_TIMEOUT,
        window: int = 500,
    ) -> None:
        """``window``: scans handed to the producer per round (each round waits for their
        acknowledgements before the next)."""
        self.key = key
        self.location = location
        self.topic = topic
        self.schema_version = schema_version
        self.stop_timeout = stop_timeout
        self.producer: Producer | None = None
        self.outbox: Outbox | None = None
        self.sender: OutboxSender | None = None
        self._left = 0
        self._owns_outbox = False
        if isinstance(producer, Producer) and outbox is None:
            self.producer = producer
            return
        cluster = producer.connection if isinstance(producer, Producer) else producer
        self.outbox = (
            outbox
            if isinstance(outbox, Outbox)
            else Outbox(default_outbox(key) if outbox is None else outbox)
        )
        self.sender = OutboxSender(
            self.outbox, cluster, window=window, name=f"scanner-{key.device_id}"
        ).start()

    def publish(self, event: CustodyEvent) -> bytes:
        """Sign one event and keep it for sending (or send it); returns the envelope bytes."""
        if (event.party_id, event.device_id) != (self.key.party_id, self.key.device_id):
            raise ValueError("an event must name the party and device of the signing key")
        envelope = seal(event, self.key, schema_version=self.schema_version)
        if self.outbox is not None and self.sender is not None:
            self.outbox.put(self.topic, event.item_id.encode(), envelope)
            self.sender.wake()
        elif self.producer is not None:
            self.producer.send(self.topic, envelope, key=event.item_id.encode())
        return envelope

    @property
    def unsent(self) -> int:
        """Scans kept in the outbox, not yet acknowledged by the broker."""
        if self.outbox is None:
            return 0
        return self.outbox.depth() if self.sender is not None else self._left

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

    def sell_privately(
        self,
        item_id: str,
        *,
        buyer_ref: str,
        disclosures: DisclosureStore,
        claim_code: str | None = None,
        **details: Any,
    ) -> CustodyEvent:
        """A sale whose buyer reference is anchored only as a salted commitment; the
        disclosure is kept first (in the deletable store), so a published sale never lacks
        it (docs/privacy.md). With ``claim_code`` (``domain.privacy.new_claim_code``, for the
        buyer's receipt) the sale also commits to it."""
        disclosure = Disclosure.new("buyer_ref", buyer_ref)
        if claim_code is not None:
            details["claim_salt"], details["claim_digest"] = claim_commitment(claim_code)
        event = self.event(
            Kind.RETAIL_SELLING, item_id, commitments={"buyer_ref": disclosure.digest}, **details
        )
        disclosures.put(event.item_id, event.event_id, disclosure)
        self.publish(event)
        return event

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

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every scan so far was acknowledged; :class:`Undelivered` on timeout."""
        if self.sender is not None and self.outbox is not None:
            pending = self.sender.wait_sent(timeout=timeout)
            if pending:
                raise Undelivered(pending, self.outbox.path)
        elif self.producer is not None:
            self.producer.flush()

    def close(self, timeout: float | None = None) -> int:
        """Send what can be sent within ``timeout`` (default ``stop_timeout``) seconds, then
        stop; returns the scans left in the outbox for the next start."""
        if self.producer is not None:
            self.producer.close()
            return 0
        if self.sender is None or self.outbox is None:
            return 0
        budget = self.stop_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        sender, self.sender = self.sender, None
        try:
            sender.wait_sent(timeout=budget)
        finally:
            self._left = sender.stop(max(1.0, deadline - time.monotonic()))
            if self._owns_outbox:
                self.outbox.close()
        return self._left

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
