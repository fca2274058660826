"""``audit`` and ``assay audit``: one edited byte in either store is found and located.

The stores are corrupted the way an attacker with file access would: ``UPDATE`` of one
byte of one stored event's state in the SQLite file, behind the application's back.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Checkpoint, Signer, open_checkpoint, sign_checkpoint
from anchoring.keyfiles import write_signer_key, write_verifier_key
from anchoring.leaves import ZERO_HASH, leaf_of
from anchoring.sealer import SealPolicy
from assay.cli import main
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from ledger.records import LeafSource, platform_body
from streams.envelope import seal
from streams.keys import DeviceKey
from tests.anchoring.stores import item_row, new_anchor, record_items, set_state, stored_row
from tests.support import T0, custody, make_world, story_events

ORIGIN = "assay.test/custody-log"


@dataclass
class Stores:
    root: Path
    ledger: CustodyLedger
    chain: Chain
    signer: Signer

    @property
    def checkpoint(self) -> str:
        return (self.root / "checkpoint").read_text()

    def reopen(self) -> tuple[CustodyLedger, Chain]:
        return (
            CustodyLedger(store_env("", self.root / "ledger.sqlite")),
            Chain(store_env("", self.root / "chain.sqlite")),
        )


def build(root: Path, signer: Signer, items: int = 3, first: int = 0) -> Stores:
    world = make_world(root)
    record_items(world, first, items)
    chain = Chain(store_env("", root / "chain.sqlite"))
    seal_all(world.ledger, chain, signer, root)
    return Stores(root, world.ledger, chain, signer)


def seal_all(ledger: CustodyLedger, chain: Chain, signer: Signer, root: Path) -> None:
    policy = SealPolicy(max_events=5, max_seconds=1e9)
    new_anchor(ledger, chain, signer, root, origin=ORIGIN, policy=policy).catch_up()


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    return build(tmp_path / "data", Signer.from_seed(ORIGIN, bytes(range(32))))


def stored(db: Path, rowid: int) -> bytes:
    return stored_row(db, "WHERE rowid=?", rowid)[1]


def rowid_of(db: Path, originator_id: str, version: int) -> int:
    return item_row(db, originator_id, version)[0]


def move_sealed_at(db: Path, rowid: int) -> None:
    """Move a stored block's sealed_at by a digit, and its event timestamp with it."""
    state = stored(db, rowid).decode()
    sealed_at = json.loads(state)["header"]["sealed_at"]
    later = sealed_at[:-2] + ("1" if sealed_at[-2] != "1" else "2") + "Z"
    stamp = json.loads(state)["timestamp"]["_data_"]  # the seal time, kept consistent too
    assert stamp == sealed_at[:-1] + "+00:00"
    edited = state.replace(sealed_at, later).replace(stamp, later[:-1] + "+00:00")
    set_state(db, rowid, edited.encode())


def flip_inside_envelope(state: bytes) -> bytes:
    """Change one byte of the base64 text of the stored envelope: still JSON, still base64."""
    text = state.decode()
    data = json.loads(text)
    encoded = data["envelope"]["_data_"]
    raw = bytearray(base64.b64decode(encoded))
    raw[len(raw) // 2] ^= 0x01
    changed = base64.b64encode(bytes(raw)).decode()
    position = text.index(encoded)
    differs = next(i for i, (a, b) in enumerate(zip(encoded, changed, strict=True)) if a != b)
    return (
        text[: position + differs].encode()
        + changed[differs].encode()
        + text[position + differs + 1 :].encode()
    )


def test_clean_stores_audit_clean(stores: Stores) -> None:
    report = audit(stores.ledger, stores.chain, stores.signer.verifier(), stores.checkpoint)
    assert report.ok, report.divergence
    assert report.leaves == 21 and report.blocks >= 4


def test_one_byte_of_an_envelope_in_the_ledger_is_found_with_its_location(
    stores: Stores,
) -> None:
    db = stores.root / "ledger.sqlite"
    rowid = rowid_of(db, "urn:item:1", 4)
    state = stored(db, rowid)
    corrupted = flip_inside_envelope(state)
    assert sum(a != b for a, b in zip(corrupted, state, strict=True)) == 1
    json.loads(corrupted)  # still parses: only the leaf gives it away
    set_state(db, rowid, corrupted)
    ledger, chain = stores.reopen()
    report = audit(ledger, chain, stores.signer.verifier(), stores.checkpoint)
    assert not report.ok
    assert "urn:item:1 v4" in report.divergence
    assert f"ledger event {rowid}" in report.divergence
    assert "stored leaf differs" in report.divergence


def test_one_byte_that_breaks_the_json_is_found_with_its_location(stores: Stores) -> None:
    db = stores.root / "ledger.sqlite"
    rowid = rowid_of(db, "urn:item:2", 3)
    state = bytearray(stored(db, rowid))
    state[0] ^= 0x01  # '{' becomes 'z'
    set_state(db, rowid, bytes(state))
    ledger, chain = stores.reopen()
    report = audit(ledger, chain)
    assert not report.ok
    assert f"ledger event {rowid} (urn:item:2 v3" in report.divergence
    assert "cannot be read" in report.divergence


def test_one_byte_of_a_leaf_in_a_stored_block_is_found(stores: Stores) -> None:
    db = stores.root / "chain.sqlite"
    rowid = 3
    state = stored(db, rowid).decode()
    leaf = json.loads(state)["leaves"][1]
    changed = ("1" if leaf[10] != "1" else "2").join((leaf[:10], leaf[11:]))
    set_state(db, rowid, state.replace(leaf, changed).encode())
    ledger, chain = stores.reopen()
    report = audit(ledger, chain)
    assert not report.ok
    assert report.divergence.startswith("block 2 leaf 1 (")


def test_one_byte_of_a_stored_block_header_is_found(stores: Stores) -> None:
    db = stores.root / "chain.sqlite"
    move_sealed_at(db, 2)
    ledger, chain = stores.reopen()
    report = audit(ledger, chain)
    assert not report.ok
    assert report.divergence.startswith("block 1: its header hashes to")
    assert "(header or index altered)" in report.divergence


def test_a_header_edited_with_its_index_row_breaks_the_link(stores: Stores) -> None:
    db = stores.root / "chain.sqlite"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DROP TABLE anchored_blocks")  # as if from before the index existed
    conn.close()
    move_sealed_at(db, 2)
    ledger, chain = stores.reopen()  # rebuilds the index from the (edited) blocks
    report = audit(ledger, chain)
    assert not report.ok
    assert report.divergence.startswith("block 2: prev_hash is not the hash of block 1")


def test_an_unreadable_block_is_found(stores: Stores) -> None:
    db = stores.root / "chain.sqlite"
    state = bytearray(stored(db, 1))
    state[-1] ^= 0x01  # the closing brace
    set_state(db, 1, bytes(state))
    ledger, chain = stores.reopen()
    report = audit(ledger, chain)
    assert not report.ok and report.divergence.startswith("chain record 1 (block 0)")


def test_a_deleted_ledger_event_is_found(stores: Stores) -> None:
    db = stores.root / "ledger.sqlite"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM stored_events WHERE rowid=?", (rowid_of(db, "urn:item:0", 7),))
    conn.close()
    ledger, chain = stores.reopen()
    report = audit(ledger, chain)
    assert not report.ok


# ----- the command ---------------------------------------------------------------------------


def install_key(data: Path, signer: Signer) -> None:
    write_signer_key(data / "keys" / "platform.key", signer)
    write_verifier_key(data / "keys" / "platform.pub", signer.verifier())


def test_assay_audit_exits_1_on_a_corrupted_store(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    install_key(stores.root, stores.signer)
    assert main(["--data-dir", str(stores.root), "audit"]) == 0
    assert "audit OK" in capsys.readouterr().out
    db = stores.root / "ledger.sqlite"
    rowid = rowid_of(db, "urn:item:0", 2)
    set_state(db, rowid, flip_inside_envelope(stored(db, rowid)))
    assert main(["--data-dir", str(stores.root), "audit"]) == 1
    out = capsys.readouterr().out
    assert "audit FAILED" in out and "urn:item:0 v2" in out and f"ledger event {rowid}" in out


def test_since_proves_an_earlier_checkpoint_is_an_ancestor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer.from_seed(ORIGIN, bytes(range(32)))
    stores = build(tmp_path / "data", signer, items=2)
    install_key(stores.root, signer)
    earlier = tmp_path / "earlier-checkpoint"
    earlier.write_text(stores.checkpoint)
    old = open_checkpoint(stores.checkpoint, signer.verifier())
    head = stores.chain.headers()[old.size - 1]
    # What an anchor before checkpoint version 2 published for the same head.
    earlier_v1 = tmp_path / "earlier-v1-checkpoint"
    earlier_v1.write_text(sign_checkpoint(Checkpoint(ORIGIN, old.size, head.block_hash()), signer))
    _add_items(stores, ["urn:item:9"])
    assert main(["--data-dir", str(stores.root), "audit", "--since", str(earlier)]) == 0
    out = capsys.readouterr().out
    assert "consistent with today's checkpoint" in out and "RFC 9162" in out
    assert "audit OK" in out
    assert main(["--data-dir", str(stores.root), "audit", "--since", str(earlier_v1)]) == 0
    out = capsys.readouterr().out
    assert "proven into today's head" in out and "audit OK" in out


def test_since_fails_on_a_checkpoint_from_a_fork(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer.from_seed(ORIGIN, bytes(range(32)))
    stores = build(tmp_path / "data", signer, items=3)
    fork = build(tmp_path / "fork", signer, items=3, first=5)
    install_key(stores.root, signer)
    forked = tmp_path / "forked-checkpoint"
    forked.write_text(fork.checkpoint)
    assert main(["--data-dir", str(stores.root), "audit", "--since", str(forked)]) == 1
    out = capsys.readouterr().out
    assert "audit FAILED" in out and "fork or rewritten history" in out


def _add_items(stores: Stores, items: list[str]) -> None:
    """Record and seal more items (with new devices: the first keys stayed in make_world)."""
    keys = {}
    for party in ("brand", "lab", "dc", "ginza"):
        keys[party] = DeviceKey.generate(party, f"{party}-d2")
        stores.ledger.enrol_device(
            party, f"{party}-d2", keys[party].public_key_hex, at=T0 - timedelta(days=1)
        )
    for n, item in enumerate(items):
        for event in story_events(item, f"TAG-X{n}"):
            event = replace(event, device_id=f"{event.party_id}-d2")
            report = Report(event, seal(event, keys[event.party_id]))
            (decision,) = stores.ledger.process([report], None)
            assert decision.accepted, decision.refusal
    seal_all(stores.ledger, stores.chain, stores.signer, stores.root)


def test_a_sighting_stored_before_it_kept_its_signal_seals_and_audits_as_before(
    tmp_path: Path,
) -> None:
    """Records written before ``Item.Sighted`` stored its signal and detail read as the
    class defaults: their leaf is the one they were sealed with, and the audit is clean."""
    world = make_world(tmp_path)
    scan = replace(story_events("urn:item:ghost")[3], event_id="ghost-scan")
    (decision,) = world.ledger.process([Report(scan, seal(scan, world.keys["dc"]))], None)
    assert decision.outcome is not None and decision.outcome.signals[0].value == "unknown_item"
    rowid, state = item_row(tmp_path / "ledger.sqlite", "urn:item:ghost", 1)
    new_fields = b',"signal":"unknown_item","detail":"scanned before any commissioning"'
    assert new_fields in state
    set_state(tmp_path / "ledger.sqlite", rowid, state.replace(new_fields, b""))
    ledger = CustodyLedger(store_env("", tmp_path / "ledger.sqlite"))
    (event,) = ledger.item_events("urn:item:ghost")
    assert "signal" not in vars(event) and event.detail == "scanned before any commissioning"
    chain = Chain(store_env("", tmp_path / "chain.sqlite"))
    signer = Signer.generate(ORIGIN)
    seal_all(ledger, chain, signer, tmp_path)
    (row,) = chain.leaves_for("urn:item:ghost")
    body = platform_body(
        "unknown_item", "scanned before any commissioning", "ghost-scan", event.envelope
    )
    assert row.leaf_hash == leaf_of(LeafSource("urn:item:ghost", 1, "P", body), ZERO_HASH)
    report = audit(ledger, chain)
    assert report.ok, report.divergence


def test_flags_citing_an_event_without_its_envelope_audit_clean(tmp_path: Path) -> None:
    """impossible_travel and rests_on_declared cite the custody event whose own leaf holds
    the envelope; the flag record keeps none."""
    world = make_world(tmp_path)
    paris, tokyo = {"latitude": 48.85, "longitude": 2.35}, {"latitude": 35.6, "longitude": 139.6}
    item = "urn:item:travel"
    events = [
        custody(1, "commissioning", "brand", item, tag_uid="T", brand="B", model="M",
                serial="S", **paris),
        custody(2, "observing", "brand", item, occurred_at=T0 + timedelta(hours=1, minutes=1),
                **tokyo),
        custody(3, "shipping", "brand", item, counterparty="dc"),
        custody(4, "receiving", "dc", item),
        custody(5, "error_declaration", "brand", item, declared_event_id=f"{item}#e3"),
    ]  # fmt: skip
    decisions = world.ledger.process(
        [Report(e, seal(e, world.keys[e.party_id])) for e in events], None
    )
    signals = [s.value for d in decisions if d.outcome for s in d.outcome.signals]
    assert signals == ["impossible_travel", "rests_on_declared"]
    chain = Chain(store_env("", tmp_path / "chain.sqlite"))
    signer = Signer.from_seed(ORIGIN, bytes(range(32)))
    seal_all(world.ledger, chain, signer, tmp_path)
    report = audit(world.ledger, chain, signer.verifier(), (tmp_path / "checkpoint").read_text())
    assert report.ok, report.divergence
