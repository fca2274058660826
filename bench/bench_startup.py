"""Start-up cost of the ``assay`` command line: CPU time of one ``python -m assay …``
process per command, this checkout against a baseline checkout (a git ref) in the same run.

    uv run python -m bench.bench_startup                      # 5 rounds, against main
    uv run python -m bench.bench_startup --baseline HEAD~3 --rounds 9

Each command runs with the checkout's code first on ``PYTHONPATH`` (and as its working
directory), the two alternating (base, branch, base, branch, …), on the same inputs: a
proof bundle of the test vectors for ``verify`` and an empty data directory (no broker,
no stores) for ``status``. CPU time (user + system of the child) is the figure to compare
on a shared machine; the wall-clock median and the load average are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_audit import ROOT, checkout

VECTOR = ROOT / "tests/anchoring/vectors/bundles-v3/complete-history.json"


def commands(scratch: Path) -> list[list[str]]:
    vector = json.loads(VECTOR.read_text())
    bundle, key = scratch / "bundle.json", scratch / "platform.pub"
    bundle.write_text(json.dumps(vector["bundle"]))
    key.write_text(vector["platform_key"] + "\n")
    return [
        ["--help"],
        ["verify", "--help"],
        ["verify", str(bundle), "--key", str(key)],
        ["status"],
        ["keys", "show"],
        ["owner", "--help"],
        ["page", "--help"],
        ["anchor", "--help"],
        ["sql", "SELECT 1"],
    ]


def run_once(code: Path, args: list[str], data_dir: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit code) of one ``assay`` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env |= {"PYTHONPATH": str(code), "ASSAY_DATA_DIR": str(data_dir)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "assay", *args], cwd=code, env=env, capture_output=True
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return cpu, wall, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref to compare against")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each command per tree")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        scratch = Path(tmp)
        trees = {"base": checkout(opts.baseline, scratch / "base"), "branch": ROOT}
        data_dir = scratch / "data"
        cmds = commands(scratch)
        for code in trees.values():  # compile the bytecode once, outside the measurement
            run_once(code, ["--help"], data_dir)
        print(f"baseline {opts.baseline}; {opts.rounds} round(s); load {os.getloadavg()}")
        print(f"{'command':<28} {'base cpu':>9} {'branch cpu':>11} {'ratio':>6}  wall base/branch")
        for args in cmds:
            runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in trees}
            for _ in range(opts.rounds):
                for name, code in trees.items():
                    runs[name].append(run_once(code, args, data_dir))
            cpu = {n: statistics.median(r[0] for r in runs[n]) for n in trees}
            wall = {n: statistics.median(r[1] for r in runs[n]) for n in trees}
            codes = {n: runs[n][-1][2] for n in trees}
            label = " ".join(a if len(a) < 20 else Path(a).name for a in args)
            print(
                f"{label:<28} {cpu['base']:>8.3f}s {cpu['branch']:>10.3f}s "
                f"{cpu['base'] / cpu['branch']:>5.1f}x  {wall['base']:.3f}s/{wall['branch']:.3f}s"
                + (f"  exit {codes['base']}/{codes['branch']}" if codes["branch"] else "")
            )
        print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
