"""Parties and device keys in the head map (docs/proof-bundle.md §12).

From a chain's *registry switch* on, a block's head-map changes also hold, for every party
with a ledger event in the block's notification range, the party's entry and the entries
of the devices those events name; the switch block enters every party and device recorded
so far. An entry's value is the usual 56 bytes with the record hash in the leaf's place:

* party   key SHA-256("party" ‖ 0x00 ‖ party_id),
  record ``assay-party-v1``: party id, name, role, brand names, company prefixes;
* device  key SHA-256("device" ‖ 0x00 ‖ party_id "/" device_id),
  record ``assay-device-v1``: party id, device id, public key, enrolled_at,
  effective_from (or none), revoked_at (or none), times in microseconds since the epoch;
* value   u64be(the party's version after the range) ‖ SHA-256(record) ‖ u64be(height)
  ‖ u64be(0).

The anchor and the audit both derive a block's entries here, from the ledger alone: which
parties the range touches (:class:`Touched`), then each party as of its last event in the
range (:func:`entries_for`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import Notification

from anchoring.headmap import MapEntry, device_key, party_key
from domain.parties import Device, Party
from ledger.application import CustodyLedger
from ledger.records import is_party_topic

PARTY_MAGIC = b"assay-party-v1\n"
DEVICE_MAGIC = b"assay-device-v1\n"
PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")


def micros(when: datetime) -> int:
    """Microseconds since 1970-01-01T00:00:00Z of an aware time."""
    return (when - _EPOCH) // timedelta(microseconds=1)


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _U32.pack(len(raw)) + raw


def _texts(values: Iterable[str]) -> bytes:
    items = list(values)
    return _U32.pack(len(items)) + b"".join(_text(v) for v in items)


def _time(value: int | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + _I64.pack(value)


def party_json(party: Party) -> dict[str, Any]:
    """A party's record as a bundle spells it (``registry.parties[id].record``)."""
    return {
        "party_id": party.id,
        "name": party.name,
        "role": party.role.value,
        "brands": list(party.brands),
        "company_prefixes": list(party.company_prefixes),
    }


def device_json(party_id: str, device: Device) -> dict[str, Any]:
    """A device's record as a bundle spells it (``registry.devices[name].record``)."""
    return {
        "party_id": party_id,
        "device_id": device.device_id,
        "public_key": device.public_key,
        "enrolled_at": micros(device.enrolled_at),
        "effective_from": None if device.effective_from is None else micros(device.effective_from),
        "revoked_at": None if device.revoked_at is None else micros(device.revoked_at),
    }


def party_record(record: Mapping[str, Any]) -> bytes:
    """The canonical ``assay-party-v1`` bytes of a party record (its JSON spelling)."""
    return (
        PARTY_MAGIC
        + _text(record["party_id"])
        + _text(record["name"])
        + _text(record["role"])
        + _texts(record["brands"])
        + _texts(record["company_prefixes"])
    )


def device_record(record: Mapping[str, Any]) -> bytes:
    """The canonical ``assay-device-v1`` bytes of a device record (its JSON spelling)."""
    return (
        DEVICE_MAGIC
        + _text(record["party_id"])
        + _text(record["device_id"])
        + bytes.fromhex(record["public_key"])
        + _I64.pack(record["enrolled_at"])
        + _time(record["effective_from"])
        + _time(record["revoked_at"])
    )


def record_hash(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


@dataclass
class Touched:
    """The parties a notification range touches: each one's last version in the range,
    and the devices its enrolments and revocations name."""

    versions: dict[str, int] = field(default_factory=dict)
    devices: dict[str, set[str]] = field(default_factory=dict)

    def see(self, topic: str, party_id: str, version: int, event: Any) -> None:
        if not is_party_topic(topic):
            return
        self.versions[party_id] = version
        named = self.devices.setdefault(party_id, set())
        device_id = getattr(event, "device_id", None)
        if isinstance(device_id, str):
            named.add(device_id)

    def update(self, other: Touched) -> None:
        self.versions.update(other.versions)
        for party_id, devices in other.devices.items():
            self.devices.setdefault(party_id, set()).update(devices)

    def __bool__(self) -> bool:
        return bool(self.versions)


def touched_in(ledger: CustodyLedger, start: int, stop: int) -> Touched:
    """The parties ledger notifications ``start``..``stop`` touch, read from the store."""
    touched = Touched()
    while start <= stop:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE, stop=stop)
        if not page:
            break
        touched.update(touched_by(ledger, page))
        start = page[-1].id + 1
    return touched


def touched_by(ledger: CustodyLedger, notifications: Iterable[Notification]) -> Touched:
    """The parties ``notifications`` (in order) touch: :func:`touched_in` of notifications
    already in hand (the anchor's batch), without reading them again."""
    touched = Touched()
    for n in notifications:
        if is_party_topic(n.topic):
            event = ledger.mapper.to_domain_event(n)
            touched.see(n.topic, str(n.originator_id), n.originator_version, event)
    return touched


def entries_for(
    ledger: CustodyLedger, touched: Touched, height: int, *, every_device: bool = False
) -> dict[bytes, MapEntry]:
    """The map entries of the touched parties and devices, each party as of its last
    version in the range; ``every_device``: all its devices (the switch block)."""
    out: dict[bytes, MapEntry] = {}
    for party_id, version in touched.versions.items():
        party = party_at(ledger, party_id, version)
        record = party_record(party_json(party))
        out[party_key(party_id)] = MapEntry(version, record_hash(record), height, 0)
        names = party.devices if every_device else touched.devices.get(party_id, set())
        for device_id in sorted(names):
            device = party.devices[device_id]
            raw = device_record(device_json(party_id, device))
            out[device_key(party_id, device_id)] = MapEntry(version, record_hash(raw), height, 0)
    return out


def party_at(ledger: CustodyLedger, party_id: str, version: int) -> Party:
    party: object = ledger.repository.get(party_id, version=version)
    if not isinstance(party, Party):
        raise TypeError(f"{party_id!r} is not a party")
    return party
