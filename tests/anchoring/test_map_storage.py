"""The head map on disk: a seal stores only the entries its block changed, and a data dir
written before that (every changed node in ``anchored_map``) opens with its entries derived
from those node rows, audits clean, and carries on sealing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.headmap import MapEntry
from anchoring.headmap_native import HeadMap, row_params
from anchoring.sealer import SealPolicy
from ledger.config import store_env
from tests.anchoring.stores import new_anchor, record_items
from tests.support import make_world

ORIGIN = "assay.test/map-storage"
POLICY = SealPolicy(max_events=5, max_seconds=60)


def stored_entries(chain: Chain, top: int) -> dict[int, list[tuple[bytes, bytes]]]:
    return {h: chain.map_store.map_entries_at(h) for h in range(top + 1)}


def write_old_layout(chain: Chain, top: int) -> None:
    """Turn the chain's store into one the previous version wrote: each block's changed
    node rows (and the map's head row) in ``anchored_map``, as ``HeadMap.update`` hands
    them back, and no entries table rows."""
    recorder = chain.recorder
    postgres = hasattr(recorder, "old_map_table")
    table = recorder.old_map_table if postgres else "anchored_map"  # type: ignore[attr-defined]
    mark = "%s" if postgres else "?"
    blob = "BYTEA" if postgres else "BLOB"
    m = HeadMap()
    rows = []
    for height in range(top + 1):
        changes = {
            key: MapEntry.decode(value) for key, value in chain.map_store.map_entries_at(height)
        }
        rows += row_params(m.update(changes, height), height)
        m.commit()
    with recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.execute(
            f"CREATE TABLE {table} (path {blob} NOT NULL, height BIGINT NOT NULL, "
            f"hash {blob} NOT NULL, leaf_key {blob}, value {blob}, PRIMARY KEY (path, height))"
        )
        c.executemany(f"INSERT INTO {table} VALUES ({','.join([mark] * 5)})", rows)
        entries = recorder.map_table if postgres else "anchored_map_entries"  # type: ignore[attr-defined]
        c.execute(f"DELETE FROM {entries}")


def test_an_older_data_dir_opens_with_its_entries_derived(
    tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    env = store_env(database_url, tmp_path / "chain.sqlite")
    chain = Chain(env)
    signer = Signer.from_seed(ORIGIN, bytes(32))
    anchor = new_anchor(world.ledger, chain, signer, tmp_path, origin=ORIGIN, policy=POLICY)
    record_items(world, 0, 5)
    record_items(world, 5, 4)
    anchor.catch_up()
    top = chain.headers()[-1].height
    before = stored_entries(chain, top)
    assert sum(map(len, before.values())) > top + 1  # blocks changed several entries each
    write_old_layout(chain, top)
    assert stored_entries(chain, top) == {h: [] for h in range(top + 1)}

    reopened = Chain(env)
    assert stored_entries(reopened, top) == before
    assert audit(world.ledger, reopened).ok
    # Derived once: reopening again changes nothing.
    assert reopened.map_store.migrate_map_nodes() == 0
    again = new_anchor(world.ledger, reopened, signer, tmp_path, origin=ORIGIN, policy=POLICY)
    assert again.map is not None and again.map.root == chain.headers()[-1].map_root
    record_items(world, 9, 3)
    again.catch_up()
    assert reopened.headers()[-1].height > top
    report = audit(world.ledger, reopened)
    assert report.ok, report.divergence


def test_a_seal_stores_one_entry_per_changed_subject(tmp_path: Path) -> None:
    world = make_world(tmp_path, "")
    chain = Chain(store_env("", tmp_path / "chain.sqlite"))
    anchor = new_anchor(
        world.ledger, chain, Signer.from_seed(ORIGIN, bytes(32)), tmp_path,
        origin=ORIGIN, policy=POLICY,
    )  # fmt: skip
    record_items(world, 0, 6)
    anchor.catch_up()
    for header in chain.headers():
        items = {item for item, _ in chain.block(header.height).items}
        entries = chain.map_store.map_entries_at(header.height)
        assert len(entries) == len(items)
        assert [key for key, _ in entries] == sorted(key for key, _ in entries)
        for key, value in entries:
            assert MapEntry.decode(value).height == header.height
            assert chain.head_map(header.height).get(key) == MapEntry.decode(value)


def test_a_prover_refuses_entries_that_do_not_give_the_blocks_map_root(tmp_path: Path) -> None:
    world = make_world(tmp_path, "")
    db = tmp_path / "chain.sqlite"
    chain = Chain(store_env("", db))
    anchor = new_anchor(
        world.ledger, chain, Signer.from_seed(ORIGIN, bytes(32)), tmp_path,
        origin=ORIGIN, policy=POLICY,
    )  # fmt: skip
    record_items(world, 0, 3)
    anchor.catch_up()
    head = chain.headers()[-1].height
    reader = Chain(store_env("", db))
    reader.load_map(head)
    key, value = reader.map_store.map_entries_at(1)[0]
    before = chain.head_map(head).prove(key)
    assert reader.map_proof_at(key, head) == before
    with sqlite3.connect(db) as conn:
        changed = bytes(value[:-1]) + bytes([value[-1] ^ 1])
        conn.execute("UPDATE anchored_map_entries SET value=? WHERE height=1 AND key=?",
                     (changed, key))  # fmt: skip
    conn.close()
    fresh = Chain(store_env("", db))
    with pytest.raises(LookupError, match="map root"):
        fresh.load_map(head)
    with pytest.raises(LookupError, match="map root"):
        fresh.map_proof_at(key, head - 1)
    # At the head the stored map state answers, without the per-block entries.
    assert fresh.map_state_at(head)
    assert fresh.map_proof_at(key, head) == before
