"""How each cost grows with the ledger: a scale run (not part of CI).

    uv run python -m bench.scale                           # 1M, 3M, 10M events over 1M items
    uv run python -m bench.scale --items 100000 --sizes 100000,300000,1000000

One store grows through the sizes: at each size every item has taken the same number of
steps, so the first size holds one event per item, the next three, and so on (up to the
ten of a journey: brand → lab → warehouse → store → sold); a stopped grow resumes. Events
are signed and written straight into the event store through the ledger (no Kafka), then
sealed by the real anchor and projected by the real projector. At each size it reports
bytes per event on disk, prove and history-query latency, a full audit, a projection
rebuild, the peak RSS of each process (every phase runs in a process of its own), and the
analysts' views, each timed on the published snapshot. Results: ``scale.json``,
``scale.md`` and ``scale.png`` (log-scale x) in ``--out``. The store is kept in ``--root``
(default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.scale_clock import cpu_seconds, disk_bytes, peak_rss_mb, percentile, took
from bench.scale_report import GOALS, write_report

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ORIGIN = "scale.assay/custody-log"
STORES = [f"store-{i}" for i in range(20)]
WAREHOUSES = ["dc-eu", "dc-asia", "dc-us"]
STEPS = 10  # events in one item's journey
CHUNK = 5_000  # events per ledger transaction while growing
WINDOW = 10_000  # items grown through their steps together (within the aggregate cache)
VIEWS = (
    "inventory_by_location",
    "dwell_time",
    "suspected_clones",
    "appraiser_activity",
    "chain_of_custody",
)


# ----- the events --------------------------------------------------------------------------


def step(n: int, s: int) -> tuple[str, str, dict[str, Any]]:
    """Step ``s`` of item ``n``'s journey: a pure function, so no journey is kept in memory."""
    dc, store = WAREHOUSES[n % 3], STORES[(n * 7919) % 20]
    table: list[tuple[str, str, dict[str, Any]]] = [
        ("commissioning", "brand",
         {"tag_uid": f"tag-{n}", "brand": "B", "model": f"M{n % 40}", "serial": f"S{n}"}),
        ("inspecting", "lab", {"verdict": "genuine", "certificate": f"C-{n}"}),
        ("shipping", "brand", {"counterparty": dc}),
        ("receiving", dc, {}),
        ("observing", dc, {}),
        ("shipping", dc, {"counterparty": store}),
        ("receiving", store, {}),
        ("observing", store, {}),
        ("observing", store, {}),
        ("retail_selling", store, {"buyer_ref": f"buyer-{n}"}),
    ]  # fmt: skip
    return table[s]


def parties() -> list[str]:
    return ["brand", "lab", *WAREHOUSES, *STORES]


def _paths(root: Path) -> dict[str, Path]:
    return {
        "ledger": root / "ledger.sqlite",
        "chain": root / "chain.sqlite",
        "projection": root / "projection.duckdb",
        "rebuild": root / "rebuild.duckdb",
        "checkpoint": root / "checkpoint",
    }


# ----- phases (each in a process of its own) -------------------------------------------------


def phase_grow(root: Path, items: int, first_step: int, last_step: int) -> dict[str, Any]:
    from nacl.signing import SigningKey

    from domain.custody import CustodyEvent, Kind, Role
    from ledger.application import CustodyLedger, Report
    from ledger.config import store_env
    from streams.envelope import seal
    from streams.keys import DeviceKey

    ledger = CustodyLedger(store_env("", _paths(root)["ledger"]))
    keys = {p: DeviceKey(p, "d1", SigningKey(bytes([i + 1]) * 32)) for i, p in enumerate(parties())}
    roles = {"brand": Role.BRAND, "lab": Role.APPRAISER}
    for party, key in keys.items():
        if ledger.load(party) is None:  # (a resumed grow finds them registered)
            role = roles.get(party, Role.WAREHOUSE if party.startswith("dc") else Role.STORE)
            brands = ["B"] if role is Role.BRAND else []  # a brand commissions its own only
            ledger.register_party(party, party.title(), role, brands=brands)
            ledger.enrol_device(party, "d1", key.public_key_hex, at=T0 - timedelta(days=1))

    fresh = not ledger.recorder.select_events("urn:item:0", limit=1)

    def done(n: int) -> int:
        """Steps item ``n`` already has: a grow that was stopped resumes where it stopped."""
        last = ledger.recorder.select_events(f"urn:item:{n}", desc=True, limit=1)
        return last[0].originator_version if last else 0

    def reports() -> Iterator[list[Report]]:
        # Items WINDOW at a time, each window through every step: a chunk still holds
        # CHUNK different items (as blocks do), but an item is read from the store once
        # per grow, not once per step (the aggregate cache holds the window).
        batch: list[Report] = []
        for start in range(0, items, WINDOW):
            window = range(start, min(start + WINDOW, items))
            have = dict.fromkeys(window, 0) if fresh else {n: done(n) for n in window}
            for s in range(first_step, last_step):
                for n in window:
                    if s < have[n]:
                        continue
                    kind, party, details = step(n, s)
                    at = T0 + timedelta(minutes=n % 1440, hours=6 * s)
                    event = CustodyEvent(
                        f"e{n}-{s}", f"urn:item:{n}", Kind(kind), party, "d1", party, at, **details
                    )
                    batch.append(Report(event, seal(event, keys[party])))
                    if len(batch) == CHUNK:
                        yield batch
                        batch = []
        if batch:
            yield batch

    written = 0
    started, cpu = time.perf_counter(), cpu_seconds()
    for batch in reports():
        refused = [d for d in ledger.process(batch, None) if not d.accepted]
        if refused:
            raise SystemExit(f"refused while growing: {refused[0].refusal}")
        written += len(batch)
    return {"events": written, **took(started, cpu)}


def phase_anchor(root: Path) -> dict[str, Any]:
    from anchoring.chain import Chain
    from anchoring.checkpoint import Signer
    from anchoring.sealer import Anchor, SealPolicy
    from ledger.application import CustodyLedger
    from ledger.config import store_env

    paths = _paths(root)
    anchor = Anchor(
        CustodyLedger(store_env("", paths["ledger"])),
        Chain(store_env("", paths["chain"])),
        Signer.from_seed(ORIGIN, bytes(32)),
        origin=ORIGIN,
        policy=SealPolicy(max_events=1000, max_seconds=1e9),
        checkpoint_path=paths["checkpoint"],
    )
    started, cpu = time.perf_counter(), cpu_seconds()
    anchor.catch_up()
    return {"events": anchor.sealed_events, **took(started, cpu)}


def phase_project(root: Path, rebuild: bool) -> dict[str, Any]:
    from anchoring.chain import Chain
    from ledger.application import CustodyLedger
    from ledger.config import store_env
    from projections.projector import Projector

    paths = _paths(root)
    target = paths["rebuild" if rebuild else "projection"]
    if rebuild:
        target.unlink(missing_ok=True)
    ledger = CustodyLedger(store_env("", paths["ledger"]))
    chain = Chain(store_env("", paths["chain"]))
    with Projector(ledger, chain, target) as p:
        started, cpu = time.perf_counter(), cpu_seconds()
        count = p.rebuild() if rebuild else p.catch_up()
        out: dict[str, Any] = {"notifications": count, **took(started, cpu)}
        if not rebuild:
            out["snapshot"] = str(p.publish())
    if rebuild:
        target.unlink(missing_ok=True)
    return out


def phase_audit(root: Path) -> dict[str, Any]:
    from anchoring.audit import audit
    from anchoring.chain import Chain
    from anchoring.checkpoint import Signer
    from ledger.application import CustodyLedger
    from ledger.config import store_env

    paths = _paths(root)
    started, cpu = time.perf_counter(), cpu_seconds()
    report = audit(
        CustodyLedger(store_env("", paths["ledger"])),
        Chain(store_env("", paths["chain"])),
        Signer.from_seed(ORIGIN, bytes(32)).verifier(),
        paths["checkpoint"].read_text(),
    )
    spent = took(started, cpu)
    if not report.ok:
        raise SystemExit(f"audit failed: {report.divergence}")
    return {"leaves": report.leaves, "blocks": report.blocks, **spent}


def phase_query(root: Path, items: int, samples: int, snapshot: str) -> dict[str, Any]:
    from anchoring.chain import Chain
    from anchoring.prove import Prover
    from ledger.application import CustodyLedger
    from ledger.config import store_env
    from projections.analyst import history, open_analyst

    paths = _paths(root)
    rng = random.Random(3)
    chosen = [f"urn:item:{rng.randrange(items)}" for _ in range(samples)]
    prover = Prover(
        CustodyLedger(store_env("", paths["ledger"])),
        Chain(store_env("", paths["chain"])),
        paths["checkpoint"].read_text(),
    )
    prover.prove(chosen[0])
    prove_ms, prove_cpu_ms = [], []
    for item in chosen:
        started, cpu = time.perf_counter(), time.process_time()
        prover.prove(item)
        prove_cpu_ms.append((time.process_time() - cpu) * 1e3)
        prove_ms.append((time.perf_counter() - started) * 1e3)
    history_ms, history_cpu_ms, views_s = [], [], {}
    with open_analyst(Path(snapshot)) as con:
        for item in chosen[:50]:  # a long-lived notebook's warm buffer pool
            history(con, item)
        for item in chosen:
            started, cpu = time.perf_counter(), time.process_time()
            assert history(con, item)
            history_cpu_ms.append((time.process_time() - cpu) * 1e3)
            history_ms.append((time.perf_counter() - started) * 1e3)
        for view in VIEWS:
            started = time.perf_counter()
            con.execute(f"SELECT count(*) FROM (SELECT * FROM {view})").fetchall()
            views_s[view] = time.perf_counter() - started
    return {
        "prove_ms": prove_ms,
        "prove_cpu_ms": prove_cpu_ms,
        "history_ms": history_ms,
        "history_cpu_ms": history_cpu_ms,
        "views_s": views_s,
    }


PHASES = {
    "grow": lambda a: phase_grow(Path(a.root), a.items, a.first_step, a.last_step),
    "anchor": lambda a: phase_anchor(Path(a.root)),
    "project": lambda a: phase_project(Path(a.root), rebuild=False),
    "rebuild": lambda a: phase_project(Path(a.root), rebuild=True),
    "audit": lambda a: phase_audit(Path(a.root)),
    "query": lambda a: phase_query(Path(a.root), a.items, a.samples, a.snapshot),
}


def run_phase(name: str, root: Path, **options: object) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.scale", "--phase", name, "--root", str(root)]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ----- the run -----------------------------------------------------------------------------


def measure_size(root: Path, items: int, events: int, samples: int) -> dict[str, Any]:
    anchored = run_phase("anchor", root)
    projected = run_phase("project", root)
    rebuilt = run_phase("rebuild", root)
    audited = run_phase("audit", root)
    queried = run_phase("query", root, items=items, samples=samples, snapshot=projected["snapshot"])
    paths = _paths(root)
    row: dict[str, Any] = {
        "events": events,
        "items": items,
        "ledger_bytes_per_event": disk_bytes(paths["ledger"]) / events,
        "chain_bytes_per_event": disk_bytes(paths["chain"]) / events,
        "duckdb_bytes_per_event": disk_bytes(paths["projection"]) / events,
        "prove_p50_ms": percentile(queried["prove_ms"], 0.5),
        "prove_p99_ms": percentile(queried["prove_ms"], 0.99),
        "history_p50_ms": percentile(queried["history_ms"], 0.5),
        "history_p99_ms": percentile(queried["history_ms"], 0.99),
        "prove_cpu_p99_ms": percentile(queried["prove_cpu_ms"], 0.99),
        "history_cpu_p99_ms": percentile(queried["history_cpu_ms"], 0.99),
        "audit_events_per_s": audited["leaves"] / audited["seconds"],
        "audit_events_per_cpu_s": audited["leaves"] / audited["cpu_seconds"],
        "rebuild_events_per_s": events / rebuilt["seconds"],
        "rebuild_events_per_cpu_s": events / rebuilt["cpu_seconds"],
        "anchor_events_per_cpu_s": anchored["events"] / anchored["cpu_seconds"],
        "load_max": max(p["load"] for p in (anchored, projected, rebuilt, audited)),
        "anchor_rss_mb": anchored["rss_mb"],
        "project_rss_mb": projected["rss_mb"],
        "audit_rss_mb": audited["rss_mb"],
        "query_rss_mb": queried["rss_mb"],
    }
    for view, seconds in queried["views_s"].items():
        row[f"view_{view}_s"] = seconds
    return row


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="1000000,3000000,10000000", help="events, ascending")
    parser.add_argument("--samples", type=int, default=2000, help="prove/history queries")
    parser.add_argument("--root", help="where the store grows (default: a temporary folder)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument(
        "--earlier",
        help="an earlier run's scale.json on the same --root: its rows below --sizes join the "
        "table (resuming a store grown before: the grow picks up where it stopped)",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--first-step", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--last-step", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = PHASES[args.phase](args)
        result["rss_mb"] = peak_rss_mb()
        with (Path(args.root) / "phases.jsonl").open("a") as log:  # each phase, as measured
            log.write(json.dumps({"phase": args.phase, **result}) + "\n")
        print(json.dumps(result))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        if size % args.items or not 1 <= size // args.items <= STEPS:
            parser.error(f"each size must be 1..{STEPS} × --items ({size} is not)")
    if sizes != sorted(set(sizes)):
        parser.error("--sizes must be ascending")
    root = Path(args.root or tempfile.mkdtemp(prefix="assay-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    if args.earlier:
        earlier = json.loads(Path(args.earlier).read_text())["rows"]
        rows = [r for r in earlier if r["events"] < sizes[0]]
    done_steps = 0
    try:
        for size in sizes:
            steps = size // args.items
            grown = run_phase(
                "grow", root, items=args.items, first_step=done_steps, last_step=steps
            )
            done_steps = steps
            row = measure_size(root, args.items, size, args.samples)
            row["grow_events_per_s"] = grown["events"] / grown["seconds"]
            row["grow_events_per_cpu_s"] = grown["events"] / grown["cpu_seconds"]
            row["grow_rss_mb"] = grown["rss_mb"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)
    paths = write_report(rows, Path(args.out))
    print("\n".join(f"{k}: {v}" for k, v in paths.items()))
    print(f"goals: {json.dumps(GOALS)}")


if __name__ == "__main__":
    main()
