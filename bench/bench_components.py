"""Per-event costs of the ingest path, one piece at a time (no Kafka).

    uv run python bench/bench_components.py [--events 20000]

* decode:  ``open_envelope`` + ``read_body`` (fastavro, envelope then body), events/s;
* verify:  Ed25519 ``verify_signature`` of the body (PyNaCl/libsodium), events/s;
* save:    ``CustodyLedger.process`` of signed reports into a fresh SQLite store, per
  batch size (one transaction per batch, as the ingest saves one poll per partition),
  events/s. Items move in cohorts, so a batch holds many items' events interleaved.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import best_seconds
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from streams.avro import default_registry
from streams.envelope import open_envelope, read_body, seal
from streams.keys import verify_signature
from tests.support import make_world, story_events

BATCH_SIZES = (1, 10, 100, 1000)
COHORT = 100  # items whose stories interleave


def signed_reports(tmp: Path, events: int, prefix: str) -> list[Report]:
    world = make_world(tmp)
    items = max(1, events // 7)
    reports: list[Report] = []
    for first in range(0, items, COHORT):
        stories = [
            story_events(f"{prefix}{n}", f"{prefix}T{n}")
            for n in range(first, min(items, first + COHORT))
        ]
        for step in range(7):
            for story in stories:
                event = story[step]
                reports.append(Report(event, seal(event, world.keys[event.party_id])))
    return reports


def measure_codec(reports: list[Report]) -> dict[str, float]:
    registry = default_registry()
    envelopes = [r.envelope for r in reports]
    return {
        "decode_per_s": len(envelopes)
        / best_seconds(
            lambda: [read_body(open_envelope(e, registry), registry) for e in envelopes]
        ),
        "envelope_only_per_s": len(envelopes)
        / best_seconds(lambda: [open_envelope(e, registry) for e in envelopes]),
    }


def measure_verify(tmp: Path, count: int) -> float:
    world = make_world(tmp)
    key = world.keys["brand"]
    public = bytes.fromhex(key.public_key_hex)
    registry = default_registry()
    event = story_events("urn:verify:1", "V1")[0]  # commissioning, by the brand
    brand = open_envelope(seal(event, key), registry)
    bodies = [(brand.body, brand.signature)] * count

    def verify_all() -> None:
        for body, signature in bodies:
            verify_signature(public, body, signature)

    return count / best_seconds(verify_all)


def measure_save(
    tmp: Path, events: int, batch_sizes: tuple[int, ...] = BATCH_SIZES
) -> dict[str, float]:
    """Events/s saved by ``CustodyLedger.process`` for each batch size, each in a fresh store."""
    out: dict[str, float] = {}
    for size in batch_sizes:
        count = min(events, max(700, size * 20)) if size < 100 else events
        folder = tmp / f"save-{size}"
        folder.mkdir(parents=True)
        reports = signed_reports(folder, count, f"urn:save{size}:")
        ledger = CustodyLedger(store_env("", folder / "ledger.sqlite"))
        started = time.perf_counter()
        for first in range(0, len(reports), size):
            decisions = ledger.process(reports[first : first + size], None)
            assert all(d.accepted for d in decisions)
        out[str(size)] = len(reports) / (time.perf_counter() - started)
    return out


def measure(tmp: Path, events: int) -> dict[str, object]:
    reports = signed_reports(tmp / "codec", events, "urn:codec:")
    result: dict[str, object] = dict(measure_codec(reports))
    result["verify_per_s"] = measure_verify(tmp / "verify", events)
    result["save_per_s"] = measure_save(tmp, events)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(Path(tmp), args.events)
    print(f"decode envelope + body  {m['decode_per_s']:>12,.0f} events/s")
    print(f"decode envelope only    {m['envelope_only_per_s']:>12,.0f} events/s")
    print(f"verify Ed25519          {m['verify_per_s']:>12,.0f} events/s")
    save = m["save_per_s"]
    assert isinstance(save, dict)
    for size, rate in save.items():
        print(f"save, batch {size:>5}       {rate:>12,.0f} events/s")


if __name__ == "__main__":
    main()
