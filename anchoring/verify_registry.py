"""Version 4 (docs/proof-bundle.md §12): the parties and device keys a bundle uses, proven.

Step 5d reads ``registry`` and proves every party and device record into the head's map
root; from then on the bundle's envelopes are checked with the proven keys
(:class:`ProvenKeys`, step D16) and each event's time against its device's proven window
(:meth:`Registry.check_window`, step D17a). The result reports the proven names and roles.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anchoring.errors import VerificationError
from anchoring.headmap import MapEntry, MapProof, device_key, party_key, root_of
from anchoring.mapcheck import parse_entry
from anchoring.mapcheck_v5 import read_proof
from anchoring.registry import device_record, micros, party_record, record_hash
from anchoring.verify_fields import HEX32
from anchoring.verify_result import MAX_INT, fail
from anchoring.verify_v1 import Block, DeviceKeys
from streams.ed25519 import PublicKey, UnusableKey

_PARTY_RECORD = ("party_id", "name", "role", "brands", "company_prefixes")
_DEVICE_RECORD = ("party_id", "device_id", "public_key", "enrolled_at", "effective_from",
                  "revoked_at")  # fmt: skip
_MEMBER = ("record", "map_entry", "map_proof")


@dataclass(frozen=True)
class Proven:
    record: dict[str, Any]
    entry: MapEntry
    proof: MapProof


class Registry:
    """The proven records of step 5d."""

    def __init__(self, parties: dict[str, Proven], devices: dict[str, Proven]) -> None:
        self.party_records = parties
        self.device_records = devices

    @property
    def parties(self) -> dict[str, dict[str, Any]]:
        return {
            party_id: {"name": p.record["name"], "role": p.record["role"], "proven": True}
            for party_id, p in self.party_records.items()
        }

    def keys(self, pinned: Mapping[str, bytes] | None) -> ProvenKeys:
        return ProvenKeys(self, pinned)

    def check_window(self, summary: Mapping[str, Any]) -> None:
        """Step D17a: the signed event occurred while its device's key was valid."""
        device = f"{summary['party_id']}/{summary['device_id']}"
        record = self.device_records[device].record  # D16 found it
        when = micros(datetime.fromisoformat(summary["occurred_at"]))
        since = record["effective_from"]
        since = record["enrolled_at"] if since is None else since
        if when < since:
            fail(
                "device_not_enrolled",
                f"the event occurred before device {device}'s key speaks for its party",
            )
        revoked = record["revoked_at"]
        if revoked is not None and when >= revoked:
            fail("device_revoked", f"the event occurred after device {device} was revoked")


class ProvenKeys(DeviceKeys):
    """Step D16 in version 4: the key is the proven one (a pinned key must equal it)."""

    def __init__(self, registry: Registry, pinned: Mapping[str, bytes] | None) -> None:
        super().__init__({}, pinned)
        self.registry = registry

    def _public_key(self, device: str) -> PublicKey:
        proven = self.registry.device_records.get(device)
        if proven is None:
            fail(
                "device_proof",
                f"device {device} is not in the bundle's registry: its key is unproven",
            )
        raw = bytes.fromhex(proven.record["public_key"])
        pinned = self.pinned.get(device)
        if pinned is not None and not hmac.compare_digest(pinned, raw):
            fail("device_key", f"the key pinned for {device} is not the key the ledger proves")
        try:
            return PublicKey(raw)
        except UnusableKey as e:
            fail("device_key", f"proven key of {device}: {e}")


def check_registry(bundle: Mapping[str, Any], head: Block) -> Registry:
    """Step 5d: every party and device record of ``registry``, proven at the head."""
    registry, version = bundle["registry"], bundle["version"]
    parties, devices = registry.get("parties"), registry.get("devices")
    if type(parties) is not dict or type(devices) is not dict:
        fail("bundle_format", "registry must have 'parties' and 'devices' objects")
    proven_parties = {name: _member(value, f"registry party {name!r}", _PARTY_RECORD, version)
                      for name, value in parties.items()}  # fmt: skip
    for name, p in proven_parties.items():
        _party_fields(name, p.record)
    proven_devices = {name: _member(value, f"registry device {name!r}", _DEVICE_RECORD, version)
                      for name, value in devices.items()}  # fmt: skip
    for name, p in proven_devices.items():
        _device_fields(name, p.record)
    for name, p in proven_devices.items():
        if p.record["party_id"] not in proven_parties:
            fail("party_proof", f"device {name}'s party is not in the bundle's registry")
    assert head.map_root is not None
    for name, p in proven_parties.items():
        _prove("party_proof", head.map_root, party_key(name), party_record(p.record), p, name)
    for name, p in proven_devices.items():
        key = device_key(p.record["party_id"], p.record["device_id"])
        _prove("device_proof", head.map_root, key, device_record(p.record), p, name)
    return Registry(proven_parties, proven_devices)


def _member(value: Any, where: str, keys: tuple[str, ...], version: int) -> Proven:
    if type(value) is not dict or any(type(value.get(k)) is not dict for k in _MEMBER):
        fail("bundle_format", f"{where} must have 'record', 'map_entry' and 'map_proof' objects")
    record = value["record"]
    if sorted(record) != sorted(keys):
        fail("bundle_format", f"{where}: the record's keys must be exactly {', '.join(keys)}")
    try:
        entry = parse_entry(value["map_entry"], f"{where} map_entry")
        proof = read_proof(value["map_proof"], f"{where} map_proof", version)
    except VerificationError as e:
        fail(e.step, e.message)
    return Proven(record, entry, proof)


def _party_fields(name: str, record: dict[str, Any]) -> None:
    texts = all(type(record[k]) is str for k in ("party_id", "name", "role"))
    lists = all(
        type(record[k]) is list and all(type(x) is str for x in record[k])
        for k in ("brands", "company_prefixes")
    )
    if not (texts and lists) or record["party_id"] != name:
        fail("bundle_format", f"registry party {name!r}: a record field has the wrong type or id")


def _device_fields(name: str, record: dict[str, Any]) -> None:
    def time(value: Any, nullable: bool) -> bool:
        if value is None:
            return nullable
        return type(value) is int and 0 <= value <= MAX_INT

    ok = (
        type(record["party_id"]) is str
        and type(record["device_id"]) is str
        and type(record["public_key"]) is str
        and HEX32.fullmatch(record["public_key"]) is not None
        and time(record["enrolled_at"], False)
        and time(record["effective_from"], True)
        and time(record["revoked_at"], True)
    )
    if not ok or f"{record['party_id']}/{record['device_id']}" != name:
        fail(
            "bundle_format", f"registry device {name!r}: a record field has the wrong type or name"
        )


def _prove(step: str, root: bytes, key: bytes, raw: bytes, p: Proven, name: str) -> None:
    if not hmac.compare_digest(p.entry.leaf, record_hash(raw)):
        fail(step, f"{name}: the record is not the one its map entry commits to")
    try:
        computed = root_of(key, p.entry, p.proof)
    except VerificationError as e:
        fail(step, f"{name}: the map proof: {e}")
    if not hmac.compare_digest(computed, root):
        fail(
            step,
            f"{name}: the map proof leads to {computed.hex()}, the head's map root is {root.hex()}",
        )
