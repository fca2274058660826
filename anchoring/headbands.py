"""The head map's current state as a store keeps it, and proofs composed from it.

Readers used to rebuild the whole map (:mod:`anchoring.headmap`) in memory before the first
proof (seconds at a million items). Beside the per-block entries the chain stores the map
*as its newest block left it* (docs/architecture.md, "The head map on disk"):

* every current entry, keyed by its map key;
* the **bands**: the subtree under every non-empty 4-, 8- and 12-bit key prefix, as
  a :class:`BandRow` (at most 16 + 256 + 4,096 rows) — its hash and, when it holds
  exactly one entry (the shortcut rule: it then hashes to that entry's leaf hash), that entry;
* the **head** row: the height the state stands at, the root and the map's size.

A proof for key K reads the head, the 16 rows of band 4, the (at most) 16 rows of each next
band under K's prefix in the band before, and the entries under K's 12-bit prefix
(:func:`read_ranges` names them: some 290 rows at a million items; a band at depth 16 would
cut that to ~70 but cost a seal ~1,000 more scattered row writes per 1,000 keys:
bench/results/headmap-bands-2026-12-04.md), and
:func:`compose` makes from them exactly the proof :meth:`HeadMap.prove` gives. The rows an
update changes come from the native core (``band_rows``, native/src/bands.rs);
:func:`band_rows` here is the reference, over any node lookup.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from assay_headmap import band_rows as native_band_rows
from assay_headmap import entries as native_entries

from anchoring.hasher import HEADMAP
from anchoring.headmap import DEPTH, EMPTY, MapEntry, MapProof, Node, path_id
from anchoring.headmap_native import HeadMap

BANDS = (4, 8, 12)
LAST = BANDS[-1]  # the entries under a key's LAST-bit prefix are read from the store
STEP = 4  # bits from one band to the next
HEAD_ID = -1  # the head row's id in the bands table
_META = struct.Struct(">qQ")  # height, size: as the map's head row (headmap.head_of) packs them
_NODE = HEADMAP.node_prefix


def band_id(depth: int, prefix: int) -> int:
    return (depth << 16) | prefix


@dataclass(frozen=True)
class BandRow:
    """The subtree under a prefix: ``hash`` (None: empty, a row to delete) and, when it
    holds exactly one entry, that entry's key and value. The head row (``id`` HEAD_ID)
    holds the root and, as ``value``, the height and size (:func:`head_of`)."""

    id: int
    hash: bytes | None
    leaf_key: bytes | None = None
    value: bytes | None = None


@dataclass(frozen=True)
class MapState:
    """What a seal writes beside the block: the entries it changed, the band rows over
    them (empty ones to delete) and the new head row."""

    entries: Sequence[tuple[bytes, bytes]]
    bands: Sequence[BandRow]
    head: BandRow


def head_row(height: int, size: int, root: bytes) -> BandRow:
    return BandRow(HEAD_ID, root, None, _META.pack(height, size))


def head_of(row: BandRow) -> tuple[int, int]:
    """``(height, size)`` of a head row."""
    assert row.value is not None
    height, size = _META.unpack(row.value)
    return height, size


def state_of(m: HeadMap, entries: Sequence[tuple[bytes, bytes]] | None) -> MapState:
    """The state to write after ``m`` took a block's changed ``entries`` (key order; None:
    every entry, a build from scratch)."""
    core = m._core
    if entries is None:
        entries = native_entries(core)
    rows = [BandRow(*r) for r in native_band_rows(core, [key for key, _ in entries])]
    return MapState(entries, rows, head_row(m.height, m.size, m.root))


def band_rows(node: Callable[[int], Node | None], keys: Iterable[bytes]) -> list[BandRow]:
    """The reference of the native ``band_rows``: the band rows over ``keys``, by id."""
    ids = sorted(
        {band_id(d, int.from_bytes(k[:2], "big") >> (16 - d)) for k in keys for d in BANDS}
    )
    out = []
    for i in ids:
        depth, prefix = i >> 16, i & 0xFFFF
        key = (prefix << (DEPTH - depth)).to_bytes(32, "big")
        out.append(_subtree(node, i, depth, key))
    return out


def _subtree(node: Callable[[int], Node | None], i: int, depth: int, key: bytes) -> BandRow:
    k = int.from_bytes(key, "big")
    for d in range(depth + 1):
        here = node(path_id(d, k))
        if here is None:
            return BandRow(i, None)
        if here.leaf_key is not None:
            same = int.from_bytes(here.leaf_key, "big") >> (DEPTH - depth) == k >> (DEPTH - depth)
            return BandRow(i, here.hash, here.leaf_key, here.value) if same else BandRow(i, None)
    assert here is not None
    return BandRow(i, here.hash)


# ----- reading a proof -------------------------------------------------------------------


def read_ranges(key: bytes) -> tuple[list[tuple[int, int]], bytes, bytes]:
    """What a proof for ``key`` reads besides the head row: the id range of each band under
    the key's prefix in the band before, and the key range ``[low, high)`` of the entries
    under its ``LAST``-bit prefix."""
    p16 = int.from_bytes(key[:2], "big")
    ranges = []
    for depth in BANDS:
        first = (p16 >> (16 - depth + STEP)) << STEP
        ranges.append((band_id(depth, first), band_id(depth, first | ((1 << STEP) - 1))))
    first, last = (p16 >> (16 - LAST)) << (16 - LAST), p16 | ((1 << (16 - LAST)) - 1)
    high = (last + 1).to_bytes(2, "big") if last < 0xFFFF else b"\xff" * 33
    return ranges, first.to_bytes(2, "big"), high


def compose(
    key: bytes, bands: Mapping[int, BandRow], entries: Sequence[tuple[bytes, bytes]]
) -> tuple[MapEntry | None, MapProof]:
    """The entry of ``key`` and its proof, from the rows :func:`read_ranges` names (bands
    by id, the head among them); LookupError if the rows do not fit together."""
    head = bands.get(HEAD_ID)
    if head is None or head.hash is None:
        raise LookupError("the stored map state has no head row")
    k = int.from_bytes(key, "big")
    top: list[bytes | None] = []  # siblings root-first, down to depth LAST
    start = 0
    above = head.hash  # the node at ``start`` on the key's path, as the band before has it
    for band in BANDS:
        level = _levels(bands, band, start, k >> (DEPTH - start))
        if _hash(level[start].get(k >> (DEPTH - start))) != above:
            raise LookupError(f"the stored band rows at depth {band} do not give the node above")
        for d in range(start, band):
            here = level[d].get(k >> (DEPTH - d))
            if here is None or here.leaf_key is not None:
                return _ended(key, here, top)
            sibling = level[d + 1].get((k >> (DEPTH - d - 1)) ^ 1)
            top.append(None if sibling is None else sibling.hash)
        above = _hash(level[band].get(k >> (DEPTH - band)))
        start = band
    here = bands.get(band_id(LAST, k >> (DEPTH - LAST)))
    if here is None or here.leaf_key is not None:
        return _ended(key, here, top)
    under = HeadMap()
    under.apply(dict(entries), 0)
    at_band = under.node(path_id(LAST, k))
    if at_band is None or at_band.hash != here.hash or at_band.leaf_key is not None:
        raise LookupError("the stored entries do not give their band row's hash")
    entry, proof = under.prove(key)
    siblings = proof.siblings[: len(proof.siblings) - LAST] + tuple(reversed(top))
    return entry, MapProof(siblings, proof.other_key, proof.other_value)


def _ended(
    key: bytes, here: BandRow | None, top: list[bytes | None]
) -> tuple[MapEntry | None, MapProof]:
    siblings = tuple(reversed(top))
    if here is None:
        return None, MapProof(siblings)
    assert here.leaf_key is not None and here.value is not None
    if here.leaf_key == key:
        return MapEntry.decode(here.value), MapProof(siblings)
    return None, MapProof(siblings, here.leaf_key, here.value)


def _levels(
    bands: Mapping[int, BandRow], band: int, start: int, prefix: int
) -> dict[int, dict[int, BandRow]]:
    """The subtrees from depth ``start`` (under ``prefix``) down to ``band``, by depth and
    prefix, combined from the band's rows by the shortcut rule."""
    width = band - start
    base = prefix << width
    level: dict[int, BandRow] = {}
    for p in range(base, base + (1 << width)):
        row = bands.get(band_id(band, p))
        if row is not None and row.hash is not None:
            level[p] = row
    out = {band: level}
    for d in range(band - 1, start - 1, -1):
        up: dict[int, BandRow] = {}
        for p in {q >> 1 for q in level}:
            left, right = level.get(p << 1), level.get((p << 1) | 1)
            one = right if left is None else left if right is None else None
            if one is not None and one.leaf_key is not None:
                up[p] = one  # a single entry sits as high as it is alone
            else:
                pair = _hash(left) + _hash(right)
                up[p] = BandRow(0, hashlib.sha256(_NODE + pair).digest())
        out[d] = level = up
    return out


def _hash(row: BandRow | None) -> bytes:
    return EMPTY if row is None or row.hash is None else row.hash
