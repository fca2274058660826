"""The anchor: contiguous blocks, one transaction per seal, no fork with two anchors."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from anchoring.accumulator import consistency_proof, merkle_tree_hash, verify_consistency
from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer, open_checkpoint
from anchoring.recorders import SQLiteChainRecorder
from anchoring.records_digest import records_digest
from anchoring.sealer import Anchor, SealPolicy
from ledger.application import CustodyLedger
from ledger.config import store_env
from tests.anchoring import stores
from tests.anchoring.stores import record_items
from tests.support import make_world

ORIGIN = "assay.test/custody-log"
SIGNER = Signer.from_seed(ORIGIN, bytes(32))


def open_chain(root: Path) -> Chain:
    return Chain(store_env("", root / "chain.sqlite"))


def new_anchor(ledger: CustodyLedger, chain: Chain, root: Path, **kw: Any) -> Anchor:
    policy = kw.pop("policy", SealPolicy(max_events=5, max_seconds=1e9))
    return stores.new_anchor(ledger, chain, SIGNER, root, origin=ORIGIN, policy=policy, **kw)


def sealed_items(chain: Chain) -> Counter[tuple[str, int]]:
    return Counter(
        (item, version) for block in chain.sealed_blocks() for item, version in block.items
    )


def ledger_items(ledger: CustodyLedger) -> Counter[tuple[str, int]]:
    out: Counter[tuple[str, int]] = Counter()
    for n in ledger.recorder.select_notifications(start=1, limit=1_000_000):
        if n.topic.startswith("domain.items:Item."):
            out[(str(n.originator_id), n.originator_version)] += 1
    return out


def test_blocks_cover_the_log_contiguously_even_across_non_item_batches(tmp_path: Path) -> None:
    world = make_world(tmp_path)  # party, device and brand-claim notifications: no leaf
    chain = open_chain(tmp_path)
    anchor = new_anchor(world.ledger, chain, tmp_path, policy=SealPolicy(3, 1e9))
    assert anchor.catch_up() == 0  # only the position moved
    parties = world.ledger.recorder.max_notification_id()
    assert parties is not None and parties >= 10
    assert chain.position() == parties and anchor.head is None
    record_items(world, 0, 2)
    assert anchor.catch_up() > 0
    headers = chain.headers()
    assert headers[0].first_notification == 1
    for before, after in pairwise(headers):
        assert after.first_notification == before.last_notification + 1
    assert audit(world.ledger, chain).ok


def test_each_block_digests_every_ledger_record_of_its_range(tmp_path: Path) -> None:
    """Leafless records count too, those of earlier batches that sealed no block (block 0
    starts at notification 1, ten party records before its batch) included."""
    world = make_world(tmp_path)
    chain = open_chain(tmp_path)
    anchor = new_anchor(world.ledger, chain, tmp_path, policy=SealPolicy(3, 1e9))
    anchor.catch_up()  # parties only: no block, the position moves to 10
    record_items(world, 0, 2)
    anchor.catch_up()
    for header in chain.headers():
        stored = world.ledger.recorder.select_notifications(
            start=header.first_notification, stop=header.last_notification, limit=10_000
        )
        assert chain.block(header.height).records_digest == records_digest(stored)
    assert chain.headers()[0].first_notification == 1
    assert audit(world.ledger, chain).ok


def test_the_clock_sets_sealed_at_and_the_checkpoint_names_the_head(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    record_items(world, 0, 1)
    chain = open_chain(tmp_path)
    anchor = new_anchor(world.ledger, chain, tmp_path, clock=lambda: "2026-05-01T00:00:00.000000Z")
    anchor.catch_up()
    assert {h.sealed_at for h in chain.headers()} == {"2026-05-01T00:00:00.000000Z"}
    checkpoint = open_checkpoint((tmp_path / "checkpoint").read_text(), SIGNER.verifier())
    assert anchor.head is not None
    assert checkpoint.size == anchor.head.height + 1
    # Version 2: the root is the block log's RFC 9162 tree head, the head block included.
    hashes = [h.block_hash() for h in chain.headers()]
    assert checkpoint.head_hash == merkle_tree_hash(hashes) == anchor.log_root()


def test_a_chain_of_version_1_blocks_signs_version_1_checkpoints(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    record_items(world, 0, 2)
    chain = open_chain(tmp_path)
    anchor = new_anchor(world.ledger, chain, tmp_path, header_version=1)
    anchor.catch_up()
    checkpoint = open_checkpoint((tmp_path / "checkpoint").read_text(), SIGNER.verifier())
    assert anchor.head is not None and anchor.head.height >= 1
    assert checkpoint.head_hash == anchor.head.block_hash() != anchor.log_root()


def test_consecutive_checkpoints_are_rfc_9162_consistent(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    chain = open_chain(tmp_path)
    anchor = new_anchor(world.ledger, chain, tmp_path)
    notes = []
    for start in range(0, 12, 3):
        record_items(world, start, start + 3)
        anchor.catch_up()
        notes.append(open_checkpoint((tmp_path / "checkpoint").read_text(), SIGNER.verifier()))
    hashes = [h.block_hash() for h in chain.headers()]
    for old, new in pairwise(notes):
        assert old.size < new.size
        proof = anchor.consistency_proof(old.size, new.size)
        assert proof == consistency_proof(hashes, old.size, new.size)
        verify_consistency(old.size, new.size, old.head_hash, new.head_hash, proof)
    assert anchor.consistency_proof(notes[0].size) == consistency_proof(
        hashes, notes[0].size, len(hashes)
    )


def test_a_failed_seal_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(tmp_path)
    record_items(world, 0, 1)
    chain = open_chain(tmp_path)
    original = SQLiteChainRecorder._insert_events

    def crash_after_the_block(self: Any, c: Any, stored: Any, **kwargs: Any) -> Any:
        original(self, c, stored, **kwargs)  # block, tracking and both indexes written...
        raise OSError("disk gone")  # ...then the transaction fails

    monkeypatch.setattr(SQLiteChainRecorder, "_insert_events", crash_after_the_block)
    with pytest.raises(OSError):
        new_anchor(world.ledger, chain, tmp_path).catch_up()
    with sqlite3.connect(tmp_path / "chain.sqlite") as db:
        for table in ("stored_events", "anchored_leaves", "anchored_blocks"):
            assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    assert chain.position() == 0
    monkeypatch.undo()
    new_anchor(world.ledger, chain, tmp_path).catch_up()
    assert sealed_items(chain) == ledger_items(world.ledger)
    assert audit(world.ledger, chain).ok


def test_a_second_anchor_reloads_instead_of_forking(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    record_items(world, 0, 2)
    first = new_anchor(world.ledger, open_chain(tmp_path), tmp_path)
    second = new_anchor(world.ledger, open_chain(tmp_path), tmp_path)  # started by mistake
    first.catch_up()
    record_items(world, 2, 2)
    assert second.head is None  # stale: it saw no block yet
    second.catch_up()  # tries height 0, collides, reloads, then seals the new events
    assert second.conflicts == 1
    assert second.head is not None and first.head is not None
    assert second.head.height > first.head.height
    first.catch_up()  # now the stale one is the first anchor
    record_items(world, 4, 1)
    first.catch_up()
    chain = open_chain(tmp_path)
    assert [h.height for h in chain.headers()] == list(range(len(chain.headers())))
    assert sealed_items(chain) == ledger_items(world.ledger)
    assert max(sealed_items(chain).values()) == 1
    assert audit(world.ledger, chain, SIGNER.verifier(), (tmp_path / "checkpoint").read_text()).ok


def test_two_anchors_racing_in_threads_seal_each_event_once(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    anchors = [new_anchor(world.ledger, open_chain(tmp_path), tmp_path) for _ in range(2)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def follow(anchor: Anchor) -> None:
        try:
            while not stop.is_set():
                anchor.catch_up()
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=follow, args=(a,)) for a in anchors]
    for thread in threads:
        thread.start()
    for batch in range(6):
        record_items(world, batch * 2, 2)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    for anchor in anchors:
        anchor.catch_up()
    chain = open_chain(tmp_path)
    assert sealed_items(chain) == ledger_items(world.ledger)
    assert max(sealed_items(chain).values()) == 1
    assert audit(world.ledger, chain).ok
    assert open_checkpoint((tmp_path / "checkpoint").read_text(), SIGNER.verifier()).size == len(
        chain.headers()
    )


def test_the_checkpoint_file_never_goes_back(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    record_items(world, 0, 2)
    stale = new_anchor(world.ledger, open_chain(tmp_path), tmp_path)
    stale.catch_up()
    record_items(world, 2, 2)
    new_anchor(world.ledger, open_chain(tmp_path), tmp_path).catch_up()
    newest = (tmp_path / "checkpoint").read_text()
    stale.write_checkpoint()  # an older head: must not replace the newer file
    assert (tmp_path / "checkpoint").read_text() == newest


def test_older_chains_get_their_block_index_on_open(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    record_items(world, 0, 3)
    chain = open_chain(tmp_path)
    new_anchor(world.ledger, chain, tmp_path).catch_up()
    with sqlite3.connect(tmp_path / "chain.sqlite") as db:
        before = db.execute("SELECT * FROM anchored_blocks ORDER BY height").fetchall()
        db.execute("DELETE FROM anchored_blocks WHERE height >= 2")
    reopened = open_chain(tmp_path)
    with sqlite3.connect(tmp_path / "chain.sqlite") as db:
        assert db.execute("SELECT * FROM anchored_blocks ORDER BY height").fetchall() == before
    assert audit(world.ledger, reopened).ok
