"""The chain's recorder: block events, the anchor's tracking position and two indexes,
written in one transaction so a seal is all-or-nothing.

* ``anchored_leaves``: (item id, version) → (block height, leaf index, leaf hash), so
  ``prove`` finds an item's leaves without scanning blocks;
* ``anchored_blocks``: height → (block hash, header JSON, every level of the block's
  Merkle tree), so ``prove`` reads a path's siblings and the accumulator's block hashes
  without decoding block events.

* ``anchored_map``: the head map's nodes (:mod:`anchoring.headmap`) as each block left
  them, keyed by (node path, block height): a block writes only the nodes it changed, so
  the node a proof at height ``h`` needs is the row of its path with the greatest height
  ``<= h``, and a proof at an older checkpoint still works.

All are derived data: ``audit`` recomputes and checks every row. ``height`` is the
primary key of ``anchored_blocks``, a second guard (after the block aggregate's id)
against two anchors sealing the same height.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

from anchoring.headmap import MapRow
from anchoring.headmap_native import row_params

_LEAF_COLUMNS = "item_id, version, height, leaf_index, leaf_hash"


@dataclass(frozen=True)
class LeafRow:
    item_id: str
    version: int
    height: int
    leaf_index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class BlockRow:
    height: int
    block_hash: bytes
    header_json: str  # BlockHeader.to_json() as compact JSON text
    tree: bytes  # anchoring.chain.pack_tree: every level of the Merkle tree, leaves first


@runtime_checkable
class LeafIndex(Protocol):
    """The per-item leaf index every chain recorder keeps (``leaf_rows`` when sealing)."""

    def leaves_for(self, item_id: str) -> list[LeafRow]: ...

    def leaf(self, item_id: str, version: int) -> LeafRow | None: ...


@runtime_checkable
class BlockIndex(LeafIndex, Protocol):
    """The block index (``block_rows`` when sealing) that makes ``prove`` read only what it
    needs; without it the chain falls back to decoding block events."""

    def leaves_at(self, height: int) -> list[LeafRow]: ...

    def block_rows(self, heights: Iterable[int]) -> dict[int, BlockRow]: ...

    def block_hashes(self, start: int) -> list[bytes]: ...

    def header_rows(self, start: int) -> list[tuple[int, str]]: ...

    def indexed_blocks(self) -> int: ...

    def add_block_rows(self, rows: Sequence[BlockRow]) -> None: ...


@runtime_checkable
class MapStore(Protocol):
    """The head map's node rows (``map_rows=(height, rows)`` when sealing)."""

    def map_node(self, path: bytes, height: int) -> MapRow | None: ...

    def map_latest_rows(self, height: int | None = None) -> list[MapRow]: ...

    def map_nodes(self, paths: Sequence[bytes], height: int) -> dict[bytes, MapRow]: ...

    def map_rows_at(self, height: int) -> list[MapRow]: ...

    def latest_leaves(self) -> list[LeafRow]: ...


class SQLiteChainRecorder(SQLiteProcessRecorder):
    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            "CREATE TABLE IF NOT EXISTS anchored_leaves ("
            "item_id TEXT NOT NULL, version INTEGER NOT NULL, height INTEGER NOT NULL, "
            "leaf_index INTEGER NOT NULL, leaf_hash BLOB NOT NULL, "
            "PRIMARY KEY (item_id, version)) WITHOUT ROWID"
        )
        statements.append(
            "CREATE INDEX IF NOT EXISTS anchored_leaves_by_block "
            "ON anchored_leaves (height, leaf_index)"
        )
        statements.append(
            "CREATE TABLE IF NOT EXISTS anchored_blocks ("
            "height INTEGER PRIMARY KEY, block_hash BLOB NOT NULL, "
            "header TEXT NOT NULL, tree BLOB NOT NULL)"
        )
        statements.append(
            "CREATE TABLE IF NOT EXISTS anchored_map ("
            "path BLOB NOT NULL, height INTEGER NOT NULL, hash BLOB NOT NULL, "
            "leaf_key BLOB, value BLOB, PRIMARY KEY (path, height)) WITHOUT ROWID"
        )
        return statements

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        leaf_rows: Sequence[LeafRow] = kwargs.get("leaf_rows", ())
        if leaf_rows:
            c.executemany(
                "INSERT INTO anchored_leaves VALUES (?,?,?,?,?)",
                [(r.item_id, r.version, r.height, r.leaf_index, r.leaf_hash) for r in leaf_rows],
            )
        block_rows: Sequence[BlockRow] = kwargs.get("block_rows", ())
        if block_rows:
            c.executemany(
                "INSERT INTO anchored_blocks VALUES (?,?,?,?)",
                [(r.height, r.block_hash, r.header_json, r.tree) for r in block_rows],
            )
        map_rows: tuple[int, Sequence[MapRow]] | None = kwargs.get("map_rows")
        if map_rows:
            height, nodes = map_rows
            c.executemany(
                "INSERT INTO anchored_map VALUES (?,?,?,?,?)",
                row_params(nodes, height),
            )
        return returning

    # ----- leaves ----------------------------------------------------------------------

    def leaves_for(self, item_id: str) -> list[LeafRow]:
        return self._leaves("WHERE item_id=? ORDER BY version", (item_id,))

    def leaf(self, item_id: str, version: int) -> LeafRow | None:
        rows = self._leaves("WHERE item_id=? AND version=?", (item_id, version))
        return rows[0] if rows else None

    def leaves_at(self, height: int) -> list[LeafRow]:
        return self._leaves("WHERE height=? ORDER BY leaf_index", (height,))

    def _leaves(self, where: str, params: tuple[Any, ...]) -> list[LeafRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {_LEAF_COLUMNS} FROM anchored_leaves {where}", params)
            return [LeafRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in c.fetchall()]

    # ----- blocks ----------------------------------------------------------------------

    def block_rows(self, heights: Iterable[int]) -> dict[int, BlockRow]:
        wanted = sorted(set(heights))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT height, block_hash, header, tree FROM anchored_blocks "
                f"WHERE height IN ({marks})",
                wanted,
            )
            return {r[0]: BlockRow(r[0], bytes(r[1]), r[2], bytes(r[3])) for r in c.fetchall()}

    def block_hashes(self, start: int) -> list[bytes]:
        """Hashes of blocks ``start, start+1, …`` in height order."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT block_hash FROM anchored_blocks WHERE height>=? ORDER BY height", (start,)
            )
            return [bytes(r[0]) for r in c.fetchall()]

    def header_rows(self, start: int) -> list[tuple[int, str]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT height, header FROM anchored_blocks WHERE height>=? ORDER BY height",
                (start,),
            )
            return [(r[0], r[1]) for r in c.fetchall()]

    def indexed_blocks(self) -> int:
        """How many blocks the block index holds (heights 0..n-1 when consistent)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT MAX(height) FROM anchored_blocks")
            top = c.fetchone()[0]
        return 0 if top is None else int(top) + 1

    def add_block_rows(self, rows: Sequence[BlockRow]) -> None:
        """Backfill rows for blocks sealed before the index existed (idempotent)."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT OR IGNORE INTO anchored_blocks VALUES (?,?,?,?)",
                [(r.height, r.block_hash, r.header_json, r.tree) for r in rows],
            )

    # ----- head map ------------------------------------------------------------------

    def map_node(self, path: bytes, height: int) -> MapRow | None:
        """The node at ``path`` as block ``height`` left it (None: empty then)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT hash, leaf_key, value FROM anchored_map WHERE path=? AND height<=? "
                "ORDER BY height DESC LIMIT 1",
                (path, height),
            )
            r = c.fetchone()
        return None if r is None else map_row(path, r[0], r[1], r[2])

    def map_nodes(self, paths: Sequence[bytes], height: int) -> dict[bytes, MapRow]:
        """:meth:`map_node` of several paths in one statement (those that exist)."""
        if not paths:
            return {}
        values = ",".join(["(?)"] * len(paths))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"WITH p(path) AS (VALUES {values}) "
                "SELECT m.path, m.hash, m.leaf_key, m.value FROM p JOIN anchored_map m "
                "ON m.path = p.path AND m.height = (SELECT MAX(height) FROM anchored_map "
                "WHERE path = p.path AND height <= ?)",
                (*paths, height),
            )
            rows = [map_row(bytes(r[0]), r[1], r[2], r[3]) for r in c.fetchall()]
        return {row.path: row for row in rows}

    def map_latest_rows(self, height: int | None = None) -> list[MapRow]:
        """Every node as block ``height`` (default: the newest) left it."""
        out: list[MapRow] = []
        top = (1 << 62) if height is None else height
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT path, hash, leaf_key, value FROM anchored_map WHERE height <= ? "
                "ORDER BY path, height",
                (top,),
            )
            for r in c.fetchall():
                row = map_row(bytes(r[0]), r[1], r[2], r[3])
                if out and out[-1].path == row.path:
                    out[-1] = row
                else:
                    out.append(row)
        return out

    def map_rows_at(self, height: int) -> list[MapRow]:
        """The rows block ``height`` wrote (the nodes it changed), in path order."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT path, hash, leaf_key, value FROM anchored_map WHERE height=? ORDER BY path",
                (height,),
            )
            return [map_row(bytes(r[0]), r[1], r[2], r[3]) for r in c.fetchall()]

    def latest_leaves(self) -> list[LeafRow]:
        """The newest anchored leaf of every item."""
        return self._leaves(
            "WHERE (item_id, version) IN "
            "(SELECT item_id, MAX(version) FROM anchored_leaves GROUP BY item_id)",
            (),
        )


def map_row(path: bytes, digest: Any, key: Any, value: Any) -> MapRow:
    return MapRow(
        path,
        bytes(digest),
        None if key is None else bytes(key),
        None if value is None else bytes(value),
    )
