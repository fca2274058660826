"""Head map speed and memory: the native map against the pure-Python reference.

    uv run python bench/bench_headmap_native.py            # 1M items, blocks of 1,000 changes
    uv run python bench/bench_headmap_native.py --quick    # 100k items

Each implementation runs in a fresh child process (so its resident memory is its own):
it builds a map of ``--items`` items (one bulk update), then applies blocks of ``--block``
changes (``--new`` of them new items, the rest new versions of existing ones), each an
``update`` (rows built) and a ``commit``, then proves random present and absent keys.
Printed, with native/Python ratios:

* ``updates/s``  changed keys per second of update + commit, rows included as the store
  inserts them (``row_params``: the native map hands its rows over as bytes, so they are
  made into Python values here, as saving them does) (wall clock);
* ``upd/CPU s``  the same per second of the process's CPU time (fairer on a busy machine);
* ``RSS MB``     resident memory the map adds to the process (VmRSS after its build minus
  before, the build's input counted in neither);
* ``build s``    the bulk update of every item;
* ``proof µs``   one ``prove`` (entry and siblings), mean CPU time over present and absent
  keys.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anchoring import headmap, headmap_native
from anchoring.headmap import MapEntry, item_key
from anchoring.headmap_native import row_params

IMPLS: dict[str, Any] = {"python": headmap.HeadMap, "native": headmap_native.HeadMap}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def entry(n: int, height: int) -> MapEntry:
    leaf = hashlib.sha256(n.to_bytes(8, "big")).digest()
    return MapEntry(n % 1000 + 1, leaf, height, n % 1000)


def measure(impl: str, items: int, block: int, blocks: int, new: float) -> dict[str, float]:
    """One implementation's numbers, in this process."""
    rng = random.Random(15)
    keys = [item_key(f"urn:epc:id:sgtin:0614141.107346.{i}") for i in range(items)]
    changes = {k: entry(i, 0) for i, k in enumerate(keys)}
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    m = IMPLS[impl]()
    m.update(changes, 0)
    m.commit()
    build = time.perf_counter() - started
    gc.collect()
    held = rss_mb() - before  # the input (alive throughout) is not counted
    del changes
    batches = []
    fresh = items
    for height in range(1, blocks + 1):
        batch = {}
        while len(batch) < block:
            if rng.random() < new:
                key, fresh = item_key(f"urn:epc:id:sgtin:0614141.107346.{fresh}"), fresh + 1
            else:
                key = keys[rng.randrange(items)]
            batch[key] = entry(rng.randrange(10**9), height)
        batches.append(batch)
    gc.disable()
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for height, batch in enumerate(batches, 1):
        rows += len(row_params(m.update(batch, height), height))
        m.commit()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    gc.enable()
    probes = [keys[rng.randrange(items)] for _ in range(2000)]
    probes += [item_key(f"absent-{i}") for i in range(2000)]
    started = time.process_time()
    for key in probes:
        m.prove(key)
    prove = (time.process_time() - started) / len(probes)
    return {
        "updates_per_s": block * blocks / seconds,
        "updates_per_cpu_s": block * blocks / cpu,
        "rows_per_block": rows / blocks,
        "rss_mb": held,
        "build_s": build,
        "proof_us": prove * 1e6,
        "size": m.size,
    }


def child(impl: str, args: argparse.Namespace, blocks: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", impl, "--items", str(args.items)]
    command += ["--block", str(args.block), "--blocks", str(blocks), "--new", str(args.new)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--block", type=int, default=1_000)
    parser.add_argument("--new", type=float, default=0.1, help="share of new items per block")
    parser.add_argument("--blocks", type=int, default=0, help="native blocks (Python: 1/20)")
    parser.add_argument("--quick", action="store_true", help="100k items")
    parser.add_argument("--child", choices=sorted(IMPLS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.items, args.block, args.blocks, args.new)))
        return
    if args.quick:
        args.items = min(args.items, 100_000)
    blocks = args.blocks or 200
    native = child("native", args, blocks)
    python = child("python", args, max(1, blocks // 20))
    print(
        f"head map, {args.items:,} items, blocks of {args.block:,} changes "
        f"({args.new:.0%} new items); ~{native['rows_per_block']:,.0f} rows per block"
    )
    print(f"{'':12} {'native':>12} {'python':>12} {'ratio':>8}")
    for name, key, better in (
        ("updates/s", "updates_per_s", max),
        ("upd/CPU s", "updates_per_cpu_s", max),
        ("RSS MB", "rss_mb", min),
        ("build s", "build_s", min),
        ("proof µs", "proof_us", min),
    ):
        a, b = native[key], python[key]
        ratio = a / b if better is max else b / a
        print(f"{name:12} {a:>12,.1f} {b:>12,.1f} {ratio:>7.1f}x")
    print("(ratio: how many times better the native map is)")


if __name__ == "__main__":
    main()
