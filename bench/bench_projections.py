"""Projection rates (incremental, rebuild, live tail) and item-history latency.

    uv run python bench/bench_projections.py [--events 1000000] [--no-anchor] [--fresh]

Builds (or reuses, under bench/results/) an event store of about ``--events`` item events
through the real ledger, written in large ``ledger.process`` batches (the ledger's own
rules run, no Kafka), anchors it with the real ``Anchor`` unless ``--no-anchor``, then:

- incremental: ``Projector.catch_up()`` from an empty projection (goal: none stated);
- rebuild: ``Projector.rebuild()`` (goal ≥ 100k notifications/s);
- live tail: 20k more events projected in pages of 1,000, as ``assay run`` sees them;
- history: ``projections.analyst.history`` on the published snapshot for random items
  (goal p99 ≤ 10 ms), and a point lookup in ``items``.

Items move in cohorts of 1,200 (every item of a cohort takes step k before any takes step
k+1): histories interleave as in a real store, and one ledger batch per cohort loads each
item once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.sealer import Anchor
from domain.custody import CustodyEvent, Kind, Role
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from projections.analyst import history, open_analyst
from projections.projector import Projector
from tests.ledger.helpers import brand_authority
from tests.support import Step, sale
from tests.support import journey as support_journey

RESULTS = Path(__file__).resolve().parent / "results"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STORES = [f"store-{i}" for i in range(20)]
WAREHOUSES = ["dc-eu", "dc-asia", "dc-us"]
COHORT = 1200
BATCH = 2000
ENVELOPE = os.urandom(320)  # the ledger stores it verbatim; projections never read it
ANY_KEY = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"


def parties(ledger: CustodyLedger) -> None:
    people = [("brand", Role.BRAND), ("lab", Role.APPRAISER)]
    people += [(w, Role.WAREHOUSE) for w in WAREHOUSES] + [(s, Role.STORE) for s in STORES]
    for party, role in people:
        ledger.register_party(party, party.title(), role, *brand_authority(party))
        # Any usable public key (the all-zero seed's): the ledger refuses small-order ones.
        ledger.enrol_device(party, "d1", ANY_KEY, at=T0 - timedelta(days=1))


def journey(rng: random.Random, n: int) -> list[Step]:
    """Brand → lab → warehouse (scanned) → store (scanned) → maybe sold: ~10 events."""
    steps = support_journey(rng, n, WAREHOUSES, STORES)
    if rng.random() < 0.6:
        steps.append(sale(n, steps[-1][1]))
    return steps


def reports(events: int, seed: int = 1) -> Iterator[list[Report]]:
    rng = random.Random(seed)
    made, first = 0, 0
    while made < events:
        cohort = range(first, first + COHORT)
        journeys = {n: journey(rng, n) for n in cohort}
        first += COHORT
        pending: list[Report] = []
        for step in range(max(len(j) for j in journeys.values())):
            for n, steps in journeys.items():
                if step >= len(steps) or made >= events:
                    continue
                kind, party, details = steps[step]
                at = T0 + timedelta(minutes=n % 1440, hours=6 * step)
                event = CustodyEvent(
                    f"e{n}-{step}", f"urn:item:{n}", kind, party, "d1", party, at, **details
                )  # type: ignore[arg-type]
                pending.append(Report(event, ENVELOPE))
                made += 1
        # One batch per cohort: the ledger loads each item once per batch, not per event.
        if pending:
            yield pending


def build_store(root: Path, events: int, anchor: bool) -> tuple[CustodyLedger, Chain]:
    done = root / "complete"
    ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
    chain = Chain(store_env("", root / "chain.sqlite"))
    if done.exists():
        print(f"store: reusing {root}")
        return ledger, chain
    parties(ledger)
    started = time.perf_counter()
    for batch in reports(events):
        refused = [d for d in ledger.process(batch, None) if not d.accepted]
        assert not refused, refused[0].refusal
    elapsed = time.perf_counter() - started
    print(
        f"store: {events} events through the ledger in {elapsed:.1f}s ({events / elapsed:,.0f}/s)"
    )
    if anchor:
        started = time.perf_counter()
        Anchor(ledger, chain, Signer.generate("bench"), origin="bench").catch_up()
        elapsed = time.perf_counter() - started
        print(f"store: anchored in {elapsed:.1f}s ({events / elapsed:,.0f}/s)")
    done.write_text("ok")
    return ledger, chain


def timed(label: str, count: int, run: object) -> float:
    assert callable(run)
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    rate = count / elapsed
    print(f"{label:<12} {count:>10,} notifications in {elapsed:6.2f}s  {rate:>10,.0f}/s")
    return rate


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99)] * 1000


def measure(
    root: Path, events: int, queries: int = 2000, anchor: bool = True, tail: bool = True
) -> dict[str, float | int]:
    """Build (or reuse) the store under ``root`` and measure projections over it."""
    root.mkdir(parents=True, exist_ok=True)
    ledger, chain = build_store(root, events, anchor)
    follow = chain if anchor else None
    total = (ledger.recorder.max_notification_id() or 0) + (
        chain.recorder.max_notification_id() or 0 if anchor else 0
    )
    work = root / "projection"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    results: dict[str, float | int] = {"events": events, "notifications": total}

    with Projector(ledger, follow, work / "incremental.duckdb") as p:
        results["incremental_per_s"] = timed("incremental", total, p.catch_up)
    with Projector(ledger, follow, work / "projections.duckdb") as p:
        results["rebuild_per_s"] = timed("rebuild", total, p.rebuild)
        started = time.perf_counter()
        snapshot = p.publish()
        results["publish_s"] = time.perf_counter() - started
        size = snapshot.stat().st_size
        (rows,) = p.con.execute("SELECT count(*) FROM custody_events").fetchall()[0]
        print(f"snapshot     {rows:,} custody_events rows, {size / 1e6:,.0f} MB, "
              f"published in {results['publish_s']:.2f}s")  # fmt: skip
        results["custody_events"], results["snapshot_mb"] = rows, size / 1e6
        if tail:
            results["tail_per_s"] = live_tail(root, p)

    with open_analyst(snapshot) as con:
        (items,) = con.execute("SELECT count(*) FROM items").fetchall()[0]
        results["items"] = items
        rng = random.Random(2)
        ids = [f"urn:item:{rng.randrange(items)}" for _ in range(queries)]
        for item_id in ids[:50]:  # warm the buffer pool as a long-lived notebook would
            history(con, item_id)
        samples = []
        for item_id in ids:
            started = time.perf_counter()
            assert history(con, item_id)
            samples.append(time.perf_counter() - started)
        results["history_p50_ms"], results["history_p99_ms"] = percentiles(samples)
        samples = []
        for item_id in ids:
            started = time.perf_counter()
            con.execute("SELECT * FROM items WHERE item_id = ?", [item_id]).fetchall()
            samples.append(time.perf_counter() - started)
        results["item_p50_ms"], results["item_p99_ms"] = percentiles(samples)
    print(
        f"history      p50 {results['history_p50_ms']:.2f} ms  p99 {results['history_p99_ms']:.2f}"
        f" ms over {rows:,} events ({items:,} items; goal p99 ≤ 10 ms)\n"
        f"items row    p50 {results['item_p50_ms']:.2f} ms  p99 {results['item_p99_ms']:.2f} ms"
    )
    shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--no-anchor", action="store_true", help="skip the chain")
    parser.add_argument("--fresh", action="store_true", help="regenerate the event store")
    args = parser.parse_args()
    anchor = not args.no_anchor
    root = RESULTS / f"projections-store-{args.events}{'' if anchor else '-noanchor'}"
    if args.fresh:
        shutil.rmtree(root, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (rates are CPU-bound)")
    results = measure(root, args.events, args.queries, anchor)
    (RESULTS / f"projections-{args.events}.json").write_text(json.dumps(results, indent=1))


def live_tail(root: Path, projector: Projector) -> float:
    """20k new events on top of the big store, projected in live-sized pages of 1,000.

    The tail goes into a copy of the ledger, so the cached store stays as it was built.
    """
    copy = root / "projection" / "ledger-tail.sqlite"
    shutil.copyfile(root / "ledger.sqlite", copy)
    ledger = CustodyLedger(store_env("", copy))
    fresh: list[Report] = []
    for n in range(5000):
        for step, (kind, party, details) in enumerate(journey(random.Random(n), n)[:4]):
            if kind is Kind.COMMISSIONING:
                details = {**details, "tag_uid": f"tail-tag-{n}"}
            at = T0 + timedelta(days=30, minutes=n, hours=step)
            event = CustodyEvent(f"tail-{n}-{step}", f"urn:tail:{n}", kind, party, "d1", party,
                                 at, **details)  # type: ignore[arg-type]  # fmt: skip
            fresh.append(Report(event, ENVELOPE))
    for start in range(0, len(fresh), BATCH):
        ledger.process(fresh[start : start + BATCH], None)
    projector.ledger, projector.chain, projector.page_size = ledger, None, 1000
    new = (ledger.recorder.max_notification_id() or 0) - projector.position("ledger")

    def follow() -> None:
        while projector.step():
            pass

    rate = timed("live tail", new, follow)
    copy.unlink()  # a gigabyte per million events
    return rate


if __name__ == "__main__":
    main()
