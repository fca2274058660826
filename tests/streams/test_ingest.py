"""Ingest against the real broker: exactly once, idempotent, ordered, and no input lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from domain.items import Result
from streams.avro import MAGIC, default_registry
from streams.deadletter import DeadLetter
from streams.envelope import (
    ENVELOPE_SCHEMA,
    EVENT_SCHEMA,
    custody_to_avro,
    open_envelope,
    seal,
)
from streams.ingest import Ingest
from streams.keys import DeviceKey
from streams.producer import Producer
from streams.scanner import Scanner
from streams.topics import custody_topics, ensure_topics
from tests.support import World, custody, make_world, story_events

pytestmark = pytest.mark.kafka


class Topics:
    def __init__(self, bootstrap: str, partitions: int) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.events = f"test.events.{suffix}"
        self.rejected = f"test.rejected.{suffix}"
        self.checkpoints = f"test.checkpoints.{suffix}"
        self.group = f"test-group-{suffix}"
        ensure_topics(
            bootstrap, custody_topics(self.events, self.rejected, self.checkpoints, partitions)
        )

    def env(self, bootstrap: str, data_dir: Path, database_url: str = "") -> dict[str, str]:
        return {
            "ASSAY_DATABASE_URL": database_url,
            **os.environ,
            "ASSAY_KAFKA_BOOTSTRAP": bootstrap,
            "ASSAY_DATA_DIR": str(data_dir),
            "ASSAY_EVENTS_TOPIC": self.events,
            "ASSAY_REJECTED_TOPIC": self.rejected,
            "ASSAY_CHECKPOINTS_TOPIC": self.checkpoints,
            "ASSAY_CONSUMER_GROUP": self.group,
        }


def ingest_once(world: World, bootstrap: str, topics: Topics, idle: float = 2.0) -> Ingest:
    ingest = Ingest(
        world.ledger,
        bootstrap,
        topic=topics.events,
        rejected_topic=topics.rejected,
        group=topics.group,
    )
    ingest.run(until_idle=idle)
    return ingest


def dead_letters(bootstrap: str, topic: str, expected: int) -> list[DeadLetter]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + 20
    while len(letters) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            letters.extend(DeadLetter.from_json(r.value) for r in records)
    consumer.close()
    return letters


def stored_event_ids(world: World, item_ids: list[str]) -> list[str]:
    ids: list[str] = []
    for item_id in item_ids:
        for event in world.ledger.item_events(item_id):
            custody_event = getattr(event, "custody", None)
            if custody_event is not None:
                ids.append(custody_event.event_id)
    return ids


def test_published_events_are_stored_in_order(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=3)
    with Producer(kafka_bootstrap) as producer:
        for event in story_events():
            Scanner(world.keys[event.party_id], producer, topic=topics.events).publish(event)
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.rejected) == (7, 0)
    item = world.ledger.get_item("urn:item:1")
    # Every step was legal only because it arrived after the one before it.
    assert item.state.status.value == "sold"
    assert [e.custody.kind.value for e in world.ledger.item_events("urn:item:1")] == [
        "commissioning",
        "inspecting",
        "shipping",
        "receiving",
        "shipping",
        "receiving",
        "retail_selling",
    ]


def test_a_scanner_declares_an_event_in_error(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=2)
    item = "urn:item:1"
    with Producer(kafka_bootstrap) as producer:
        for event in story_events()[:4]:  # commissioned, authenticated, shipped, received
            Scanner(world.keys[event.party_id], producer, topic=topics.events).publish(event)
        lab = Scanner(world.keys["lab"], producer, topic=topics.events, location="lab-bench")
        lab.declare_error(item, f"{item}#e2", reason="incorrect_data", corrective=[f"{item}#e9"])
        dc = Scanner(world.keys["dc"], producer, topic=topics.events, location="dc-dock")
        dc.declare_error(item, f"{item}#e2")  # the lab's event, not dc's: refused
        # A signed v3 body whose observing carries a declared id is no custody event.
        record = custody_to_avro(custody(9, "observing", "dc", item)) | {"declared_event_id": "x"}
        body = default_registry().encode(EVENT_SCHEMA, record, 3)
        producer.send(topics.events, _signed(world.keys["dc"], body), key=item.encode())
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.rejected) == (5, 2)
    letters = dead_letters(kafka_bootstrap, topics.rejected, 2)
    assert sorted(letter.code for letter in letters) == ["invalid_event", "not_declarable"]
    state = world.ledger.get_item(item).state
    assert (state.verdict, state.certificate, state.status.value) == (None, None, "in_custody")
    declared = state.declared[f"{item}#e2"]
    assert (declared.by, declared.reason, declared.corrective_event_ids) == (
        "lab", "incorrect_data", (f"{item}#e9",),
    )  # fmt: skip


def _signed(key: DeviceKey, body: bytes) -> bytes:
    envelope = {"party_id": key.party_id, "device_id": key.device_id, "body": body,
                "signature": key.sign(body)}  # fmt: skip
    return default_registry().encode(ENVELOPE_SCHEMA, envelope)


def test_the_same_event_published_twice_is_stored_once(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=1)
    first = story_events()[0]
    envelope = seal(first, world.keys["brand"])
    with Producer(kafka_bootstrap) as producer:
        for _ in range(2):
            producer.send(topics.events, envelope, key=first.item_id.encode())
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.duplicates) == (1, 1)
    assert world.ledger.get_item("urn:item:1").version == 1


def test_bad_input_goes_to_the_dead_letter_topic_with_exact_bytes(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=1)
    story = story_events()
    good = seal(story[0], world.keys["brand"])
    stranger = DeviceKey.generate("brand", "stolen-scanner")
    forged_key = DeviceKey.generate("brand", "brand-d1")  # right ids, wrong private key
    registry_unknown = MAGIC + bytes.fromhex("00112233445566ff") + b"\x00"
    bad: list[tuple[str, bytes]] = [
        ("not_single_object", b"\x00garbage\xff"),
        ("malformed_body", good[:-30]),
        ("unknown_schema", registry_unknown),
        ("bad_signature", seal(story[0], forged_key)),
        ("device_not_enrolled", seal(custody(9, "observing", "brand"), stranger)),
        # The lab may authenticate, never ship: a rule the domain refuses.
        ("role_not_allowed", seal(custody(8, "retail_selling", "lab"), world.keys["lab"])),
    ]
    with Producer(kafka_bootstrap) as producer:
        producer.send(topics.events, good, key=b"urn:item:1")
        for _, value in bad:
            producer.send(topics.events, value, key=b"urn:item:1")
        later = seal(story[1], world.keys["lab"])
        producer.send(topics.events, later, key=b"urn:item:1")
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert stats.rejected == len(bad)
    letters = dead_letters(kafka_bootstrap, topics.rejected, len(bad))
    assert [(d.code, d.value) for d in letters] == bad
    assert all(d.topic == topics.events and d.key == b"urn:item:1" for d in letters)
    assert [d.offset for d in letters] == list(range(1, len(bad) + 1))
    assert all(d.reason for d in letters)
    # The ingest kept going: the good event after the bad ones is stored.
    assert world.ledger.get_item("urn:item:1").version == 2


def _publish_many(world: World, bootstrap: str, topic: str, items: int) -> list[str]:
    ids: list[str] = []
    with Producer(bootstrap) as producer:
        for n in range(items):
            for event in story_events(f"urn:item:{n}", f"TAG-{n}"):
                Scanner(world.keys[event.party_id], producer, topic=topic).publish(event)
                ids.append(event.event_id)
    return ids


def _spawn_ingest(
    topics: Topics,
    bootstrap: str,
    data_dir: Path,
    idle: float,
    *,
    watch: bool = False,
    database_url: str = "",
) -> subprocess.Popen[str]:
    """An `assay ingest` process; its log goes to a pipe (watch) or a file in data_dir."""
    log = subprocess.PIPE if watch else (data_dir / f"ingest-{uuid.uuid4().hex[:6]}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "assay", "ingest", "--until-idle", str(idle), "--json"],
        env=topics.env(bootstrap, data_dir, database_url),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )


def test_sigkill_mid_batch_then_restart_stores_every_event_once(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=6)
    published = _publish_many(world, kafka_bootstrap, topics.events, items=400)
    victim = _spawn_ingest(topics, kafka_bootstrap, tmp_path, idle=30, database_url=database_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        positions = [world.ledger.position(f"{topics.events}:{p}") for p in range(6)]
        if any(p is not None for p in positions):
            break
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    stored_before = len(stored_event_ids(world, [f"urn:item:{n}" for n in range(400)]))
    assert 0 < stored_before < len(published), "the kill should land mid-stream"
    survivor = _spawn_ingest(topics, kafka_bootstrap, tmp_path, idle=3, database_url=database_url)
    out, _ = survivor.communicate(timeout=180)
    assert survivor.returncode == 0
    stats = json.loads(out.strip().splitlines()[-1])
    stored = stored_event_ids(world, [f"urn:item:{n}" for n in range(400)])
    assert sorted(stored) == sorted(published)  # each exactly once
    assert stats["duplicates"] == 0  # resumed after the recorded offsets, not before
    assert stats["rejected"] == 0


def _assigned(lines: list[str]) -> bool:
    # The CLI logs "partitions assigned: [..]" on every rebalance; the last one counts.
    assignments = [line for line in lines if "partitions assigned:" in line]
    return bool(assignments) and not assignments[-1].rstrip().endswith("[]")


def test_two_workers_in_one_group_share_partitions_without_duplicates(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=6)
    workers = [
        _spawn_ingest(
            topics, kafka_bootstrap, tmp_path, idle=8, watch=True, database_url=database_url
        )
        for _ in range(2)
    ]
    logs: list[list[str]] = [[], []]
    readers = [
        threading.Thread(target=lambda w=w, log=log: log.extend(w.stderr), daemon=True)
        for w, log in zip(workers, logs, strict=True)
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 60
    while not all(_assigned(log) for log in logs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_assigned(log) for log in logs), logs
    published = _publish_many(world, kafka_bootstrap, topics.events, items=200)
    results = [json.loads(w.communicate(timeout=180)[0].strip().splitlines()[-1]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    stored = stored_event_ids(world, [f"urn:item:{n}" for n in range(200)])
    assert sorted(stored) == sorted(published)
    assert sum(r["accepted"] for r in results) == len(published)
    assert all(r["consumed"] > 0 for r in results), results


def test_outcome_results_are_counted(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=1)
    events = [*story_events(), custody(8, "observing", "osaka")]  # a clone after the sale
    with Producer(kafka_bootstrap) as producer:
        for event in events:
            Scanner(world.keys[event.party_id], producer, topic=topics.events).publish(event)
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.flagged) == (7, 1)
    flags = world.ledger.get_item("urn:item:1").state.flags
    assert [f.signal.value for f in flags] == ["scan_after_sale"]
    assert Result.FLAGGED.value == "flagged"


def test_envelopes_stored_are_the_bytes_that_arrived(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    topics = Topics(kafka_bootstrap, partitions=1)
    first = story_events()[0]
    sent = seal(first, world.keys["brand"])
    with Producer(kafka_bootstrap) as producer:
        producer.send(topics.events, sent, key=first.item_id.encode())
    ingest_once(world, kafka_bootstrap, topics)
    (stored,) = world.ledger.item_events(first.item_id)
    assert stored.envelope == sent
    assert open_envelope(stored.envelope).device_id == "brand-d1"


def test_an_ingest_process_collects_young_objects_less_often_never_more() -> None:
    """``tune_collector`` (called by assay.runtime.make_ingest), in a process of its own."""
    code = (
        "import gc\n"
        "from streams.ingest import INGEST_GC_THRESHOLD, tune_collector\n"
        "gc.set_threshold(700, 10, 10)\n"
        "tune_collector()\n"
        "assert gc.get_threshold() == (INGEST_GC_THRESHOLD, 10, 10), gc.get_threshold()\n"
        "gc.set_threshold(INGEST_GC_THRESHOLD * 5, 3, 4)\n"
        "tune_collector()\n"
        "assert gc.get_threshold() == (INGEST_GC_THRESHOLD * 5, 3, 4), gc.get_threshold()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
