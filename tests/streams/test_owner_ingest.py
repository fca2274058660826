"""Owner statements through a real broker and the ingest: signed by the owner key they
name, checked against the item's current owner key; a transfer by a non-owner, a stale
transfer, a reused claim code and a forged owner signature each end in custody.rejected
with their code and the original bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.owner_statement import fingerprint
from domain.privacy import claim_commitment, new_claim_code
from ledger.disclosures import DisclosureStore
from streams.avro import default_registry
from streams.envelope import open_envelope
from streams.owner_envelope import new_statement, seal_statement, wrap
from streams.owner_keys import OwnerKey
from streams.producer import Producer
from streams.scanner import Scanner
from tests.streams.test_ingest import Topics, dead_letters, ingest_once
from tests.support import make_world, story_events

pytestmark = pytest.mark.kafka

ITEM = "urn:item:owned"


def test_owner_statements_reach_the_ledger_and_refusals_the_dead_letters(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    world = make_world(tmp_path)
    topics = Topics(kafka_bootstrap, partitions=1)
    disclosures = DisclosureStore(tmp_path / "disclosures.sqlite")
    alice, bob, mallory = OwnerKey.generate(), OwnerKey.generate(), OwnerKey.generate()
    code = new_claim_code()
    next_code = new_claim_code()
    salt, digest = claim_commitment(next_code)
    with Producer(kafka_bootstrap) as producer:
        scanners = {
            p: Scanner(k, producer, topic=topics.events, location=f"loc-{p}")
            for p, k in world.keys.items()
        }
        for event in story_events(ITEM)[:-1]:  # up to the sale: versions 1..6
            scanners[event.party_id].publish(event)
        sale = scanners["ginza"].sell_privately(
            ITEM, buyer_ref="buyer-1", disclosures=disclosures, claim_code=code
        )  # version 7

        def send(envelope: bytes) -> bytes:
            producer.send(topics.events, envelope, key=ITEM.encode())
            return envelope

        claim = send(seal_statement(new_statement(alice, "claim", ITEM, 7, claim_code=code), alice))
        commitment = {"claim_salt": salt, "claim_digest": digest}
        refused = {
            "not_owner": send(
                seal_statement(new_statement(mallory, "transfer", ITEM, 8, **commitment), mallory)
            ),
            "stale_statement": send(
                seal_statement(new_statement(alice, "transfer", ITEM, 7, **commitment), alice)
            ),
            "claim_code_reused": send(
                seal_statement(
                    new_statement(
                        alice,
                        "transfer",
                        ITEM,
                        8,
                        claim_salt=sale.claim_salt,
                        claim_digest=sale.claim_digest,
                    ),
                    alice,
                )
            ),
        }
        # Mallory names Alice's key but cannot sign with it.
        forged_statement = new_statement(alice, "report_missing", ITEM, 8, reason="lost")
        honest = open_envelope(seal_statement(forged_statement, alice))
        refused["bad_signature"] = send(
            wrap(alice.public_key_hex, honest.body, mallory.sign(honest.body))
        )
        send(seal_statement(new_statement(alice, "transfer", ITEM, 8, **commitment), alice))
        send(seal_statement(new_statement(bob, "claim", ITEM, 9, claim_code=next_code), bob))
        send(seal_statement(new_statement(bob, "report_missing", ITEM, 10, reason="stolen"), bob))
        scanners["osaka"].observe(ITEM)
    disclosures.close()

    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.flagged, stats.rejected) == (11, 1, 4), stats
    letters = {letter.code: letter for letter in dead_letters(kafka_bootstrap, topics.rejected, 4)}
    assert set(letters) == set(refused)
    for code_name, envelope in refused.items():
        assert letters[code_name].value == envelope
        assert letters[code_name].key == ITEM.encode()
    state = world.ledger.get_item(ITEM).state
    assert state.ownership.owner_key == bob.public_key_hex
    assert state.ownership.owner == fingerprint(bob.public_key_hex)
    assert state.ownership.missing == "stolen"
    assert state.flags[-1].signal == "reported_missing"
    stored = [getattr(e, "envelope", None) for e in world.ledger.item_events(ITEM)]
    assert claim in stored  # the exact signed bytes are what the ledger keeps


def test_an_owner_envelope_must_name_no_party_and_a_usable_key(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    world = make_world(tmp_path)
    topics = Topics(kafka_bootstrap, partitions=1)
    alice = OwnerKey.generate()
    body = open_envelope(
        seal_statement(new_statement(alice, "claim", ITEM, 0, claim_code="c"), alice)
    ).body
    as_party = default_registry().encode(
        "signed_envelope",
        {"party_id": "ginza", "device_id": alice.public_key_hex, "body": body,
         "signature": alice.sign(body)},
    )  # fmt: skip
    small_order = wrap("00" * 32, body, alice.sign(body))
    other_key = wrap(OwnerKey.generate().public_key_hex, body, alice.sign(body))
    with Producer(kafka_bootstrap) as producer:
        for message in (as_party, small_order, other_key):
            producer.send(topics.events, message, key=ITEM.encode())
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert stats.rejected == 3
    codes = sorted(letter.code for letter in dead_letters(kafka_bootstrap, topics.rejected, 3))
    assert codes == ["bad_signature", "envelope_mismatch", "invalid_owner_key"]
