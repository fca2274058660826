"""The ingest under hostile input on the real broker: nothing crashes it, nothing is lost.

Hundreds of generated hostile messages (tests/streams/hostile.py: mutations of signed
envelopes, hand-made Avro declaring huge lengths, random bytes, oversized messages and
bodies an enrolled device signed with nonsense in them) are published between valid
stories. One ingest run must store every valid event, put every hostile message in the
dead-letter topic with a code and its exact bytes (or, beyond what one Kafka request
holds, its first bytes, length and SHA-256), and finish without an exception.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from assay.runtime import make_ingest
from assay.settings import load_settings
from streams.deadletter import MAX_KEPT_KEY, MAX_KEPT_VALUE
from streams.envelope import MAX_MESSAGE_BYTES
from streams.producer import Producer
from streams.scanner import Scanner
from tests.streams import hostile
from tests.streams.hostile import GATE_CODES, MUTATIONS
from tests.streams.test_ingest import Topics, dead_letters, stored_event_ids
from tests.support import make_world, story_events

pytestmark = pytest.mark.kafka

SEED = 20260901
PER_MUTATION = 30  # x 9 mutations = 270, plus signed nonsense and oversized messages
SIGNED_NONSENSE = 60
STORIES = 12


def test_hostile_payloads_all_end_in_the_dead_letter_topic_and_valid_ones_are_stored(
    kafka_bootstrap: str, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path, database_url)
    world.ledger.register_party("fuzz-brand", "Fuzz Brand", world.ledger.get_party("brand").role)
    signer = hostile.key_for("fuzz-brand")
    world.ledger.enrol_device("fuzz-brand", signer.device_id, signer.public_key_hex, at=hostile.T0)
    topics = Topics(kafka_bootstrap, partitions=3)
    rng = random.Random(SEED)

    hostile_payloads: list[tuple[str, bytes | None, bytes]] = []  # (kind, key, value)
    for kind, mutate in sorted(MUTATIONS.items()):
        for _ in range(PER_MUTATION):
            key = rng.choice([None, b"urn:fuzz:1", rng.randbytes(rng.randrange(1, 30))])
            hostile_payloads.append((kind, key, mutate(rng, signer)))
    nonsense: list[bytes] = [hostile.signed_hostile(rng, signer)[1] for _ in range(SIGNED_NONSENSE)]
    oversized = [
        ("oversized", None, rng.randbytes(MAX_MESSAGE_BYTES + 1)),
        ("oversized", b"k" * 60_000, rng.randbytes(10_000)),  # key and value together
        ("oversized", b"K" * (MAX_KEPT_KEY + 1), b"tiny"),
        # Over what one dead letter carries verbatim, and over Kafka's default 1 MiB
        # request once base64-encoded: before the fix it stopped the ingest for good.
        ("oversized", b"urn:fuzz:big", rng.randbytes(900 * 1024)),
    ]
    hostile_payloads += oversized

    valid_stories = [story_events(f"urn:item:{n}", f"TAG-{n}") for n in range(STORIES)]
    sent: dict[tuple[int, int], tuple[str, bytes | None, bytes]] = {}
    nonsense_at: dict[tuple[int, int], bytes] = {}
    with Producer(kafka_bootstrap, max_request_size=2 * 1024 * 1024) as producer:
        futures = []
        queue = list(hostile_payloads)
        rng.shuffle(queue)
        steps = max(len(s) for s in valid_stories)
        share = -(-len(queue) // steps)
        for step in range(steps):  # each story's next event, then a share of the hostile
            for story in valid_stories:
                if step < len(story):
                    event = story[step]
                    Scanner(world.keys[event.party_id], producer, topic=topics.events).publish(
                        event
                    )
            for payload in queue[step * share : (step + 1) * share]:
                futures.append((payload, producer.send(topics.events, payload[2], payload[1])))
        for value in nonsense:
            futures.append((("signed_nonsense", None, value), producer.send(topics.events, value)))
        producer.flush()
        for payload, future in futures:
            meta = future.get(timeout=30)
            sent[(meta.partition, meta.offset)] = payload
            if payload[0] == "signed_nonsense":
                nonsense_at[(meta.partition, meta.offset)] = payload[2]

    monkeypatch.chdir(tmp_path)  # no stray assay.toml
    settings = load_settings(
        {
            "ASSAY_DATA_DIR": str(tmp_path),
            "ASSAY_DATABASE_URL": database_url,
            "ASSAY_EVENTS_TOPIC": topics.events,
            "ASSAY_REJECTED_TOPIC": topics.rejected,
            "ASSAY_CONSUMER_GROUP": topics.group,
            "ASSAY_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        }
    )
    ingest = make_ingest(settings, kafka_bootstrap)
    assert ingest.gate.max_message_bytes == MAX_MESSAGE_BYTES
    stats = ingest.run(until_idle=2.0)  # raises if anything crashes it

    valid_ids = [e.event_id for story in valid_stories for e in story]
    items = [f"urn:item:{n}" for n in range(STORIES)]
    assert sorted(stored_event_ids(world, items)) == sorted(valid_ids)
    total = len(valid_ids) + len(sent)
    assert stats.consumed == total
    assert stats.accepted + stats.flagged + stats.duplicates + stats.rejected == total

    letters = dead_letters(kafka_bootstrap, topics.rejected, stats.rejected)
    assert len(letters) == stats.rejected
    by_source = {(d.partition, d.offset): d for d in letters}
    assert len(by_source) == len(letters)  # one dead letter per rejected message
    for where, (kind, key, value) in sent.items():
        letter = by_source.get(where)
        if kind == "signed_nonsense" and letter is None:
            continue  # an enrolled device's odd but readable event: the ledger decided
        assert letter is not None, (kind, value[:64].hex())
        assert letter.topic == topics.events and letter.reason
        assert letter.code in GATE_CODES or kind == "signed_nonsense", (kind, letter.code)
        if kind == "oversized":
            assert letter.code == "oversized"
        if len(value) <= MAX_KEPT_VALUE and len(key or b"") <= MAX_KEPT_KEY:
            assert (letter.value, letter.key, letter.truncated) == (value, key, False)
            continue
        # Too big for one dead letter: the first bytes, and the length and hash of all.
        assert letter.truncated and kind == "oversized"
        assert value.startswith(letter.value) and (key or b"").startswith(letter.key or b"")
        for part, length, digest in [
            (value, letter.value_length, letter.value_sha256),
            (key or b"", letter.key_length, letter.key_sha256),
        ]:
            if length is not None:
                assert (length, digest) == (len(part), hashlib.sha256(part).hexdigest())
    unsigned_rejected = sum(1 for w, p in sent.items() if p[0] != "signed_nonsense")
    assert len(letters) >= unsigned_rejected
    assert len(sent) - len(nonsense_at) == len(hostile_payloads) >= 270
