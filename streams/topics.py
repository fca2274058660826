"""Topics are created by Assay with their partition counts; nothing relies on auto-creation."""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError


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
        TopicSpec(rejected, 1, keep_forever),
        TopicSpec(checkpoints, 1, (*keep_forever, ("cleanup.policy", "delete"))),
    ]


def ensure_topics(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    """Create missing topics; returns the names created. Existing ones are left alone."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="assay-admin")
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
        return created
    finally:
        admin.close()
