"""The ``registry`` of a version 4 bundle (docs/proof-bundle.md §12.3): the records of the
parties and devices a bundle uses, each with its entry and membership proof in the head
map of the bundle's head block, read back from the ledger as the entry's version left
them (and checked against the entry's record hash before they are written)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from anchoring.chain import Chain
from anchoring.headmap import MapEntry, device_key, party_key
from anchoring.mapcheck import proof_json
from anchoring.registry import (
    device_json,
    device_record,
    party_at,
    party_json,
    party_record,
    record_hash,
)
from ledger.application import CustodyLedger


class RegistryError(LookupError):
    """The head map and the ledger disagree on a party or device record."""


def registry_switched(chain: Chain, height: int) -> bool:
    """Whether block ``height``'s map holds parties and devices (the registry switch)."""
    return chain.block(height).registry


def registry_of(
    ledger: CustodyLedger, chain: Chain, bundle: dict[str, Any], height: int
) -> dict[str, Any]:
    """The proven records of the bundle's devices (``devices``), their parties, and the
    registered parties its signed events name as counterparty, at block ``height``."""
    devices: dict[str, Any] = {}
    parties: dict[str, Any] = {}
    wanted = set()
    for name in sorted(bundle["devices"]):
        party_id, _, device_id = name.partition("/")
        proven = _device(ledger, chain, party_id, device_id, height)
        if proven is not None:  # a device of a pending event only: not in this head's map
            devices[name] = proven
            wanted.add(party_id)
    for party_id in sorted(wanted | set(_counterparties(bundle["events"]))):
        proven = _party(ledger, chain, party_id, height)
        if proven is not None:
            parties[party_id] = proven
        elif party_id in wanted:
            raise RegistryError(f"party {party_id!r} has devices but no entry at block {height}")
    return {"parties": parties, "devices": devices}


def _counterparties(events: Iterable[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        for summary in (event["summary"], event["summary"].get("evidence") or {}):
            counterparty = summary.get("counterparty")
            if isinstance(counterparty, str):
                out.append(counterparty)
    return out


def _party(ledger: CustodyLedger, chain: Chain, party_id: str, height: int) -> Any:
    entry, proof = chain.map_proof_at(party_key(party_id), height)
    if entry is None:
        return None
    record = party_json(party_at(ledger, party_id, entry.version))
    _check(entry, party_record(record), party_id)
    return {"record": record, "map_entry": entry.to_json(), "map_proof": proof_json(proof)}


def _device(ledger: CustodyLedger, chain: Chain, party_id: str, device_id: str, height: int) -> Any:
    entry, proof = chain.map_proof_at(device_key(party_id, device_id), height)
    if entry is None:
        return None
    device = party_at(ledger, party_id, entry.version).devices[device_id]
    record = device_json(party_id, device)
    _check(entry, device_record(record), f"{party_id}/{device_id}")
    return {"record": record, "map_entry": entry.to_json(), "map_proof": proof_json(proof)}


def _check(entry: MapEntry, raw: bytes, name: str) -> None:
    if entry.leaf != record_hash(raw):
        raise RegistryError(f"{name}: the ledger's record is not the one the head map holds")
