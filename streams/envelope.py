"""Signed envelopes: a CustodyEvent body in Avro single-object encoding, signed by a device.

The signature covers the exact body bytes (which begin with the writer schema's
fingerprint), so a verifier needs only the bytes, the device's public key and no schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from domain.custody import (
    CORRECTION_FIELDS,
    CUSTODY_FIELDS,
    CustodyEvent,
    ErrorReason,
    Kind,
    RetirementReason,
    Verdict,
)
from streams.avro import SchemaRegistry, default_registry
from streams.errors import SerializationError
from streams.keys import DeviceKey

EVENT_SCHEMA = "custody_event"
ENVELOPE_SCHEMA = "signed_envelope"
#: The custody_event version writers use for an event that needs no later one (v3 adds the
#: correction fields): readers that predate v3 keep reading everyday events.
EVERYDAY_EVENT_VERSION = 2
CORRECTION_EVENT_VERSION = 3
#: v4 adds commitments to personal fields (docs/privacy.md): written when an event has them.
COMMITMENT_EVENT_VERSION = 4
#: Default limit of a message's key plus value on custody.events: a signed envelope is
#: ~200 bytes, so 64 KiB leaves room for long attributes while bounding what is decoded.
MAX_MESSAGE_BYTES = 64 * 1024


@dataclass(frozen=True, init=False)
class Envelope:
    party_id: str
    device_id: str
    body: bytes
    signature: bytes

    def __init__(self, party_id: str, device_id: str, body: bytes, signature: bytes) -> None:
        # The gate makes one per record: the fields set in one step (in their order, as
        # the generated __init__ sets them), not with one frozen-field set each.
        fields = {
            "party_id": party_id,
            "device_id": device_id,
            "body": body,
            "signature": signature,
        }
        object.__setattr__(self, "__dict__", fields)


def custody_to_avro(event: CustodyEvent) -> dict[str, Any]:
    """Every field of the newest schema (the correction fields at their defaults if unset)."""
    record = event.to_primitive()
    record["occurred_at"] = event.occurred_at
    record.setdefault("declared_event_id", None)
    record.setdefault("error_reason", None)
    record.setdefault("corrective_event_ids", [])
    record.setdefault("commitments", {})
    record.setdefault("claim_salt", None)
    record.setdefault("claim_digest", None)
    return record


def write_version(event: CustodyEvent) -> int:
    """The schema version ``seal`` writes by default: v4 for an event with commitments,
    v3 for a correction, else v2."""
    if event.commitments or event.claim_digest:
        return COMMITMENT_EVENT_VERSION
    return CORRECTION_EVENT_VERSION if event.corrects else EVERYDAY_EVENT_VERSION


def custody_from_avro(record: dict[str, Any]) -> CustodyEvent:
    """The custody event a decoded body holds, built as ``CustodyEvent.from_primitive``
    builds it from the primitive form (an empty enumeration is unset), without the detour
    through that form: the timestamp stays a datetime."""
    try:
        occurred = record["occurred_at"]
        if isinstance(occurred, datetime):
            occurred = occurred.astimezone(UTC) if occurred.tzinfo else occurred.replace(tzinfo=UTC)
        else:
            occurred = datetime.fromisoformat(str(occurred))
        latitude, longitude = record.get("latitude"), record.get("longitude")
        return CustodyEvent(
            event_id=str(record["event_id"]),
            item_id=str(record["item_id"]),
            kind=Kind(str(record["kind"])),
            party_id=str(record["party_id"]),
            device_id=str(record["device_id"]),
            location=str(record["location"]),
            occurred_at=occurred,
            counterparty=_optional(record, "counterparty"),
            tag_uid=_optional(record, "tag_uid"),
            brand=_optional(record, "brand"),
            model=_optional(record, "model"),
            serial=_optional(record, "serial"),
            verdict=Verdict(str(record["verdict"])) if record.get("verdict") else None,
            certificate=_optional(record, "certificate"),
            buyer_ref=_optional(record, "buyer_ref"),
            reason=RetirementReason(str(record["reason"])) if record.get("reason") else None,
            latitude=None if latitude is None else float(str(latitude)),
            longitude=None if longitude is None else float(str(longitude)),
            attributes={str(k): str(v) for k, v in (record.get("attributes") or {}).items()},
            declared_event_id=_optional(record, "declared_event_id"),
            error_reason=(
                ErrorReason(str(record["error_reason"])) if record.get("error_reason") else None
            ),
            corrective_event_ids=tuple(str(i) for i in record.get("corrective_event_ids") or ()),
            commitments={str(k): str(v) for k, v in (record.get("commitments") or {}).items()},
            claim_salt=_optional(record, "claim_salt"),
            claim_digest=_optional(record, "claim_digest"),
        )
    except (KeyError, ValueError) as e:
        raise SerializationError(
            "invalid_event", f"custody event fields are invalid: {e}"
        ) from None


#: Kinds by their names, found without calling the enumeration (which refuses the rest).
_KINDS = {kind.value: kind for kind in Kind}


def custody_from_record(record: dict[str, Any], *, fields_known: bool = False) -> CustodyEvent:
    """What :func:`custody_from_avro` returns or raises for a record the one-pass reader
    made (every field of the event, each of the schema's type), built from the record
    itself: it becomes the event's fields once its enumerations are made.

    ``fields_known``: the record's names are the event's (:func:`reads_custody_fields`),
    so only ``CustodyEvent.from_fields`` checks them again."""
    if not fields_known and record.keys() != CUSTODY_FIELDS:
        return custody_from_avro(record)
    try:
        kind = record["kind"]
        record["kind"] = _KINDS.get(kind) or Kind(kind)
        if record["verdict"] is not None:
            record["verdict"] = Verdict(record["verdict"]) if record["verdict"] else None
        if record["reason"] is not None:
            record["reason"] = RetirementReason(record["reason"]) if record["reason"] else None
        if record["error_reason"] is not None:
            reason = record["error_reason"]
            record["error_reason"] = ErrorReason(reason) if reason else None
        record["corrective_event_ids"] = tuple(record["corrective_event_ids"])
        return CustodyEvent.from_fields(record)
    except ValueError as e:
        raise SerializationError(
            "invalid_event", f"custody event fields are invalid: {e}"
        ) from None


@lru_cache(maxsize=16)
def reads_custody_fields(registry: SchemaRegistry) -> bool:
    """Every record the registry's one-pass reader of custody events makes has exactly
    the event's field names: those of the newest custody_event schema (each writer's
    record is resolved to it), checked once per registry rather than once per body."""
    newest = registry.get(EVENT_SCHEMA).raw
    return {field["name"] for field in newest["fields"]} == CUSTODY_FIELDS


def _optional(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    return None if value is None else str(value)


def seal(
    event: CustodyEvent,
    key: DeviceKey,
    registry: SchemaRegistry | None = None,
    schema_version: int | None = None,
) -> bytes:
    """Encode and sign an event; returns the single-object-encoded envelope bytes.

    Without ``schema_version`` it is :func:`write_version`'s; a version that cannot carry
    the event's correction fields is refused (``ValueError``) rather than dropping them."""
    reg = registry or default_registry()
    record = custody_to_avro(event)
    schema_version = schema_version or write_version(event)
    writer = reg.get(EVENT_SCHEMA, schema_version).schema
    known = {f["name"] for f in writer["fields"]}
    if event.corrects and not set(CORRECTION_FIELDS) <= known:
        raise ValueError(f"custody_event v{schema_version} cannot carry an error declaration")
    if (event.commitments or event.claim_digest) and "claim_digest" not in known:
        raise ValueError(f"custody_event v{schema_version} cannot carry commitments")
    body = reg.encode(EVENT_SCHEMA, {k: v for k, v in record.items() if k in known}, schema_version)
    envelope = {
        "party_id": key.party_id,
        "device_id": key.device_id,
        "body": body,
        "signature": key.sign(body),
    }
    return reg.encode(ENVELOPE_SCHEMA, envelope)


def open_envelope(message: bytes, registry: SchemaRegistry | None = None) -> Envelope:
    record = (registry or default_registry()).decode(ENVELOPE_SCHEMA, message)
    if len(record["signature"]) != 64:
        raise SerializationError("malformed_body", "an Ed25519 signature is 64 bytes")
    return Envelope(record["party_id"], record["device_id"], record["body"], record["signature"])


def read_body(envelope: Envelope, registry: SchemaRegistry | None = None) -> CustodyEvent:
    reg = registry or default_registry()
    record = reg.one_pass(EVENT_SCHEMA)(envelope.body)
    if record is None:  # decode_carefully refuses it if decode would (same reason)
        return custody_from_avro(reg.decode_carefully(EVENT_SCHEMA, envelope.body))
    return custody_from_record(record, fields_known=reads_custody_fields(reg))
