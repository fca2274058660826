"""The chain's recorder: block events, the anchor's tracking position and two indexes,
written in one transaction so a seal is all-or-nothing.

* ``anchored_leaves``: (item id, version) → (block height, leaf index, leaf hash), so
  ``prove`` finds an item's leaves without scanning blocks;
* ``anchored_blocks``: height → (block hash, header JSON, every level of the block's
  Merkle tree), so ``prove`` reads a path's siblings and the accumulator's block hashes
  without decoding block events.

* ``anchored_map_entries``: the head map's entries (:mod:`anchoring.headmap`) each block
  changed, keyed by (block height, key) so a seal appends about one row per event; the map
  as block ``h`` left it is, for every key, its entry with the greatest height ``<= h``
  (docs/architecture.md, "The head map on disk"). Nodes are not stored: readers rebuild
  the map in memory (:meth:`anchoring.chain.Chain.head_map`). Data dirs from before this
  table kept every changed node in ``anchored_map``; :meth:`migrate_map_nodes` derives the
  entries from it once.
* ``anchored_map_current`` and ``anchored_map_bands``: the map as the newest block left it
  (:mod:`anchoring.headbands`): every entry by key, the band rows and the head row, updated
  in the block's transaction, so a proof at the head reads a few hundred rows.

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

from anchoring.headbands import BANDS, HEAD_ID, BandRow, MapState, read_ranges

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


#: A head map entry as stored: (key, encoded :class:`anchoring.headmap.MapEntry`).
EntryRow = tuple[bytes, bytes]


@runtime_checkable
class MapStore(Protocol):
    """The head map's changed entries per block (``map_entries=(height, rows)`` when
    sealing, rows in key order)."""

    def map_entries_at(self, height: int) -> list[EntryRow]: ...

    def map_entries_between(self, after: int, upto: int) -> list[EntryRow]: ...

    def migrate_map_nodes(self) -> int: ...

    def latest_leaves(self) -> list[LeafRow]: ...


@runtime_checkable
class MapStateStore(Protocol):
    """The map as the newest block left it (``map_state=`` a :class:`MapState` when
    sealing): entries by key, band rows and the head row."""

    def map_state_rows(self, key: bytes) -> tuple[dict[int, BandRow], list[EntryRow]]: ...

    def map_state_all(self) -> tuple[list[BandRow], list[EntryRow]]: ...

    def map_state_bands(self) -> list[BandRow]: ...

    def map_state_entries(self, after: bytes, limit: int) -> list[EntryRow]:
        """Up to ``limit`` current entries with keys above ``after``, in key order."""

    def replace_map_state(self, state: MapState, height: int) -> bool: ...


#: The rows a proof for a key reads (:func:`anchoring.headbands.read_ranges`), in one
#: statement: one snapshot, on either store.
STATE_ROWS_SQL = " UNION ALL ".join(
    [
        "SELECT id, hash, leaf_key, value FROM {bands} WHERE id = {p}",
        *["SELECT id, hash, leaf_key, value FROM {bands} WHERE id BETWEEN {p} AND {p}"]
        * len(BANDS),
        "SELECT NULL, key, NULL, value FROM {current} WHERE key >= {p} AND key < {p}",
    ]
)


def state_params(key: bytes) -> tuple[object, ...]:
    ranges, low, high = read_ranges(key)
    return (HEAD_ID, *(i for pair in ranges for i in pair), low, high)


def state_split(
    rows: Iterable[tuple[Any, Any, Any, Any]],
) -> tuple[dict[int, BandRow], list[EntryRow]]:
    """Band rows by id and the entries, from :data:`STATE_ROWS_SQL`'s rows."""
    bands: dict[int, BandRow] = {}
    entries: list[EntryRow] = []
    for i, digest, leaf_key, value in rows:
        if i is None:
            entries.append((bytes(digest), bytes(value)))
        else:
            bands[i] = BandRow(i, bytes(digest), opt_bytes(leaf_key), opt_bytes(value))
    entries.sort()
    return bands, entries


def opt_bytes(raw: Any) -> bytes | None:
    return None if raw is None else bytes(raw)


def band_params(state: MapState) -> tuple[list[tuple[int]], list[tuple[Any, ...]]]:
    """The band ids to delete (empty subtrees) and the rows to upsert (with the head)."""
    gone = [(r.id,) for r in state.bands if r.hash is None]
    rows = [r for r in (*state.bands, state.head) if r.hash is not None]
    return gone, [(r.id, r.hash, r.leaf_key, r.value) for r in rows]


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
            "CREATE TABLE IF NOT EXISTS anchored_map_entries ("
            "height INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
            "PRIMARY KEY (height, key)) WITHOUT ROWID"
        )
        statements.append(
            "CREATE TABLE IF NOT EXISTS anchored_map_current ("
            "key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
        )
        statements.append(
            "CREATE TABLE IF NOT EXISTS anchored_map_bands ("
            "id INTEGER PRIMARY KEY, hash BLOB NOT NULL, leaf_key BLOB, value BLOB)"
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
        map_entries: tuple[int, Sequence[EntryRow]] | None = kwargs.get("map_entries")
        if map_entries:
            height, entries = map_entries
            c.executemany(
                "INSERT INTO anchored_map_entries VALUES (?,?,?)",
                [(height, key, value) for key, value in entries],
            )
        state: MapState | None = kwargs.get("map_state")
        if state is not None:
            self._write_state(c, state)
        return returning

    @staticmethod
    def _write_state(c: SQLiteCursor, state: MapState) -> None:
        c.executemany(
            "INSERT INTO anchored_map_current VALUES (?,?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            state.entries,
        )
        gone, rows = band_params(state)
        c.executemany("DELETE FROM anchored_map_bands WHERE id = ?", gone)
        c.executemany("INSERT OR REPLACE INTO anchored_map_bands VALUES (?,?,?,?)", rows)

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

    def map_entries_at(self, height: int) -> list[EntryRow]:
        """The entries block ``height`` changed, in key order."""
        return self._entries("height = ?", (height,))

    def map_entries_between(self, after: int, upto: int) -> list[EntryRow]:
        """The entries blocks ``after`` (exclusive) to ``upto`` changed, in height order
        (so for a key the last one is its entry as block ``upto`` left it)."""
        return self._entries("height > ? AND height <= ?", (after, upto))

    def _entries(self, where: str, params: tuple[Any, ...]) -> list[EntryRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT key, value FROM anchored_map_entries WHERE {where} ORDER BY height, key",
                params,
            )
            return [(bytes(r[0]), bytes(r[1])) for r in c.fetchall()]

    def migrate_map_nodes(self) -> int:
        """Derive the entries table from the node rows of an older data dir (once, when
        the entries table is still empty); returns the entries written."""
        with self.datastore.transaction(commit=True) as c:
            c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='anchored_map'")
            if c.fetchone() is None:
                return 0
            c.execute("SELECT 1 FROM anchored_map_entries LIMIT 1")
            if c.fetchone() is not None:
                return 0
            c.execute(
                "SELECT height, leaf_key, value FROM anchored_map WHERE leaf_key IS NOT NULL "
                "ORDER BY height, leaf_key"
            )
            rows = entries_of_nodes((r[0], bytes(r[1]), bytes(r[2])) for r in c.fetchall())
            c.executemany("INSERT INTO anchored_map_entries VALUES (?,?,?)", rows)
            return len(rows)

    # ----- head map state ------------------------------------------------------------

    def map_state_rows(self, key: bytes) -> tuple[dict[int, BandRow], list[EntryRow]]:
        sql = STATE_ROWS_SQL.format(
            bands="anchored_map_bands", current="anchored_map_current", p="?"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, state_params(key))
            return state_split(c.fetchall())

    def map_state_all(self) -> tuple[list[BandRow], list[EntryRow]]:
        with self.datastore.transaction(commit=False) as c:
            bands = _read_bands(c)
            c.execute("SELECT key, value FROM anchored_map_current ORDER BY key")
            return bands, [(bytes(r[0]), bytes(r[1])) for r in c.fetchall()]

    def map_state_bands(self) -> list[BandRow]:
        with self.datastore.transaction(commit=False) as c:
            return _read_bands(c)

    def map_state_entries(self, after: bytes, limit: int) -> list[EntryRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT key, value FROM anchored_map_current WHERE key > ? ORDER BY key LIMIT ?",
                (after, limit),
            )
            return [(bytes(r[0]), bytes(r[1])) for r in c.fetchall()]

    def replace_map_state(self, state: MapState, height: int) -> bool:
        """Write the whole state (built from the entries) unless block ``height`` is no
        longer the newest; whether it was written."""
        with self.datastore.transaction(commit=True) as c:
            c.execute("SELECT MAX(height) FROM anchored_blocks")
            if c.fetchone()[0] != height:
                return False
            c.execute("DELETE FROM anchored_map_current")
            c.execute("DELETE FROM anchored_map_bands")
            self._write_state(c, state)
            return True

    def latest_leaves(self) -> list[LeafRow]:
        """The newest anchored leaf of every item."""
        return self._leaves(
            "WHERE (item_id, version) IN "
            "(SELECT item_id, MAX(version) FROM anchored_leaves GROUP BY item_id)",
            (),
        )


def entries_of_nodes(leaves: Iterable[tuple[int, bytes, bytes]]) -> list[tuple[int, bytes, bytes]]:
    """(height, key, value) of each entry a block changed, from the leaf node rows of the
    older layout in height order: a leaf row is written again when its node moves, so only
    a value that differs from the key's previous one is a change."""
    last: dict[bytes, bytes] = {}
    out = []
    for height, key, value in leaves:
        if last.get(key) != value:
            last[key] = value
            out.append((height, key, value))
    return out


def _read_bands(c: Any) -> list[BandRow]:
    c.execute("SELECT id, hash, leaf_key, value FROM anchored_map_bands ORDER BY id")
    return [BandRow(r[0], bytes(r[1]), opt_bytes(r[2]), opt_bytes(r[3])) for r in c.fetchall()]
