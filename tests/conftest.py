"""Session fixtures shared by the whole suite.

Kafka tests run against a real broker: ``$ASSAY_KAFKA_BOOTSTRAP`` if set, otherwise a
local Apache Kafka (KRaft) started once per session by ``devtools.localbroker``. A broker
that cannot start is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient

from devtools.kafka_dist import DEFAULT_KAFKA_VERSION, BrokerError
from devtools.localbroker import LocalBroker

BOOTSTRAP_ENV = "ASSAY_KAFKA_BOOTSTRAP"
_BROKER_USED = pytest.StashKey[str]()
_WORKER_BROKERS = pytest.StashKey[list[str]]()


def _kafka_version() -> str:
    return os.environ.get("ASSAY_KAFKA_VERSION") or DEFAULT_KAFKA_VERSION


def pytest_report_header(config: pytest.Config) -> str:
    configured = os.environ.get(BOOTSTRAP_ENV)
    if configured:
        return f"kafka: configured cluster {BOOTSTRAP_ENV}={configured}"
    return (
        f"kafka: local Apache Kafka {_kafka_version()} broker (KRaft, single node), "
        "one per pytest-xdist worker, started by its first test that needs it"
    )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: keep the broker line a worker sent back (workeroutput)."""
    line = node.workeroutput.get("kafka_broker_used")
    if line is not None:
        lines = node.config.stash.setdefault(_WORKER_BROKERS, [])
        lines.append(f"{node.gateway.id}: {line}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    used = [config.stash[_BROKER_USED]] if _BROKER_USED in config.stash else []
    used += sorted(config.stash.get(_WORKER_BROKERS, []))
    if used:
        terminalreporter.write_sep("-", "kafka broker used")
        for line in used:
            terminalreporter.write_line(line)


def _announce(config: pytest.Config, line: str) -> None:
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its terminal output goes nowhere
        workeroutput["kafka_broker_used"] = line
        return
    config.stash[_BROKER_USED] = line
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line(f"\n{line}")


def _cluster_id(bootstrap: str) -> str:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="assay-tests")
    try:
        return str(admin.describe_cluster()["cluster_id"])
    finally:
        admin.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    configured = os.environ.get(BOOTSTRAP_ENV)
    if configured:
        _announce(
            request.config,
            f"kafka: configured cluster {configured} (cluster id {_cluster_id(configured)})",
        )
        yield configured
        return
    version = _kafka_version()
    broker = LocalBroker(tmp_path_factory.mktemp("kafka-session"), version)
    began = time.monotonic()
    try:
        bootstrap = broker.start()
    except BrokerError as e:
        pytest.fail(f"the local Kafka broker did not start: {e}", pytrace=False)
    took = time.monotonic() - began
    status = broker.status()
    _announce(
        request.config,
        f"kafka: local Apache Kafka {version} at {bootstrap} (pid {status.pid}, "
        f"cluster id {_cluster_id(bootstrap)}, ready in {took:.1f} s, log {status.log_file})",
    )
    try:
        yield bootstrap
    finally:
        broker.stop()


TopicFactory = Callable[..., str]


@pytest.fixture
def topic_factory(kafka_bootstrap: str) -> Iterator[TopicFactory]:
    """``make(partitions=1, prefix="test") -> name``: a fresh topic, deleted afterwards."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="assay-tests")
    created: list[str] = []

    def make(partitions: int = 1, prefix: str = "test") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        spec = {"num_partitions": partitions, "replication_factor": 1}
        admin.create_topics({name: spec}, wait_for_metadata=True)
        created.append(name)
        return name

    try:
        yield make
    finally:
        with contextlib.suppress(Exception):
            if created:
                admin.delete_topics(created, raise_errors=False)
        admin.close()


pytest_plugins = ["tests.postgres"]
