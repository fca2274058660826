"""The producer's compression is a transport detail: what an earlier version published with
gzip still ingests, and the bytes a consumer reads are the bytes that were sent."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from streams.producer import PRODUCER_DEFAULTS, Producer
from streams.scanner import Scanner
from streams.topics import TopicSpec, ensure_topics
from tests.streams.test_ingest import Topics, ingest_once
from tests.support import make_world, story_events

pytestmark = pytest.mark.kafka

#: The producer settings of the versions before zstd (streams/producer.py's history).
GZIP_CONFIG = {**PRODUCER_DEFAULTS, "compression_type": "gzip"}


def test_events_published_with_gzip_by_an_earlier_version_are_ingested(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=2)
    story = story_events()
    # The first half of the story from a producer with the old settings, the rest from
    # today's: one topic holds gzip and zstd batches of the same item.
    with Producer(kafka_bootstrap, **GZIP_CONFIG) as old:
        assert old.config["compression_type"] == "gzip"
        for event in story[:3]:
            Scanner(world.keys[event.party_id], old, topic=topics.events).publish(event)
    with Producer(kafka_bootstrap) as current:
        for event in story[3:]:
            Scanner(world.keys[event.party_id], current, topic=topics.events).publish(event)
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.rejected) == (len(story), 0)
    assert world.ledger.get_item("urn:item:1").state.status.value == "sold"


@pytest.mark.parametrize(
    "overrides", [{}, GZIP_CONFIG, {"compression_type": None}], ids=["today", "gzip", "none"]
)
def test_the_consumer_reads_the_bytes_that_were_sent(
    kafka_bootstrap: str, overrides: dict[str, object]
) -> None:
    topic = f"test.compression.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [TopicSpec(topic, 1)])
    sent = [(f"k{n}".encode(), bytes(range(256)) * (n % 5) + f"v{n}".encode()) for n in range(300)]
    with Producer(kafka_bootstrap, **overrides) as producer:
        for key, value in sent:
            producer.send(topic, value, key=key)
        producer.flush()
        rate = producer.client.metrics()["producer-metrics"]["compression-rate-avg"]
    # The batches travelled compressed (compressed / raw size) unless compression was off.
    assert (rate < 0.5) == (producer.config["compression_type"] is not None)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        read: list[tuple[bytes, bytes]] = []
        while len(read) < len(sent):
            for records in consumer.poll(timeout_ms=500).values():
                read.extend((r.key, r.value) for r in records)
    finally:
        consumer.close()
    assert read == sent
