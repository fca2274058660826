"""Where the full audit's time goes: the CPU time per event of each of its stages.

    uv run python -m bench.profile_audit                       # the 100k-event store
    uv run python -m bench.profile_audit --code /tmp/auditbase # another checkout's code

The store is ``bench.bench_audit``'s (build it there first), copied fresh. Each stage's
function is wrapped to add up the CPU time of the thread that runs the audit (so neither
other processes on a busy machine nor the signature checks on native threads beside it
count), less the time of the stages inside it: the stages add up to the whole. A stage
missing from a checkout reads 0. The wrappers cost a little (about a microsecond a call),
which lands in the stage that calls them.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_audit import HERE, STORE_FILES

#: (stage, module, attribute path of the function): its time less the nested stages'.
STAGES = [
    ("read the ledger's and chain's logs (SQLite)", "anchoring.audit_log", "_select"),
    ("decode + exact re-encoding (read_record)", "anchoring.audit_records", "read_record"),
    ("per-record rules (versions, claims, …)", "anchoring.audit_records", "LedgerChecks.check"),
    ("leaf hash + per-item chain", "anchoring.audit_walk", "Walk._leaf"),
    ("stored leaves + Merkle root", "anchoring.audit_walk", "Walk._check_leaves"),
    ("custody copy + signature", "anchoring.audit_records", "LedgerChecks.check_signed"),
    ("Ed25519 on the audit's thread (PublicKey.verify)", "streams.ed25519", "PublicKey.verify"),
    ("block index rows", "anchoring.audit_walk", "Walk._check_index"),
    ("head map (per block and final state)", "anchoring.audit_map", "MapAudit.block"),
    ("head map (per block and final state)", "anchoring.audit_map", "MapAudit.finish"),
    ("records digest", "anchoring.records_digest", "RecordsDigest.update"),
    ("block records + headers", "anchoring.audit_walk", "Walk._block_event"),
]


class Clock:
    """CPU time of this thread per stage, nested stages taken out of their caller's."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._inner: list[float] = []

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            self._inner.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                inner = self._inner.pop()
                took = time.thread_time() - start
                self.spent[stage] = self.spent.get(stage, 0.0) + took - inner
                if self._inner:
                    self._inner[-1] += took

        return timed

    def install(self) -> None:
        for stage, module_name, path in STAGES:
            try:
                owner: Any = importlib.import_module(module_name)
            except ImportError:
                continue
            *outer, name = path.split(".")
            for part in outer:
                owner = getattr(owner, part, None)
            if owner is not None and hasattr(owner, name):
                setattr(owner, name, self.wrap(stage, getattr(owner, name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=HERE / "results/cache/audit-100000-20000")
    parser.add_argument("--code", type=Path, help="a checkout whose code to profile")
    args = parser.parse_args()
    if args.code is not None:
        sys.path.insert(0, str(args.code.resolve()))
    clock = Clock()
    clock.install()
    from anchoring.audit import audit
    from anchoring.chain import Chain
    from anchoring.checkpoint import Signer
    from bench.scale import ORIGIN
    from ledger.application import CustodyLedger
    from ledger.config import store_env

    with tempfile.TemporaryDirectory(prefix="profile-audit-") as tmp:
        root = Path(tmp)
        for name in STORE_FILES:
            shutil.copyfile(args.store / name, root / name)
        ledger = CustodyLedger(store_env("", root / "ledger.sqlite"))
        chain = Chain(store_env("", root / "chain.sqlite"))
        verifier = Signer.from_seed(ORIGIN, bytes(32)).verifier()
        checkpoint = (root / "checkpoint").read_text()
        main_cpu, cpu = time.thread_time(), time.process_time()
        report = audit(ledger, chain, verifier, checkpoint)
        main_cpu, cpu = time.thread_time() - main_cpu, time.process_time() - cpu
    if not report.ok:
        raise SystemExit(f"the audit found a divergence: {report.divergence}")
    events = report.leaves
    print(
        f"{events} events, {report.notifications} ledger records, {report.blocks} blocks: "
        f"CPU µs per event {1e6 * cpu / events:.1f} (every thread), "
        f"{1e6 * main_cpu / events:.1f} (the audit's thread), by stage:"
    )
    for stage in dict.fromkeys(stage for stage, _, _ in STAGES):
        print(f"  {stage:48} {1e6 * clock.spent.get(stage, 0.0) / events:7.1f}")
    rest = main_cpu - sum(clock.spent.values())
    print(f"  {'the walk itself, checkpoint, the rest':48} {1e6 * rest / events:7.1f}")


if __name__ == "__main__":
    main()
