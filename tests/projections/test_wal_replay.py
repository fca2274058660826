"""Anchors survive a crash: a projector that dies after a chain page leaves, once DuckDB has
replayed its write-ahead log, every anchored row with its leaf hash, block and leaf index.

Found by the crash harness (a live row with a block height and no leaf hash); this
workload reproduced it every time against an in-place UPDATE of the anchors.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.projections.wal_writer import leaf_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("seed", "pages"), [(1, 90), (1, 100)])
def test_anchors_stamped_before_a_crash_are_there_after_the_replay(
    tmp_path: Path, seed: int, pages: int
) -> None:
    path = tmp_path / "projections.duckdb"
    subprocess.run(
        [sys.executable, "-m", "tests.projections.wal_writer", str(path), str(seed), str(pages)],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    assert Path(f"{path}.wal").stat().st_size > 0  # the crash left work to replay
    with duckdb.connect(str(path)) as con:
        rows = con.execute(
            """SELECT c.notification_id, c.leaf_hash, c.block_height, c.leaf_index,
                      b.height, c.notification_id - b.first_notification
               FROM custody_events c LEFT JOIN blocks b
                 ON c.notification_id BETWEEN b.first_notification AND b.last_notification
               ORDER BY c.notification_id"""
        ).fetchall()
    assert len(rows) == pages * 60
    anchored = [row for row in rows if row[4] is not None]
    assert anchored, "no block was sealed"
    wrong = [row for row in anchored if row[1:4] != (leaf_of(row[0]), row[4], row[5])]
    assert not wrong, f"{len(wrong)} anchored rows differ after the replay, e.g. {wrong[:3]}"
    unsealed = [row for row in rows if row[4] is None]
    assert all(row[1:4] == (None, None, None) for row in unsealed)
