"""A live projector's write pattern, ended as abruptly as a SIGKILL (``os._exit``).

    python -m tests.projections.wal_writer DUCKDB_PATH SEED PAGES

Each round commits a page of custody rows without anchors (as a ledger page does), then
the blocks sealed over them so far through :meth:`Writer.chain_page`, and now and then a
checkpoint (as publishing the analyst snapshot does). The process then exits without
closing DuckDB, so the next open replays the write-ahead log. Leaf hashes are a function
of the notification id (:func:`leaf_of`), so the reader can tell what each row must hold.
"""

from __future__ import annotations

import functools
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import duckdb

from projections.writer import Writer, connect

PAGE = 60
EVENTS_PER_ITEM = 7


def leaf_of(n: int) -> str:
    return f"{n:064x}"


def item_of(n: int) -> tuple[str, int]:
    return f"urn:wal:{n // EVENTS_PER_ITEM}", n % EVENTS_PER_ITEM + 1


def block(height: int, first: int, last: int) -> dict[str, Any]:
    """A decoded ``Block.Sealed`` as ``writer.decode_block`` gives it."""
    ns = range(first, last + 1)
    state = {"leaves": [leaf_of(n) for n in ns], "items": [list(item_of(n)) for n in ns]}
    header = {
        "height": height,
        "merkle_root": "00" * 32,
        "prev_hash": "00" * 32,
        "first_notification": first,
        "last_notification": last,
        "leaf_count": len(ns),
        "sealed_at": "2026-01-01T00:00:00+00:00",
    }
    return {"header": header, "block_hash": f"{height:064x}", "state_json": json.dumps(state)}


def insert_rows(con: duckdb.DuckDBPyConnection, first: int, last: int) -> None:
    """Custody rows ``first``..``last`` without anchors, as a ledger page inserts them."""
    con.execute(
        f"""
        INSERT INTO custody_events (item_id, version, notification_id, record, accepted,
            event_id, kind, recorded_at, declared_in_error)
        SELECT 'urn:wal:' || (n // {EVENTS_PER_ITEM}), n % {EVENTS_PER_ITEM} + 1, n,
               'Item.Received', TRUE, 'e' || n, 'receiving', now(), FALSE
        FROM range({first}, {last + 1}) t(n)"""
    )


def write(path: Path, seed: int, pages: int) -> None:
    con = connect(path)
    writer = Writer(con)
    rng = random.Random(seed)
    stored = covered = height = 0
    for _ in range(pages):
        first, last = stored + 1, stored + PAGE
        writer.transaction(functools.partial(insert_rows, con, first, last))
        stored = last
        blocks = []
        while covered < stored:  # blocks of 1-90 leaves; the anchor may lag a page behind
            end = min(stored, covered + rng.randint(1, 90))
            blocks.append(block(height, covered + 1, end))
            covered, height = end, height + 1
            if rng.random() < 0.5:
                break
        if blocks:
            writer.chain_page(height, blocks)
        if rng.random() < 0.2:
            con.execute("CHECKPOINT")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
