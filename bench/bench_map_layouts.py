"""Head map storage layouts in SQLite, side by side: the seal with its map rows stored, and
a proof's node reads, with N items in the map.

    uv run python bench/bench_map_layouts.py [--items 1000000] [--blocks 10]

Each layout gets its own chain database (the chain's own connection settings) holding the
whole map at height 0, then seals ``--blocks`` blocks of ``BATCH`` events (three quarters
already in the map) with each block's rows written in one transaction, as the anchor does.
Printed per layout: events/s (wall clock and the process's CPU time), and the node read of
``PREFETCH_DEPTH`` levels of a proof path (p50/p99 ms). Layouts:

* ``path-height``: ``WITHOUT ROWID`` keyed by (path, height) — the rows of one block land
  all over the key range;
* ``rowid+index``: rows appended in a rowid table, a (path, height) index beside it;
* ``height-path+index``: ``WITHOUT ROWID`` keyed by (height, path), a (path, height) index;
* ``height-path``: keyed by (height, path), no index: the cost of appending alone (it cannot
  answer a node read quickly, so it has no read figure);
* ``entries``: only the block's changed entries, (height, key, value), ~1 row per event.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_headmap import BATCH, batches_of, build_map, percentile

from anchoring.chain import Chain
from anchoring.headmap import MapEntry, item_key, proof_paths
from anchoring.headmap_native import HeadMap, row_params
from anchoring.leaves import leaf_chain
from anchoring.merkle import pack_tree
from ledger.config import store_env

#: Levels of a proof path read in one statement (what the node layouts' prover read).
PREFETCH_DEPTH = 32

COLS = "path BLOB NOT NULL, height INTEGER NOT NULL, hash BLOB NOT NULL, leaf_key BLOB, value BLOB"
LAYOUTS = {
    "path-height": [f"CREATE TABLE t ({COLS}, PRIMARY KEY (path, height)) WITHOUT ROWID"],
    "rowid+index": [f"CREATE TABLE t ({COLS})", "CREATE INDEX t_path ON t (path, height)"],
    "height-path+index": [
        f"CREATE TABLE t ({COLS}, PRIMARY KEY (height, path)) WITHOUT ROWID",
        "CREATE INDEX t_path ON t (path, height)",
    ],
    "height-path": [f"CREATE TABLE t ({COLS}, PRIMARY KEY (height, path)) WITHOUT ROWID"],
    "entries": [
        "CREATE TABLE t (height INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
        "PRIMARY KEY (height, key)) WITHOUT ROWID"
    ],
}
READ = (
    "WITH p(path) AS (VALUES {values}) SELECT t.path, t.hash FROM p JOIN t "
    "ON t.path = p.path AND t.height = (SELECT MAX(height) FROM t "
    "WHERE path = p.path AND height <= ?)"
)


def run_layout(name: str, base: HeadMap, items: int, blocks: int, tmp: Path) -> str:
    chain = Chain(store_env("", tmp / f"{name}.sqlite"))
    store = chain.recorder.datastore  # type: ignore[attr-defined]
    entries = name == "entries"
    with store.transaction(commit=True) as c:
        for statement in LAYOUTS[name]:
            c.execute(statement)
        if entries:
            c.executemany(
                "INSERT INTO t VALUES (?,?,?)",
                sorted((0, r.leaf_key, r.value) for r in base.rows() if r.leaf_key),
            )
        else:
            rows = sorted(row_params(base.rows(), 0), key=lambda p: (p[1], p[0]))
            c.executemany("INSERT INTO t VALUES (?,?,?,?,?)", rows)
    m = HeadMap.from_rows(base.rows())
    batches = batches_of(items, items + 10 * blocks * BATCH, blocks, 11)
    earlier = bytes(range(32))
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    for height, batch in enumerate(batches, 1):
        leaves = leaf_chain(batch, lambda _item, _version: earlier)
        pack_tree(leaves)
        changes = {
            item_key(s.item_id): MapEntry(s.version, leaf, height, index)
            for index, (s, leaf) in enumerate(zip(batch, leaves, strict=True))
        }
        rows = m.update(changes, height)
        with store.transaction(commit=True) as c:
            if entries:
                c.executemany(
                    "INSERT INTO t VALUES (?,?,?)",
                    sorted((height, k, e.encode()) for k, e in changes.items()),
                )
            else:
                c.executemany("INSERT INTO t VALUES (?,?,?,?,?)", row_params(rows, height))
        m.commit()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    events = blocks * BATCH
    line = (
        f"{name:<18} {events / wall:>9,.0f} events/s wall {events / cpu:>9,.0f} CPU "
        f"(load {load:.1f}→{os.getloadavg()[0]:.1f})"
    )
    if name in ("height-path", "entries"):
        return line
    rng = random.Random(3)
    reads = []
    for _ in range(300):
        paths = proof_paths(item_key(f"urn:item:{rng.randrange(items)}"), PREFETCH_DEPTH)
        started = time.perf_counter()
        with store.transaction(commit=False) as c:
            c.execute(READ.format(values=",".join(["(?)"] * len(paths))), (*paths, m.height))
            c.fetchall()
        reads.append((time.perf_counter() - started) * 1e3)
    p50, p99 = percentile(reads, 0.5), percentile(reads, 0.99)
    return f"{line}; node read p50 {p50:.2f} p99 {p99:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    args = parser.parse_args()
    base = build_map(args.items)
    print(f"{args.items:,} items, {len(base.rows()):,} node rows; {args.blocks} blocks of {BATCH}")
    with tempfile.TemporaryDirectory(prefix="assay-bench-layouts-") as tmp:
        for name in args.layouts.split(","):
            print(run_layout(name, base, args.items, args.blocks, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
