"""Parties and device keys in the head map (docs/proof-bundle.md §12): from the chain's
registry switch on, every block enters the parties and devices its range touches (the
switch block all of them), each entry commits to the record the ledger holds; a chain
that switched keeps entering them; the audit recomputes them and names the block whose
map root no longer matches the ledger's parties."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.headmap import device_key, party_key
from anchoring.registry import (
    device_json,
    device_record,
    party_json,
    party_record,
    record_hash,
)
from anchoring.sealer import Anchor, SealPolicy
from ledger.application import CustodyLedger
from ledger.config import store_env
from tests.anchoring.stores import new_anchor, record_items
from tests.support import PARTIES, T0, World, make_world

ORIGIN = "assay.test/registry"
POLICY = SealPolicy(max_events=5, max_seconds=60)


def setup(tmp_path: Path, database_url: str = "", **kw: object) -> tuple[World, Chain, Anchor]:
    world = make_world(tmp_path, database_url)
    chain = Chain(store_env(database_url, tmp_path / "chain.sqlite"))
    signer = Signer.from_seed(ORIGIN, bytes(32))
    anchor = new_anchor(world.ledger, chain, signer, tmp_path, origin=ORIGIN, policy=POLICY, **kw)
    return world, chain, anchor


def proven_party(chain: Chain, height: int, party_id: str) -> bytes | None:
    entry, _ = chain.map_proof_at(party_key(party_id), height)
    return None if entry is None else entry.leaf


def proven_device(chain: Chain, height: int, party_id: str, device_id: str) -> bytes | None:
    entry, _ = chain.map_proof_at(device_key(party_id, device_id), height)
    return None if entry is None else entry.leaf


def test_from_the_switch_every_party_and_device_is_in_the_map(
    tmp_path: Path, database_url: str
) -> None:
    world, chain, before = setup(tmp_path, database_url)
    record_items(world, 0, 2)
    before.catch_up()
    last_plain = chain.headers()[-1].height
    assert proven_party(chain, last_plain, "brand") is None  # before the switch: items only

    after = new_anchor(world.ledger, chain, before.signer, tmp_path, origin=ORIGIN,
                       policy=POLICY, registry=True)  # fmt: skip
    record_items(world, 2, 1)
    after.catch_up()
    switch = chain.headers()[last_plain + 1]
    assert chain.block(switch.height).registry and not chain.block(last_plain).registry
    for party_id in PARTIES:
        party = world.ledger.get_party(party_id)
        assert proven_party(chain, switch.height, party_id) == record_hash(
            party_record(party_json(party))
        )
        device = party.devices[f"{party_id}-d1"]
        assert proven_device(chain, switch.height, party_id, device.device_id) == record_hash(
            device_record(device_json(party_id, device))
        )
    assert switch.map_size == 3 + 2 * len(PARTIES)  # items, parties, one device each

    # A revocation and a new device enter with the next block, not before.
    world.ledger.revoke_device("dc", "dc-d1", at=T0 + timedelta(days=400))
    world.ledger.enrol_device("lab", "lab-d2", world.keys["lab"].public_key_hex, at=T0)
    sealed = chain.headers()[-1].height
    after.catch_up()  # no item event: no block
    assert chain.headers()[-1].height == sealed
    record_items(world, 3, 1)
    after.catch_up()
    head = chain.headers()[-1].height
    revoked = world.ledger.get_party("dc").devices["dc-d1"]
    assert device_json("dc", revoked)["revoked_at"] is not None
    assert proven_device(chain, head, "dc", "dc-d1") == record_hash(
        device_record(device_json("dc", revoked))
    )
    assert proven_device(chain, switch.height, "dc", "dc-d1") != proven_device(
        chain, head, "dc", "dc-d1"
    )
    assert proven_device(chain, switch.height, "lab", "lab-d2") is None
    assert proven_device(chain, head, "lab", "lab-d2") is not None

    # A chain that switched keeps entering parties, whatever a restarted anchor is told.
    again = new_anchor(world.ledger, chain, before.signer, tmp_path, origin=ORIGIN,
                       policy=POLICY)  # fmt: skip
    world.ledger.revoke_device("lab", "lab-d2", at=T0 + timedelta(days=500))
    record_items(world, 4, 1)
    again.catch_up()
    newest = chain.headers()[-1].height
    assert chain.block(newest).registry
    assert proven_device(chain, newest, "lab", "lab-d2") != proven_device(
        chain, head, "lab", "lab-d2"
    )
    report = audit(world.ledger, chain, before.signer.verifier())
    assert report.ok, report.divergence


def test_the_audit_names_the_block_whose_party_record_changed(tmp_path: Path) -> None:
    world, chain, anchor = setup(tmp_path, registry=True)
    record_items(world, 0, 3)
    anchor.catch_up()
    assert audit(world.ledger, chain).ok
    # A party renamed in the ledger after sealing (no signature covers a name): the switch
    # block (0) entered the old name.
    ledger_db = tmp_path / "ledger.sqlite"
    with sqlite3.connect(ledger_db) as conn:
        rowid, state = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE originator_id='lab' "
            "AND originator_version=1"
        ).fetchone()
        assert b'"name":"Lab"' in bytes(state)
        forged = bytes(state).replace(b'"name":"Lab"', b'"name":"Lbb"')
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (forged, rowid))
    conn.close()
    reopened = CustodyLedger(store_env("", ledger_db))
    report = audit(reopened, Chain(store_env("", tmp_path / "chain.sqlite")))
    assert report.divergence is not None
    assert report.divergence.startswith("block 0: map_root"), report.divergence


def test_the_audit_finds_a_block_that_stopped_entering_parties(tmp_path: Path) -> None:
    world, chain, anchor = setup(tmp_path, registry=True)
    record_items(world, 0, 3)
    anchor.catch_up()
    heights = [h.height for h in chain.headers()]
    assert len(heights) >= 2
    chain_db = tmp_path / "chain.sqlite"
    with sqlite3.connect(chain_db) as conn:
        rowid, state = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE originator_id=?", ("block-000000000001",)
        ).fetchone()
        assert b'"registry":true' in bytes(state)
        cleared = bytes(state).replace(b'"registry":true', b'"registry":false')
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (cleared, rowid))
    conn.close()
    report = audit(world.ledger, Chain(store_env("", chain_db)))
    assert report.divergence is not None and report.divergence.startswith("block 1: enters no")
