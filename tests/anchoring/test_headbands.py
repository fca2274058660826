"""The stored map state (anchoring/headbands.py): band rows from the native core equal the
reference's, a state kept up to date block by block equals one built from scratch, and a
proof composed from the rows a store would return is byte for byte ``HeadMap.prove``'s."""

from __future__ import annotations

import random

import pytest

from anchoring.headbands import (
    HEAD_ID,
    BandRow,
    MapState,
    band_rows,
    compose,
    read_ranges,
    state_of,
)
from anchoring.headmap import HeadMap as Reference
from anchoring.headmap import MapEntry, root_of
from anchoring.headmap_native import HeadMap


def entry(rng: random.Random, height: int) -> bytes:
    return MapEntry(rng.randrange(1, 50), rng.randbytes(32), height, rng.randrange(9)).encode()


def key_with(prefix_bits: int, bits: int, rng: random.Random) -> bytes:
    """A random key whose first ``bits`` bits are ``prefix_bits``."""
    rest = rng.getrandbits(256 - bits) if bits < 256 else 0
    return ((prefix_bits << (256 - bits)) | rest).to_bytes(32, "big")


def shapes(rng: random.Random) -> dict[str, list[bytes]]:
    """Key sets: empty, one, two, a few, many, long shared prefixes, and single entries that
    sit exactly at, just above and just below the band depths."""
    base = rng.getrandbits(30)
    out = {
        "empty": [],
        "one": [rng.randbytes(32)],
        "two": [rng.randbytes(32) for _ in range(2)],
        "few": [rng.randbytes(32) for _ in range(7)],
        "many": [rng.randbytes(32) for _ in range(3000)],
        "shared-30-bits": [key_with(base, 30, rng) for _ in range(5)],
        "shared-200-bits": [key_with(base, 200, rng) for _ in range(2)],
    }
    for depth in (3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17):
        # Two keys that part at ``depth``: each is alone below it (a shortcut at depth+1).
        prefix = rng.getrandbits(depth)
        out[f"part-at-{depth}"] = [
            key_with((prefix << 1) | 0, depth + 1, rng),
            key_with((prefix << 1) | 1, depth + 1, rng),
            *([rng.randbytes(32)] if depth % 2 else []),
        ]
    # Many keys under one 8-bit prefix, one alone under another.
    out["crowd-and-loner"] = [key_with(0xAB, 8, rng) for _ in range(400)] + [key_with(0x01, 8, rng)]
    return out


def reads(state: dict[int, BandRow], entries: dict[bytes, bytes], key: bytes):  # type: ignore[no-untyped-def]
    """What a store returns for ``key``: the rows read_ranges names."""
    ranges, low, high = read_ranges(key)
    bands = {
        i: row
        for i, row in state.items()
        if i == HEAD_ID or any(first <= i <= last for first, last in ranges)
    }
    return bands, sorted((k, v) for k, v in entries.items() if low <= k < high)


def apply_state(state: dict[int, BandRow], entries: dict[bytes, bytes], write: MapState) -> None:
    """A write as the recorders do it: upsert entries, delete empty bands, upsert the rest."""
    entries.update(write.entries)
    for row in (*write.bands, write.head):
        if row.hash is None:
            state.pop(row.id, None)
        else:
            state[row.id] = row


def queries(keys: list[bytes], rng: random.Random) -> list[bytes]:
    near = [bytes([*k[:20], *rng.randbytes(12)]) for k in keys[:20]]
    return keys[:40] + near + [rng.randbytes(32) for _ in range(20)] + [bytes(32), b"\xff" * 32]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_composed_proofs_are_the_maps_own(seed: int) -> None:
    rng = random.Random(seed)
    for name, keys in shapes(rng).items():
        m, ref = HeadMap(), Reference()
        changes = {k: entry(rng, 0) for k in keys}
        m.apply(changes, 0)
        ref.apply(changes, 0)
        assert m.root == ref.root, name
        built = state_of(m, None)
        state: dict[int, BandRow] = {}
        entries: dict[bytes, bytes] = {}
        apply_state(state, entries, built)
        assert [r for r in built.bands] == band_rows(ref.node, keys), name
        for key in queries(keys, rng):
            got = compose(key, *reads(state, entries, key))
            assert got == m.prove(key) == ref.prove(key), (name, key.hex())
            assert root_of(key, *got) == m.root


@pytest.mark.parametrize("seed", [4, 5])
def test_a_state_kept_block_by_block_equals_one_built_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    m = HeadMap()
    state: dict[int, BandRow] = {}
    entries: dict[bytes, bytes] = {}
    known: list[bytes] = []
    for height in range(12):
        fresh = [rng.randbytes(32) for _ in range(rng.choice([1, 2, 30, 300]))]
        if height % 3 == 2:
            fresh = [key_with(int.from_bytes(known[0][:2], "big"), 16, rng)] if known else fresh
        again = rng.sample(known, min(len(known), 10))
        changes = {k: entry(rng, height) for k in fresh + again}
        m.apply(changes, height)
        m.commit()
        known += fresh
        write = state_of(m, sorted(changes.items()))
        apply_state(state, entries, write)
        scratch: dict[int, BandRow] = {}
        scratch_entries: dict[bytes, bytes] = {}
        apply_state(scratch, scratch_entries, state_of(m, None))
        assert state == scratch and entries == scratch_entries, height
        for key in [*rng.sample(known, min(5, len(known))), rng.randbytes(32)]:
            assert compose(key, *reads(state, entries, key)) == m.prove(key)


def test_rows_that_do_not_fit_together_are_refused() -> None:
    rng = random.Random(9)
    m = HeadMap()
    keys = [key_with(0x1234, 16, rng) for _ in range(3)] + [rng.randbytes(32) for _ in range(50)]
    m.apply({k: entry(rng, 0) for k in keys}, 0)
    state: dict[int, BandRow] = {}
    entries: dict[bytes, bytes] = {}
    apply_state(state, entries, state_of(m, None))
    bands, rows = reads(state, entries, keys[0])
    with pytest.raises(LookupError, match="band row"):
        compose(keys[0], bands, rows[1:])  # an entry under the key's prefix lost
    with pytest.raises(LookupError, match="no head row"):
        compose(keys[0], {i: r for i, r in bands.items() if i != HEAD_ID}, rows)
    flipped = {i: BandRow(i, bytes(32)) if i == (8 << 16) | 0x12 else r for i, r in bands.items()}
    with pytest.raises(LookupError, match="band rows at depth 8"):
        compose(keys[0], flipped, rows)
