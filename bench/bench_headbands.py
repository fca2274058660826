"""Proofs at the head from the stored map state (anchoring/headbands.py) against the rebuild.

    uv run python bench/bench_headbands.py [--items 1000000] [--rounds 3] [--json FILE]

With N items in a chain store (SQLite: the per-block entries, the block index row of the
head, and the map state built from them, as ``Chain`` builds it on open), it prints:

1. cold first proof, as ``assay prove`` (a new process) pays it: open the chain and answer
   one proof at the head, from the stored state (new) against loading the map from the
   entries first (``Chain.load_map``, the rebuild every reader did before), taking turns,
   ``--rounds`` each; wall and CPU seconds.
2. warm proofs from the store: ``Chain.map_proof_at`` at the head for present items (p50,
   p99) and absent ids (p99), each checked against the map in memory. Goals: prove p99 ≤
   5 ms, absence p99 ≤ 2 ms.
3. stored seal throughput: blocks of ``BATCH`` events (map update, entries written in the
   block's transaction) without and with the state's writes (changed entries upserted,
   band rows, head row), taking turns block by block; wall and CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anchoring.chain import Chain, block_row
from anchoring.headbands import state_of
from anchoring.header import MAP_HEADER_VERSION, BlockHeader
from anchoring.headmap import VALUE, item_key
from anchoring.headmap_native import HeadMap
from anchoring.recorders import SQLiteChainRecorder
from bench.bench_headmap import BATCH, batches_of, build_map, percentile
from bench.report import Goal, Row
from ledger.config import store_env

GOALS = {"prove_p99_ms": 5.0, "absence_p99_ms": 2.0}


def head_row_for(m: HeadMap) -> Any:
    zero, at = bytes(32), "2026-12-04T00:00:00.000000Z"
    header = BlockHeader(
        MAP_HEADER_VERSION, m.height, zero, zero, 1, 1, 1, at, zero, m.height, m.root, m.size
    )
    return block_row(header, b"")


def write_store(m: HeadMap, db: Path) -> dict[str, float]:
    """The chain store of a map at height ``m.height``: its entries, the head's block
    index row, and (built on open) the map state."""
    env = store_env("", db)
    chain = Chain(env)
    recorder = chain.recorder
    assert isinstance(recorder, SQLiteChainRecorder)
    state = state_of(m, None)
    with recorder.datastore.transaction(commit=True) as c:
        c.executemany(
            "INSERT INTO anchored_map_entries VALUES (?,?,?)",
            [(m.height, key, value) for key, value in state.entries],
        )
    recorder.add_block_rows([head_row_for(m)])
    wall, cpu = time.perf_counter(), time.process_time()
    Chain(env)  # an older data dir's first open: the state built from the entries
    return {
        "state_build_s": time.perf_counter() - wall,
        "state_build_cpu_s": time.process_time() - cpu,
    }


def cold(db: Path, key: bytes, height: int, *, rebuild: bool) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    chain = Chain(store_env("", db))
    if rebuild:
        chain.load_map(height)
    else:
        assert chain.map_state_at(height)
    chain.map_proof_at(key, height)
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_cold(db: Path, m: HeadMap, items: int, rounds: int) -> dict[str, float]:
    rng = random.Random(3)
    out: dict[str, list[float]] = {k: [] for k in ("new", "new_cpu", "old", "old_cpu")}
    for n in range(rounds * 2):
        rebuild = n % 2 == 1
        key = item_key(f"urn:item:{rng.randrange(items)}")
        wall, cpu = cold(db, key, m.height, rebuild=rebuild)
        name = "old" if rebuild else "new"
        out[name].append(wall)
        out[f"{name}_cpu"].append(cpu)
    return {f"cold_{k}_s": min(v) for k, v in out.items()} | {
        f"cold_{k}_max_s": max(v) for k, v in out.items()
    }


def bench_warm(db: Path, m: HeadMap, items: int, samples: int) -> dict[str, float]:
    chain = Chain(store_env("", db))
    rng = random.Random(4)
    prove, absent, prove_cpu, absent_cpu = [], [], [], []
    for _ in range(samples):
        for kind in ("present", "absent"):
            ident = f"urn:item:{rng.randrange(items)}" if kind == "present" else (
                f"urn:epc:id:sgtin:9.{rng.randrange(10**9)}")  # fmt: skip
            key = item_key(ident)
            wall, cpu = time.perf_counter(), time.thread_time()
            got = chain.map_proof_at(key, m.height)
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            assert got == m.prove(key) and (got[0] is None) == (kind == "absent")
            (prove if kind == "present" else absent).append(wall * 1e3)
            (prove_cpu if kind == "present" else absent_cpu).append(cpu * 1e3)
    return {
        "prove_p50_ms": percentile(prove, 0.5),
        "prove_p99_ms": percentile(prove, 0.99),
        "prove_cpu_p99_ms": percentile(prove_cpu, 0.99),
        "absence_p50_ms": percentile(absent, 0.5),
        "absence_p99_ms": percentile(absent, 0.99),
        "absence_cpu_p99_ms": percentile(absent_cpu, 0.99),
    }


def bench_seal(db: Path, m: HeadMap, items: int, blocks: int) -> dict[str, float]:
    """Blocks sealed (map update + writes, one transaction each) without and with the
    state's writes, taking turns."""
    chain = Chain(store_env("", db))  # kept: its datastore closes with it
    recorder = chain.recorder
    assert isinstance(recorder, SQLiteChainRecorder)
    spent = {False: [0.0, 0.0], True: [0.0, 0.0]}
    for n, batch in enumerate(batches_of(items, items, blocks * 2, 9)):
        with_state = n % 2 == 1
        height = m.height + 1
        wall, cpu = time.perf_counter(), time.process_time()
        changes = {
            item_key(s.item_id): VALUE.pack(s.version, bytes(32), height, i)
            for i, s in enumerate(batch)
        }
        m.apply(changes, height)
        entries = sorted(changes.items())
        state = state_of(m, entries) if with_state else None
        with recorder.datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT INTO anchored_map_entries VALUES (?,?,?)",
                [(height, key, value) for key, value in entries],
            )
            if state is not None:
                recorder._write_state(c, state)
        m.commit()
        spent[with_state][0] += time.perf_counter() - wall
        spent[with_state][1] += time.process_time() - cpu
    events = blocks * BATCH
    return {
        "seal_stored_events_per_s": events / spent[False][0],
        "seal_stored_cpu_events_per_s": events / spent[False][1],
        "seal_state_events_per_s": events / spent[True][0],
        "seal_state_cpu_events_per_s": events / spent[True][1],
    }


def run(items: int, rounds: int, samples: int, blocks: int) -> dict[str, Any]:
    started = time.perf_counter()
    m = build_map(items)
    m.height = 7  # the head is not the genesis block (its header links to an accumulator)
    numbers: dict[str, Any] = {"items": items, "map_build_s": time.perf_counter() - started}
    with tempfile.TemporaryDirectory(prefix="assay-bench-headbands-") as tmp:
        db = Path(tmp) / "chain.sqlite"
        numbers.update(write_store(m, db))
        numbers["db_mb"] = db.stat().st_size / 1e6
        numbers.update(bench_cold(db, m, items, rounds))
        numbers.update(bench_warm(db, m, items, samples))
        numbers.update(bench_seal(db, m, items, blocks))
    numbers["load_average"] = os.getloadavg()[0]
    return numbers


def report(n: dict[str, Any]) -> list[str]:
    lines = [
        f"{n['items']:,} items; state built on open from the entries in "
        f"{n['state_build_s']:.1f} s ({n['state_build_cpu_s']:.1f} s CPU); "
        f"store {n['db_mb']:.0f} MB",
        f"cold first proof (open + prove), best of turns: stored state {n['cold_new_s']:.3f} s "
        f"({n['cold_new_cpu_s']:.3f} s CPU) vs rebuild {n['cold_old_s']:.2f} s "
        f"({n['cold_old_cpu_s']:.2f} s CPU): {n['cold_old_s'] / n['cold_new_s']:.0f}× faster",
    ]
    for key, what in (("prove", "prove"), ("absence", "absence")):
        goal = GOALS[f"{key}_p99_ms"]
        p99 = n[f"{key}_p99_ms"]
        lines.append(
            f"warm {what} from the store: p50 {n[f'{key}_p50_ms']:.3f} ms, p99 {p99:.3f} ms "
            f"(CPU p99 {n[f'{key}_cpu_p99_ms']:.3f} ms); goal ≤ {goal} ms: "
            f"{'met' if p99 <= goal else 'NOT met'}"
        )
    ratio = n["seal_state_events_per_s"] / n["seal_stored_events_per_s"]
    lines.append(
        f"stored seal: {n['seal_stored_events_per_s']:,.0f} events/s without the state, "
        f"{n['seal_state_events_per_s']:,.0f} with it ({ratio:.2f}×); CPU "
        f"{n['seal_stored_cpu_events_per_s']:,.0f} vs {n['seal_state_cpu_events_per_s']:,.0f}"
    )
    lines.append(f"(load average {n['load_average']:.1f} on {os.cpu_count()} CPUs)")
    return lines


def rows(n: dict[str, Any]) -> list[Row]:
    """The summary rows of ``python -m bench``."""
    note = f"{n['items']:,} items, from the stored map state"
    return [
        Row("map_cold_first_proof", "latency", "first map proof of a new process (open + prove)",
            n["cold_new_s"] * 1e3, "ms", "map rebuilt first", n["cold_old_s"] * 1e3, note=note),
        Row("map_state_prove_p99", "latency", "map proof at the head from the store, p99",
            n["prove_p99_ms"], "ms", "p50", n["prove_p50_ms"],
            Goal("<=", GOALS["prove_p99_ms"], "≤ 5 ms"), chart="latency",
            note=f"{note}, CPU {n['prove_cpu_p99_ms']:.2f} ms"),
        Row("map_state_absence_p99", "latency", "absence proof at the head from the store, p99",
            n["absence_p99_ms"], "ms", "p50", n["absence_p50_ms"],
            Goal("<=", GOALS["absence_p99_ms"], "≤ 2 ms"), chart="latency",
            note=f"{note}, CPU {n['absence_cpu_p99_ms']:.2f} ms"),
        Row("seal_with_map_state", "components",
            "stored seal incl. the map state's writes (SQLite)", n["seal_state_events_per_s"],
            "events/s", "entries only", n["seal_stored_events_per_s"], note=note),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=20, help="blocks per side of the seal")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    n = run(args.items, args.rounds, args.samples, args.blocks)
    for line in report(n):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(n, indent=2) + "\n")


if __name__ == "__main__":
    main()
