"""The head map in the seal: every version 2 block commits to the map of every item's
latest leaf, its changed entries are saved with the block, proofs work at any sealed height,
a chain of version 1 blocks switches over with every item already anchored, and the audit
recomputes every map root and stored entry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.header import MAP_HEADER_VERSION
from anchoring.headmap import HeadMap, MapEntry, item_key, prove_from, verify_map
from anchoring.sealer import Anchor, AnchorError, SealPolicy
from ledger.config import store_env
from tests.anchoring.stores import new_anchor, record_items
from tests.support import World, make_world

ORIGIN = "assay.test/headmap"
POLICY = SealPolicy(max_events=5, max_seconds=60)


def rebuilt_root(chain: Chain, height: int) -> tuple[bytes, int]:
    """The map of every item's last leaf up to ``height``, from the leaf index alone."""
    latest: dict[str, MapEntry] = {}
    for h in range(height + 1):
        for row in chain.recorder.leaves_at(h):  # type: ignore[attr-defined]
            latest[row.item_id] = MapEntry(row.version, row.leaf_hash, h, row.leaf_index)
    m = HeadMap()
    m.update({item_key(item): entry for item, entry in latest.items()}, height)
    return m.root, m.size


def setup(tmp_path: Path, database_url: str = "", **kw: object) -> tuple[World, Chain, Anchor]:
    world = make_world(tmp_path, database_url)
    chain = Chain(store_env(database_url, tmp_path / "chain.sqlite"))
    signer = Signer.from_seed(ORIGIN, bytes(32))
    anchor = new_anchor(world.ledger, chain, signer, tmp_path, origin=ORIGIN, policy=POLICY, **kw)
    return world, chain, anchor


def test_every_block_commits_to_the_map_of_latest_leaves(tmp_path: Path, database_url: str) -> None:
    world, chain, anchor = setup(tmp_path, database_url)
    record_items(world, 0, 6)
    anchor.catch_up()
    headers = chain.headers()
    assert len(headers) >= 5 and {h.version for h in headers} == {MAP_HEADER_VERSION}
    for header in headers:
        assert (header.map_root, header.map_size) == rebuilt_root(chain, header.height)
    assert chain.head_map().root == headers[-1].map_root
    # A proof at an older height reads the map as that block left it (newer heights bring
    # the chain's map forward, an older one after them rebuilds it).
    for header in (headers[1], headers[len(headers) // 2], headers[-1], headers[0], headers[2]):
        nodes = chain.head_map(header.height).node
        for n in range(7):
            key = item_key(f"urn:item:{n}")
            entry, proof = prove_from(nodes, key)
            assert header.map_root is not None
            verify_map(header.map_root, key, entry, proof)
            assert chain.map_proof_at(key, header.height) == (entry, proof)
            if entry is not None:
                assert entry.height <= header.height
    report = audit(world.ledger, chain, anchor.signer.verifier())
    assert report.ok, report.divergence


def test_a_restarted_anchor_carries_on_from_the_stored_map(tmp_path: Path) -> None:
    world, chain, anchor = setup(tmp_path)
    record_items(world, 0, 3)
    anchor.catch_up()
    record_items(world, 3, 3)
    again = new_anchor(
        world.ledger, Chain(store_env("", tmp_path / "chain.sqlite")), anchor.signer, tmp_path,
        origin=ORIGIN, policy=POLICY,
    )  # fmt: skip
    assert again.map is not None and again.map.root == chain.headers()[-1].map_root
    again.catch_up()
    head = chain.headers()[-1]
    assert (head.map_root, head.map_size) == rebuilt_root(chain, head.height)
    assert audit(world.ledger, chain).ok


def test_a_version_1_chain_switches_with_every_item_in_the_first_map(tmp_path: Path) -> None:
    world, chain, old = setup(tmp_path, header_version=1)
    record_items(world, 0, 4)
    old.catch_up()
    v1_blocks = len(chain.headers())
    record_items(world, 4, 1)
    new = new_anchor(world.ledger, chain, old.signer, tmp_path, origin=ORIGIN, policy=POLICY)
    new.catch_up()
    headers = chain.headers()
    assert [h.version for h in headers] == [1] * v1_blocks + [2] * (len(headers) - v1_blocks)
    first = headers[v1_blocks]
    assert first.map_size == 5  # items 0..3 from the version 1 blocks, and item 4
    for header in headers[v1_blocks:]:
        assert (header.map_root, header.map_size) == rebuilt_root(chain, header.height)
    assert audit(world.ledger, chain).ok
    with pytest.raises(AnchorError):  # and never back
        new_anchor(world.ledger, chain, old.signer, tmp_path, origin=ORIGIN, policy=POLICY,
                   header_version=1)  # fmt: skip


@pytest.mark.parametrize("column", ["key", "value"])
def test_the_audit_finds_an_altered_map_entry(tmp_path: Path, column: str) -> None:
    world, _chain, anchor = setup(tmp_path)
    record_items(world, 0, 3)
    anchor.catch_up()
    db = tmp_path / "chain.sqlite"
    with sqlite3.connect(db) as conn:
        key, raw = conn.execute(
            f"SELECT key, {column} FROM anchored_map_entries WHERE height=1 ORDER BY key LIMIT 1"
        ).fetchone()
        changed = bytes([raw[0] ^ 1]) + bytes(raw[1:])
        conn.execute(
            f"UPDATE anchored_map_entries SET {column}=? WHERE height=1 AND key=?", (changed, key)
        )
    conn.close()
    report = audit(world.ledger, Chain(store_env("", db)))
    assert report.divergence is not None and "block 1: stored map entry" in report.divergence


def test_the_audit_finds_a_missing_map_entry(tmp_path: Path) -> None:
    world, _chain, anchor = setup(tmp_path)
    record_items(world, 0, 3)
    anchor.catch_up()
    db = tmp_path / "chain.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "DELETE FROM anchored_map_entries WHERE height=1 AND key=(SELECT MAX(key) "
            "FROM anchored_map_entries WHERE height=1)"
        )
    conn.close()
    report = audit(world.ledger, Chain(store_env("", db)))
    assert report.divergence is not None
    assert "block 1: map entry" in report.divergence and "was not stored" in report.divergence


def test_the_audit_finds_an_added_map_entry(tmp_path: Path) -> None:
    world, _chain, anchor = setup(tmp_path)
    record_items(world, 0, 3)
    anchor.catch_up()
    db = tmp_path / "chain.sqlite"
    forged = MapEntry(1, bytes(32), 1, 0).encode()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO anchored_map_entries VALUES (1, ?, ?)",
            (item_key("urn:item:forged"), forged),
        )
    conn.close()
    report = audit(world.ledger, Chain(store_env("", db)))
    assert report.divergence is not None and "block 1: stored map entry" in report.divergence
