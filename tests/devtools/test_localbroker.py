"""The local development broker: a real Apache Kafka, started, reused, stopped, restarted."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from assay.settings import Settings
from devtools.kafka_dist import BrokerError, ensure_jars, find_java
from devtools.localbroker import LocalBroker, resolve_bootstrap
from devtools.processes import command_line


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def _topics(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="assay-tests")
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def _create_topic(bootstrap: str, name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="assay-tests")
    try:
        spec = {"num_partitions": 2, "replication_factor": 1}
        admin.create_topics({name: spec}, wait_for_metadata=True)
    finally:
        admin.close()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    broker = LocalBroker(tmp_path)
    try:
        yield broker
    finally:
        broker.stop()
        assert _processes_mentioning(str(broker.config_file)) == []


@pytest.mark.kafka
def test_session_broker_round_trips_a_message(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=1)
    payload = uuid.uuid4().bytes
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    try:
        producer.send(topic, key=b"k", value=payload).get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=30_000,
    )
    try:
        received = next(iter(consumer))
    finally:
        consumer.close()
    assert (received.key, received.value) == (b"k", payload)


@pytest.mark.kafka
@pytest.mark.slow
def test_lifecycle_start_reuse_stop_restart(own_broker: LocalBroker) -> None:
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: LocalBroker(own_broker.root.parent).start(), (1, 2))
    assert first == second
    running = own_broker.status()
    assert running.running and running.bootstrap == first and running.pid is not None
    assert _processes_mentioning(str(own_broker.config_file)) == [running.pid]
    assert "TieredStopAtLevel" not in (command_line(running.pid) or "")  # C2 for the long run
    assert own_broker.start() == first
    assert own_broker.status().pid == running.pid
    _create_topic(first, "kept-across-restarts")

    assert own_broker.stop() is True
    assert not Path(f"/proc/{running.pid}").exists()
    assert _processes_mentioning(str(own_broker.config_file)) == []
    stopped = own_broker.status()
    assert not stopped.running and stopped.pid is None and stopped.bootstrap is None
    assert own_broker.stop() is False

    again = own_broker.start()
    assert own_broker.status().pid not in (None, running.pid)
    assert "kept-across-restarts" in _topics(again)


@pytest.mark.kafka
@pytest.mark.slow
def test_restart_moves_to_new_ports_when_the_old_ones_are_taken(own_broker: LocalBroker) -> None:
    before = own_broker.start()
    _create_topic(before, "survives-port-change")
    own_broker.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(before.rsplit(":", 1)[1])))
        squatter.listen()
        after = own_broker.start()
    assert after != before
    assert "survives-port-change" in _topics(after)


@pytest.mark.kafka
def test_a_broker_that_is_not_ready_in_time_is_cleaned_up(own_broker: LocalBroker) -> None:
    with pytest.raises(BrokerError) as caught:
        own_broker.start(timeout=0.0)
    assert str(own_broker.log_file) in str(caught.value)
    assert not own_broker.status().running
    assert _processes_mentioning(str(own_broker.config_file)) == []


def test_find_java_explains_a_java_home_without_java(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(BrokerError, match="JAVA_HOME") as caught:
        find_java()
    assert str(tmp_path) in str(caught.value)
    assert "Java 17+" in str(caught.value)
    assert "openjdk-17-jre-headless" in str(caught.value)


def test_find_java_rejects_java_older_than_17(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_292\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(BrokerError, match=r"is Java 8; Kafka needs Java 17\+"):
        find_java()


def test_find_java_accepts_the_installed_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert find_java().name == "java"


def test_cached_jars_are_used_without_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    libs = tmp_path / "kafka-9.9.9" / "libs"
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-9.9.9.jar").touch()
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ensure_jars("9.9.9", cache_dir=tmp_path) == libs


def test_missing_maven_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BrokerError, match="Maven"):
        ensure_jars("9.9.9", cache_dir=tmp_path)
    assert not (tmp_path / "kafka-9.9.9" / "libs").exists()


def test_kafka_home_without_libs_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_HOME", str(tmp_path))
    with pytest.raises(BrokerError, match="KAFKA_HOME"):
        ensure_jars()


def test_a_configured_cluster_is_used_as_is(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_bootstrap="kafka-1:9092,kafka-2:9092")
    assert resolve_bootstrap(settings) == "kafka-1:9092,kafka-2:9092"
    assert not (tmp_path / "kafka").exists()
