"""The head map on its native core: what the sealer and the chain use.

Same construction, public API and results as :class:`anchoring.headmap.HeadMap` (the
reference, kept in pure Python): the same root, entries, node lookups, proofs and rows (same
order, same bytes), the same rollback/commit semantics and ``from_rows``. The nodes live in
the Rust extension ``assay_headmap`` (``native/``), compactly: a node is a 64-bit id of its
path, its hash and the index of the entry placed there, so a map of millions of items fits
the anchor's memory and a block's updates cost microseconds per key.

tests/anchoring/test_headmap_parity.py binds the two implementations; the map tests of
tests/anchoring/test_headmap.py run against both.

Rows are refused (``ValueError``) where the reference would silently keep nonsense: a path
that names no node, a hash or key that is not 32 bytes, a value that is not 56 bytes, an
entry whose leaf is not 32 bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

from assay_headmap import Core, Rows, enter_leaves

from anchoring.headmap import TAG_ITEM, MapEntry, MapProof, MapRow, Node
from ledger.records import LeafSource

_PATH_LIMIT = 1 << (34 * 8)


class MapRows(Sequence[MapRow]):
    """The rows an update hands back, held natively as bytes until read: an update costs
    the map's own work, and the Python objects are made only when the rows are saved.
    Equal to any sequence of the same rows (the reference's list)."""

    __slots__ = ("_list", "_raw")

    def __init__(self, raw: Rows) -> None:
        self._raw = raw
        self._list: list[MapRow] | None = None

    def _rows(self) -> list[MapRow]:
        if self._list is None:
            self._list = self._raw.materialize(MapRow)
        return self._list

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> MapRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[MapRow]: ...
    def __getitem__(self, index: int | slice) -> MapRow | list[MapRow]:
        return self._rows()[index]

    def __iter__(self) -> Iterator[MapRow]:
        return iter(self._rows())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == len(self) and self._rows() == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MapRows({self._rows()!r})"

    def params(self, height: int) -> list[tuple[bytes, int, bytes, bytes | None, bytes | None]]:
        """``(path, height, hash, leaf_key, value)`` of every row: what a store inserts,
        made without the MapRow objects."""
        return self._raw.params(height)


class HeadMap:
    """Every non-empty node of the map, in native memory; updated a block at a time."""

    __slots__ = ("_core",)

    def __init__(self, core: Core | None = None) -> None:
        self._core = Core() if core is None else core

    @property
    def height(self) -> int:
        """The block the map stands after (-1: before any)."""
        return self._core.height

    @height.setter
    def height(self, value: int) -> None:
        self._core.height = value

    @property
    def root(self) -> bytes:
        return self._core.root

    @property
    def size(self) -> int:
        return self._core.size

    def get(self, key: bytes) -> MapEntry | None:
        raw = self._core.get(key)
        return None if raw is None else MapEntry.decode(raw)

    def update(self, changes: Mapping[bytes, MapEntry | bytes], height: int) -> MapRows:
        """Apply a block's changes (entries, or their encoded bytes as stored); returns the
        rows to save with it (nodes, then the head row). :meth:`rollback` undoes it if the
        block is not saved after all."""
        return MapRows(self._core.update(changes, height))

    def apply(self, changes: Mapping[bytes, MapEntry | bytes], height: int) -> None:
        """:meth:`update` for a caller that stores no node rows: the same map and root,
        undone by :meth:`rollback` alike, without the rows' cost."""
        self._core.apply(changes, height)

    def enter_leaves(
        self,
        sources: Sequence[LeafSource] | Sequence[tuple[str, int]],
        leaves: Sequence[bytes],
        height: int,
        others: Mapping[bytes, MapEntry | bytes] | None = None,
    ) -> list[tuple[bytes, bytes]]:
        """:meth:`apply` of a block's leaves in one native call: ``leaves[i]`` of
        ``sources[i]`` (a leaf source, or an ``(item_id, version)`` pair) enters as
        ``MapEntry(version, leaf, height, i)`` under its
        :func:`~anchoring.headmap.item_key` (an item's last leaf in the block wins, and wins
        over an entry of ``others``, which enter too). Returns the changed entries as
        ``(key, encoded entry)`` in key order: what the chain saves with the block."""
        return enter_leaves(self._core, sources, leaves, height, TAG_ITEM, others or {})

    def head_row(self) -> MapRow:
        row: MapRow = self._core.head_row(MapRow)
        return row

    def rollback(self) -> None:
        self._core.rollback()

    def commit(self) -> None:
        self._core.commit()

    def node(self, path: int) -> Node | None:
        if not 0 <= path < _PATH_LIMIT:
            return None
        found = self._core.node(path.to_bytes(34, "big"))
        if found is None:
            return None
        digest, key, value = found
        return Node(digest, key, value)

    def prove(self, key: bytes) -> tuple[MapEntry | None, MapProof]:
        raw, siblings, other_key, other_value = self._core.prove(key)
        entry = None if raw is None else MapEntry.decode(raw)
        return entry, MapProof(tuple(siblings), other_key, other_value)

    @classmethod
    def from_rows(cls, rows: Iterable[MapRow]) -> HeadMap:
        """The map as saved (every node row and the head row)."""
        return cls(Core.from_rows(rows))

    def rows(self) -> list[MapRow]:
        """Every node as a row (plus the head row): what a store must hold."""
        return self._core.rows(MapRow)


def row_params(
    rows: Sequence[MapRow], height: int
) -> list[tuple[bytes, int, bytes, bytes | None, bytes | None]]:
    """``(path, height, hash, leaf_key, value)`` of every row, as a store inserts them."""
    if isinstance(rows, MapRows):
        return rows.params(height)
    return [(r.path, height, r.hash, r.leaf_key, r.value) for r in rows]
