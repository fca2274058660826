"""An analyst in another process: the stock DuckDB client, in a loop, on the snapshot.

    python tests/projections/analyst_reader.py SNAPSHOT SECONDS SAMPLES SNAPSHOTS

It samples until it has taken SAMPLES samples and seen SNAPSHOTS snapshots, or for SECONDS.

Prints one JSON object: samples taken, errors met, the worst staleness seen (now minus the
newest ``recorded_at`` visible), how many distinct snapshots it saw, and how often the
newest visible event moved forward or back between two connections. Uses nothing but
``duckdb`` and the standard library, as an analyst's notebook would.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from datetime import UTC, datetime

import duckdb


def main() -> None:
    path, seconds = sys.argv[1], float(sys.argv[2])
    want_samples, want_snapshots = int(sys.argv[3]), int(sys.argv[4])
    samples, errors, lags, snapshots = 0, [], [], set()
    seen: list[datetime] = []
    end = time.monotonic() + seconds
    # Until it has seen enough (a busy machine takes longer), or the deadline.
    while time.monotonic() < end and (samples < want_samples or len(snapshots) < want_snapshots):
        try:
            with duckdb.connect(path, read_only=True) as con:
                (newest,) = con.execute("SELECT max(recorded_at) FROM custody_events").fetchall()[0]
                con.execute("SELECT * FROM items ORDER BY version DESC LIMIT 5").fetchall()
                con.execute("SELECT * FROM inventory_by_location").fetchall()
                (taken,) = con.execute(
                    "SELECT value FROM projection_meta WHERE key = 'snapshot_taken_at'"
                ).fetchall()[0]
            lags.append((datetime.now(UTC) - newest).total_seconds())
            seen.append(newest)
            snapshots.add(taken)
            samples += 1
        except Exception as e:  # any lock or I/O error is what this test is looking for
            errors.append(repr(e))
        time.sleep(0.05)
    steps = list(itertools.pairwise(seen))
    print(json.dumps({"samples": samples, "errors": errors[:5], "max_lag": max(lags or [0]),
                      "snapshots": len(snapshots),
                      "advances": sum(b > a for a, b in steps),
                      "regressions": sum(b < a for a, b in steps)}))  # fmt: skip


if __name__ == "__main__":
    main()
