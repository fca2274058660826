"""Witness throughput and cosigned-checkpoint verification.

    uv run python bench/bench_witness.py [--seconds 5] [--clients 1 4] [--map-items 1000000]

Starts one real ``assay witness serve`` process on loopback and measures, in the same run:

* ``healthz``        trivial GET /healthz requests/s on the same server and connection
                     (the baseline: what HTTP + the framework cost alone);
* ``add-checkpoint`` requests/s of a growing log sending each new checkpoint with its
                     consistency proof (signature check, proof check, an fsync'd SQLite
                     transaction, a cosignature), for each number of concurrent clients
                     (each client its own log origin and keep-alive connection);
* ``ratio``          add-checkpoint / healthz;
* ``verify``         evaluating a 3-witness cosigned note against a 2-of-3 policy with a
                     log line (4 Ed25519 verifications), p50 / p99 in milliseconds;
* ``verify bundle``  what a buyer's verifier does: read and verify a version 3 bundle (the
                     committed vector ``complete-history``, its checkpoint cosigned by three
                     witnesses) and evaluate the policy on it, beside the same bundle
                     verified without a policy (the baseline of the same run);
* ``floor``          one Ed25519 verification by PyNaCl in the same run: every verify row
                     also gives its p99 as a multiple of the floor's p50 (a bundle of n
                     events costs at least n + 1 of them, with three witnesses n + 5);
* ``deep bundle``    the same bundle with a head map proof as deep as for one item of
                     ``--map-items`` (bench/deep_bundle.py), alone and with the policy.

The verify rows are measured taking turns, the collector paused, with wall and thread CPU
time (the CPU time leaves out waiting for a core on a shared machine).

Goals (issue): ≥ 200 add-checkpoint requests/s; verifying a 3-witness bundle p99 ≤ 1.5 ms.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl.signing import SigningKey

from anchoring.checkpoint import Verifier
from anchoring.verify import read_bundle, verify_bundle
from bench.deep_bundle import deepen, depth_for
from tests.anchoring import vectorkit
from tests.witness.processes import WitnessProcess
from tests.witness.testlog import GrowingLog
from witness.cosignature import WitnessSigner
from witness.note import merge_signatures
from witness.policy import evaluate, parse_policy
from witness.protocol import AddCheckpoint

ROOT = Path(__file__).resolve().parents[1]
ADD_GOAL = 200.0
VERIFY_P99_GOAL_MS = 1.5


def rate(fn: object, seconds: float) -> float:
    assert callable(fn)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def healthz_rate(port: int, seconds: float) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def one() -> None:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        assert response.status == 200

    one()
    try:
        return rate(one, seconds)
    finally:
        connection.close()


class Sender:
    """One log sending its every new checkpoint (one entry more each time)."""

    def __init__(self, log: GrowingLog, port: int) -> None:
        self.log = log
        self.port = port
        self.acked = 0  # the size the witness last cosigned for this log
        self.count = 0

    def prepare(self, count: int) -> list[tuple[int, bytes]]:
        """Requests made up front, so the clock measures the witness, not the log."""
        requests, old = [], self.acked
        for _ in range(count):
            self.log.grow(1)
            proof = tuple(self.log.proof(old, self.log.size)) if old else ()
            requests.append((self.log.size, AddCheckpoint(old, proof, self.log.note()).encode()))
            old = self.log.size
        return requests

    def run(self, requests: list[tuple[int, bytes]], stop: threading.Event) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for size, body in requests:
                if stop.is_set():
                    return
                connection.request("POST", "/add-checkpoint", body)
                response = connection.getresponse()
                reply = response.read()
                assert response.status == 200, (response.status, reply)
                self.acked = size
                self.count += 1
        finally:
            connection.close()


def add_rate(senders: list[Sender], seconds: float) -> float:
    # Enough requests for the run at a generous rate, prepared before the clock starts.
    batches = [s.prepare(int(seconds * 1500 / len(senders)) + 10) for s in senders]
    stop = threading.Event()
    threads = [
        threading.Thread(target=s.run, args=(batch, stop))
        for s, batch in zip(senders, batches, strict=True)
    ]
    before = sum(s.count for s in senders)
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return (sum(s.count for s in senders) - before) / elapsed


def note_verifier(log: GrowingLog) -> Callable[[], None]:
    """Evaluating a 3-witness cosigned note against a 2-of-3 policy with a log line."""
    ws = [WitnessSigner.generate(f"partner{i}.example/witness") for i in (1, 2, 3)]
    policy = parse_policy(
        "\n".join(
            [f"log {log.vkey}"]
            + [f"witness X{i} {w.verifier().to_text()}" for i, w in enumerate(ws, 1)]
            + ["group partners 2 X1 X2 X3", "quorum partners", ""]
        )
    )
    now = int(time.time())
    note = merge_signatures(log.note(), [w.cosign(log.head().body(), now) for w in ws])

    def one() -> None:
        verdict = evaluate(note, policy, now)
        assert verdict.quorum_met and len(verdict.cosigned) == 3

    return one


BUNDLE_VECTOR = ROOT / "tests/anchoring/vectors/bundles-v3/complete-history.json"


def bundle_verifiers(bundle: dict[str, Any], platform_key: str) -> tuple[Callable[[], None], ...]:
    """(read + verify ``bundle`` alone, the same and its 2-of-3 policy), its checkpoint
    cosigned by three witnesses."""
    note: str = bundle["checkpoint"]
    body = note[: note.index("\n\n") + 1]
    ws = [WitnessSigner.generate(f"partner{i}.example/witness") for i in (1, 2, 3)]
    now = int(time.time())
    cosigned = merge_signatures(note, [w.cosign(body, now) for w in ws])
    data = json.dumps({**bundle, "checkpoint": cosigned}).encode()
    policy = parse_policy(
        "\n".join(
            [f"log {platform_key}"]
            + [f"witness X{i} {w.verifier().to_text()}" for i, w in enumerate(ws, 1)]
            + ["group partners 2 X1 X2 X3", "quorum partners", ""]
        )
    )
    key = Verifier.from_text(platform_key)

    def alone() -> None:
        verify_bundle(read_bundle(data), key)

    def witnessed() -> None:
        checked = read_bundle(data)
        verify_bundle(checked, key)
        assert evaluate(checked["checkpoint"], policy, now, verified_log=key).quorum_met

    return alone, witnessed


def floor_verifier() -> Callable[[], None]:
    """The floor: one Ed25519 verification by PyNaCl (libsodium) of an event-sized message."""
    signing = SigningKey(bytes(range(32)))
    signed = signing.sign(bytes(300))
    key = signing.verify_key

    def one() -> None:
        key.verify(signed)

    return one


Percentiles = tuple[float, float, float, float]  # wall p50, p99, CPU p50, p99 (ms)


def interleaved(fns: dict[str, Callable[[], None]], samples: int) -> dict[str, Percentiles]:
    """Each function ``samples`` times, taking turns (so a change in the machine's load
    falls on all alike), the collector paused as timeit does; wall and thread CPU time."""
    for fn in fns.values():
        for _ in range(min(samples, 50)):  # warm caches and the allocator first
            fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    gc.disable()
    try:
        for _ in range(samples):
            for name, fn in fns.items():
                w, c = time.perf_counter(), time.thread_time()
                fn()
                cpu[name].append((time.thread_time() - c) * 1000)
                wall[name].append((time.perf_counter() - w) * 1000)
    finally:
        gc.enable()
    return {name: (*_percentiles(wall[name]), *_percentiles(cpu[name])) for name in fns}


def _percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)]


def verify_rows(samples: int, map_items: int) -> None:
    """The verification rows: the floor, the note, the committed bundle and a deep one."""
    log = GrowingLog("example.com/custody-log")
    log.grow(1000)
    vector = json.loads(BUNDLE_VECTOR.read_text())
    depth = depth_for(map_items)
    deep = deepen(vector["bundle"], vectorkit.base().PLATFORM, depth, map_items)
    alone, witnessed = bundle_verifiers(vector["bundle"], vector["platform_key"])
    deep_alone, deep_witnessed = bundle_verifiers(deep, vector["platform_key"])
    t = interleaved(
        {
            "floor": floor_verifier(),
            "note": note_verifier(log),
            "alone": alone,
            "witnessed": witnessed,
            "deep alone": deep_alone,
            "deep witnessed": deep_witnessed,
        },
        samples,
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(machine: {os.cpu_count()} cores, load average {load})")
    floor = t["floor"][0]

    def line(row: str, name: str, note: str = "") -> None:
        p50, p99, c50, c99 = t[name]
        print(
            f"{row:<23} p50 {p50:.3f} ms   p99 {p99:.3f} ms   {note}"
            f"[p99 {p99 / floor:.1f}× floor; CPU p50 {c50:.3f} p99 {c99:.3f} ms]"
        )

    def goal(name: str) -> str:
        met = "meets" if t[name][1] <= VERIFY_P99_GOAL_MS else "MISSES"
        return f"({met} the goal of p99 ≤ {VERIFY_P99_GOAL_MS} ms)   "

    f50, f99 = t["floor"][:2]
    print(
        f"Ed25519 verify floor    p50 {f50:.3f} ms   p99 {f99:.3f} ms   "
        "(PyNaCl, one signature, same run: the floor the ratios below divide by, its p50)"
    )
    line("verify 3-witness note", "note")
    line("verify bundle alone", "alone", "(baseline)   ")
    ratio = t["witnessed"][0] / t["alone"][0]
    line(
        "verify 3-witness bundle",
        "witnessed",
        f"ratio to baseline {ratio:.2f}   " + goal("witnessed"),
    )
    print(f"  a map proof of {depth} siblings, as for one item of {map_items:,} in the head map:")
    line("verify deep bundle", "deep alone")
    line("verify deep 3-witness", "deep witnessed", goal("deep witnessed"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--verify-samples", type=int, default=5000)
    parser.add_argument("--map-items", type=int, default=1_000_000)
    parser.add_argument("--verify-only", action="store_true", help="only the verify rows")
    args = parser.parse_args()
    if args.verify_only:
        verify_rows(args.verify_samples, args.map_items)
        return 0

    logs = [GrowingLog(f"example.com/bench-log-{i}") for i in range(max(args.clients))]
    home = Path(tempfile.mkdtemp(prefix="bench-witness-"))
    witness = WitnessProcess("bench.example/witness", home, [log.vkey for log in logs]).start()
    senders = [Sender(log, witness.port) for log in logs]
    try:
        baseline = healthz_rate(witness.port, args.seconds)
        print(f"healthz (baseline)      {baseline:8.0f} requests/s")
        for clients in args.clients:
            measured = add_rate(senders[:clients], args.seconds)
            verdict = "meets" if measured >= ADD_GOAL else "MISSES"
            print(
                f"add-checkpoint ×{clients:<2}       {measured:8.0f} requests/s   "
                f"ratio to healthz {measured / baseline:.2f}   "
                f"({verdict} the goal of {ADD_GOAL:.0f}/s)"
            )
    finally:
        witness.stop()
    verify_rows(args.verify_samples, args.map_items)
    return 0


if __name__ == "__main__":
    sys.exit(main())
