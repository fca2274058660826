"""The stored map state through the chain (anchoring/chain_mapstate.py): a data dir written
before it (per-block entries only) gets it built on open, once; proofs at the stored head
come from it and equal the rebuilt map's; a checkpoint that lags the head falls back to the
rebuild; and the audit names any altered byte of it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from anchoring import audit_map
from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.headbands import LAST, state_of
from anchoring.headmap import item_key
from anchoring.recorders import MapStateStore
from anchoring.sealer import SealPolicy
from ledger.config import store_env
from tests.anchoring.stores import new_anchor, record_items
from tests.support import World, make_world

ORIGIN = "assay.test/map-state"
POLICY = SealPolicy(max_events=5, max_seconds=60)
KEYS = [item_key(f"urn:item:{n}") for n in range(14)] + [item_key("urn:item:never")]


def sealed_chain(tmp_path: Path, database_url: str) -> tuple[World, Chain, dict[str, str]]:
    world = make_world(tmp_path, database_url)
    env = store_env(database_url, tmp_path / "chain.sqlite")
    chain = Chain(env)
    anchor = new_anchor(
        world.ledger, chain, Signer.from_seed(ORIGIN, bytes(32)), tmp_path,
        origin=ORIGIN, policy=POLICY,
    )  # fmt: skip
    record_items(world, 0, 6)
    record_items(world, 6, 5)
    anchor.catch_up()
    return world, chain, env


def state_tables(chain: Chain) -> list[str]:
    recorder = chain.recorder
    if hasattr(recorder, "bands_table"):
        return [recorder.bands_table, recorder.current_table]
    return ["anchored_map_bands", "anchored_map_current"]


def test_an_older_data_dir_gets_its_state_built_on_open(tmp_path: Path, database_url: str) -> None:
    world, chain, env = sealed_chain(tmp_path, database_url)
    head = chain.headers()[-1].height
    assert chain.map_state_at(head)
    kept = chain.recorder.map_state_all()  # type: ignore[attr-defined]
    with chain.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        for table in state_tables(chain):
            c.execute(f"DROP TABLE {table}")  # the layout before it: per-block entries only

    reopened = Chain(env)
    assert reopened.map_state_at(head)
    store = reopened.recorder
    assert isinstance(store, MapStateStore)
    assert store.map_state_all() == kept
    rebuilt = reopened.head_map(head)
    built = state_of(rebuilt, None)
    assert store.map_state_all()[1] == list(built.entries)
    for key in KEYS:
        assert reopened.map_proof_at(key, head) == rebuilt.prove(key)
    assert not store.replace_map_state(built, head - 1)  # not the newest block: refused
    report = audit(world.ledger, reopened)
    assert report.ok, report.divergence
    # Sealing carries on with the state kept block by block.
    again = new_anchor(
        world.ledger, reopened, Signer.from_seed(ORIGIN, bytes(32)), tmp_path,
        origin=ORIGIN, policy=POLICY,
    )  # fmt: skip
    record_items(world, 11, 3)
    again.catch_up()
    top = reopened.headers()[-1].height
    assert top > head and reopened.map_state_at(top)
    assert store.map_state_all()[1] == list(state_of(reopened.head_map(top), None).entries)
    report = audit(world.ledger, reopened)
    assert report.ok, report.divergence


def test_a_checkpoint_behind_the_head_is_proven_by_the_rebuild(tmp_path: Path) -> None:
    _, chain, _ = sealed_chain(tmp_path, "")
    head = chain.headers()[-1].height
    assert chain.map_state_at(head) and not chain.map_state_at(head - 1)
    for key in KEYS:
        assert chain.map_proof_at(key, head - 1) == chain.head_map(head - 1).prove(key)
        assert chain.map_proof_at(key, head) == chain.head_map(head).prove(key)


def flip(db: Path, sql_select: str, sql_update: str) -> None:
    """Flip the last bit of the blob in the first row ``sql_select`` reads (blob, row key)."""
    conn = sqlite3.connect(db)
    with conn:
        blob, key = conn.execute(sql_select).fetchone()
        blob = bytes(blob)
        conn.execute(sql_update, (blob[:-1] + bytes([blob[-1] ^ 1]), key))
    conn.close()


BAND_LAST = LAST << 16  # the deepest band's first id
BAND_END = BAND_LAST + (1 << LAST) - 1  # and its last
TAMPERS = {
    "band hash": (
        f"SELECT hash, id FROM anchored_map_bands WHERE id >= {BAND_LAST} ORDER BY id",
        "UPDATE anchored_map_bands SET hash=? WHERE id=?",
        "band row",
    ),
    "band single value": (
        "SELECT value, id FROM anchored_map_bands WHERE id >= 0 AND value IS NOT NULL ORDER BY id",
        "UPDATE anchored_map_bands SET value=? WHERE id=?",
        "band row",
    ),
    "head root": (
        "SELECT hash, id FROM anchored_map_bands WHERE id = -1",
        "UPDATE anchored_map_bands SET hash=? WHERE id=?",
        "the head row",
    ),
    "head size": (
        "SELECT value, id FROM anchored_map_bands WHERE id = -1",
        "UPDATE anchored_map_bands SET value=? WHERE id=?",
        "the head row",
    ),
    "current entry": (
        "SELECT value, key FROM anchored_map_current ORDER BY key",
        "UPDATE anchored_map_current SET value=? WHERE key=?",
        "current entry",
    ),
}


@pytest.mark.parametrize("target", sorted(TAMPERS))
def test_an_altered_byte_of_the_state_is_named_by_the_audit(tmp_path: Path, target: str) -> None:
    world, chain, env = sealed_chain(tmp_path, "")
    head = chain.headers()[-1].height
    select, update, named = TAMPERS[target]
    flip(tmp_path / "chain.sqlite", select, update)
    reopened = Chain(env)
    divergence = audit(world.ledger, reopened).divergence or ""
    assert "stored map state" in divergence and named in divergence, divergence
    # A proof at the head never comes out wrong: refused, or right.
    for key in KEYS:
        try:
            got = reopened.map_proof_at(key, head)
        except LookupError:
            continue
        assert got == reopened.head_map(head).prove(key)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("DELETE FROM anchored_map_bands WHERE id = (SELECT MAX(id) FROM anchored_map_bands)",
         "band row"),
        (f"INSERT INTO anchored_map_bands VALUES ({BAND_END}, zeroblob(32), NULL, NULL)",
         "should not exist"),
        ("INSERT INTO anchored_map_current VALUES (zeroblob(32), zeroblob(56))",
         "is in no block's changes"),
    ],
)  # fmt: skip
def test_a_missing_or_extra_row_is_named_by_the_audit(
    tmp_path: Path, change: str, named: str
) -> None:
    world, _, env = sealed_chain(tmp_path, "")
    conn = sqlite3.connect(tmp_path / "chain.sqlite")
    with conn:
        conn.execute(change)
    conn.close()
    divergence = audit(world.ledger, Chain(env)).divergence or ""
    assert "stored map state" in divergence and named in divergence, divergence


@pytest.mark.parametrize("page", [1, 3])
def test_the_audit_reads_the_state_a_page_at_a_time(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    world, chain, _ = sealed_chain(tmp_path, database_url)
    store = chain.recorder
    assert isinstance(store, MapStateStore)
    bands, entries = store.map_state_all()
    assert store.map_state_bands() == bands
    paged: list[tuple[bytes, bytes]] = []
    while got := store.map_state_entries(paged[-1][0] if paged else b"", page):
        assert len(got) <= page
        paged += got
    assert paged == entries and len(entries) > 3
    monkeypatch.setattr(audit_map, "STATE_PAGE", page)
    report = audit(world.ledger, chain)
    assert report.ok, report.divergence


def test_an_altered_last_entry_is_named_when_read_in_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _, env = sealed_chain(tmp_path, "")
    flip(
        tmp_path / "chain.sqlite",
        "SELECT value, key FROM anchored_map_current ORDER BY key DESC",
        "UPDATE anchored_map_current SET value=? WHERE key=?",
    )
    monkeypatch.setattr(audit_map, "STATE_PAGE", 2)
    divergence = audit(world.ledger, Chain(env)).divergence or ""
    assert "stored map state: current entry" in divergence, divergence
