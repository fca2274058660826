"""Anchoring speed: batch build rate, ``prove`` and ``verify`` latency in a large store.

    uv run python bench/bench_anchoring.py [--events 100000] [--fresh] [--json FILE]

1. build: what sealing a block costs per event — the canonical leaf record, its leaf hash
   and the Merkle tree (``leaf_chain`` + ``pack_tree``, as the sealer runs them) over
   batches of ``BATCH`` events with 320-byte envelopes; next to it ``merkletools`` building
   its tree from the same leaves already hashed (it cannot build our records). Goal
   ≥ 1M events/s.
2. store: ``--events`` custody events (10 per item: commissioning → … → sold) written through
   the real ledger in large ``process`` batches, every envelope really signed, then sealed
   by the real ``Anchor`` in blocks of 1,000. Items move in cohorts so that an item's ten
   events land in ten different blocks, as in a real store. Kept under bench/results/ and
   reused (``--fresh`` rebuilds).
3. prove: ``Prover.prove`` of random items (10 events, 10 blocks each) with one long-lived
   prover, as a server runs it: p50/p99. Goal ≤ 5 ms.
4. verify: ``verify_bundle`` of those bundles after a JSON round trip: p50/p99. Goal ≤ 1 ms,
   and no worse relative to the floor, one Ed25519 verification by PyNaCl measured in
   the same loop (the verify p99 is printed as a multiple of the floor's p50).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl.signing import SigningKey

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.leaves import LeafSource, leaf_chain
from anchoring.merkle import pack_tree
from anchoring.prove import Prover
from anchoring.sealer import Anchor, SealPolicy
from anchoring.verify import verify_bundle
from bench.timing import best_seconds
from domain.custody import CustodyEvent, Role
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from streams.envelope import seal
from streams.keys import DeviceKey
from tests.ledger.helpers import brand_authority
from tests.support import Step, sale
from tests.support import journey as support_journey

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # merkletools warns that the optional pysha3 is missing
    import merkletools

RESULTS = Path(__file__).resolve().parent / "results"
STORE_FORMAT = "anchoring-store-v2"  # bump when the chain's tables change
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 1000  # events per block, the anchor's default
BUILD_EVENTS = 200_000
COHORT = 1200  # > BATCH: one item never has two events in one block
STORES = [f"store-{i}" for i in range(20)]
WAREHOUSES = ["dc-eu", "dc-asia", "dc-us"]
ORIGIN = "bench.assay/custody-log"
GOALS = {"build_events_per_s": 1_000_000, "prove_p99_ms": 5.0, "verify_p99_ms": 1.0}


# ----- 1. build --------------------------------------------------------------------------


def bench_build(count: int) -> dict[str, float]:
    rng = random.Random(1)
    envelopes = [rng.randbytes(320) for _ in range(64)]
    batches = []
    for first in range(0, count, BATCH):
        # Each item's version > 1 chains to a leaf from an earlier block: looked up, as
        # the sealer looks it up in its cache.
        batches.append(
            [
                LeafSource(f"urn:epc:id:sgtin:4012345.{n:07d}.1", 2 + first // BATCH, "E",
                           envelopes[n % 64])
                for n in range(first, min(first + BATCH, count))
            ]
        )  # fmt: skip
    earlier = bytes(range(32))

    def ours() -> None:
        for batch in batches:
            pack_tree(leaf_chain(batch, lambda _item, _version: earlier))

    leaves = [leaf_chain(batch, lambda _i, _v: earlier) for batch in batches]
    hex_leaves = [[leaf.hex() for leaf in batch] for batch in leaves]

    def ours_tree_only() -> None:
        for batch in leaves:
            pack_tree(batch)

    def reference() -> None:
        for batch in hex_leaves:
            mt = merkletools.MerkleTools()
            mt.add_leaf(batch, do_hash=False)
            mt.make_tree()

    return {
        "build_events_per_s": count / best_seconds(ours),
        "tree_only_events_per_s": count / best_seconds(ours_tree_only),
        "merkletools_prehashed_events_per_s": count / best_seconds(reference),
    }


# ----- 2. store --------------------------------------------------------------------------


def journey(rng: random.Random, n: int) -> list[Step]:
    steps = support_journey(rng, n, WAREHOUSES, STORES)
    return [*steps, sale(n, steps[-1][1])]


def device_keys() -> dict[str, DeviceKey]:
    parties = ["brand", "lab", *WAREHOUSES, *STORES]
    return {p: DeviceKey(p, "d1", SigningKey(bytes([i + 1]) * 32)) for i, p in enumerate(parties)}


def reports(events: int, keys: dict[str, DeviceKey]) -> Iterator[list[Report]]:
    rng = random.Random(7)
    made, first = 0, 0
    while made < events:
        cohort = range(first, min(first + COHORT, first + (events - made) // 10))
        first += COHORT
        journeys = {n: journey(rng, n) for n in cohort}
        batch: list[Report] = []
        for step in range(10):
            for n in cohort:
                kind, party, details = journeys[n][step]
                at = T0 + timedelta(minutes=n % 1440, hours=6 * step)
                event = CustodyEvent(
                    f"e{n}-{step}", f"urn:item:{n}", kind, party, "d1", party, at, **details
                )  # type: ignore[arg-type]
                batch.append(Report(event, seal(event, keys[party])))
        made += len(batch)
        yield batch


def build_store(root: Path, events: int) -> tuple[CustodyLedger, Chain, str, int]:
    done = root / "complete"
    if done.exists() and done.read_text() == STORE_FORMAT:
        print(f"store: reusing {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
        keys = device_keys()
        roles = {"brand": Role.BRAND, "lab": Role.APPRAISER}
        for party, key in keys.items():
            role = roles.get(party, Role.WAREHOUSE if party.startswith("dc") else Role.STORE)
            ledger.register_party(party, party.title(), role, *brand_authority(party))
            ledger.enrol_device(party, "d1", key.public_key_hex, at=T0 - timedelta(days=1))
        started = time.perf_counter()
        written = 0
        for batch in reports(events, keys):
            refused = [d for d in ledger.process(batch, None) if not d.accepted]
            assert not refused, refused[0].refusal
            written += len(batch)
        took = time.perf_counter() - started
        print(f"store: {written:,} signed events through the ledger in {took:.1f} s")
        chain = Chain(store_env("", root / "chain.sqlite"))
        signer = Signer.from_seed(ORIGIN, bytes(32))
        anchor = Anchor(
            ledger,
            chain,
            signer,
            origin=ORIGIN,
            policy=SealPolicy(max_events=BATCH, max_seconds=1e9),
            checkpoint_path=root / "checkpoint",
        )
        started = time.perf_counter()
        anchor.catch_up()
        took = time.perf_counter() - started
        print(
            f"store: anchored {anchor.sealed_events:,} events in {len(anchor.headers)} blocks "
            f"in {took:.1f} s ({anchor.sealed_events / took:,.0f} events/s, whole pipeline)"
        )
        (root / "verifier").write_text(signer.verifier_text())
        done.write_text(STORE_FORMAT)
    ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
    chain = Chain(store_env("", root / "chain.sqlite"))
    items = sum(1 for _ in ledger.recorder.select_notifications(start=1, limit=10**9))
    return ledger, chain, (root / "checkpoint").read_text(), items


# ----- 3, 4. prove and verify --------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_prove_verify(root: Path, events: int, samples: int) -> dict[str, Any]:
    ledger, chain, checkpoint, notifications = build_store(root, events)
    verifier = Signer.from_seed(ORIGIN, bytes(32)).verifier()
    items = events // 10
    rng = random.Random(3)
    chosen = [f"urn:item:{rng.randrange(items)}" for _ in range(samples)]

    started = time.perf_counter()
    prover = Prover(ledger, chain, checkpoint)
    cold_bundle = prover.prove(chosen[0])
    cold_ms = (time.perf_counter() - started) * 1e3

    # A server would have warmed up like this: freeze what is loaded so that the cyclic
    # GC does not rescan it on every collection (real pauses stay in the numbers).
    gc.collect()
    gc.freeze()
    wall: dict[str, list[float]] = {"prove": [], "verify": [], "floor": []}
    cpu: dict[str, list[float]] = {"prove": [], "verify": [], "floor": []}
    # The floor, in the same run: one Ed25519 verification by PyNaCl (a bundle of n events
    # costs at least n + 1 of them), taking turns with the verifications it is compared to.
    signing = SigningKey(bytes(range(32)))
    signed, floor_key = signing.sign(bytes(300)), signing.verify_key
    blocks = []
    for item in chosen:
        w, c = time.perf_counter(), time.thread_time()
        bundle = prover.prove(item)
        wall["prove"].append((time.perf_counter() - w) * 1e3)
        cpu["prove"].append((time.thread_time() - c) * 1e3)
        loaded = json.loads(json.dumps(bundle))
        w, c = time.perf_counter(), time.thread_time()
        result = verify_bundle(loaded, verifier)
        wall["verify"].append((time.perf_counter() - w) * 1e3)
        cpu["verify"].append((time.thread_time() - c) * 1e3)
        assert result.events == 10 and result.pending == 0, (item, result)
        w, c = time.perf_counter(), time.thread_time()
        floor_key.verify(signed)
        wall["floor"].append((time.perf_counter() - w) * 1e3)
        cpu["floor"].append((time.thread_time() - c) * 1e3)
        blocks.append(len(bundle["blocks"]))
    out: dict[str, Any] = {
        "store_events": events,
        "store_notifications": notifications,
        "store_blocks": prover.tree.size,
        "bundle_blocks_mean": statistics.mean(blocks),
        "bundle_bytes": len(json.dumps(cold_bundle)),
        "prove_cold_ms": cold_ms,
        "samples": samples,
    }
    for what in ("prove", "verify", "floor"):
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            out[f"{what}_{name}_ms"] = percentile(wall[what], q)
            out[f"{what}_{name}_cpu_ms"] = percentile(cpu[what], q)
    out["verify_p99_over_floor"] = out["verify_p99_ms"] / out["floor_p50_ms"]
    out["verify_p99_cpu_over_floor"] = out["verify_p99_cpu_ms"] / out["floor_p50_cpu_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--build-events", type=int, default=BUILD_EVENTS)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--fresh", action="store_true", help="rebuild the store")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    root = RESULTS / f"anchoring-store-{args.events}"
    if args.fresh:
        shutil.rmtree(root, ignore_errors=True)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    numbers = bench_build(args.build_events)
    numbers.update(bench_prove_verify(root, args.events, args.samples))

    goal_build = GOALS["build_events_per_s"]
    print()
    print(
        f"build   {numbers['build_events_per_s']:>12,.0f} events/s  record + leaf + tree "
        f"({numbers['build_events_per_s'] / goal_build:.2f}× the {goal_build:,}/s goal)"
    )
    print(
        f"        {numbers['tree_only_events_per_s']:>12,.0f} events/s  our tree alone, "
        "pre-hashed leaves"
    )
    print(
        f"        {numbers['merkletools_prehashed_events_per_s']:>12,.0f} events/s  merkletools "
        "tree, pre-hashed leaves"
    )
    print(
        f"store   {numbers['store_events']:,} events, {numbers['store_notifications']:,} "
        f"notifications, {numbers['store_blocks']} blocks; a bundle spans "
        f"{numbers['bundle_blocks_mean']:.1f} blocks, {numbers['bundle_bytes']:,} bytes"
    )
    for what in ("prove", "verify"):
        goal = GOALS[f"{what}_p99_ms"]
        p50, p99 = numbers[f"{what}_p50_ms"], numbers[f"{what}_p99_ms"]
        c50, c99 = numbers[f"{what}_p50_cpu_ms"], numbers[f"{what}_p99_cpu_ms"]
        print(
            f"{what:<7} wall p50 {p50:6.2f} ms  p99 {p99:6.2f} ms   cpu p50 {c50:6.2f} ms  "
            f"p99 {c99:6.2f} ms   (goal ≤ {goal} ms: p50 {p50 / goal:.2f}×, "
            f"p99 {p99 / goal:.2f}× the goal)"
        )
    print(
        f"floor   wall p50 {numbers['floor_p50_ms']:6.3f} ms  "
        f"p99 {numbers['floor_p99_ms']:6.3f} ms   "
        f"one Ed25519 verify (PyNaCl), same run; verify p99 = "
        f"{numbers['verify_p99_over_floor']:.1f}× its p50 (by CPU time "
        f"{numbers['verify_p99_cpu_over_floor']:.1f}×)"
    )
    cold = numbers["prove_cold_ms"]
    print(f"prove   first bundle with a new Prover (reads all block hashes): {cold:.1f} ms")
    load = os.getloadavg()[0]
    print(
        f"({numbers['samples']} random items; load average {load:.1f} on {os.cpu_count()} "
        "CPUs: wall times include waiting for the CPU, cpu times do not)"
    )
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")


if __name__ == "__main__":
    main()
