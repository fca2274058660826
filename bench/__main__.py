"""``python -m bench``: every Assay benchmark in one run, against its baselines and goals.

    uv run python -m bench --quick      # CI size: well under a minute
    uv run python -m bench              # full size: ~10 minutes on 2 cores

Writes ``bench-<size>.json`` (numbers, baselines, goals, machine facts and the raw
measurements), ``bench-<size>.md`` (the table) and ``bench-<size>.png`` (the chart) into
``--out`` (default ``bench/results/``). Kafka: ``$ASSAY_KAFKA_BOOTSTRAP`` if set, else a
local broker started in a temporary directory and stopped at the end. Every store, topic
and process is fresh and temporary, except the large event stores of the full size
(1M-event projection store, 100k-event anchored store), which are kept under
``bench/results/cache/`` and reused unless ``--fresh``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench import (
    bench_anchoring,
    bench_components,
    bench_headbands,
    bench_headmap,
    bench_ingest,
    bench_merkle,
    bench_pipeline,
    bench_projections,
)
from bench.report import machine_facts, write
from bench.rows import rows_from

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_FORMAT = "v2"  # bump when the ledger's or chain's tables change
T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    name: str
    ingest_items: int  # × 7 events: raw produce/consume and in-process ingest
    pipeline_items: int  # × 7 events per worker count
    workers: tuple[int, ...]
    latency_rate: float  # offered events/s in the latency phase (capped at ½ the e2e rate)
    latency_seconds: float
    component_events: int
    merkle_leaves: int
    seal_events: int
    prove_store_events: int
    prove_samples: int
    projection_events: int
    history_queries: int
    headmap_items: int = 20_000  # items in the head map (proofs, seal with map updates)
    headmap_blocks: int = 5
    headmap_samples: int = 100


QUICK = Size("quick", 300, 300, (1, 2), 200, 3, 1400, 20_000, 20_000, 2_000, 100, 10_000, 200)
FULL = Size(
    "full", 15_000, 30_000, (1, 2), 2000, 30, 21_000, 1_000_000, 200_000, 100_000, 1000,
    1_000_000, 2000, 1_000_000, 50, 1000,
)  # fmt: skip


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def step(name: str, fn: Callable[[], T]) -> T:
    log(f"{name} …")
    started = time.perf_counter()
    value = fn()
    log(f"{name}: {time.perf_counter() - started:.1f} s")
    return value


def cached_root(kind: str, events: int, cache: Path | None, tmp: Path, fresh: bool) -> Path:
    if cache is None:
        return tmp / f"{kind}-{events}"
    root = cache / f"{kind}-{events}-{CACHE_FORMAT}"
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
    return root


def measure(
    size: Size,
    out_tmp: Path,
    bootstrap: str,
    broker_pid: int | None,
    cache: Path | None,
    fresh: bool,
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    raw["ingest"] = step(
        "raw produce / consume and in-process ingest",
        lambda: bench_ingest.measure(bootstrap, out_tmp / "ingest", size.ingest_items),
    )
    raw["pipeline"] = {}
    for workers in size.workers:
        raw["pipeline"][str(workers)] = step(
            f"end to end, {workers} ingest worker(s)",
            lambda w=workers: bench_pipeline.run_config(  # type: ignore[misc]
                bootstrap,
                out_tmp,
                w,
                size.pipeline_items,
                size.latency_rate,
                size.latency_seconds,
                broker_pid,
            ),
        )
    raw["components"] = step(
        "components: decode, verify, save",
        lambda: bench_components.measure(out_tmp / "components", size.component_events),
    )
    raw["merkle"] = step("Merkle build", lambda: bench_merkle.measure(size.merkle_leaves))
    raw["seal_build"] = step(
        "seal build (record + leaf + tree)",
        lambda: bench_anchoring.bench_build(size.seal_events),
    )
    prove_root = cached_root("anchoring-store", size.prove_store_events, cache, out_tmp, fresh)
    raw["prove"] = step(
        "prove and verify",
        lambda: bench_anchoring.bench_prove_verify(
            prove_root, size.prove_store_events, size.prove_samples
        ),
    )
    raw["headmap"] = step(
        "head map: seal with map updates, map proofs, absence",
        lambda: bench_headmap.run(size.headmap_items, size.headmap_blocks, size.headmap_samples),
    )
    raw["headbands"] = step(
        "head map state: proofs from the store, cold and warm, seal cost",
        lambda: bench_headbands.run(
            size.headmap_items, 2, size.headmap_samples, size.headmap_blocks
        ),
    )
    projection_root = cached_root(
        "projections-store", size.projection_events, cache, out_tmp, fresh
    )
    raw["projections"] = step(
        "projections and history",
        lambda: bench_projections.measure(
            projection_root, size.projection_events, size.history_queries, tail=False
        ),
    )
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI size (seconds, not minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--workers", type=int, nargs="+", help="ingest worker counts (default: 1 2)"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached full-size stores")
    parser.add_argument(
        "--from-json", type=Path, help="only redraw the table and chart of an earlier run"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        document = json.loads(args.from_json.read_text())
        rows = rows_from(document["raw"])
        paths = write(rows, document["machine"], document["raw"], document["size"], args.out)
        print(paths["md"].read_text())
        return 0
    size = QUICK if args.quick else FULL
    if args.workers:
        size = Size(**{**size.__dict__, "workers": tuple(args.workers)})
    cache = None if args.quick else RESULTS / "cache"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp_name:
        tmp = Path(tmp_name)
        local = None
        bootstrap = os.environ.get("ASSAY_KAFKA_BOOTSTRAP", "")
        broker_pid = None
        if bootstrap:
            kafka = f"external cluster {bootstrap}"
        else:
            from devtools.kafka_dist import DEFAULT_KAFKA_VERSION
            from devtools.localbroker import LocalBroker

            version = os.environ.get("ASSAY_KAFKA_VERSION") or DEFAULT_KAFKA_VERSION
            local = LocalBroker(tmp / "broker", version)
            kafka = f"{version} (local single-node KRaft)"
        try:
            if local is not None:
                bootstrap = step("start the local broker", local.start)
                broker_pid = local.status().pid
            facts = machine_facts(kafka)
            raw = measure(size, tmp, bootstrap, broker_pid, cache, args.fresh)
        finally:
            if local is not None:
                local.stop()
    facts["seconds"] = round(time.perf_counter() - started, 1)
    rows = rows_from(raw)
    paths = write(rows, facts, raw, size.name, args.out)
    print(paths["md"].read_text())
    missed = [r.name for r in rows if r.met is False]
    print(f"goals missed: {len(missed)}" + (f" ({'; '.join(missed)})" if missed else ""))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
