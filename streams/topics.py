"""Topics are created by Assay with their partition counts; nothing relies on auto-creation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.connection import Cluster, as_connection
from streams.deadletter import MAX_LETTER_BYTES


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: tuple[tuple[str, str], ...] = ()


def custody_topics(
    events: str, rejected: str, checkpoints: str, partitions: int
) -> list[TopicSpec]:
    keep_forever = (("retention.ms", "-1"),)
    return [
        TopicSpec(events, partitions),
        TopicSpec(rejected, 1, (*keep_forever, ("max.message.bytes", str(MAX_LETTER_BYTES)))),
        TopicSpec(checkpoints, 1, (*keep_forever, ("cleanup.policy", "delete"))),
    ]


def ensure_topics(cluster: Cluster, specs: list[TopicSpec]) -> list[str]:
    """Create missing topics; returns the names created. Existing ones are left alone."""
    admin = KafkaAdminClient(**as_connection(cluster).client_config(), client_id="assay-admin")
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created: list[str] = []
        for spec in missing:
            topic = NewTopic(spec.name, spec.partitions, 1, topic_configs=dict(spec.config))
            try:
                admin.create_topics([topic])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
        if created:
            _await_leaders(admin, {s.name: s.partitions for s in missing if s.name in created})
        return created
    finally:
        admin.close()


def _await_leaders(admin: Any, expected: dict[str, int], timeout: float = 30.0) -> None:
    """Wait until every partition of the new topics has a leader.

    Right after CreateTopics a consumer group may otherwise be formed on metadata that
    does not list the topic yet, leaving a worker with no partitions until the next
    metadata refresh (tens of seconds).
    """
    deadline = time.monotonic() + timeout
    while True:
        described = admin.describe_topics(list(expected))
        ready = {
            t["name"]
            for t in described
            if t["name"] in expected
            and not t.get("error_code")
            and sum(p.get("leader_id", -1) >= 0 for p in t.get("partitions", []))
            == expected[t["name"]]
        }
        if ready >= set(expected):
            return
        if time.monotonic() > deadline:
            missing = sorted(set(expected) - ready)
            raise TimeoutError(f"topics {missing} have no leaders after {timeout:.0f} s")
        time.sleep(0.1)
