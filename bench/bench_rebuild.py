"""Projection rebuild rate: notifications per second of ``Projector.rebuild()`` of an
anchored store, this checkout against a baseline checkout (a git ref) in the same run.

    uv run python -m bench.bench_rebuild                        # 100k events, against main
    uv run python -m bench.bench_rebuild --events 300000 --baseline HEAD~3 --rounds 3

The store is ``bench.bench_audit``'s (built once in ``--cache`` by the baseline checkout).
Every rebuild runs in a process of its own on a fresh copy of the store, base and branch
alternating. CPU time counts the rebuild's reader process too (a child, reaped before the
rebuild returns); on a shared machine wall time follows the other load.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_audit import STORE_FILES, build_store, checkout, store_arguments

# Run in the measured checkout (its code first on sys.path). The rebuild spawns its reader
# process, which runs this main module again: as ``assay``'s entry point (assay.cli), it
# imports the projector only under the __main__ guard.
_CHILD = """
import json, os, resource, sys, time
from pathlib import Path
sys.path.insert(0, os.getcwd())

def cpu():
    return sum(getattr(resource.getrusage(who), f) for who in
               (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))

if __name__ == "__main__":
    from anchoring.chain import Chain
    from ledger.application import CustodyLedger
    from ledger.config import store_env
    from projections.projector import Projector

    root = Path(sys.argv[1])
    ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
    chain = Chain(store_env("", root / "chain.sqlite"))
    with Projector(ledger, chain, root / "projections.duckdb") as p:
        load = os.getloadavg()[0]
        wall, used = time.perf_counter(), cpu()
        done = p.rebuild()
        wall, used = time.perf_counter() - wall, cpu() - used
        (rows,) = p.con.execute("SELECT count(*) FROM custody_events").fetchall()[0]
    rss = {who: resource.getrusage(w).ru_maxrss / 1024 for who, w in
           (("rss_mb", resource.RUSAGE_SELF), ("reader_rss_mb", resource.RUSAGE_CHILDREN))}
    print(json.dumps({"notifications": done, "rows": rows, "wall_s": wall, "cpu_s": used,
                      "load_before": load, "load_after": os.getloadavg()[0], **rss}))
"""


def rebuild_once(code: Path, store: Path, scratch: Path) -> dict[str, Any]:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for name in STORE_FILES[:2]:
        shutil.copyfile(store / name, scratch / name)
    script = scratch / "rebuild_child.py"
    script.write_text(_CHILD)
    done = subprocess.run(
        [sys.executable, str(script), str(scratch)],
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the rebuild in {code} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    args, store = store_arguments(__doc__.split("\n\n")[0], rounds=3)
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        base = checkout(args.baseline, Path(tmp) / "base")
        build_store(store, args.events, args.items, base)
        runs: dict[str, list[dict[str, Any]]] = {"base": [], "branch": []}
        for _ in range(args.rounds):
            for name, code in (("base", base), ("branch", root)):
                result = rebuild_once(code, store, Path(tmp) / "store")
                runs[name].append(result)
                n = result["notifications"]
                print(
                    f"{name:6} {n:>8} notifications  {n / result['wall_s']:>9,.0f}/s wall  "
                    f"{n / result['cpu_s']:>9,.0f}/s CPU  (wall {result['wall_s']:.2f} s, "
                    f"CPU {result['cpu_s']:.2f} s, peak RSS {result['rss_mb']:.0f} MB, reader "
                    f"{result['reader_rss_mb']:.0f} MB, load {result['load_before']:.1f}→"
                    f"{result['load_after']:.1f})",
                    flush=True,
                )
    if runs["base"][0]["rows"] != runs["branch"][0]["rows"]:
        raise SystemExit("base and branch projected different numbers of custody_events rows")
    best = {name: min(r["cpu_s"] for r in rs) for name, rs in runs.items()}
    fastest = {name: min(r["wall_s"] for r in rs) for name, rs in runs.items()}
    n = runs["branch"][0]["notifications"]
    print(
        f"best of {args.rounds}: base {n / best['base']:,.0f}/s CPU, branch "
        f"{n / best['branch']:,.0f}/s CPU: {best['base'] / best['branch']:.2f}× (wall: "
        f"{fastest['base'] / fastest['branch']:.2f}×, base {n / fastest['base']:,.0f}/s, "
        f"branch {n / fastest['branch']:,.0f}/s); load average now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
