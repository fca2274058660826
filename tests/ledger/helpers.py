"""Ledger test helpers: a ledger with the usual parties, and reports of custody events."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from domain.custody import CustodyEvent, Role
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from tests.domain.factory import ROLES, T0, TEST_BRANDS, TEST_PREFIXES, envelope_of

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
#: A usable Ed25519 public key (of the all-zero seed): the ledger refuses to enrol others.
ANY_KEY = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"


def open_ledger(sqlite_path: Path | None = None) -> CustodyLedger:
    """A ledger on a SQLite file, or in memory; parties are not registered here."""
    return CustodyLedger(store_env("", sqlite_path) if sqlite_path else dict(IN_MEMORY))


def register(ledger: CustodyLedger, roles: dict[str, Role] | None = None) -> CustodyLedger:
    for party_id, role in (roles or ROLES).items():
        ledger.register_party(party_id, party_id.title(), role, *brand_authority(party_id))
        ledger.enrol_device(party_id, f"{party_id}-d1", ANY_KEY, at=T0 - timedelta(days=1))
    return ledger


def brand_authority(party_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The brand names and prefixes the test brand (party ``brand``) declares."""
    return (TEST_BRANDS, TEST_PREFIXES) if party_id == "brand" else ((), ())


def report(custody: CustodyEvent) -> Report:
    return Report(custody, envelope_of(custody))
