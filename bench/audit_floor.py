"""The audit's signature floor: how fast this machine checks the store's signatures alone.

    uv run python -m bench.audit_floor STORE          # prints one JSON line

A full audit checks every device signature with strict single Ed25519 (never a batch
equation) on the native extension's verifier threads (native/src/verify_pool.rs). The
floor is that work and nothing else: every signature the audit submits, gathered first by
the audit's own per-record checks (untimed: decoding, keys, messages), then checked by the
same native pool in the audit's chunks (``anchoring.audit_signatures.CHUNK`` signatures,
each chunk offered to one verifier thread, the caller helping as it waits). No audit can
beat it on this machine, so ``audit rate / floor`` says how far the rest of the audit is
from costing nothing, and the floor itself says whether a goal rate is reachable at all.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from assay_headmap import Ed25519Batch, ed25519_threads

from anchoring.audit_log import read_log
from anchoring.audit_records import LedgerChecks
from anchoring.audit_signatures import CHUNK, SignatureQueue, Ticket
from anchoring.chain import Chain
from ledger.application import CustodyLedger
from ledger.config import store_env
from streams.ed25519 import PublicKey

Check = tuple[bytes, bytes, bytes]  # raw key, message, signature


class _Gather(SignatureQueue):
    """A signature queue that keeps what the audit submits instead of verifying it."""

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[Check] = []

    def submit(self, key: PublicKey, message: bytes, signature: bytes) -> Ticket:
        self.checks.append((key.raw, message, signature))
        return self._open, 0  # a ticket nobody redeems: its chunk never starts


def stored_signatures(ledger: CustodyLedger) -> tuple[list[Check], int]:
    """Every signature the audit would submit for the ledger's records (the key of the
    device enrolled when the record was read, its envelope's body and signature), and the
    number of item events read."""
    checks = LedgerChecks(ledger.mapper)
    gather = _Gather()
    checks.signatures = gather
    items = 0
    for n in read_log(ledger.recorder, "ledger notification"):
        checks.check(n, f"ledger event {n.id}")
        items += len(checks.signed_copies)
        checks.signed_copies.clear()
    return gather.checks, items


def verify_all(checks: list[Check]) -> tuple[int, float, float]:
    """The valid signatures among ``checks``, checked as the audit checks them (chunks of
    ``CHUNK`` offered to the verifier pool, then waited for in order), and the wall and
    process CPU seconds that took."""
    chunks = [checks[at : at + CHUNK] for at in range(0, len(checks), CHUNK)]
    columns = [([k for k, _, _ in c], [m for _, m, _ in c], [s for _, _, s in c]) for c in chunks]
    wall, cpu = time.perf_counter(), time.process_time()
    batches = [Ed25519Batch(keys, messages, sigs, 1) for keys, messages, sigs in columns]
    valid = sum(sum(batch.wait()) for batch in batches)
    return valid, time.perf_counter() - wall, time.process_time() - cpu


def signature_floor(root: Path) -> dict[str, Any]:
    """The floor of the store in ``root`` (ledger.sqlite): signatures, valid ones, wall and
    CPU seconds, the pool's threads and the cores this process may run on."""
    ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
    Chain(store_env("", root / "chain.sqlite"))  # opened as the audit opens it (indexes)
    checks, items = stored_signatures(ledger)
    valid, wall, cpu = verify_all(checks)
    started, cap, _ = ed25519_threads()
    return {
        "signatures": len(checks),
        "valid": valid,
        "item_events": items,
        "wall_s": wall,
        "cpu_s": cpu,
        "pool_threads": started,
        "pool_cap": cap,
        "cores": len(os.sched_getaffinity(0)),
    }


def floor_line(floor: dict[str, Any]) -> str:
    """The floor as the bench prints it."""
    return (
        f"floor  {floor['item_events']:>8} events  {floor_rate(floor):>9,.0f}/s wall  "
        f"{1e6 * floor['cpu_s'] / floor['item_events']:.1f} µs CPU/event "
        f"({floor['signatures']} signatures, "
        f"{1e6 * floor['cpu_s'] / max(floor['signatures'], 1):.1f} µs CPU each; "
        f"{floor['cpu_s'] / floor['wall_s']:.2f} cores busy of {floor['cores']}; "
        f"{floor['pool_threads']} verifier threads + the caller; "
        f"{floor['valid']} valid)"
    )


def floor_rate(floor: dict[str, Any]) -> float:
    """The floor in the audit's unit: item events (leaves) per wall second."""
    return float(floor["item_events"] / floor["wall_s"])


if __name__ == "__main__":
    print(json.dumps(signature_floor(Path(sys.argv[1]))))
