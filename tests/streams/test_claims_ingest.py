"""A sale's claim-code commitment through a real broker and the ingest: the v4 body carries
salt and digest (never the code); a resale reusing the code is a dead letter with its code."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.custody import Kind
from domain.privacy import digest_of, new_claim_code
from ledger.disclosures import DisclosureStore
from streams.envelope import open_envelope
from streams.producer import Producer
from streams.scanner import Scanner
from tests.streams.test_ingest import Topics, dead_letters, ingest_once
from tests.support import make_world, story_events

pytestmark = pytest.mark.kafka


def test_a_reused_claim_code_is_refused(kafka_bootstrap: str, tmp_path: Path) -> None:
    world = make_world(tmp_path)
    topics = Topics(kafka_bootstrap, partitions=1)
    disclosures = DisclosureStore(tmp_path / "disclosures.sqlite")
    code = new_claim_code()
    with Producer(kafka_bootstrap) as producer:
        scanners = {
            p: Scanner(k, producer, topic=topics.events, location=f"loc-{p}")
            for p, k in world.keys.items()
        }
        for event in story_events("urn:item:c")[:-1]:  # up to the sale
            scanners[event.party_id].publish(event)
        ginza = scanners["ginza"]
        first = ginza.sell_privately(
            "urn:item:c", buyer_ref="buyer-1", disclosures=disclosures, claim_code=code
        )
        ginza.take_back("urn:item:c")
        reuse = {"claim_salt": first.claim_salt, "claim_digest": first.claim_digest}
        again = ginza.event(Kind.RETAIL_SELLING, "urn:item:c", buyer_ref="buyer-2", **reuse)
        envelope = ginza.publish(again)
    disclosures.close()
    assert code.encode() not in envelope
    assert first.claim_salt is not None
    assert digest_of(bytes.fromhex(first.claim_salt), code) == first.claim_digest
    assert open_envelope(envelope).body.find(bytes.fromhex("c301")) == 0
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.rejected) == (8, 1)
    (letter,) = dead_letters(kafka_bootstrap, topics.rejected, 1)
    assert letter.code == "claim_code_reused"
    assert world.ledger.get_item("urn:item:c").state.claim_digest is None  # returned
