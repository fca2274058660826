"""The head map: for every subject (item, party, device), where its latest record is sealed.

Each block header (version 2) commits to the root of this map as it stands after the
block, so a proof bundle can show that it holds *every* event of an item as of a
checkpoint (the item's entry names its last version and leaf), and that an id the ledger
never recorded is absent.

Construction ``assay-headmap-v1`` (normative: docs/proof-bundle.md §10.2) — a sparse Merkle
tree of depth 256 with shortcut leaves:

* key      = SHA-256(tag ‖ id), tag ``item\\x00``, ``party\\x00`` or ``device\\x00``
  (a device's id is ``party/device``); bit 0 is the key's most significant bit;
* value    = u64be(version) ‖ leaf hash (32) ‖ u64be(block height) ‖ u64be(leaf index):
  the subject's latest sealed record;
* a subtree with no entry hashes to 32 zero bytes (``EMPTY``); a subtree with exactly
  one entry hashes to that entry's leaf hash ``SHA-256(0x02 ‖ key ‖ value)`` (it sits as
  high as it is alone); any other subtree is ``SHA-256(0x03 ‖ left ‖ right)``.

The root is therefore a function of the set of entries alone. A proof lists the sibling
hashes from where the key's path ends up to the root (``None`` for ``EMPTY``): the path
ends at the key's own leaf (membership), at an empty subtree, or at the single leaf of
another key sharing the path so far (both non-membership).

:class:`HeadMap` keeps every non-empty node, updates only the paths of the keys a block
changes (O(k log N) hashes for k keys among N), and hands back the changed nodes as rows
to save in the same transaction as the block; :func:`prove_from` answers a proof from
any node source (memory, or the rows a store returns).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from anchoring.errors import ProofError
from anchoring.hasher import HEADMAP

KEY_SIZE = 32
DEPTH = 256
EMPTY = bytes(32)
VALUE = struct.Struct(">Q32sQQ")
TAG_ITEM, TAG_PARTY, TAG_DEVICE = b"item\x00", b"party\x00", b"device\x00"

_sha256 = hashlib.sha256
_LEAF = HEADMAP.leaf_prefix
_NODE = HEADMAP.node_prefix
_META_PATH = (1 << 9) - 1  # no real path has depth 511: the row that holds the map's head


def item_key(item_id: str) -> bytes:
    return _sha256(TAG_ITEM + item_id.encode("utf-8")).digest()


def party_key(party_id: str) -> bytes:
    return _sha256(TAG_PARTY + party_id.encode("utf-8")).digest()


def device_key(party_id: str, device_id: str) -> bytes:
    return _sha256(TAG_DEVICE + f"{party_id}/{device_id}".encode()).digest()


@dataclass(frozen=True)
class MapEntry:
    """A subject's latest sealed record."""

    version: int
    leaf: bytes
    height: int
    leaf_index: int

    def encode(self) -> bytes:
        return VALUE.pack(self.version, self.leaf, self.height, self.leaf_index)

    @classmethod
    def decode(cls, raw: bytes) -> MapEntry:
        version, leaf, height, index = VALUE.unpack(raw)
        return cls(version, leaf, height, index)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "leaf": self.leaf.hex(),
            "height": self.height,
            "leaf_index": self.leaf_index,
        }


def leaf_node(key: bytes, value: bytes) -> bytes:
    return _sha256(_LEAF + key + value).digest()


def path_id(depth: int, key: int) -> int:
    """The node at ``depth`` on the path of ``key`` (an int of 256 bits)."""
    return ((key >> (DEPTH - depth)) << 9) | depth


def path_bytes(path: int) -> bytes:
    return path.to_bytes(34, "big")


@dataclass(frozen=True)
class Node:
    hash: bytes
    #: The key of the single entry placed here (None: an interior node).
    leaf_key: bytes | None = None
    value: bytes | None = None


@dataclass(frozen=True)
class MapRow:
    """A node to save: ``path`` (34 bytes), its hash, and its entry if it is a leaf."""

    path: bytes
    hash: bytes
    leaf_key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class MapProof:
    """Siblings from the end of the key's path up to the root (None for ``EMPTY``), and
    for a non-membership proof that ends at another key's leaf, that key and value."""

    siblings: tuple[bytes | None, ...]
    other_key: bytes | None = None
    other_value: bytes | None = None


class HeadMap:
    """Every non-empty node of the map, in memory; updated a block at a time."""

    def __init__(self) -> None:
        self._hashes: dict[int, bytes] = {}
        self._leaves: dict[int, int] = {}  # path -> key placed there
        self._values: dict[int, bytes] = {}  # key -> value
        self._undo: dict[int, tuple[bytes | None, int | None]] | None = None
        self._undo_values: dict[int, bytes | None] | None = None
        self._touched: set[int] = set()
        self.height = -1  # the block the map stands after (-1: before any)

    @property
    def root(self) -> bytes:
        return self._hashes.get(path_id(0, 0), EMPTY)

    @property
    def size(self) -> int:
        return len(self._values)

    def get(self, key: bytes) -> MapEntry | None:
        raw = self._values.get(int.from_bytes(key, "big"))
        return None if raw is None else MapEntry.decode(raw)

    # ----- updating ------------------------------------------------------------------

    def update(self, changes: Mapping[bytes, MapEntry | bytes], height: int) -> list[MapRow]:
        """Apply a block's changes (entries, or their encoded bytes as stored); returns the
        rows to save with it (nodes, then the head row). :meth:`rollback` undoes it if the
        block is not saved after all."""
        self._undo, self._undo_values, self._touched = {}, {}, set()
        batch = {int.from_bytes(k, "big"): _encoded(e) for k, e in changes.items()}
        for key, value in batch.items():
            self._undo_values.setdefault(key, self._values.get(key))
            self._values[key] = value
        if batch:
            self._update(0, sorted(batch), set(batch))
        self._undo_values[-1] = self.height.to_bytes(8, "big", signed=True)
        self.height = height
        rows = [self._row(path) for path in sorted(self._touched)]
        rows.append(self.head_row())
        return rows

    def apply(self, changes: Mapping[bytes, MapEntry | bytes], height: int) -> None:
        """:meth:`update` for a caller that stores no node rows (the native map skips
        making them; here they are made and dropped)."""
        self.update(changes, height)

    def head_row(self) -> MapRow:
        meta = struct.pack(">qQ", self.height, self.size)
        return MapRow(path_bytes(_META_PATH), self.root, None, meta)

    def rollback(self) -> None:
        if self._undo is None or self._undo_values is None:
            return
        for path, (old_hash, old_leaf) in self._undo.items():
            _restore(self._hashes, path, old_hash)
            _restore(self._leaves, path, old_leaf)
        height = self._undo_values.pop(-1)
        assert height is not None
        self.height = int.from_bytes(height, "big", signed=True)
        for key, old_value in self._undo_values.items():
            _restore(self._values, key, old_value)
        self.commit()

    def commit(self) -> None:
        self._undo = self._undo_values = None
        self._touched = set()

    def _remember(self, path: int) -> None:
        assert self._undo is not None
        if path not in self._undo:
            self._undo[path] = (self._hashes.get(path), self._leaves.get(path))
        self._touched.add(path)

    def _update(self, depth: int, keys: list[int], changed: set[int]) -> bytes:
        """Rebuild the subtree at ``depth`` on the path of ``keys`` (sorted, non-empty)."""
        path = path_id(depth, keys[0])
        placed = self._leaves.get(path)
        if placed is not None or path not in self._hashes:
            # A leaf (or nothing) here: with one key left it is (or becomes) this leaf.
            if placed is not None and placed not in changed:
                keys = sorted([*keys, placed])  # the resident leaf moves down with them
            if len(keys) == 1:
                key = keys[0]
                digest = leaf_node(key.to_bytes(32, "big"), self._values[key])
                self._remember(path)
                self._hashes[path] = digest
                self._leaves[path] = key
                return digest
            if placed is not None:
                self._remember(path)
                del self._leaves[path]
        bit = 1 << (DEPTH - 1 - depth)
        split = bisect_left(keys, ((keys[0] >> (DEPTH - depth)) << (DEPTH - depth)) | bit)
        left = self._update(depth + 1, keys[:split], changed) if split else None
        right = self._update(depth + 1, keys[split:], changed) if split < len(keys) else None
        if left is None:
            left = self._hashes.get(path_id(depth + 1, keys[0] & ~bit), EMPTY)
        if right is None:
            right = self._hashes.get(path_id(depth + 1, keys[0] | bit), EMPTY)
        digest = _sha256(_NODE + left + right).digest()
        self._remember(path)
        self._hashes[path] = digest
        return digest

    def _row(self, path: int) -> MapRow:
        digest = self._hashes[path]
        key = self._leaves.get(path)
        if key is None:
            return MapRow(path_bytes(path), digest, None, None)
        return MapRow(path_bytes(path), digest, key.to_bytes(32, "big"), self._values[key])

    # ----- reading -------------------------------------------------------------------

    def node(self, path: int) -> Node | None:
        digest = self._hashes.get(path)
        if digest is None:
            return None
        key = self._leaves.get(path)
        if key is None:
            return Node(digest)
        return Node(digest, key.to_bytes(32, "big"), self._values[key])

    def prove(self, key: bytes) -> tuple[MapEntry | None, MapProof]:
        return prove_from(self.node, key)

    @classmethod
    def from_rows(cls, rows: Iterable[MapRow]) -> HeadMap:
        """The map as saved (every node row and the head row)."""
        m = cls()
        for row in rows:
            path = int.from_bytes(row.path, "big")
            if path == _META_PATH:
                assert row.value is not None
                m.height = struct.unpack(">qQ", row.value)[0]
                continue
            m._hashes[path] = row.hash
            if row.leaf_key is not None and row.value is not None:
                key = int.from_bytes(row.leaf_key, "big")
                m._leaves[path] = key
                m._values[key] = row.value
        return m

    def rows(self) -> list[MapRow]:
        """Every node as a row (plus the head row): what a store must hold."""
        out = [self._row(path) for path in self._hashes]
        out.append(self.head_row())
        return sorted(out, key=lambda row: row.path)


def _encoded(entry: MapEntry | bytes) -> bytes:
    if isinstance(entry, bytes):
        if len(entry) != VALUE.size:
            raise ValueError(f"an encoded entry must be {VALUE.size} bytes")
        return entry
    return entry.encode()


def _restore(table: dict[int, Any], key: int, value: Any) -> None:
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value


def head_of(row: MapRow) -> tuple[int, int, bytes]:
    """``(height, size, root)`` of a map's head row."""
    assert row.value is not None
    height, size = struct.unpack(">qQ", row.value)
    return height, size, row.hash


META_PATH = path_bytes(_META_PATH)


def proof_paths(key: bytes, max_depth: int = DEPTH) -> list[bytes]:
    """The node and sibling paths a proof for ``key`` may need, down to ``max_depth``."""
    k = int.from_bytes(key, "big")
    out = [path_bytes(path_id(0, k))]
    for depth in range(1, max_depth + 1):
        out.append(path_bytes(path_id(depth, k)))
        out.append(path_bytes(path_id(depth, k ^ (1 << (DEPTH - depth)))))
    return out


def prove_from(node: Callable[[int], Node | None], key: bytes) -> tuple[MapEntry | None, MapProof]:
    """The entry of ``key`` (None if absent) and its proof, reading nodes through ``node``
    (path id → node or None); raises LookupError if a needed node is missing."""
    k = int.from_bytes(key, "big")
    siblings: list[bytes | None] = []
    depth = 0
    while True:
        here = node(path_id(depth, k))
        if here is None:
            siblings.reverse()
            return None, MapProof(tuple(siblings))
        if here.leaf_key is not None:
            assert here.value is not None
            siblings.reverse()
            if here.leaf_key == key:
                return MapEntry.decode(here.value), MapProof(tuple(siblings))
            return None, MapProof(tuple(siblings), here.leaf_key, here.value)
        if depth == DEPTH:
            raise LookupError("the map's nodes are inconsistent: an interior node at depth 256")
        sibling = node(path_id(depth + 1, k ^ (1 << (DEPTH - 1 - depth))))
        siblings.append(None if sibling is None else sibling.hash)
        depth += 1


# ----- verifying -------------------------------------------------------------------------


def root_of(key: bytes, entry: MapEntry | None, proof: MapProof) -> bytes:
    """The root a proof implies for ``key`` having ``entry`` (None: absent), after the
    checks that make the proof canonical; :class:`ProofError` (``map_proof``) if not."""
    depth = len(proof.siblings)
    if len(key) != KEY_SIZE or depth > DEPTH:
        raise ProofError("map_proof", f"a proof of {depth} levels for a {len(key)}-byte key")
    k = int.from_bytes(key, "big")
    if entry is not None:
        if proof.other_key is not None:
            raise ProofError("map_proof", "a membership proof names another key")
        node = leaf_node(key, entry.encode())
    elif proof.other_key is not None:
        other, value = proof.other_key, proof.other_value
        if len(other) != KEY_SIZE or value is None or len(value) != VALUE.size:
            raise ProofError("map_proof", "the other entry is malformed")
        o = int.from_bytes(other, "big")
        if o == k or (depth and (o >> (DEPTH - depth)) != (k >> (DEPTH - depth))):
            raise ProofError("map_proof", "the other entry is not on the key's path")
        node = leaf_node(other, value)
    else:
        node = EMPTY
    if depth and proof.siblings[0] is None and node != EMPTY:
        # A single entry beside an empty subtree would sit one level higher.
        raise ProofError("map_proof", "the proof does not end where the entry sits")
    for level in range(depth - 1, -1, -1):
        sibling = proof.siblings[depth - 1 - level]
        if sibling is not None and (len(sibling) != 32 or sibling == EMPTY):
            raise ProofError("map_proof", "a sibling is not a 32-byte hash of a subtree")
        other_side = EMPTY if sibling is None else sibling
        if (k >> (DEPTH - 1 - level)) & 1:
            node = _sha256(_NODE + other_side + node).digest()
        else:
            node = _sha256(_NODE + node + other_side).digest()
    return node


def verify_map(root: bytes, key: bytes, entry: MapEntry | None, proof: MapProof) -> None:
    """Check that ``key`` has ``entry`` (or, for None, no entry) in the map with ``root``."""
    computed = root_of(key, entry, proof)
    if not hmac.compare_digest(computed, root):
        what = "its entry" if entry is not None else "no entry"
        raise ProofError(
            "map_root",
            f"the proof that the key has {what} leads to {computed.hex()}, "
            f"the head commits to {root.hex()}",
        )
