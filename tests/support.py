"""Shared test helpers: a ledger in a temp dir with enrolled parties and their device keys."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import example

from domain.custody import CustodyEvent, Kind, Role
from ledger.application import CustodyLedger
from ledger.config import store_env
from streams.keys import DeviceKey
from tests.ledger.helpers import brand_authority

T0 = datetime(2026, 1, 1, tzinfo=UTC)

PARTIES = {
    "brand": Role.BRAND,
    "lab": Role.APPRAISER,
    "dc": Role.WAREHOUSE,
    "ginza": Role.STORE,
    "osaka": Role.STORE,
}


@dataclass
class World:
    ledger: CustodyLedger
    keys: dict[str, DeviceKey]


def make_world(tmp: Path, database_url: str = "") -> World:
    ledger = CustodyLedger(store_env(database_url, tmp / "ledger.sqlite"))
    keys: dict[str, DeviceKey] = {}
    for party_id, role in PARTIES.items():
        ledger.register_party(party_id, party_id.title(), role, *brand_authority(party_id))
        keys[party_id] = DeviceKey.generate(party_id, f"{party_id}-d1")
        ledger.enrol_device(
            party_id, f"{party_id}-d1", keys[party_id].public_key_hex, at=T0 - timedelta(days=1)
        )
    return World(ledger, keys)


def custody(
    n: int,
    kind: Kind | str,
    party: str,
    item: str = "urn:item:1",
    *,
    event_id: str | None = None,
    location: str | None = None,
    occurred_at: datetime | None = None,
    **details: object,
) -> CustodyEvent:
    """The n-th event of an item's story, by `party`'s first device (defaults: hourly)."""
    return CustodyEvent(
        event_id=event_id or f"{item}#e{n}",
        item_id=item,
        kind=Kind(kind),
        party_id=party,
        device_id=f"{party}-d1",
        location=location or f"loc-{party}",
        occurred_at=occurred_at or T0 + timedelta(hours=n),
        **details,  # type: ignore[arg-type]
    )


Step = tuple[Kind, str, dict[str, str]]


def journey(rng: random.Random, n: int, warehouses: list[str], stores: list[str]) -> list[Step]:
    """Brand → lab → a warehouse (scanned) → a store (scanned twice): nine steps, unsold."""
    dc, store = rng.choice(warehouses), rng.choice(stores)
    return [
        (Kind.COMMISSIONING, "brand",
         {"tag_uid": f"tag-{n}", "brand": "B", "model": f"M{n % 40}", "serial": f"S{n}"}),
        (Kind.INSPECTING, "lab", {"verdict": "genuine", "certificate": f"C-{n}"}),
        (Kind.SHIPPING, "brand", {"counterparty": dc}),
        (Kind.RECEIVING, dc, {}),
        (Kind.OBSERVING, dc, {}),
        (Kind.SHIPPING, dc, {"counterparty": store}),
        (Kind.RECEIVING, store, {}),
        (Kind.OBSERVING, store, {}),
        (Kind.OBSERVING, store, {}),
    ]  # fmt: skip


def sale(n: int, store: str) -> Step:
    return (Kind.RETAIL_SELLING, store, {"buyer_ref": f"buyer-{n}"})


def story_events(item: str = "urn:item:1", tag: str = "TAG-1") -> list[CustodyEvent]:
    """Brand registers → lab authenticates → DC → Ginza → sold."""
    return [
        custody(1, "commissioning", "brand", item, tag_uid=tag, brand="B", model="M", serial="S"),
        custody(2, "inspecting", "lab", item, verdict="genuine", certificate="C-1"),
        custody(3, "shipping", "brand", item, counterparty="dc"),
        custody(4, "receiving", "dc", item),
        custody(5, "shipping", "dc", item, counterparty="ginza"),
        custody(6, "receiving", "ginza", item),
        custody(7, "retail_selling", "ginza", item, buyer_ref="buyer-1"),
    ]


@contextlib.contextmanager
def busy_machine(hogs: int = 2) -> Iterator[None]:
    """CPU-bound processes beside the test, as on a loaded CI machine or laptop."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


class Helper(threading.Thread):
    """A test's helper thread whose failure fails the test, and which cannot hang it.

    ``outcome(timeout)`` joins it and returns what the target returned, re-raises what it
    raised, or fails if it is still running after ``timeout`` seconds.
    """

    def __init__(self, target: Callable[..., Any], *args: Any, name: str = "") -> None:
        super().__init__(name=name or getattr(target, "__name__", "helper"), daemon=True)
        self._call = target
        self._args = args
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self._call(*self._args)
        except BaseException as e:
            self.error = e

    def outcome(self, timeout: float) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"helper thread {self.name} still running after {timeout:.0f} s")
        if self.error is not None:
            raise self.error
        return self.value


# NaNs of every kind (signalling, negative, with a payload) and the infinities, as stored bits:
# the Avro readers take them alike (tests/streams/test_avro_*.py).
NAN_BITS = [
    bytes.fromhex(h)[::-1]
    for h in ("7ff0000000000001", "7ff8000000000000", "fff8000000000000", "7ff8deadbeef0001",
              "fff7ffffffffffff", "7ff0000000000000", "fff0000000000000")
]  # fmt: skip


def with_nan_bits(test: Callable[[int, bytes], None]) -> Callable[[int, bytes], None]:
    """Hypothesis examples ``(0, bits)`` for every entry of NAN_BITS, besides the drawn ones
    (a test of a number and a double's 8 bytes)."""
    for bits in NAN_BITS:
        test = example(0, bits)(test)
    return test
