"""Consumer-group health: who owns which partition, and two guards for the ingest's group.

A worker that sits in its group with no partitions while events wait is a silent outage.
Two things can leave it there, and each has its guard here:

* kafka-python 3.0.12 forgets a rebalance that a *metadata change* started (the first
  join of a fresh consumer usually happens before the subscribed topic's metadata has
  arrived, so it joins with nothing and must join again when the metadata lands). The
  second JoinGroup → SyncGroup round runs as a task across polls; once the leader has
  computed the assignment, ``need_rejoin()`` turns false, and a poll that times out
  before the SyncGroup answer never looks at the task again: no assignment, heartbeats
  off, the broker expires the member, and the worker waits forever. The Java client had
  the same defect (KAFKA-9815; it now requests a rejoin on every metadata-triggered
  rebalance). :func:`hold_pending_rebalance` makes a pending round count as "rejoin
  needed" until it has been applied.
* Anything else that leaves partitions without an owner (a library change, a broker
  that lost the group): :func:`ownership` reads the group from the broker and
  :func:`should_rejoin` says when a worker must leave and join again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Group states in which the broker's view of ownership is settled.
SETTLED_STATES = frozenset({"Stable", "Empty"})


def hold_pending_rebalance(consumer: Any) -> bool:
    """Keep a started JoinGroup → SyncGroup round alive across polls until it is applied.

    Returns whether the guard could be installed (it needs the coordinator of
    kafka-python 3.0; ``tests/streams/test_groups.py`` fails if that ever changes).
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "_join_task"):
        log.warning("kafka-python has no pending-join task to guard; ownership checks only")
        return False
    original = coordinator.need_rejoin

    def need_rejoin() -> bool:
        # A round in flight, or finished but not yet applied, must be awaited again.
        return coordinator._join_task is not None or bool(original())

    coordinator.need_rejoin = need_rejoin
    return True


@dataclass(frozen=True)
class Ownership:
    """The broker's view of one group on one topic."""

    group: str
    topic: str
    state: str
    partitions: frozenset[int]
    #: partition → identity (:func:`member_identity`) of the member it is assigned to.
    owners: dict[int, str] = field(default_factory=dict)
    members: tuple[str, ...] = ()

    @property
    def unowned(self) -> list[int]:
        return sorted(self.partitions - set(self.owners))

    def owned_by(self, identity: str) -> set[int]:
        return {p for p, owner in self.owners.items() if owner == identity}

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES


def member_identity(client_id: str, instance_id: str | None) -> str:
    """How a member is recognised in the broker's view: its static instance id if it has
    one, else its client id.

    A static member restarted under the same instance id replaces the old member without
    a rebalance, and the broker keeps reporting the *old* member's client id for it: judged
    by client id, the restarted worker would look like it owned nothing and rejoin forever.
    """
    return f"instance:{instance_id}" if instance_id else f"client:{client_id}"


def ownership(admin: Any, group: str, topic: str, partitions: Iterable[int]) -> Ownership:
    """Read the group's members and their assignments from its coordinator."""
    described = admin.describe_groups([group]).get(group, {})
    owners: dict[int, str] = {}
    members: list[str] = []
    for member in described.get("members", []):
        identity = member_identity(
            str(member.get("client_id", "")), member.get("group_instance_id") or None
        )
        members.append(identity)
        assignment = member.get("member_assignment") or {}
        if not isinstance(assignment, dict):
            continue  # undecodable: another protocol's member
        for assigned in assignment.get("assigned_partitions", []):
            if assigned.get("topic") == topic:
                for p in assigned.get("partitions", []):
                    owners[int(p)] = identity
    return Ownership(
        group=group,
        topic=topic,
        state=str(described.get("group_state", "Dead")),
        partitions=frozenset(partitions),
        owners=owners,
        members=tuple(members),
    )


def should_rejoin(view: Ownership, identity: str, assigned: set[int]) -> str | None:
    """Why this worker must rejoin its group now, or ``None``.

    Only a settled group is judged (a rebalance in progress is allowed to look empty).
    """
    if not view.settled or not view.partitions:
        return None
    if view.unowned:
        return f"partitions {view.unowned} of {view.topic} have no owner in group {view.group}"
    if assigned != view.owned_by(identity):
        return (
            f"this worker reads partitions {sorted(assigned)} but the group assigned it "
            f"{sorted(view.owned_by(identity))}"
        )
    return None
