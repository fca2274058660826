"""Owner statements in the anchored log: their leaves are the owner-signed envelopes, the
audit checks each against the key it names, and an edited statement is found."""

from __future__ import annotations

from pathlib import Path

from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.leaves import read_envelope
from anchoring.sealer import SealPolicy
from domain.ownership import OwnerReport
from ledger.config import store_env
from ledger.records import item_record
from streams.owner_envelope import is_owner_body, new_statement, seal_statement
from tests.anchoring.stores import item_row, new_anchor, set_state
from tests.owners import ITEM, sold_and_claimed
from tests.support import make_world

ORIGIN = "assay.test/custody-log"
SIGNER = Signer.from_seed(ORIGIN, bytes(range(32)))


def test_an_owner_statement_is_sealed_and_audited(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    owner, envelope = sold_and_claimed(world)
    report_missing = new_statement(owner, "report_missing", ITEM, 8, reason="stolen")
    (decision,) = world.ledger.process(
        [OwnerReport(report_missing, seal_statement(report_missing, owner))], None
    )
    assert decision.accepted
    chain = Chain(store_env("", tmp_path / "chain.sqlite"))
    policy = SealPolicy(max_events=4, max_seconds=1e9)
    new_anchor(world.ledger, chain, SIGNER, tmp_path, origin=ORIGIN, policy=policy).catch_up()
    leaves = {row.version: row for row in chain.leaves_for(ITEM)}
    assert sorted(leaves) == list(range(1, 10))
    events = world.ledger.item_events(ITEM)
    record = item_record(events[7])
    assert record.type.name == "owner_stated" and record.leaf_source().payload == envelope
    assert is_owner_body(read_envelope(envelope).body)
    checkpoint = (tmp_path / "checkpoint").read_text()
    report = audit(world.ledger, chain, SIGNER.verifier(), checkpoint)
    assert report.ok, report.divergence

    # The stored statement edited behind the ledger's back: the audit names it.
    db = tmp_path / "ledger.sqlite"
    rowid, state = item_row(db, ITEM, 8)
    assert b"claim_code" in state
    set_state(db, rowid, state.replace(b'"after_version":7', b'"after_version":6'))
    again = audit(world.ledger.__class__(store_env("", db)), chain, SIGNER.verifier(), checkpoint)
    assert not again.ok
    assert "owner statement" in str(again.divergence)
