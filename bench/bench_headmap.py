"""Head map speed (docs/proof-bundle.md §10): sealing with map updates, map proofs from
the chain, their size, verification, and absence proofs, with N items in the map.

    uv run python bench/bench_headmap.py [--items 1000000] [--quick] [--json FILE]

The map is the native one the anchor keeps (:mod:`anchoring.headmap_native`). Each goal is
printed with its number, a baseline measured in the same run, and whether it is met:

1. seal build incl. map: per block of ``BATCH`` events (each a different item, a quarter
   of them new to the map) the sealer's work — leaf records and hashes, the block's tree
   and the map update with the changed entries it returns (``leaf_chain`` + ``pack_tree``
   + ``HeadMap.enter_leaves``, one native call each per block) — against the same without
   the map, in events per second of CPU time (the machine is shared; wall time is printed
   too). Goal ≥ 200k events/s. Also
   printed (no goal): the same with the block's changed map entries written to SQLite,
   each block in its own transaction, as ``Chain.save_seal`` writes them.
2. store: the whole map's entries in the chain's SQLite table, and the time a reader
   (anchor or prover) takes to rebuild the map from them.
3. prove: an item's entry and map proof from the chain at the head height
   (``Chain.map_proof_at``, its map rebuilt from the stored entries), p50/p99, against the
   proof from the bench's own map in memory. Goal: the whole ``prove`` ≤ 5 ms p99 (the
   map proof is a part of it).
4. absence: an absent id's proof read from the store and checked, p99, against the same
   for a present item. Goal ≤ 2 ms.
5. verify: ``check_membership`` of a proof after a JSON round trip in version 5's
   spelling, p99 (a part of the 1.5 ms verify goal), against recomputing the root alone;
   also printed, the same in version 4's (hex), taking turns with it.
6. proof size: the map proof as JSON as bundles of version 5 carry it (hashes in
   base64url; median, p99, max), against its raw bytes (32 per non-empty sibling, one bit
   per sibling, the other entry's 88 bytes) and, also printed, version 4's hex spelling.
   Goal ≤ 1.5 KB.
"""

from __future__ import annotations

import argparse
import hashlib
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
from anchoring.header import MAP_HEADER_VERSION, BlockHeader
from anchoring.headmap import MapEntry, MapProof, item_key, root_of
from anchoring.headmap_native import HeadMap
from anchoring.leaves import leaf_chain
from anchoring.mapcheck import check_absence, check_membership, parse_entry, parse_proof, proof_json
from anchoring.mapcheck_v5 import parse_proof_v5, proof_json_v5
from anchoring.merkle import pack_tree
from ledger.config import store_env
from ledger.records import LeafSource

BATCH = 1000
GOALS = {
    "seal_with_map_events_per_s": 200_000,
    "map_prove_p99_ms": 5.0,
    "absence_p99_ms": 2.0,
    "map_verify_p99_ms": 1.5,
    "map_proof_max_bytes": 1536,
}
#: (goal key, what, baseline key, baseline name, unit, higher is better)
REPORT = [
    ("seal_with_map_events_per_s", "seal build incl. map", "seal_without_map_events_per_s",
     "without the map", "events/s", True),
    ("map_prove_p99_ms", "map prove p99", "map_prove_memory_p99_ms", "from memory", "ms", False),
    ("absence_p99_ms", "absence p99", "membership_p99_ms", "membership", "ms", False),
    ("map_verify_p99_ms", "map verify p99", "map_root_p99_ms", "root alone", "ms", False),
    ("map_proof_max_bytes", "map proof max", "map_proof_raw_max_bytes", "raw bytes", "B", False),
]  # fmt: skip


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _entry(n: int, height: int) -> MapEntry:
    return MapEntry(n % 9 + 1, hashlib.sha256(n.to_bytes(8, "big")).digest(), height, n % BATCH)


def build_map(items: int) -> HeadMap:
    m = HeadMap()
    for first in range(0, items, 100_000):
        ids = range(first, min(first + 100_000, items))
        m.apply({item_key(f"urn:item:{n}"): _entry(n, 0) for n in ids}, 0)
        m.commit()
    return m


def batches_of(items: int, fresh: int, blocks: int, seed: int) -> list[list[LeafSource]]:
    """Blocks of ``BATCH`` events of distinct items, a quarter of them new (ids from
    ``fresh`` on)."""
    rng = random.Random(seed)
    envelopes = [rng.randbytes(320) for _ in range(64)]
    out = []
    for _ in range(blocks):
        ids = rng.sample(range(items), BATCH * 3 // 4)
        ids += list(range(fresh, fresh + BATCH // 4))
        fresh += BATCH // 4
        out.append([LeafSource(f"urn:item:{n}", 2, "E", envelopes[n % 64]) for n in ids])
    return out


def seal_blocks(
    m: HeadMap | None,
    batches: list[list[LeafSource]],
    first: int,
    chain: Chain | None = None,
) -> float:
    """CPU seconds to seal ``batches`` as the anchor does (without the map if ``m`` is None;
    with the block's changed entries written to ``chain``'s map table if given)."""
    earlier = bytes(range(32))
    started = time.process_time()
    for height, batch in enumerate(batches, first):
        leaves = leaf_chain(batch, lambda _item, _version: earlier)
        pack_tree(leaves)
        if m is None:
            continue
        entries = m.enter_leaves(batch, leaves, height)  # as the sealer enters them
        if chain is not None:
            with chain.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
                c.executemany(
                    "INSERT INTO anchored_map_entries VALUES (?,?,?)",
                    [(height, key, value) for key, value in entries],
                )
        m.commit()
    return time.process_time() - started


def bench_seal(m: HeadMap, items: int, blocks: int) -> dict[str, float]:
    batches = batches_of(items, items, blocks, 5)
    without = seal_blocks(None, batches, m.height + 1)
    wall = time.perf_counter()
    with_map = seal_blocks(m, batches, m.height + 1)
    wall = time.perf_counter() - wall
    events = blocks * BATCH
    return {
        "seal_without_map_events_per_s": events / without,
        "seal_with_map_events_per_s": events / with_map,
        "seal_with_map_wall_events_per_s": events / wall,
    }


def bench_seal_stored(m: HeadMap, chain: Chain, items: int, blocks: int) -> dict[str, float]:
    batches = batches_of(items, items + blocks * BATCH, blocks, 6)
    wall, cpu = time.perf_counter(), time.process_time()
    seal_blocks(m, batches, m.height + 1, chain)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "seal_with_map_stored_events_per_s": blocks * BATCH / wall,
        "seal_with_map_stored_cpu_events_per_s": blocks * BATCH / cpu,
    }


def raw_size(proof: MapProof) -> int:
    """The proof's bytes without JSON: 32 per non-empty sibling, a bitmap of which are
    empty, and the other entry's key and value."""
    hashes = sum(s is not None for s in proof.siblings)
    other = 32 + 56 if proof.other_key is not None else 0
    return 32 * hashes + (len(proof.siblings) + 7) // 8 + other


def bench_store_and_proofs(
    m: HeadMap, chain: Chain, samples: int, items: int, stored_blocks: int
) -> dict[str, Any]:
    entries = sorted((r.leaf_key, r.value) for r in m.rows() if r.leaf_key and r.value)
    started = time.perf_counter()
    with chain.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.executemany(
            "INSERT INTO anchored_map_entries VALUES (?,?,?)",
            [(m.height, key, value) for key, value in entries],
        )
    store_s = time.perf_counter() - started
    numbers: dict[str, Any] = {
        "map_entries": len(entries),
        "map_store_entries_per_s": len(entries) / store_s,
    }
    numbers.update(bench_seal_stored(m, chain, items, stored_blocks))
    # A block index row at the map's height whose header commits to its root, as the
    # anchor's block would: a prover checks the map it rebuilds against it.
    sealed_at = "2026-12-03T00:00:00.000000Z"
    zero = bytes(32)
    head = BlockHeader(
        MAP_HEADER_VERSION, m.height, zero, zero, 1, 1, 1, sealed_at, zero, m.height, m.root, m.size
    )
    chain.recorder.add_block_rows([block_row(head, b"")])  # type: ignore[attr-defined]
    wall, cpu = time.perf_counter(), time.process_time()
    chain.map_proof_at(bytes(32), m.height)  # the first proof rebuilds the chain's map
    numbers["map_load_s"] = time.perf_counter() - wall
    numbers["map_load_cpu_s"] = time.process_time() - cpu
    rng = random.Random(7)
    prove_ms, memory_ms, absent_ms, member_ms, verify_ms, root_ms = [], [], [], [], [], []
    verify_cpu_ms, hex_ms, hex_cpu_ms = [], [], []
    prove_cpu_ms, absent_cpu_ms = [], []  # the thread's CPU time: unmoved by other load
    for _ in range(samples):
        item = f"urn:item:{rng.randrange(items)}"
        key = item_key(item)
        w, cpu = time.perf_counter(), time.thread_time()
        entry, proof = chain.map_proof_at(key, m.height)
        prove_ms.append((time.perf_counter() - w) * 1e3)
        prove_cpu_ms.append((time.thread_time() - cpu) * 1e3)
        w = time.perf_counter()
        assert m.prove(key) == (entry, proof)
        memory_ms.append((time.perf_counter() - w) * 1e3)
        assert entry is not None
        spellings = [
            (proof_json_v5, parse_proof_v5, verify_ms, verify_cpu_ms),
            (proof_json, parse_proof, hex_ms, hex_cpu_ms),
        ]
        for spell, parse, wall, cpu_ms in spellings[:: 1 if len(prove_ms) % 2 else -1]:
            text = json.dumps({"map_entry": entry.to_json(), "map_proof": spell(proof)})
            w, cpu = time.perf_counter(), time.thread_time()
            loaded = json.loads(text)
            check_membership(
                m.root,
                item,
                parse_entry(loaded["map_entry"], "e"),
                parse(loaded["map_proof"], "p"),
            )
            wall.append((time.perf_counter() - w) * 1e3)
            cpu_ms.append((time.thread_time() - cpu) * 1e3)
        member_ms.append(prove_ms[-1] + verify_ms[-1])
        w = time.perf_counter()
        assert root_of(key, entry, proof) == m.root
        root_ms.append((time.perf_counter() - w) * 1e3)
        missing = f"urn:epc:id:sgtin:9.{rng.randrange(10**9)}"
        w, cpu = time.perf_counter(), time.thread_time()
        none, absence = chain.map_proof_at(item_key(missing), m.height)
        check_absence(
            m.root, missing, parse_proof(json.loads(json.dumps(proof_json(absence))), "p")
        )
        absent_ms.append((time.perf_counter() - w) * 1e3)
        absent_cpu_ms.append((time.thread_time() - cpu) * 1e3)
        assert none is None
    numbers.update(
        {
            "map_prove_p50_ms": percentile(prove_ms, 0.5),
            "map_prove_p99_ms": percentile(prove_ms, 0.99),
            "map_prove_cpu_p99_ms": percentile(prove_cpu_ms, 0.99),
            "map_prove_memory_p99_ms": percentile(memory_ms, 0.99),
            "map_verify_p50_ms": percentile(verify_ms, 0.5),
            "map_verify_p99_ms": percentile(verify_ms, 0.99),
            "map_verify_cpu_p99_ms": percentile(verify_cpu_ms, 0.99),
            "map_verify_hex_p50_ms": percentile(hex_ms, 0.5),
            "map_verify_hex_p99_ms": percentile(hex_ms, 0.99),
            "map_verify_hex_cpu_p99_ms": percentile(hex_cpu_ms, 0.99),
            "map_root_p99_ms": percentile(root_ms, 0.99),
            "absence_p50_ms": percentile(absent_ms, 0.5),
            "absence_p99_ms": percentile(absent_ms, 0.99),
            "absence_cpu_p99_ms": percentile(absent_cpu_ms, 0.99),
            "membership_p99_ms": percentile(member_ms, 0.99),
        }
    )
    return numbers


def proof_sizes(m: HeadMap, items: int, samples: int) -> dict[str, Any]:
    """Map proof sizes over random present items and absent ids, from the map in memory:
    compact JSON as a bundle of version 5 carries it (and of version 4, hex), and raw bytes."""
    rng = random.Random(8)
    out: dict[str, Any] = {}
    for kind, ids in (
        ("", [f"urn:item:{rng.randrange(items)}" for _ in range(samples)]),
        ("absence_", [f"urn:epc:id:sgtin:8.{rng.randrange(10**9)}" for _ in range(samples)]),
    ):
        text, hex_text, raw, depth = [], [], [], []
        for item in ids:
            _, proof = m.prove(item_key(item))
            text.append(len(json.dumps(proof_json_v5(proof), separators=(",", ":"))))
            hex_text.append(len(json.dumps(proof_json(proof), separators=(",", ":"))))
            raw.append(raw_size(proof))
            depth.append(len(proof.siblings))
        for name, values in (("", text), ("raw_", raw), ("hex_", hex_text)):
            for q, label in ((0.5, "median"), (0.99, "p99")):
                out[f"{kind}map_proof_{name}{label}_bytes"] = percentile(values, q)
            out[f"{kind}map_proof_{name}max_bytes"] = max(values)
            out[f"{kind}map_proof_{name}mean_bytes"] = sum(values) / len(values)
        out[f"{kind}map_proof_depth_max"] = max(depth)
    return out


def run(items: int, blocks: int, samples: int, size_samples: int = 20_000) -> dict[str, Any]:
    started = time.perf_counter()
    m = build_map(items)
    numbers: dict[str, Any] = {"items": items, "map_build_s": time.perf_counter() - started}
    numbers.update(bench_seal(m, items, blocks))
    with tempfile.TemporaryDirectory(prefix="assay-bench-headmap-") as tmp:
        chain = Chain(store_env("", Path(tmp) / "chain.sqlite"))
        numbers.update(bench_store_and_proofs(m, chain, samples, items, blocks))
    numbers.update(proof_sizes(m, items, size_samples))
    numbers["load_average"] = os.getloadavg()[0]
    return numbers


def verdicts(n: dict[str, Any]) -> list[str]:
    """One line per goal: the number, its baseline in this run, the goal and whether met."""
    lines = []
    for key, what, base, base_name, unit, higher in REPORT:
        value, baseline, goal = n[key], n[base], GOALS[key]
        met = value >= goal if higher else value <= goal
        spec = ",.0f" if unit in ("events/s", "B") else ".3f"

        def fmt(v: float, spec: str = spec) -> str:
            return format(v, spec)

        lines.append(
            f"{what:<21} {fmt(value):>10} {unit:<8} {base_name:>15} {fmt(baseline):>10} "
            f"({value / baseline:5.2f}×)  goal {'≥' if higher else '≤'} {fmt(goal)}: "
            f"{'met' if met else 'NOT met'}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=50)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--size-samples", type=int, default=20_000, help="keys for proof sizes")
    parser.add_argument("--quick", action="store_true", help="100k items, 10 blocks, 200 samples")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.items, args.blocks, args.samples = 100_000, 10, 200
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.items:,} items")
    n = run(args.items, args.blocks, args.samples, args.size_samples)
    print(f"map build    {n['map_build_s']:.1f} s for {n['items']:,} items (once, at the switch)")
    print(f"{'goal':<21} {'value':>10} {'':8} {'baseline':>15} {'':>10}")
    for line in verdicts(n):
        print(line)
    print(
        f"CPU time p99 (other load excluded): map prove {n['map_prove_cpu_p99_ms']:.3f} ms, "
        f"absence {n['absence_cpu_p99_ms']:.3f} ms"
    )
    print(
        f"map verify, version 5 (base64url) against version 4 (hex), taking turns: p50 "
        f"{n['map_verify_p50_ms']:.3f}/{n['map_verify_hex_p50_ms']:.3f} ms, p99 "
        f"{n['map_verify_p99_ms']:.3f}/{n['map_verify_hex_p99_ms']:.3f} ms, CPU p99 "
        f"{n['map_verify_cpu_p99_ms']:.3f}/{n['map_verify_hex_cpu_p99_ms']:.3f} ms"
    )
    print(f"seal build incl. map, wall time {n['seal_with_map_wall_events_per_s']:,.0f} events/s")
    print(
        f"seal incl. map, changed entries stored in SQLite "
        f"{n['seal_with_map_stored_events_per_s']:,.0f} events/s wall, "
        f"{n['seal_with_map_stored_cpu_events_per_s']:,.0f} events/s of CPU time"
    )
    print(
        f"whole map {n['map_entries']:,} entries stored at {n['map_store_entries_per_s']:,.0f} "
        f"rows/s; map rebuilt from them in {n['map_load_s']:.1f} s "
        f"({n['map_load_cpu_s']:.1f} s CPU; the anchor's and a prover's start)"
    )
    for kind, label in (("", "membership"), ("absence_", "absence")):
        sizes = ", ".join(
            f"{q} {n[f'{kind}map_proof_{q}_bytes']:,.0f}/{n[f'{kind}map_proof_hex_{q}_bytes']:,.0f}"
            f"/{n[f'{kind}map_proof_raw_{q}_bytes']:,.0f}"
            for q in ("median", "p99", "max")
        )
        print(
            f"{label} proof size, JSON v5 (base64url)/JSON v4 (hex)/raw bytes: {sizes} "
            f"(depth ≤ {n[f'{kind}map_proof_depth_max']})"
        )
    print(f"(load average {n['load_average']:.1f} on {os.cpu_count()} CPUs)")
    if args.json:
        args.json.write_text(json.dumps(n, indent=2) + "\n")


if __name__ == "__main__":
    main()
