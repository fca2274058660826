"""Seal, prove, verify and audit on both event-store backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.prove import Prover
from anchoring.sealer import Anchor, SealPolicy
from anchoring.verify import verify_bundle
from ledger.application import Report
from ledger.config import store_env
from streams.envelope import seal
from tests.anchoring.stores import new_anchor
from tests.support import custody, make_world, story_events

ORIGIN = "assay.test/backends"


def test_a_story_is_sealed_proven_verified_and_audited(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    chain = Chain(store_env(database_url, tmp_path / "chain.sqlite"))
    signer = Signer.generate(ORIGIN)
    policy = SealPolicy(max_events=3, max_seconds=60)
    anchor = new_anchor(world.ledger, chain, signer, tmp_path, origin=ORIGIN, policy=policy)
    events = [*story_events(), custody(8, "observing", "osaka")]
    for half in (events[:4], events[4:]):
        world.ledger.process([Report(e, seal(e, world.keys[e.party_id])) for e in half], None)
        anchor.catch_up()
    assert len(anchor.headers) >= 3  # several blocks: accumulator proofs are exercised
    checkpoint = (tmp_path / "checkpoint").read_text()
    bundle = Prover(world.ledger, chain, checkpoint).prove("urn:item:1")
    result = verify_bundle(bundle, signer.verifier())
    assert (result.events, result.pending) == (8, 0)  # 7 custody events + the sale-scan flag
    report = audit(world.ledger, chain, signer.verifier(), checkpoint)
    assert report.ok, report.divergence
    assert report.leaves == 8


def test_a_second_anchor_cannot_fork_the_chain(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    env = store_env(database_url, tmp_path / "chain.sqlite")
    signer = Signer.generate(ORIGIN)
    first = Anchor(world.ledger, Chain(env), signer, origin=ORIGIN)
    second = Anchor(world.ledger, Chain(env), signer, origin=ORIGIN)  # started by mistake
    events = story_events()
    world.ledger.process([Report(e, seal(e, world.keys[e.party_id])) for e in events[:3]], None)
    first.catch_up()
    world.ledger.process([Report(e, seal(e, world.keys[e.party_id])) for e in events[3:]], None)
    second.catch_up()  # stale: it must notice the block sealed by the first and carry on
    first.catch_up()
    chain = Chain(env)
    heights = [h.height for h in chain.headers()]
    assert heights == list(range(len(heights)))
    report = audit(world.ledger, chain, signer.verifier())
    assert report.ok, report.divergence
    assert report.leaves == len(events)
