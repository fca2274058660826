"""The record codec: what each stored ledger event means outside the domain.

One table, :data:`ITEM_RECORDS`, is the only place that maps an Item event class to what
the outer layers need of it: the name analysts and the API use, whether it is an accepted
custody event, the leaf it contributes to its block (kind ``E``: the signed envelope as it
arrived; kind ``P``: a platform-made body), the evidence envelope a ``P`` body commits to,
and the flag it raises. The sealer, the audit, the prover, the read model and the
projections read records through :func:`item_record` and the topic predicates here; none
of them looks at class names.

Leaf payloads, version 1 (the bytes are normative: docs/proof-bundle.md §4):

* ``E``: the signed envelope bytes exactly as they arrived from Kafka;
* ``P``: the canonical JSON (keys sorted, no spaces, UTF-8, non-ASCII unescaped)
  ``{"detail":…,"evidence_event_id":…|null,"evidence_sha256":<64 hex>|null,
  "signal":…,"type":"flag"}``, where ``evidence_sha256`` is SHA-256 of the evidence
  envelope (the signed report that raised the flag).

Adding an Item event type is its class in ``domain/items.py`` and its row here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from domain.custody import CustodyEvent
from domain.items import Item
from domain.owner_statement import OwnerStatement
from domain.parties import Party
from domain.tags import TagClaim

LeafKind = Literal["E", "P"]
#: Version of the leaf payloads and record bytes this codec writes.
RECORD_VERSION = 1
PLATFORM_BODY_KEYS = ("detail", "evidence_event_id", "evidence_sha256", "signal", "type")


@dataclass(frozen=True, init=False)
class LeafSource:
    """What one stored item event contributes to its leaf."""

    item_id: str
    version: int
    kind: LeafKind
    payload: bytes

    def __init__(self, item_id: str, version: int, kind: LeafKind, payload: bytes) -> None:
        # The audit makes one per item event: the fields set in one step (in their order,
        # as the generated __init__ sets them), not with one frozen-field set each.
        fields = {"item_id": item_id, "version": version, "kind": kind, "payload": payload}
        object.__setattr__(self, "__dict__", fields)


@dataclass(frozen=True)
class RecordType:
    """How the outer layers read one Item event class."""

    event: type[Any]
    #: The record's name in projections and the API (``custody_events.record``).
    name: str
    leaf: LeafKind
    #: An accepted custody event: it changes the item (``custody_events.accepted``).
    accepted: bool
    #: The reported custody event the record carries (a report, or a flag's evidence).
    report: Callable[[Any], CustodyEvent | None]
    #: The report is this item's own and always present (not evidence about another item).
    own_report: bool = True

    @property
    def topic_event(self) -> str:
        """The event part of its stored topic (``Item.CustodyRecorded``)."""
        return str(self.event.__qualname__)

    @property
    def raises_flag(self) -> bool:
        return self.leaf == "P"

    @property
    def defaults(self) -> dict[str, Any]:
        """Values that records written before a field existed read as (the class's)."""
        return {
            name: getattr(self.event, name)
            for name in ("signal", "detail")
            if isinstance(getattr(self.event, name, None), str)
        }


ITEM_RECORDS: tuple[RecordType, ...] = (
    RecordType(Item.Commissioned, "commissioned", "E", True, lambda e: e.custody),
    RecordType(Item.CustodyRecorded, "custody_recorded", "E", True, lambda e: e.custody),
    RecordType(Item.Sighted, "sighted", "P", False, lambda e: e.custody),
    RecordType(Item.Flagged, "flagged", "P", False, lambda e: e.evidence, own_report=False),
    # An owner statement (domain/owner_statement.py): its leaf is the owner-signed envelope.
    RecordType(Item.OwnerStated, "owner_stated", "E", False, lambda e: None, own_report=False),
)
_BY_CLASS: dict[type[Any], RecordType] = {r.event: r for r in ITEM_RECORDS}


@dataclass(frozen=True, init=False)
class ItemRecord:
    """One stored Item event as the outer layers read it."""

    item_id: str
    version: int
    type: RecordType
    #: The custody event reported (``E``) or the evidence of a flag (``P``), if any.
    report: CustodyEvent | None
    #: Its signed envelope (the ``E`` payload, or the evidence a ``P`` body commits to).
    envelope: bytes | None
    signal: str | None
    detail: str | None
    #: An owner statement (``Item.OwnerStated``), signed by the owner key it names.
    statement: OwnerStatement | None = None

    def __init__(
        self,
        item_id: str,
        version: int,
        type: RecordType,
        report: CustodyEvent | None,
        envelope: bytes | None,
        signal: str | None,
        detail: str | None,
        statement: OwnerStatement | None = None,
    ) -> None:
        # The audit and the sealer make one per item event: the fields set in one step
        # (in their order, as the generated __init__ sets them).
        fields = {
            "item_id": item_id,
            "version": version,
            "type": type,
            "report": report,
            "envelope": envelope,
            "signal": signal,
            "detail": detail,
            "statement": statement,
        }
        object.__setattr__(self, "__dict__", fields)

    @property
    def leaf_kind(self) -> LeafKind:
        return self.type.leaf

    @property
    def evidence(self) -> bytes | None:
        """The evidence envelope a platform-made record commits to (by SHA-256), if any."""
        return (self.envelope or None) if self.type.leaf == "P" else None

    def leaf_source(self) -> LeafSource:
        if self.type.leaf == "E":
            assert self.envelope is not None
            return LeafSource(self.item_id, self.version, "E", self.envelope)
        assert self.signal is not None and self.detail is not None
        evidence_id = self.report.event_id if self.report is not None else None
        body = platform_body(self.signal, self.detail, evidence_id, self.evidence)
        return LeafSource(self.item_id, self.version, "P", body)


def item_record(event: Any, item_id: str | None = None, version: int | None = None) -> ItemRecord:
    """The record of a stored Item event (its id and version default to the event's)."""
    record_type = _BY_CLASS.get(type(event))
    if record_type is None:
        raise ValueError(f"no record rule for {type(event).__qualname__}")
    return ItemRecord(
        item_id=str(event.originator_id) if item_id is None else item_id,
        version=event.originator_version if version is None else version,
        type=record_type,
        report=record_type.report(event),
        envelope=getattr(event, "envelope", None),
        signal=getattr(event, "signal", None),
        detail=getattr(event, "detail", None),
        statement=getattr(event, "statement", None),
    )


def leaf_source(item_id: str, version: int, event: Any) -> LeafSource:
    return item_record(event, item_id, version).leaf_source()


# ----- topics ------------------------------------------------------------------------------


def _topic_prefix(aggregate: type[Any]) -> str:
    return f"{aggregate.__module__}:{aggregate.__qualname__}."


ITEM_TOPIC_PREFIX = _topic_prefix(Item)
PARTY_TOPIC_PREFIX = _topic_prefix(Party)
TAG_TOPIC_PREFIX = _topic_prefix(TagClaim)
#: The module part of stored topics, as the projections split them.
ITEM_MODULE = Item.__module__
PARTY_MODULE = Party.__module__


def is_item_topic(topic: str) -> bool:
    return topic.startswith(ITEM_TOPIC_PREFIX)


def is_party_topic(topic: str) -> bool:
    return topic.startswith(PARTY_TOPIC_PREFIX)


def is_tag_topic(topic: str) -> bool:
    return topic.startswith(TAG_TOPIC_PREFIX)


def is_owner_topic(topic: str) -> bool:
    return topic == topic_of(Item.OwnerStated)


#: The record name of an owner statement (``Item.OwnerStated``), as the projections store it.
OWNER_RECORD = _BY_CLASS[Item.OwnerStated].name


def is_flag_topic(topic: str) -> bool:
    return any(topic == f"{ITEM_MODULE}:{r.topic_event}" for r in ITEM_RECORDS if r.raises_flag)


def is_item_event(event: object) -> bool:
    return type(event) in _BY_CLASS


def topic_of(event_class: type[Any]) -> str:
    return f"{event_class.__module__}:{event_class.__qualname__}"


#: Topics of the party events (registrations, device enrolments and revocations).
PARTY_TOPICS = tuple(
    topic_of(cls)
    for cls in (
        Party.Registered,
        Party.DeviceEnrolled,
        Party.DeviceRevoked,
        Party.AuthorityDeclared,
    )
)
#: The event part of the party topics, for the projections.
PARTY_REGISTERED = Party.Registered.__qualname__
DEVICE_ENROLLED = Party.DeviceEnrolled.__qualname__
DEVICE_REVOKED = Party.DeviceRevoked.__qualname__
AUTHORITY_DECLARED = Party.AuthorityDeclared.__qualname__


def is_device_enrolment(event: object) -> bool:
    return isinstance(event, Party.DeviceEnrolled)


def is_flag_record(event: object) -> bool:
    record_type = _BY_CLASS.get(type(event))
    return record_type is not None and record_type.raises_flag


# ----- SQL for the projections (generated from the table above) ----------------------------


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(events: list[str]) -> str:
    return ", ".join(_sql_text(e) for e in events)


def sql_record_name(column: str = "event") -> str:
    """CASE over the stored topic's event part giving each record's name."""
    whens = " ".join(
        f"WHEN {_sql_text(r.topic_event)} THEN {_sql_text(r.name)}" for r in ITEM_RECORDS
    )
    return f"CASE {column} {whens} END"


def sql_is_accepted(column: str = "event") -> str:
    return f"{column} IN ({_in([r.topic_event for r in ITEM_RECORDS if r.accepted])})"


def sql_is_flag(column: str = "event") -> str:
    return f"{column} IN ({_in([r.topic_event for r in ITEM_RECORDS if r.raises_flag])})"


def sql_flag_field(name: str, column: str = "event") -> str:
    """A flag's ``signal`` or ``detail``: the stored value, else its type's default."""
    whens = " ".join(
        f"WHEN {_sql_text(r.topic_event)} THEN {_sql_text(r.defaults[name])}"
        for r in ITEM_RECORDS
        if name in r.defaults
    )
    return f"coalesce({name}, CASE {column} {whens} END)" if whens else name


# ----- platform bodies -------------------------------------------------------------------


def platform_body(
    signal: str, detail: str, evidence_event_id: str | None, evidence: bytes | None
) -> bytes:
    body: dict[str, Any] = {
        "type": "flag",
        "signal": signal,
        "detail": detail,
        "evidence_event_id": evidence_event_id,
        "evidence_sha256": hashlib.sha256(evidence).hexdigest() if evidence else None,
    }
    return canonical_json(body)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def flag_fields(event: Any) -> Mapping[str, Any]:
    """The flag a platform-made record raises: signal, detail and the evidence's id."""
    record = item_record(event)
    if not record.type.raises_flag:
        raise ValueError(f"{type(event).__qualname__} raises no flag")
    return {
        "signal": record.signal,
        "detail": record.detail,
        "evidence_event_id": record.report.event_id if record.report else None,
    }
