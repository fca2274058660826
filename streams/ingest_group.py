"""The ingest's consumer-group handling: seeking each assigned partition to its recorded
position, and the watch that rejoins the group when the broker's view of it and this
worker's assignment disagree (streams/groups.py reads that view)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kafka import KafkaAdminClient, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError

from streams.groups import ownership, should_rejoin

if TYPE_CHECKING:
    from streams.ingest import Ingest

# The ingest's logger, whichever of its modules logs: operators filter on its name.
log = logging.getLogger("streams.ingest")


class Seeker(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks every partition assigned to the ingest to its recorded offset + 1."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        for tp in assigned:
            self.ingest.seek_to_recorded(tp)
        self.ingest.assigned_at = time.monotonic()
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))


#: Client waits of the ownership check, bounded so the poll loop stays responsive.
WATCH_TIMEOUTS = {
    "bootstrap_timeout_ms": 2000,
    "request_timeout_ms": 3000,
    "reconnect_backoff_max_ms": 1000,
}


class OwnershipWatch:
    """Every few seconds, compare this worker's assignment with the broker's view of the
    group; rejoin after two settled checks in a row that show an unowned partition or a
    disagreement (one may be a rebalance seen half-way)."""

    def __init__(self, ingest: Ingest, interval: float) -> None:
        self.ingest = ingest
        self.interval = interval
        self.next_check = time.monotonic() + interval
        self.strikes = 0
        self._admin: KafkaAdminClient | None = None

    def check(self) -> None:
        if self.interval <= 0 or time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + self.interval
        ingest = self.ingest
        try:
            partitions = ingest.consumer.partitions_for_topic(ingest.topic)
            if self._admin is None:
                self._admin = KafkaAdminClient(
                    **ingest.connection.client_config(),
                    client_id=f"{ingest.client_id}-watch",
                    # Checked from the poll loop: a broker that is away must not hold it
                    # (kafka-python waits 30 s by default), or a stop would wait as long.
                    **WATCH_TIMEOUTS,
                )
            view = ownership(self._admin, ingest.group, ingest.topic, partitions)
        except KafkaError as e:
            log.debug("group ownership not readable now: %s", e)  # the poll loop sees outages
            return
        assigned = {tp.partition for tp in ingest.consumer.assignment()}
        reason = should_rejoin(view, ingest.identity, assigned)
        self.strikes = self.strikes + 1 if reason else 0
        if reason and self.strikes >= 2:
            self.strikes = 0
            ingest.rejoin(reason)

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
