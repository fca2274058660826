"""The chain's recorder: block events, the anchor's tracking position and the per-item
leaf index, written in one transaction so a seal is all-or-nothing.

The leaf index (item id, version) → (block height, leaf index, leaf hash) is what makes
``prove`` fast in a large store; it is derived data, recomputed and checked by ``audit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder


@dataclass(frozen=True)
class LeafRow:
    item_id: str
    version: int
    height: int
    leaf_index: int
    leaf_hash: bytes


class SQLiteChainRecorder(SQLiteProcessRecorder):
    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            "CREATE TABLE IF NOT EXISTS anchored_leaves ("
            "item_id TEXT NOT NULL, version INTEGER NOT NULL, height INTEGER NOT NULL, "
            "leaf_index INTEGER NOT NULL, leaf_hash BLOB NOT NULL, "
            "PRIMARY KEY (item_id, version)) WITHOUT ROWID"
        )
        return statements

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        rows: Sequence[LeafRow] = kwargs.get("leaf_rows", ())
        for r in rows:
            c.execute(
                "INSERT INTO anchored_leaves VALUES (?,?,?,?,?)",
                (r.item_id, r.version, r.height, r.leaf_index, r.leaf_hash),
            )
        return returning

    def leaves_for(self, item_id: str) -> list[LeafRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT item_id, version, height, leaf_index, leaf_hash FROM anchored_leaves "
                "WHERE item_id=? ORDER BY version",
                (item_id,),
            )
            return [LeafRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in c.fetchall()]

    def leaf(self, item_id: str, version: int) -> LeafRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT item_id, version, height, leaf_index, leaf_hash FROM anchored_leaves "
                "WHERE item_id=? AND version=?",
                (item_id, version),
            )
            rows = c.fetchall()
        if not rows:
            return None
        r = rows[0]
        return LeafRow(r[0], r[1], r[2], r[3], bytes(r[4]))
