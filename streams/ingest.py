"""The ingest: Kafka ``custody.events`` → verified reports → the event-sourced ledger.

Per poll, each partition's records are decoded, checked against the enrolled device and
applied to their items; the resulting events and the partition's offset are saved in one
event-store transaction. On every assignment a partition is sought to its recorded
offset + 1, so Kafka's own offset commits are only advisory. Anything that cannot be
accepted goes to ``custody.rejected`` with a code, a reason and the original bytes.

This module is the batch loop; what each record passes is streams/gate.py, and the
consumer-group handling (seeking on assignment, the ownership watch) streams/ingest_group.py.
"""

from __future__ import annotations

import gc
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaConnectionError, KafkaError

from domain.items import Result
from domain.ownership import OwnerReport
from domain.parties import Party
from ledger.application import CustodyLedger, Decision, Report
from streams.avro import SchemaRegistry, default_registry
from streams.connection import Cluster, as_connection
from streams.deadletter import MAX_LETTER_BYTES, DeadLetter
from streams.envelope import MAX_MESSAGE_BYTES
from streams.gate import Gate, Rejected
from streams.groups import hold_pending_rebalance, member_identity
from streams.ingest_group import OwnershipWatch, Seeker
from streams.kafka_records import read_natively
from streams.producer import DeliveryError, Producer

# Gate and Rejected lived here first: callers may still import them from this module.
__all__ = [
    "Gate",
    "Ingest",
    "IngestError",
    "IngestStats",
    "Rejected",
    "tracking_name",
    "tune_collector",
]

log = logging.getLogger(__name__)

#: Longest wait between two attempts to reach a broker that went away.
RECONNECT_BACKOFF_MAX_MS = 1000


#: Container objects a process that ingests allocates between two collections of the
#: youngest generation (CPython's default is 700). A report allocates dozens of them that
#: die with its batch, beside the large live heap of the ledger's aggregate cache: at the
#: default the collector runs many times per batch, a cost bench/bench_ingest.py shows in
#: the body, rules and save stages. Each collection also walks the poll's records and the
#: batch's objects still alive (a poll of 2,000 records holds some 10-15 a report): at
#: 10,000 it ran every ~1,400 events and took 2-4 µs CPU per event, at 50,000 about 1.
INGEST_GC_THRESHOLD = 50_000


def tune_collector() -> None:
    """Collect young objects less often in this process (never more often than set)."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, INGEST_GC_THRESHOLD), middle, old)


def tracking_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


@dataclass
class IngestStats:
    consumed: int = 0
    accepted: int = 0
    flagged: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    rejoins: int = 0
    rejected_codes: dict[str, int] = field(default_factory=dict)

    def count_rejection(self, code: str) -> None:
        self.rejected += 1
        self.rejected_codes[code] = self.rejected_codes.get(code, 0) + 1


class IngestError(RuntimeError):
    pass


def _retriable(error: KafkaError) -> bool:
    return bool(getattr(error, "retriable", False))


class _Outage:
    """Backs off while the cluster is unreachable; logs its start, progress and end."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.delay = 0.2
        self.logged_at = 0.0

    def wait(self, error: KafkaError, stop: threading.Event | None) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since, self.logged_at = now, now
            log.warning("Kafka unreachable, retrying: %s", error)
        elif now - self.logged_at > 10:
            self.logged_at = now
            log.warning("Kafka still unreachable after %.0f s: %s", now - self.since, error)
        if stop is not None:
            stop.wait(self.delay)
        else:
            time.sleep(self.delay)
        self.delay = min(self.delay * 2, 5.0)

    def over(self) -> None:
        if self.since is not None:
            log.warning("Kafka reachable again after %.1f s", time.monotonic() - self.since)
            self.since, self.delay = None, 0.2


class Ingest:
    def __init__(
        self,
        ledger: CustodyLedger,
        cluster: Cluster,
        *,
        topic: str = "custody.events",
        rejected_topic: str = "custody.rejected",
        group: str = "assay-ingest",
        registry: SchemaRegistry | None = None,
        max_records: int = 2000,
        client_id: str = "assay-ingest",
        join_timeout: float = 120.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        session_timeout: float = 10.0,
        instance_id: str = "",
        ownership_interval: float = 5.0,
    ) -> None:
        self.ledger = ledger
        self.topic = topic
        self.rejected_topic = rejected_topic
        self.registry = registry or default_registry()
        self.gate = Gate(ledger, self.registry, max_message_bytes)
        self.stats = IngestStats()
        self.max_records = max_records
        connection = as_connection(cluster)
        self.connection = connection
        self.group = group
        # Unique per worker, so the group's member list says which member is this one.
        self.client_id = f"{client_id}-{secrets.token_hex(4)}"
        #: How the broker's view of the group names this worker (streams.groups).
        self.identity = member_identity(self.client_id, instance_id or None)
        self.consumer = KafkaConsumer(
            **connection.client_config(),
            group_id=group,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            # A worker that dies (SIGKILL, lost host) holds its partitions until the
            # broker misses its heartbeats this long; Kafka's 45 s default stalls them.
            session_timeout_ms=int(session_timeout * 1000),
            heartbeat_interval_ms=max(500, int(session_timeout * 1000) // 3),
            # Static membership (KIP-345): a worker restarted with the same id gets its
            # partitions back at once, without a rebalance of the whole group.
            group_instance_id=instance_id or None,
            # Back within a second of the broker (the Java client's default): kafka-python
            # backs off up to 30 s, so a worker sat idle that long after a broker restart.
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
        )
        hold_pending_rebalance(self.consumer)
        read_natively(self.consumer)  # records read natively, ~4 µs less CPU per record
        self.dead_letters = Producer(connection, max_request_size=MAX_LETTER_BYTES)
        self.assigned_at: float | None = None
        self.join_timeout = join_timeout
        self.ownership = OwnershipWatch(self, ownership_interval)
        #: Called with (seconds, records) after each committed partition batch (metrics).
        self.batch_observers: list[Callable[[float, int], None]] = []
        #: Seconds ``close`` may wait for the broker (leaving the group, dead letters).
        self.close_timeout = 3.0

    # ----- positions -------------------------------------------------------------------

    def seek_to_recorded(self, tp: TopicPartition) -> None:
        position = self.ledger.position(tracking_name(tp.topic, tp.partition))
        if position is None:
            self.consumer.seek_to_beginning(tp)
        else:
            self.consumer.seek(tp, position + 1)

    # ----- loop ------------------------------------------------------------------------

    def subscribe(self) -> None:
        self.assigned_at = None
        self.consumer.subscribe([self.topic], listener=Seeker(self))
        # Learn the topic's partitions before the first JoinGroup: a consumer that joins
        # first is assigned nothing and must rebalance again once the metadata arrives.
        try:
            known = self.consumer.partitions_for_topic(self.topic)
        except KafkaError as e:
            if not e.retriable:
                raise
            # A topic created a moment ago can be listed with UNKNOWN_TOPIC_OR_PARTITION
            # until every broker's metadata has it: the same as no partitions yet.
            known = None
        if not known:
            log.warning("topic %s has no partitions yet; joining anyway", self.topic)

    def rejoin(self, reason: str) -> None:
        """Leave the group and join again (the only way out of a lost assignment)."""
        log.warning("rejoining group %s: %s", self.group, reason)
        self.stats.rejoins += 1
        self.consumer.unsubscribe()
        self.subscribe()

    def run(
        self, until_idle: float | None = None, stop: threading.Event | None = None
    ) -> IngestStats:
        self.subscribe()
        started = last_activity = time.monotonic()
        outage = _Outage()
        try:
            while not (stop and stop.is_set()):
                try:
                    polled: dict[Any, list[Any]] = self.consumer.poll(
                        timeout_ms=200, max_records=self.max_records
                    )
                    if polled:
                        last_activity = time.monotonic()
                        for tp, records in polled.items():
                            self._process_or_rewind(tp, records)
                        self.consumer.commit_async()
                    elif self._idle_for(until_idle, last_activity, started):
                        break
                    self.ownership.check()
                    outage.over()
                except KafkaError as e:
                    if not _retriable(e):
                        raise
                    # The broker is down or moving: nothing was committed for the records
                    # in hand; the consumer reconnects and re-reads from the recorded offsets.
                    outage.wait(e, stop)
        finally:
            self.close()
        return self.stats

    def _process_or_rewind(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        try:
            self.process_partition(tp, records)
        except DeliveryError as e:
            # A dead letter could not be written: the batch was rolled back with it.
            self.seek_to_recorded(tp)
            if not e.retriable:
                raise  # refused, not unreachable: retrying would repeat it forever
            raise KafkaConnectionError(str(e)) from e

    def _idle_for(self, until_idle: float | None, last_activity: float, started: float) -> bool:
        now = time.monotonic()
        if self.assigned_at is None:
            if now - started > self.join_timeout:
                raise IngestError(
                    f"no partitions of {self.topic} assigned after {self.join_timeout:.0f} s: "
                    "is the broker reachable and the topic created?"
                )
            return False  # idleness counts only once we are in the group
        if until_idle is None or now - max(last_activity, self.assigned_at) < until_idle:
            return False
        return self._caught_up()

    def _caught_up(self) -> bool:
        """Every partition of the topic is stored up to its end, whoever owns it.

        Quiet is not idle: an empty assignment, or one made before the topic's metadata
        was known, says nothing about the events waiting on the topic.
        """
        partitions = self.consumer.partitions_for_topic(self.topic)
        if not partitions:
            return False
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        ends = self.consumer.end_offsets(tps)
        for tp in tps:
            recorded = self.ledger.position(tracking_name(tp.topic, tp.partition))
            if (0 if recorded is None else recorded + 1) < ends[tp]:
                return False
        return True

    def close(self) -> None:
        self.ownership.close()
        try:
            self.dead_letters.close(timeout=self.close_timeout)
        except (KafkaError, DeliveryError) as e:
            # Only letters of a batch that was not committed can be pending here: that
            # batch is read again, and its letters written again, on the next start.
            log.info("dead letters of an uncommitted batch dropped at close: %s", e)
        finally:
            self.consumer.close(autocommit=False, timeout_ms=int(self.close_timeout * 1000))

    def process_partition(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        if not records:
            return
        began = time.perf_counter()
        parties: dict[str, Party | None] = {}
        reports: list[Report | OwnerReport] = []
        sources: list[Any] = []
        letters: list[DeadLetter] = []
        for record in records:
            try:
                reports.append(self.verify(record, parties))
                sources.append(record)
            except Rejected as r:
                letters.append(self._letter(record, r.code, r.reason))
            except Exception as e:
                log.exception(
                    "unexpected error reading %s:%s:%s", tp.topic, tp.partition, record.offset
                )
                letters.append(self._letter(record, "unreadable", f"{type(e).__name__}: {e}"))
        tracking = Tracking(tracking_name(tp.topic, tp.partition), records[-1].offset)

        def publish_rejections(decisions: list[Decision]) -> None:
            for decision, record in zip(decisions, sources, strict=True):
                if decision.refusal is not None:
                    refusal = decision.refusal
                    letters.append(self._letter(record, refusal.rule, refusal.reason))
            self._publish(letters)

        try:
            # The parties the gate read are the batch's too: not read from the store again.
            known = {party_id: party for party_id, party in parties.items() if party is not None}
            decisions = self.ledger.process(
                reports, tracking, before_commit=publish_rejections, loaded=known
            )
        except IntegrityError:
            # Another worker saved this partition or item first (a rebalance in flight):
            # re-read from the recorded position; nothing here was saved.
            self.stats.retries += 1
            self.seek_to_recorded(tp)
            return
        self._count(records, decisions, letters)
        for observe in self.batch_observers:
            observe(time.perf_counter() - began, len(records))

    def _count(
        self, records: Sequence[Any], decisions: list[Decision], letters: list[DeadLetter]
    ) -> None:
        s = self.stats
        s.batches += 1
        s.consumed += len(records)
        for letter in letters:
            s.count_rejection(letter.code)
        for decision in decisions:
            if decision.outcome is None:
                continue
            if decision.outcome.result is Result.DUPLICATE:
                s.duplicates += 1
            elif decision.outcome.result is Result.FLAGGED:
                s.flagged += 1
            else:
                s.accepted += 1

    # ----- checks ----------------------------------------------------------------------

    def verify(self, record: Any, parties: dict[str, Party | None]) -> Report | OwnerReport:
        return self.gate.verify(record, parties)

    def _letter(self, record: Any, code: str, reason: str) -> DeadLetter:
        return DeadLetter(
            code=code,
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=int(record.timestamp or -1),
            key=record.key,
            value=record.value or b"",
        )

    def _publish(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            kept = letter.kept()  # one Kafka request, however big the original was
            self.dead_letters.send(
                self.rejected_topic, kept.to_json(), key=kept.key, headers=kept.headers()
            )
        if letters:
            self.dead_letters.flush()
