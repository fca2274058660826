"""Audit rate: events per second of a full ``audit`` of an anchored store, this checkout
against a baseline checkout (a git ref) in the same run.

    uv run python -m bench.bench_audit                         # 100k events, against main
    uv run python -m bench.bench_audit --events 300000 --baseline HEAD~3 --rounds 3
    uv run python -m bench.bench_audit --baseline-code /tmp/base   # its own uv sync'd checkout

The store (signed events written through the ledger and sealed by the real anchor, by
``bench.scale``'s phases run by the baseline checkout) is built once and kept in
``--cache``. Every audit runs in a process of its own, on a fresh copy of the store (so
an index one checkout adds is not there for the other; opening the stores, which creates
it, is not timed), with the checkout's own code first on ``sys.path``; the two alternate
(base, branch, base, branch, …). On a shared machine the wall-clock rate follows the
other load, so each run also prints its process CPU time (every thread's), the CPU time of
the thread that runs the audit (signature checks run beside it on native threads) and the
load average around it; the ratio is reported for each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STORE_FILES = ("ledger.sqlite", "chain.sqlite", "checkpoint")

# Run in the measured checkout (its code first on sys.path): names only what every
# checkout with an audit has.
_CHILD = """
import json, os, resource, sys, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from ledger.application import CustodyLedger
from ledger.config import store_env
root = Path(sys.argv[1])
ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
chain = Chain(store_env("", root / "chain.sqlite"))
load = os.getloadavg()[0]
wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
report = audit(ledger, chain, Signer.from_seed(sys.argv[2], bytes(32)).verifier(),
               (root / "checkpoint").read_text())
wall, cpu, main = time.perf_counter() - wall, time.process_time() - cpu, time.thread_time() - main
print(json.dumps({"ok": report.ok, "divergence": report.divergence, "leaves": report.leaves,
                  "notifications": report.notifications, "wall_s": wall, "cpu_s": cpu,
                  "main_s": main, "load_before": load,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "load_after": os.getloadavg()[0]}))
"""


def build_store(cache: Path, events: int, items: int, code: Path) -> None:
    """Grow and anchor a store of ``events`` events over ``items`` items (bench.scale's
    phases, run by the checkout in ``code``: the store as that version writes it)."""
    if all((cache / name).exists() for name in STORE_FILES):
        return
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    steps = events // items
    for phase, extra in (
        ("grow", ["--items", str(items), "--first-step", "0", "--last-step", str(steps)]),
        ("anchor", []),
    ):
        subprocess.run(
            [sys.executable, "-m", "bench.scale", "--phase", phase, "--root", str(cache), *extra],
            cwd=code,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    for name in STORE_FILES[:2]:  # everything in the database file, for copying it alone
        with sqlite3.connect(cache / name) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


def checkout(ref: str, into: Path) -> Path:
    """The tree of ``ref`` written into ``into`` (no .git, no build products)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def interpreter(code: Path) -> str:
    """The checkout's own Python (its environment, so its own native extension), if it
    has one (``uv sync`` there), else this one."""
    own = code / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def audit_once(code: Path, store: Path, scratch: Path) -> dict[str, Any]:
    from bench.scale import ORIGIN

    argv = [interpreter(code), "-c", _CHILD, str(scratch), ORIGIN]
    result = on_a_copy(store, scratch, argv, code, f"the audit in {code}")
    if not result["ok"]:
        raise SystemExit(f"the audit in {code} found a divergence: {result['divergence']}")
    return result


def floor_once(store: Path, scratch: Path) -> dict[str, Any]:
    """bench/audit_floor.py on a fresh copy of the store, in a process of its own."""
    argv = [sys.executable, "-m", "bench.audit_floor", str(scratch)]
    return on_a_copy(store, scratch, argv, ROOT, "the signature floor")


def on_a_copy(store: Path, scratch: Path, argv: list[str], cwd: Path, what: str) -> dict[str, Any]:
    """The JSON last line of ``argv`` run in ``cwd`` on a fresh copy of the store in
    ``scratch``."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for name in STORE_FILES:
        shutil.copyfile(store / name, scratch / name)
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def store_arguments(
    description: str, rounds: int, baseline_code: bool = False
) -> tuple[argparse.Namespace, Path]:
    """The command line of a bench on this store against a baseline checkout (this one and
    bench_rebuild): its arguments, and the store's folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--baseline", default="main", help="git ref to compare against")
    if baseline_code:
        parser.add_argument(
            "--baseline-code",
            type=Path,
            help="a checkout to compare against instead (run with its own .venv if it has one)",
        )
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--cache", type=Path, default=HERE / "results" / "cache")
    args = parser.parse_args()
    return args, args.cache.resolve() / f"audit-{args.events}-{args.items}"


def main() -> None:
    # (here, not at the top: bench.profile_audit imports this module before it chooses
    # whose anchoring code to load, and the floor's module loads this checkout's)
    from bench.audit_floor import floor_line, floor_rate

    args, store = store_arguments(__doc__.split("\n\n")[0], rounds=2, baseline_code=True)
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        base = args.baseline_code or checkout(args.baseline, Path(tmp) / "base")
        build_store(store, args.events, args.items, base)
        runs: dict[str, list[dict[str, Any]]] = {"base": [], "branch": []}
        floors: list[dict[str, Any]] = []
        for _ in range(args.rounds):
            for name, code in (("base", base), ("branch", ROOT)):
                result = audit_once(code, store, Path(tmp) / "store")
                runs[name].append(result)
                rate = result["leaves"] / result["wall_s"]
                print(
                    f"{name:6} {result['leaves']:>8} events  {rate:>9,.0f}/s wall  "
                    f"{result['leaves'] / result['cpu_s']:>9,.0f}/s CPU  "
                    f"{result['leaves'] / result['main_s']:>9,.0f}/s main-thread CPU  "
                    f"(wall {result['wall_s']:.1f} s, CPU {result['cpu_s']:.1f} s, "
                    f"{1e6 * result['cpu_s'] / result['leaves']:.1f} µs/event, main thread "
                    f"{1e6 * result['main_s'] / result['leaves']:.1f} µs/event, "
                    f"peak RSS {result['peak_rss_mb']:.0f} MB, "
                    f"load {result['load_before']:.1f}→{result['load_after']:.1f})",
                    flush=True,
                )
            floor = floor_once(store, Path(tmp) / "store")
            floors.append(floor)
            shares = ", ".join(
                f"{name} {rs[-1]['leaves'] / rs[-1]['wall_s'] / floor_rate(floor):.2f}×"
                for name, rs in runs.items()
            )
            print(f"{floor_line(floor)}; audit/floor (wall): {shares}", flush=True)
    best = {name: min(r["cpu_s"] for r in rs) for name, rs in runs.items()}
    fastest = {name: min(r["wall_s"] for r in rs) for name, rs in runs.items()}
    main_cpu = {name: min(r["main_s"] for r in rs) for name, rs in runs.items()}
    events = runs["branch"][0]["leaves"]
    print(
        f"best of {args.rounds}: base {events / best['base']:,.0f}/s CPU, "
        f"branch {events / best['branch']:,.0f}/s CPU: {best['base'] / best['branch']:.2f}× "
        f"(main-thread CPU: {main_cpu['base'] / main_cpu['branch']:.2f}×, wall: "
        f"{fastest['base'] / fastest['branch']:.2f}×); "
        f"load average now {os.getloadavg()[0]:.1f}"
    )
    rate = statistics.median(floor_rate(f) for f in floors)
    cpu = statistics.median(1e6 * f["cpu_s"] / f["item_events"] for f in floors)
    audit = statistics.median(r["leaves"] / r["wall_s"] for r in runs["branch"])
    print(
        f"signature floor (median of {len(floors)}): {rate:,.0f} events/s wall on "
        f"{floors[0]['cores']} cores, {cpu:.1f} µs CPU/event; the branch's audit "
        f"(median {audit:,.0f}/s) runs at {audit / rate:.2f}× it"
    )


if __name__ == "__main__":
    main()
