"""A buyer's verify: one bundle, once, in a fresh process (nothing warmed up, no cache).

    cd <checkout> && .venv/bin/python <this repo>/bench/verify_cold.py [--runs 9]
        [--bundle FILE --key FILE]

Run from the root of the checkout to measure (it imports that checkout's code); alternate
checkouts to compare them. Each of ``--runs`` fresh interpreters imports the verifier,
reads the pinned key, then reads (strict JSON) and verifies the bundle once: the first
verify, with every lazy set-up a real first use pays (the Avro schema registry, the body
plans, the native readers); then the same again, warm, for comparison. Prints the medians
of thread CPU and wall time in ms. Default bundle: the committed version 3 vector
``complete-history`` (7 events in 4 blocks) and its key.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

VECTOR = Path("tests/anchoring/vectors/bundles-v3/complete-history.json")


def measure(bundle_file: Path, key_file: Path | None) -> dict[str, float]:
    """One cold and one warm verify in this (fresh) process."""
    started = time.process_time()
    sys.path.insert(0, os.getcwd())  # the checkout being measured, not this file's
    from anchoring.checkpoint import Verifier
    from anchoring.verify import read_bundle, verify_bundle

    imported = time.process_time() - started
    text = bundle_file.read_bytes()
    if key_file is None:  # a vector: the bundle and its key in one file
        vector = json.loads(text)
        text, key_text = json.dumps(vector["bundle"]).encode(), vector["platform_key"]
    else:
        key_text = key_file.read_text()
    key = Verifier.from_text(key_text)
    out = {"import_cpu_ms": imported * 1e3}
    for run in ("first", "second"):
        cpu, wall = time.thread_time(), time.perf_counter()
        verify_bundle(read_bundle(text), key)
        out[f"{run}_cpu_ms"] = (time.thread_time() - cpu) * 1e3
        out[f"{run}_wall_ms"] = (time.perf_counter() - wall) * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--bundle", type=Path, default=VECTOR)
    parser.add_argument("--key", type=Path, help="the verifier key's text (else: a vector)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.bundle, args.key)))
        return
    command = [sys.executable, __file__, "--child", "--bundle", str(args.bundle)]
    command += ["--key", str(args.key)] if args.key else []
    runs = [
        json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        for _ in range(args.runs)
    ]
    load = os.getloadavg()[0]
    print(f"{args.runs} fresh processes in {os.getcwd()} (load average {load:.1f}), medians:")
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(
            f"  {name:<16} {statistics.median(values):8.3f} ms  "
            f"(min {min(values):.3f}, max {max(values):.3f})"
        )


if __name__ == "__main__":
    main()
