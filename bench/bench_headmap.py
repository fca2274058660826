"""Head map speed (docs/proof-bundle.md §10): sealing with map updates, map proofs read
from the store, their size, verification, and absence proofs, with N items in the map.

    uv run python bench/bench_headmap.py [--items 1000000] [--quick] [--json FILE]

1. seal build incl. map: per block of ``BATCH`` events (each a different item, a quarter
   of them new to the map) the sealer's work — leaf records and hashes, the block's tree
   and the map update with the rows it returns (``leaf_chain`` + ``pack_tree`` +
   ``HeadMap.update``) — against the same without the map, in one run. Goal ≥ 200k
   events/s.
2. store: the whole map's rows in the chain's SQLite table, as the anchor leaves them.
3. prove: an item's entry and map proof read from the store at the head height
   (``Chain.map_proof_at``), p50/p99; an absent id's likewise. Goals:
   the whole ``prove`` ≤ 5 ms p99 (the map proof is a part of it), absence ≤ 2 ms.
4. verify: ``check_membership`` of a proof after a JSON round trip, p50/p99 (a part of the
   1.5 ms verify goal); proof size as JSON, mean and max. Goal ≤ 1.5 KB.
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anchoring.chain import Chain
from anchoring.headmap import HeadMap, MapEntry, item_key
from anchoring.leaves import leaf_chain
from anchoring.mapcheck import check_absence, check_membership, parse_entry, parse_proof, proof_json
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


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _entry(n: int, height: int) -> MapEntry:
    return MapEntry(n % 9 + 1, hashlib.sha256(n.to_bytes(8, "big")).digest(), height, n % BATCH)


def build_map(items: int) -> HeadMap:
    m = HeadMap()
    for first in range(0, items, 100_000):
        ids = range(first, min(first + 100_000, items))
        m.update({item_key(f"urn:item:{n}"): _entry(n, 0) for n in ids}, 0)
        m.commit()
    return m


def bench_seal(m: HeadMap, items: int, blocks: int) -> dict[str, float]:
    rng = random.Random(5)
    envelopes = [rng.randbytes(320) for _ in range(64)]
    earlier = bytes(range(32))
    batches = []
    fresh = items
    for _ in range(blocks):
        ids = [rng.randrange(items) for _ in range(BATCH * 3 // 4)]
        ids += list(range(fresh, fresh + BATCH // 4))
        fresh += BATCH // 4
        batches.append([LeafSource(f"urn:item:{n}", 2, "E", envelopes[n % 64]) for n in ids])

    def seal(with_map: bool) -> float:
        started = time.perf_counter()
        for height, batch in enumerate(batches, 1):
            leaves = leaf_chain(batch, lambda _item, _version: earlier)
            pack_tree(leaves)
            if with_map:
                changes = {
                    item_key(s.item_id): MapEntry(s.version, leaf, height, index)
                    for index, (s, leaf) in enumerate(zip(batch, leaves, strict=True))
                }
                m.update(changes, height)
                m.commit()
        return time.perf_counter() - started

    without = seal(False)
    with_map = seal(True)
    events = blocks * BATCH
    return {
        "seal_without_map_events_per_s": events / without,
        "seal_with_map_events_per_s": events / with_map,
    }


def bench_store_and_proofs(m: HeadMap, samples: int, items: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="assay-bench-headmap-") as tmp:
        chain = Chain(store_env("", Path(tmp) / "chain.sqlite"))
        rows = m.rows()
        started = time.perf_counter()
        with chain.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
            c.executemany(
                "INSERT INTO anchored_map VALUES (?,?,?,?,?)",
                [(r.path, m.height, r.hash, r.leaf_key, r.value) for r in rows],
            )
        store_s = time.perf_counter() - started
        rng = random.Random(7)
        prove_ms, absent_ms, verify_ms, sizes = [], [], [], []
        for _ in range(samples):
            item = f"urn:item:{rng.randrange(items)}"
            w = time.perf_counter()
            entry, proof = chain.map_proof_at(item_key(item), m.height)
            prove_ms.append((time.perf_counter() - w) * 1e3)
            assert entry is not None
            text = json.dumps({"map_entry": entry.to_json(), "map_proof": proof_json(proof)})
            sizes.append(len(json.dumps(proof_json(proof), separators=(",", ":"))))
            w = time.perf_counter()
            loaded = json.loads(text)
            check_membership(
                m.root,
                item,
                parse_entry(loaded["map_entry"], "e"),
                parse_proof(loaded["map_proof"], "p"),
            )
            verify_ms.append((time.perf_counter() - w) * 1e3)
            missing = f"urn:epc:id:sgtin:9.{rng.randrange(10**9)}"
            w = time.perf_counter()
            none, absence = chain.map_proof_at(item_key(missing), m.height)
            check_absence(
                m.root, missing, parse_proof(json.loads(json.dumps(proof_json(absence))), "p")
            )
            absent_ms.append((time.perf_counter() - w) * 1e3)
            assert none is None
        return {
            "map_rows": len(rows),
            "map_store_rows_per_s": len(rows) / store_s,
            "map_prove_p50_ms": percentile(prove_ms, 0.5),
            "map_prove_p99_ms": percentile(prove_ms, 0.99),
            "map_verify_p50_ms": percentile(verify_ms, 0.5),
            "map_verify_p99_ms": percentile(verify_ms, 0.99),
            "absence_p50_ms": percentile(absent_ms, 0.5),
            "absence_p99_ms": percentile(absent_ms, 0.99),
            "map_proof_mean_bytes": sum(sizes) / len(sizes),
            "map_proof_max_bytes": max(sizes),
        }


def run(items: int, blocks: int, samples: int) -> dict[str, Any]:
    started = time.perf_counter()
    m = build_map(items)
    numbers: dict[str, Any] = {"items": items, "map_build_s": time.perf_counter() - started}
    numbers.update(bench_seal(m, items, blocks))
    numbers.update(bench_store_and_proofs(m, samples, items))
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=50)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100k items, 10 blocks, 200 samples")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.items, args.blocks, args.samples = 100_000, 10, 200
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.items:,} items")
    n = run(args.items, args.blocks, args.samples)
    g = GOALS
    seal = n["seal_with_map_events_per_s"]
    print(f"map build    {n['map_build_s']:.1f} s for {n['items']:,} items (once, at the switch)")
    print(
        f"seal         {seal:>10,.0f} events/s with map updates, "
        f"{n['seal_without_map_events_per_s']:>10,.0f} without "
        f"({seal / g['seal_with_map_events_per_s']:.2f}× the goal)"
    )
    print(
        f"store        {n['map_rows']:,} map rows, "
        f"{n['map_store_rows_per_s']:,.0f} rows/s into SQLite"
    )
    for what, goal in (("map_prove", "map_prove_p99_ms"), ("absence", "absence_p99_ms"),
                       ("map_verify", "map_verify_p99_ms")):  # fmt: skip
        p50, p99 = n[f"{what}_p50_ms"], n[f"{what}_p99_ms"]
        print(
            f"{what:<12} p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  "
            f"(goal ≤ {g[goal]} ms: {p99 / g[goal]:.2f}×)"
        )
    print(
        f"proof size   mean {n['map_proof_mean_bytes']:.0f} B, max {n['map_proof_max_bytes']} B "
        f"(goal ≤ {g['map_proof_max_bytes']} B: "
        f"{n['map_proof_max_bytes'] / g['map_proof_max_bytes']:.2f}×)"
    )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if args.json:
        args.json.write_text(json.dumps(n, indent=2) + "\n")


if __name__ == "__main__":
    main()
