"""The chain recorder on PostgreSQL: the same one-transaction seal as on SQLite.

Block events, the anchor's tracking position and the per-item leaf index rows are
written with one cursor inside eventsourcing's transaction, so a seal is all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from anchoring.recorders import LeafRow


class PostgresChainRecorder(PostgresProcessRecorder):
    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "chain_events",
        tracking_table_name: str = "chain_tracking",
    ) -> None:
        self.leaves_table = "chain_anchored_leaves"
        self.qualified = f"{datastore.schema}.{self.leaves_table}"
        super().__init__(
            datastore, events_table_name=events_table_name, tracking_table_name=tracking_table_name
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "item_id TEXT NOT NULL, version BIGINT NOT NULL, height BIGINT NOT NULL, "
                "leaf_index BIGINT NOT NULL, leaf_hash BYTEA NOT NULL, "
                "PRIMARY KEY (item_id, version))"
            ).format(Identifier(datastore.schema), Identifier(self.leaves_table))
        )

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        rows: Sequence[LeafRow] = kwargs.get("leaf_rows", ())
        if rows:
            curs.executemany(
                f"INSERT INTO {self.qualified} VALUES (%s, %s, %s, %s, %s)",
                [(r.item_id, r.version, r.height, r.leaf_index, r.leaf_hash) for r in rows],
            )

    def leaves_for(self, item_id: str) -> list[LeafRow]:
        return self._select("WHERE item_id = %s ORDER BY version", (item_id,))

    def leaf(self, item_id: str, version: int) -> LeafRow | None:
        rows = self._select("WHERE item_id = %s AND version = %s", (item_id, version))
        return rows[0] if rows else None

    def _select(self, where: str, params: tuple[Any, ...]) -> list[LeafRow]:
        sql = f"SELECT item_id, version, height, leaf_index, leaf_hash FROM {self.qualified} "
        with self.datastore.transaction(commit=False) as curs:
            curs.execute((sql + where).encode(), params)
            return [
                LeafRow(
                    r["item_id"], r["version"], r["height"], r["leaf_index"], bytes(r["leaf_hash"])
                )
                for r in curs.fetchall()
            ]
