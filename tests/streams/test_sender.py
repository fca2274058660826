"""The scanner SDK's outbox and sender on the real broker: nothing waits for the broker,
nothing is lost while it is away, and one item's scans keep their order."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from streams.envelope import open_envelope, read_body
from streams.keys import DeviceKey
from streams.outbox import Outbox, outbox_beside
from streams.scanner import Scanner, Undelivered
from streams.sender import OutboxSender

pytestmark = pytest.mark.kafka


def closed_port() -> str:
    """An address where nothing listens (a broker that is away)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def device(tmp_path: Path, name: str = "brand") -> DeviceKey:
    path = tmp_path / f"{name}.key"
    DeviceKey.generate(name, f"{name}-d1").save(path)
    return DeviceKey.load(path)


def read_topic(
    bootstrap: str, topic: str, expected: int, timeout: float = 60
) -> list[tuple[str, str]]:
    """(item id, event id) of every message on the topic, in each partition's order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + timeout
        while len(seen) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    event = read_body(open_envelope(r.value))
                    seen.append((event.item_id, event.event_id))
        assert consumer.poll(timeout_ms=500) == {}  # and nothing more than expected
        return seen
    finally:
        consumer.close()


def scan_items(scanner: Scanner, items: int, per_item: int) -> list[tuple[str, str]]:
    made = []
    for n in range(per_item):
        for i in range(items):
            event = scanner.observe(f"urn:sender:{i}", event_id=f"e-{i}-{n}")
            made.append((event.item_id, event.event_id))
    return made


def per_item(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item, event in pairs:
        out.setdefault(item, []).append(event)
    return out


def test_a_scanner_made_while_the_broker_is_away_keeps_every_scan(
    tmp_path: Path, kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=3)
    key = device(tmp_path)
    began = time.monotonic()
    away = Scanner(key, closed_port(), topic=topic, location="loc")
    made = scan_items(away, items=5, per_item=4)
    # Neither making the scanner nor scanning waited for the (30 s) bootstrap timeout.
    assert time.monotonic() - began < 5
    assert away.unsent == 20
    with pytest.raises(Undelivered):
        away.flush(timeout=0.5)
    assert away.close(timeout=0) == 20  # kept for the next start, not dropped
    assert outbox_beside(key.source or Path()).exists()

    # The device restarts where the broker answers: it sends what was left, then more.
    back = Scanner(
        DeviceKey.load(tmp_path / "brand.key"), kafka_bootstrap, topic=topic, location="loc"
    )
    made += [(e.item_id, e.event_id) for e in [back.observe("urn:sender:0", event_id="late")]]
    back.flush(timeout=60)
    assert back.close() == 0
    stored = read_topic(kafka_bootstrap, topic, expected=21)
    assert sorted(stored) == sorted(made)  # each exactly once
    assert per_item(stored) == per_item(made)  # and in order per item


def test_scans_keep_their_order_while_they_are_being_made_and_sent(
    tmp_path: Path, kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=4)
    scanner = Scanner(
        device(tmp_path), kafka_bootstrap, topic=topic, location="loc", outbox=tmp_path / "o.db"
    )
    made = scan_items(scanner, items=20, per_item=25)
    scanner.flush(timeout=120)
    scanner.close()
    stored = read_topic(kafka_bootstrap, topic, expected=500)
    assert len(stored) == 500
    assert per_item(stored) == per_item(made)


def test_one_sender_per_outbox_file(
    tmp_path: Path, kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=1)
    path = tmp_path / "shared.outbox.sqlite"
    first, second = Outbox(path), Outbox(path)
    first.put_many([(topic, b"k", f"{n}".encode()) for n in range(50)])
    senders = [OutboxSender(first, kafka_bootstrap).start(), OutboxSender(second, kafka_bootstrap)]
    senders[1].start()
    try:
        assert senders[0].wait_sent(timeout=60) == 0
    finally:
        for sender in senders:
            sender.stop()
    assert senders[0].sent + senders[1].sent == 50  # one of them sent them all, once
    assert 0 in (senders[0].sent, senders[1].sent)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    assert consumer.end_offsets([tp])[tp] == 50
    consumer.close()
    first.close()
    second.close()


def test_a_message_the_broker_can_never_take_is_kept_aside_and_the_rest_flow(
    tmp_path: Path, kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=1)
    with Outbox(tmp_path / "o.sqlite") as outbox:
        outbox.put(topic, b"k", b"before")
        outbox.put(topic, b"k", b"x" * (2 * 1024 * 1024))  # over max_request_size
        outbox.put(topic, b"k", b"after")
        sender = OutboxSender(outbox, kafka_bootstrap).start()
        try:
            assert sender.wait_sent(timeout=60) == 0
        finally:
            sender.stop()
        state = outbox.state()
        assert (state.pending, state.failed, sender.sent, sender.refused) == (0, 1, 2, 1)
        assert "MessageSizeTooLarge" in state.failures[0][1]


def test_stopping_a_sender_whose_broker_is_away_is_prompt_and_keeps_everything(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path / "o.sqlite") as outbox:
        outbox.put_many([("t", b"k", b"v")] * 10)
        sender = OutboxSender(outbox, closed_port()).start()
        stopped = threading.Event()
        began = time.monotonic()

        def stop() -> None:
            assert sender.stop(timeout=10) == 10
            stopped.set()

        stopper = threading.Thread(target=stop)
        stopper.start()
        stopper.join(30)
        assert stopped.is_set(), "stop() did not return"
        assert time.monotonic() - began < 10
        assert not sender.alive
