"""The local broker's class archive: made by the first broker at a clean stop, used by the
next start, never published half-written, and harmless when the JVM cannot use it."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from devtools import class_archive
from devtools.kafka_dist import ensure_jars, find_java
from devtools.localbroker import LocalBroker
from devtools.processes import command_line, wait_dead


@pytest.fixture
def archive_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Archives go to this test's directory, not the shared download cache."""
    home = tmp_path / "cache"
    monkeypatch.setattr(class_archive, "default_cache_dir", lambda: home)
    return home


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    broker = LocalBroker(tmp_path / "broker", short_lived=True)
    try:
        yield broker
    finally:
        broker.stop()


def _archive() -> Path:
    return class_archive.archive_path(find_java(), ensure_jars())


def _jvm_command(broker: LocalBroker) -> str:
    pid = broker.status().pid
    assert pid is not None
    return command_line(pid) or ""


def _answers(bootstrap: str) -> bool:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="assay-tests")
    try:
        return bool(admin.describe_cluster()["brokers"])
    finally:
        admin.close()


@pytest.mark.kafka
@pytest.mark.slow
def test_the_archive_comes_from_a_clean_stop_and_serves_the_next_start(
    archive_home: Path, own_broker: LocalBroker
) -> None:
    archive = _archive()
    assert archive.is_relative_to(archive_home) and not archive.exists()
    own_broker.start()
    assert "-XX:ArchiveClassesAtExit=" in _jvm_command(own_broker)

    # Killed: whatever it had written of an archive is not published.
    pid = own_broker.status().pid
    assert pid is not None
    staging = class_archive.staging_path(archive, own_broker.root)
    staging.write_bytes(b"half an archive")  # as if the JVM had died while writing it
    os.killpg(pid, signal.SIGKILL)
    assert wait_dead(pid, 30)
    own_broker.start()  # finds the dead broker, starts a new one
    assert not archive.exists()
    assert "-XX:ArchiveClassesAtExit=" in _jvm_command(own_broker)

    # Stopped: the broker writes the archive as it exits, and it is published.
    assert own_broker.stop()
    assert archive.is_file() and archive.stat().st_size > 0
    assert list(archive.parent.iterdir()) == [archive]  # no staging file left behind

    bootstrap = own_broker.start()
    command = _jvm_command(own_broker)
    assert f"-XX:SharedArchiveFile={archive}" in command
    assert "ArchiveClassesAtExit" not in command
    assert "-XX:TieredStopAtLevel=1" in command  # a short-lived broker: C1 only
    assert _answers(bootstrap)


def test_an_archive_the_jvm_cannot_use_is_ignored_by_it(tmp_path: Path) -> None:
    """What the broker relies on (``-Xshare:auto``): a stale or broken archive costs the
    start-up time it would have saved, never the start."""
    archive = tmp_path / "broken.jsa"
    archive.write_bytes(b"not a class archive")
    done = subprocess.run(
        [str(find_java()), *class_archive.jvm_options(archive, None), "-version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "version" in done.stderr


def test_the_archive_is_named_by_the_java_and_the_jar_set(tmp_path: Path) -> None:
    java = tmp_path / "java"
    java.write_bytes(b"jvm")
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "kafka_2.13-4.1.1.jar").write_bytes(b"jar")
    first = class_archive.archive_path(java, libs, tmp_path)
    assert first == class_archive.archive_path(java, libs, tmp_path)
    (libs / "kafka-clients-4.1.1.jar").write_bytes(b"another jar")
    assert class_archive.archive_path(java, libs, tmp_path) != first
    other_java = tmp_path / "java17"
    other_java.write_bytes(b"another jvm")
    assert class_archive.archive_path(other_java, libs, tmp_path) not in {first}


def test_publishing_keeps_the_first_archive_and_never_an_empty_one(tmp_path: Path) -> None:
    archive = tmp_path / "classes.jsa"
    staging = class_archive.staging_path(archive, tmp_path / "broker")
    assert class_archive.jvm_options(archive, None) == []
    assert class_archive.jvm_options(archive, staging) == [f"-XX:ArchiveClassesAtExit={staging}"]

    staging.write_bytes(b"")
    class_archive.publish(archive, staging)
    assert not archive.exists() and not staging.exists()

    staging.write_bytes(b"first")
    class_archive.publish(archive, staging)
    assert archive.read_bytes() == b"first" and not staging.exists()
    assert class_archive.jvm_options(archive, staging) == [f"-XX:SharedArchiveFile={archive}"]

    staging.write_bytes(b"second")
    class_archive.publish(archive, staging)
    assert archive.read_bytes() == b"first" and not staging.exists()
