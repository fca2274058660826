"""The analyst side: read-only connections to the published snapshot, and item history.

Open it from any process with the stock client while the projector runs::

    duckdb -readonly assay-data/analyst.duckdb
    python -c "import duckdb; duckdb.connect('assay-data/analyst.duckdb', read_only=True)"

A connection sees the snapshot it opened; reconnect to see a newer one (at most
``snapshot_interval`` + one projector page behind the event store; see docs/analysts.md).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from projections.snapshot import ANALYST_FILE

# duckdb is imported by open_analyst: finding the snapshot's path needs no database engine.
if TYPE_CHECKING:
    import duckdb

    from assay.settings import Settings

HISTORY_COLUMNS = (
    "version",
    "record",
    "kind",
    "occurred_at",
    "recorded_at",
    "party_id",
    "role",
    "device_id",
    "location",
    "counterparty",
    "event_id",
    "accepted",
    "declared_in_error",
    "declared_by",
    "declared_at",
    "declared_reason",
    "declared_event_id",
    "verdict",
    "block_height",
    "leaf_index",
    "leaf_hash",
)


class NoSnapshot(FileNotFoundError):
    """No analyst snapshot has been published yet."""


def analyst_path(settings: Settings) -> Path:
    return settings.duckdb_path.with_name(ANALYST_FILE)


def open_analyst(settings: Settings | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the latest snapshot (times shown in UTC)."""
    path = settings if isinstance(settings, Path) else analyst_path(settings)
    if not path.exists():
        raise NoSnapshot(
            f"no analyst snapshot at {path}: run `assay project` (or `assay run`) to publish one"
        )
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


def history(con: duckdb.DuckDBPyConnection, item_id: str) -> list[dict[str, Any]]:
    """Every stored event of one item, oldest first, with where it was anchored."""
    rows = con.execute(
        f"SELECT {', '.join(HISTORY_COLUMNS)} FROM custody_events "
        "WHERE item_id = ? ORDER BY version",
        [item_id],
    ).fetchall()
    return [dict(zip(HISTORY_COLUMNS, row, strict=True)) for row in rows]


def corrected_view(con: duckdb.DuckDBPyConnection, item_id: str) -> dict[str, Any] | None:
    """The item's state from ``items``: the corrected view (events declared in error left
    out, docs/custody-rules.md); None for an unknown item."""
    cursor = con.execute(
        "SELECT status, holder, location, consignee, verdict FROM items WHERE item_id = ?",
        [item_id],
    )
    columns = [d[0] for d in cursor.description or []]
    row = cursor.fetchone()
    return None if row is None else dict(zip(columns, row, strict=True))


def snapshot_taken_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute(
        "SELECT value FROM projection_meta WHERE key = 'snapshot_taken_at'"
    ).fetchone()
    return datetime.fromisoformat(str(row[0])) if row else None
