"""An ingest worker never sits in its group with no partitions while events wait."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer

from streams.groups import Ownership, hold_pending_rebalance, ownership, should_rejoin
from streams.ingest import Ingest
from streams.producer import Producer
from streams.scanner import Scanner
from streams.topics import custody_topics, ensure_topics
from tests.support import Helper, World, busy_machine, make_world, story_events

pytestmark = pytest.mark.kafka


def view(state: str = "Stable", owners: dict[int, str] | None = None) -> Ownership:
    return Ownership("g", "t", state, frozenset(range(3)), owners or {})


def test_a_settled_group_with_an_unowned_partition_needs_a_rejoin() -> None:
    reason = should_rejoin(view(owners={0: "me", 1: "me"}), "me", {0, 1})
    assert reason is not None and "[2]" in reason
    assert should_rejoin(view("Empty"), "me", set()) is not None  # our member expired


def test_a_worker_that_reads_what_the_group_did_not_give_it_rejoins() -> None:
    owners = {0: "me", 1: "other", 2: "other"}
    assert should_rejoin(view(owners=owners), "me", {0, 1}) is not None
    assert should_rejoin(view(owners=owners), "me", {0}) is None
    assert should_rejoin(view(owners={0: "a", 1: "b", 2: "c"}), "me", set()) is None


def test_a_rebalance_in_progress_is_never_judged() -> None:
    for state in ("PreparingRebalance", "CompletingRebalance", "Dead"):
        assert should_rejoin(view(state), "me", set()) is None


def test_the_pending_rebalance_guard_fits_this_kafka_python(kafka_bootstrap: str) -> None:
    """If kafka-python's coordinator changes shape, this fails before any worker stalls."""
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=f"g-{uuid.uuid4()}")
    try:
        assert hold_pending_rebalance(consumer)
        coordinator = consumer._coordinator
        coordinator.rejoin_needed = False
        coordinator._join_task = object()  # a JoinGroup → SyncGroup round in flight
        assert coordinator.need_rejoin()
        coordinator._join_task = None
        assert not coordinator.need_rejoin()
    finally:
        consumer.close()


class _Round:
    def __init__(self, bootstrap: str, partitions: int) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.bootstrap = bootstrap
        self.names = (f"join.ev.{suffix}", f"join.rj.{suffix}", f"join.cp.{suffix}")
        self.group = f"join-{suffix}"
        self.partitions = partitions

    def create(self) -> None:
        ensure_topics(self.bootstrap, custody_topics(*self.names, self.partitions))


@pytest.fixture
def hogs() -> Iterator[None]:
    with busy_machine(2):
        yield


def _race_once(world: World, bootstrap: str) -> int:
    """Create a topic and start a worker at the same instant; partitions it owns within 60 s."""
    round_ = _Round(bootstrap, partitions=6)
    ingest = Ingest(
        world.ledger, bootstrap, topic=round_.names[0], rejected_topic=round_.names[1],
        group=round_.group, ownership_interval=1.0,
    )  # fmt: skip
    stop = threading.Event()
    go = threading.Barrier(2)
    creator = Helper(lambda: (go.wait(), round_.create()), name="creator")
    worker = Helper(lambda: (go.wait(), ingest.run(stop=stop)), name="worker")
    creator.start()
    worker.start()
    began = time.monotonic()
    while len(ingest.consumer.assignment()) < 6 and time.monotonic() - began < 60:
        if not worker.is_alive():
            break  # its error is raised below
        time.sleep(0.02)
    owned = len(ingest.consumer.assignment())
    stop.set()
    creator.outcome(timeout=60)
    worker.outcome(timeout=60)
    return owned


def test_a_worker_started_the_instant_its_topic_is_created_owns_every_partition(
    kafka_bootstrap: str, tmp_path: Path, hogs: None
) -> None:
    """50 rounds on a busy machine: topic creation and the worker's start race each time."""
    world = make_world(tmp_path)
    owned = [_race_once(world, kafka_bootstrap) for _ in range(50)]
    assert owned == [6] * 50


def test_until_idle_waits_for_every_partition_to_be_stored_not_for_quiet(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A worker given no partition (another member holds it) is not idle: it waits."""
    world = make_world(tmp_path)
    round_ = _Round(kafka_bootstrap, partitions=1)
    round_.create()
    with Producer(kafka_bootstrap) as producer:
        for event in story_events():
            Scanner(world.keys[event.party_id], producer, topic=round_.names[0]).publish(event)
    # "aaa…" sorts before "assay-ingest…": the range assignor gives partition 0 to it.
    holder = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=round_.group, client_id="aaa-holder"
    )
    holder.subscribe([round_.names[0]])
    # Few, longer polls: kafka-python 3.0.12 once hung inside a short poll here (its IO
    # thread never woke for the coordinator lookup), and every call is a chance of that.
    while not holder.assignment():
        holder.poll(timeout_ms=1000)
    ingest = Ingest(
        world.ledger, kafka_bootstrap, topic=round_.names[0], rejected_topic=round_.names[1],
        group=round_.group,
    )  # fmt: skip
    finished = threading.Event()
    worker = Helper(lambda: (ingest.run(until_idle=0.5), finished.set()), name="worker")
    worker.start()
    try:
        held_since = time.monotonic()
        while time.monotonic() - held_since < 4:  # the holder keeps its partition, polling
            holder.poll(timeout_ms=500)
            assert not finished.is_set(), "the worker called itself idle with events waiting"
        assert ingest.consumer.assignment() == set()
    finally:
        holder.close()
    worker.outcome(timeout=120)
    assert finished.is_set()
    assert world.ledger.get_item("urn:item:1").version == len(story_events())


def test_a_restarted_static_member_is_recognised_and_keeps_its_partitions(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A worker restarted under its instance id replaces itself without a rebalance; the
    broker then still reports the old process's client id for it. The ownership check
    must know the worker by its instance id, or it rejoins every few seconds until the
    broker fences it (seen in the 100-round crash harness)."""
    world = make_world(tmp_path)
    round_ = _Round(kafka_bootstrap, partitions=3)
    round_.create()

    def start(client_id: str) -> tuple[Ingest, threading.Event, Helper]:
        ingest = Ingest(
            world.ledger, kafka_bootstrap, topic=round_.names[0], rejected_topic=round_.names[1],
            group=round_.group, client_id=client_id, instance_id="static-1",
            ownership_interval=1.0,
        )  # fmt: skip
        stop = threading.Event()
        worker = Helper(lambda: ingest.run(stop=stop), name=client_id)
        worker.start()
        deadline = time.monotonic() + 60
        while len(ingest.consumer.assignment()) < 3:
            assert worker.is_alive() and time.monotonic() < deadline, worker.error
            time.sleep(0.05)
        return ingest, stop, worker

    first, stop_first, worker = start("first")
    stop_first.set()
    worker.outcome(timeout=60)  # a static member leaves no LeaveGroup: like a crash
    second, stop_second, worker = start("second")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        deadline = time.monotonic() + 60
        while not (current := ownership(admin, round_.group, round_.names[0], [0, 1, 2])).settled:
            assert time.monotonic() < deadline, current
            time.sleep(0.1)
        described = admin.describe_groups([round_.group])[round_.group]
        assert [m["client_id"] for m in described["members"]] == [first.client_id]  # stale
        assigned = {tp.partition for tp in second.consumer.assignment()}
        assert current.owned_by(second.identity) == assigned == {0, 1, 2}
        assert should_rejoin(current, second.identity, assigned) is None
        time.sleep(3)  # three of its own ownership checks (every 1 s) pass meanwhile
        assert second.stats.rejoins == 0
    finally:
        admin.close()
        stop_second.set()
        worker.outcome(timeout=60)
