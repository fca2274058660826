"""The Kafka side of ``assay status``: the broker, the ingest group's lag and ownership, and
the dead letters of the last hour. Every call is bounded by short client timeouts, so a
broker that is away makes the status say so within seconds instead of hanging."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.settings import Settings
from streams.connection import KafkaConnection
from streams.groups import Ownership, ownership

# kafka is imported where a broker is asked: `assay status` without one need not load it.
if TYPE_CHECKING:
    from kafka import KafkaAdminClient, KafkaConsumer

#: Client options for every status call: give up quickly on an absent broker.
QUICK: dict[str, Any] = {
    "bootstrap_timeout_ms": 3000,
    "request_timeout_ms": 5000,
    "reconnect_backoff_max_ms": 1000,
}
#: Dead letters counted at most (the count says "at least" beyond).
MAX_LETTERS = 100_000


@dataclass
class Check:
    name: str
    #: ``None``: information only, never makes the status unhealthy.
    healthy: bool | None
    summary: str
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "summary": self.summary, **self.details}


def connection_of(settings: Settings) -> tuple[KafkaConnection | None, str]:
    """The cluster to ask (never starting the local broker), or None and why not."""
    if not settings.uses_local_broker:
        return KafkaConnection(
            settings.kafka_bootstrap, tuple(settings.kafka_security().items())
        ), settings.kafka_bootstrap
    from devtools.localbroker import LocalBroker

    status = LocalBroker(settings.data_dir, settings.kafka_version).status()
    if not status.running or status.bootstrap is None:
        return None, f"the local broker in {status.data_dir} is not running"
    return KafkaConnection(status.bootstrap), status.bootstrap


@contextlib.contextmanager
def admin_client(connection: KafkaConnection) -> Iterator[KafkaAdminClient]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**connection.client_config(), client_id="assay-status", **QUICK)
    try:
        yield admin
    finally:
        admin.close()


@contextlib.contextmanager
def plain_consumer(connection: KafkaConnection) -> Iterator[KafkaConsumer]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        **connection.client_config(), client_id="assay-status", enable_auto_commit=False, **QUICK
    )
    try:
        yield consumer
    finally:
        consumer.close(autocommit=False, timeout_ms=1000)


def check_broker(admin: KafkaAdminClient | None, where: str, why: str = "") -> Check:
    if admin is None:
        return Check("broker", False, f"{where}: unreachable{f' ({why})' if why else ''}", {
            "reachable": False, "bootstrap": where, "error": why,
        })  # fmt: skip
    cluster = admin.describe_cluster()
    brokers = len(cluster.get("brokers", []))
    return Check("broker", True, f"{where}: reachable ({brokers} broker(s))", {
        "reachable": True, "bootstrap": where, "brokers": brokers,
    })  # fmt: skip


def check_ingest(
    settings: Settings,
    admin: KafkaAdminClient,
    consumer: KafkaConsumer,
    recorded: Callable[[int], int | None],
) -> Check:
    """Lag per partition (end offset − stored position) and who owns each partition.

    ``recorded(partition)``: the last offset the ledger stored (None: nothing yet).
    """
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    topic = settings.events_topic
    partitions = sorted(consumer.partitions_for_topic(topic) or [])
    if not partitions:
        return Check("ingest", False, f"topic {topic} does not exist", {"topic": topic})
    tps = [TopicPartition(topic, p) for p in partitions]
    ends = consumer.end_offsets(tps)
    lag: dict[int, int] = {}
    for tp in tps:
        last = recorded(tp.partition)
        lag[tp.partition] = max(0, ends[tp] - (0 if last is None else last + 1))
    try:
        view = ownership(admin, settings.consumer_group, topic, partitions)
    except KafkaError:  # the broker has never seen the group: nobody consumes
        view = Ownership(settings.consumer_group, topic, "Empty", frozenset(partitions))
    total = sum(lag.values())
    problems = []
    if view.settled and view.unowned:
        problems.append(f"partitions {view.unowned} have no owner")
    if total > settings.health_max_lag:
        problems.append(f"lag {total} > {settings.health_max_lag}")
    owners = len(set(view.owners.values()))
    state = "" if view.settled else f", group {view.state.lower()}"
    per = " ".join(f"p{p}:{n}" for p, n in lag.items())
    summary = (
        f"group {settings.consumer_group}: {owners} worker(s), "
        f"{len(partitions) - len(view.unowned)}/{len(partitions)} partitions owned{state}; "
        f"lag {total} ({per})"
    )
    if problems:
        summary += " — " + "; ".join(problems)
    return Check("ingest", not problems, summary, {
        "topic": topic, "group": settings.consumer_group, "group_state": view.state,
        "workers": owners, "unowned_partitions": view.unowned,
        "lag": {str(p): n for p, n in lag.items()}, "total_lag": total,
    })  # fmt: skip


def check_rejected(settings: Settings, consumer: KafkaConsumer, hours: float = 1.0) -> Check:
    """Dead letters written in the last hour, by reason code (read by broker timestamp)."""
    from kafka import TopicPartition

    topic = settings.rejected_topic
    partitions = sorted(consumer.partitions_for_topic(topic) or [])
    tps = [TopicPartition(topic, p) for p in partitions]
    since_ms = int((time.time() - hours * 3600) * 1000)
    codes: Counter[str] = Counter()
    if tps:
        starts = consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        ends = consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:
            found = starts.get(tp)
            consumer.seek(tp, ends[tp] if found is None else found.offset)
        deadline = time.monotonic() + 10
        counted = 0
        while any(consumer.position(tp) < ends[tp] for tp in tps) and counted < MAX_LETTERS:
            if time.monotonic() > deadline:
                break
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    headers = dict(record.headers or [])
                    codes[headers.get("assay.code", b"?").decode(errors="replace")] += 1
                    counted += 1
    total = sum(codes.values())
    by_code = ", ".join(f"{code} {n}" for code, n in codes.most_common())
    more = "≥" if total >= MAX_LETTERS else ""
    return Check("rejected", None,
                 f"last hour: {more}{total}{f' ({by_code})' if by_code else ''}",
                 {"topic": topic, "last_hour": total, "by_code": dict(codes)})  # fmt: skip


def try_kafka(call: Any, *args: Any) -> Any:
    """``call(*args)``, or the KafkaError/OSError it raised (so one failure names itself)."""
    from kafka.errors import KafkaError

    try:
        return call(*args)
    except (KafkaError, OSError) as e:
        return e
