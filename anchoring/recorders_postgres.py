"""The chain recorder on PostgreSQL: the same one-transaction seal and the same two
indexes as ``anchoring/recorders.py`` (see there for what each index is for)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from anchoring.headbands import BandRow, MapState
from anchoring.recorders import (
    STATE_ROWS_SQL,
    BlockRow,
    EntryRow,
    LeafRow,
    band_params,
    entries_of_nodes,
    opt_bytes,
    state_params,
    state_split,
)


class PostgresChainRecorder(PostgresProcessRecorder):
    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "chain_events",
        tracking_table_name: str = "chain_tracking",
    ) -> None:
        super().__init__(
            datastore, events_table_name=events_table_name, tracking_table_name=tracking_table_name
        )
        schema = datastore.schema
        self.leaves_table = f"{schema}.chain_anchored_leaves"
        self.blocks_table = f"{schema}.chain_anchored_blocks"
        self.map_table = f"{schema}.chain_anchored_map_entries"
        self.old_map_table = f"{schema}.chain_anchored_map"  # nodes, before the entries
        self.current_table = f"{schema}.chain_anchored_map_current"
        self.bands_table = f"{schema}.chain_anchored_map_bands"
        for statement in (
            "CREATE TABLE IF NOT EXISTS {0}.chain_anchored_leaves ("
            "item_id TEXT NOT NULL, version BIGINT NOT NULL, height BIGINT NOT NULL, "
            "leaf_index BIGINT NOT NULL, leaf_hash BYTEA NOT NULL, "
            "PRIMARY KEY (item_id, version))",
            "CREATE INDEX IF NOT EXISTS chain_anchored_leaves_by_block "
            "ON {0}.chain_anchored_leaves (height, leaf_index)",
            "CREATE TABLE IF NOT EXISTS {0}.chain_anchored_blocks ("
            "height BIGINT PRIMARY KEY, block_hash BYTEA NOT NULL, "
            "header TEXT NOT NULL, tree BYTEA NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {0}.chain_anchored_map_entries ("
            "height BIGINT NOT NULL, key BYTEA NOT NULL, value BYTEA NOT NULL, "
            "PRIMARY KEY (height, key))",
            "CREATE TABLE IF NOT EXISTS {0}.chain_anchored_map_current ("
            "key BYTEA PRIMARY KEY, value BYTEA NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {0}.chain_anchored_map_bands ("
            "id BIGINT PRIMARY KEY, hash BYTEA NOT NULL, leaf_key BYTEA, value BYTEA)",
        ):
            self.sql_create_statements.append(SQL(statement).format(Identifier(schema)))

    def create_table(self) -> None:
        """Create the tables (idempotent). ``CREATE INDEX IF NOT EXISTS`` locks its table even
        when the index exists, so opening beside a sealing anchor can be picked as a deadlock
        victim; PostgreSQL then rolls this DDL back whole, and it is taken again."""
        for attempt in range(1, 6):
            try:
                super().create_table()
                return
            except OperationalError as e:
                if "deadlock detected" not in str(e) or attempt == 5:
                    raise

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        leaf_rows: Sequence[LeafRow] = kwargs.get("leaf_rows", ())
        if leaf_rows:
            curs.executemany(
                f"INSERT INTO {self.leaves_table} VALUES (%s, %s, %s, %s, %s)".encode(),
                [(r.item_id, r.version, r.height, r.leaf_index, r.leaf_hash) for r in leaf_rows],
            )
        block_rows: Sequence[BlockRow] = kwargs.get("block_rows", ())
        if block_rows:
            curs.executemany(
                f"INSERT INTO {self.blocks_table} VALUES (%s, %s, %s, %s)".encode(),
                [(r.height, r.block_hash, r.header_json, r.tree) for r in block_rows],
            )
        map_entries: tuple[int, Sequence[EntryRow]] | None = kwargs.get("map_entries")
        if map_entries:
            height, entries = map_entries
            curs.executemany(
                f"INSERT INTO {self.map_table} VALUES (%s, %s, %s)".encode(),
                [(height, key, value) for key, value in entries],
            )
        state: MapState | None = kwargs.get("map_state")
        if state is not None:
            self._write_state(curs, state)

    def _write_state(self, curs: Cursor[DictRow], state: MapState) -> None:
        if state.entries:
            curs.executemany(
                f"INSERT INTO {self.current_table} VALUES (%s, %s) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value".encode(),
                state.entries,
            )
        gone, rows = band_params(state)
        if gone:
            curs.executemany(f"DELETE FROM {self.bands_table} WHERE id = %s".encode(), gone)
        curs.executemany(
            f"INSERT INTO {self.bands_table} VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE "
            "SET hash = excluded.hash, leaf_key = excluded.leaf_key, "
            "value = excluded.value".encode(),
            rows,
        )

    # ----- leaves ----------------------------------------------------------------------

    def leaves_for(self, item_id: str) -> list[LeafRow]:
        return self._leaves("WHERE item_id = %s ORDER BY version", (item_id,))

    def leaf(self, item_id: str, version: int) -> LeafRow | None:
        rows = self._leaves("WHERE item_id = %s AND version = %s", (item_id, version))
        return rows[0] if rows else None

    def leaves_at(self, height: int) -> list[LeafRow]:
        return self._leaves("WHERE height = %s ORDER BY leaf_index", (height,))

    def _leaves(self, where: str, params: tuple[Any, ...]) -> list[LeafRow]:
        rows = self._fetch(
            "SELECT item_id, version, height, leaf_index, leaf_hash "
            f"FROM {self.leaves_table} {where}",
            params,
        )
        return [
            LeafRow(r["item_id"], r["version"], r["height"], r["leaf_index"], bytes(r["leaf_hash"]))
            for r in rows
        ]

    # ----- blocks ----------------------------------------------------------------------

    def block_rows(self, heights: Iterable[int]) -> dict[int, BlockRow]:
        wanted = sorted(set(heights))
        if not wanted:
            return {}
        rows = self._fetch(
            f"SELECT height, block_hash, header, tree FROM {self.blocks_table} "
            "WHERE height = ANY(%s)",
            (wanted,),
        )
        return {
            r["height"]: BlockRow(
                r["height"], bytes(r["block_hash"]), r["header"], bytes(r["tree"])
            )
            for r in rows
        }

    def block_hashes(self, start: int) -> list[bytes]:
        rows = self._fetch(
            f"SELECT block_hash FROM {self.blocks_table} WHERE height >= %s ORDER BY height",
            (start,),
        )
        return [bytes(r["block_hash"]) for r in rows]

    def header_rows(self, start: int) -> list[tuple[int, str]]:
        rows = self._fetch(
            f"SELECT height, header FROM {self.blocks_table} WHERE height >= %s ORDER BY height",
            (start,),
        )
        return [(r["height"], r["header"]) for r in rows]

    def indexed_blocks(self) -> int:
        rows = self._fetch(f"SELECT MAX(height) AS top FROM {self.blocks_table}", ())
        top = rows[0]["top"] if rows else None
        return 0 if top is None else int(top) + 1

    def add_block_rows(self, rows: Sequence[BlockRow]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(
                f"INSERT INTO {self.blocks_table} VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (height) DO NOTHING".encode(),
                [(r.height, r.block_hash, r.header_json, r.tree) for r in rows],
            )

    # ----- head map ------------------------------------------------------------------

    def map_entries_at(self, height: int) -> list[EntryRow]:
        return self._entries("height = %s", (height,))

    def map_entries_between(self, after: int, upto: int) -> list[EntryRow]:
        return self._entries("height > %s AND height <= %s", (after, upto))

    def _entries(self, where: str, params: tuple[Any, ...]) -> list[EntryRow]:
        rows = self._fetch(
            f"SELECT key, value FROM {self.map_table} WHERE {where} ORDER BY height, key", params
        )
        return [(bytes(r["key"]), bytes(r["value"])) for r in rows]

    def migrate_map_nodes(self) -> int:
        """As :meth:`anchoring.recorders.SQLiteChainRecorder.migrate_map_nodes`."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(b"SELECT to_regclass(%s) AS t", (self.old_map_table,))
            found = curs.fetchone()
            if found is None or found["t"] is None:
                return 0
            curs.execute(f"SELECT 1 FROM {self.map_table} LIMIT 1".encode())
            if curs.fetchone() is not None:
                return 0
            curs.execute(
                f"SELECT height, leaf_key, value FROM {self.old_map_table} "
                "WHERE leaf_key IS NOT NULL ORDER BY height, leaf_key".encode()
            )
            leaves = ((r["height"], bytes(r["leaf_key"]), bytes(r["value"])) for r in curs)
            rows = entries_of_nodes(list(leaves))
            if rows:
                curs.executemany(f"INSERT INTO {self.map_table} VALUES (%s, %s, %s)".encode(), rows)
            return len(rows)

    # ----- head map state ------------------------------------------------------------

    def map_state_rows(self, key: bytes) -> tuple[dict[int, BandRow], list[EntryRow]]:
        sql = STATE_ROWS_SQL.format(bands=self.bands_table, current=self.current_table, p="%s")
        rows = self._fetch(sql, state_params(key))
        return state_split((r["id"], r["hash"], r["leaf_key"], r["value"]) for r in rows)

    def map_state_all(self) -> tuple[list[BandRow], list[EntryRow]]:
        entries = self._fetch(f"SELECT key, value FROM {self.current_table} ORDER BY key", ())
        return self.map_state_bands(), [(bytes(r["key"]), bytes(r["value"])) for r in entries]

    def map_state_bands(self) -> list[BandRow]:
        bands = self._fetch(
            f"SELECT id, hash, leaf_key, value FROM {self.bands_table} ORDER BY id", ()
        )
        return [
            BandRow(r["id"], bytes(r["hash"]), opt_bytes(r["leaf_key"]), opt_bytes(r["value"]))
            for r in bands
        ]

    def map_state_entries(self, after: bytes, limit: int) -> list[EntryRow]:
        rows = self._fetch(
            f"SELECT key, value FROM {self.current_table} WHERE key > %s ORDER BY key LIMIT %s",
            (after, limit),
        )
        return [(bytes(r["key"]), bytes(r["value"])) for r in rows]

    def replace_map_state(self, state: MapState, height: int) -> bool:
        """As :meth:`anchoring.recorders.SQLiteChainRecorder.replace_map_state`."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"LOCK TABLE {self.bands_table} IN EXCLUSIVE MODE".encode())
            curs.execute(f"SELECT MAX(height) AS top FROM {self.blocks_table}".encode())
            found = curs.fetchone()
            if found is None or found["top"] != height:
                return False
            curs.execute(f"DELETE FROM {self.current_table}".encode())
            curs.execute(f"DELETE FROM {self.bands_table}".encode())
            self._write_state(curs, state)
            return True

    def latest_leaves(self) -> list[LeafRow]:
        return self._leaves(
            "WHERE (item_id, version) IN "
            f"(SELECT item_id, MAX(version) FROM {self.leaves_table} GROUP BY item_id)",
            (),
        )

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[DictRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(sql.encode(), params)
            return curs.fetchall()
