"""Exactly once across a crash: SIGKILL the projector mid-transaction, restart, compare."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb

from projections.projector import Projector
from tests.projections.support import contents, make_store
from tests.projections.workload import Workload

ROOT = Path(__file__).resolve().parents[2]


def kill_mid_transaction(root: Path, duckdb_path: Path, follower: str, after: int) -> None:
    """Run the lingering projector and SIGKILL it inside its ``after``-th transaction."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.projections.slow_projector", str(root), str(duckdb_path),
         follower],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.strip() == f"mid {follower} {after}":
                os.kill(proc.pid, signal.SIGKILL)
                break
        else:
            raise AssertionError(f"the projector finished before its {follower} page {after}")
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def positions(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path)) as con:
        return dict(con.execute("SELECT name, position FROM projection_tracking").fetchall())


def test_sigkill_mid_batch_and_restart_neither_skips_nor_repeats(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    Workload(store, seed=11, items=8).run(120)
    path = tmp_path / "projections.duckdb"
    ledger_end = store.ledger.recorder.max_notification_id()

    kill_mid_transaction(tmp_path, path, "ledger", after=4)
    # Three pages of ten committed; the fourth died with its rows uncommitted.
    assert positions(path) == {"ledger": 30}
    with duckdb.connect(str(path)) as con:
        (last,) = con.execute("SELECT max(notification_id) FROM custody_events").fetchall()[0]
        assert last <= 30

    kill_mid_transaction(tmp_path, path, "chain", after=2)
    assert positions(path) == {"ledger": ledger_end, "chain": 10}

    with Projector(store.ledger, store.chain, path) as restarted:
        restarted.catch_up()
        recovered = contents(restarted.con)
    with Projector(store.ledger, store.chain, tmp_path / "uninterrupted.duckdb") as clean:
        clean.catch_up()
        assert recovered == contents(clean.con)
    assert len(recovered["custody_events"]) > 50
