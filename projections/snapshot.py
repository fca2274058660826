"""The analyst snapshot: a read-only copy of the projection, swapped in atomically.

DuckDB allows one process to write a database file and no other process to read it
meanwhile. So analysts never open the projector's file: after a commit, at most every
``snapshot_interval`` seconds, the projector checkpoints (the file alone is then a complete
database, no WAL pending), copies it to ``analyst-<pid>-<n>.duckdb`` next to the target and
``os.replace``-s it onto ``analyst.duckdb``. A reader that has the old file open keeps its
inode (and its consistent view) until it reconnects; a new reader gets the new file. Nobody
ever opens the published file for writing, so readers never meet a lock.
"""

from __future__ import annotations

import itertools
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

ANALYST_FILE = "analyst.duckdb"
_counter = itertools.count(1)


def default_target(duckdb_path: Path) -> Path:
    return duckdb_path.with_name(ANALYST_FILE)


def publish(con: duckdb.DuckDBPyConnection, source: Path, target: Path) -> Path:
    """Copy the (checkpointed) projection at ``source`` to ``target`` atomically."""
    taken_at = datetime.now(UTC).isoformat()
    con.execute(
        "INSERT OR REPLACE INTO projection_meta VALUES ('snapshot_taken_at', ?)", [taken_at]
    )
    con.execute("CHECKPOINT")
    tmp = target.with_name(f"{target.stem}-{os.getpid()}-{next(_counter)}{target.suffix}")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def remove_leftovers(target: Path) -> None:
    """Temporary copies a killed projector left behind (never the published file)."""
    for stale in target.parent.glob(f"{target.stem}-*{target.suffix}"):
        stale.unlink(missing_ok=True)
