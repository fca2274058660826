"""Three real witnesses, a growing log and a 2-of-3 policy: the story of issue's acceptance.

Use case 1: every witness cosigns, the quorum is met.
Use case 2: one witness is killed; checkpoints still reach the quorum.
Use case 3: a second one is killed; the checkpoint fails the policy (``witness_quorum``).
Use case 4: one returns; a log that knows nothing of it (a restarted anchor) is told its
            size by a 409, sends the proof from there, and the quorum is back.
Use case 5: the log forks; every witness refuses and keeps the evidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from witness.client import Collection, WitnessClient, WitnessEndpoint, endpoints_from_policy
from witness.cosignature import WitnessSigner
from witness.note import merge_signatures
from witness.policy import Policy, PolicyVerdict, evaluate, parse_policy

from .processes import WitnessProcess, assay
from .testlog import GrowingLog

TIMEOUT = 5.0


def policy_for(log: GrowingLog, witnesses: list[WitnessProcess]) -> Policy:
    lines = [f"log {log.vkey}"]
    lines += [f"witness X{i} {w.vkey} {w.url}" for i, w in enumerate(witnesses, 1)]
    lines += ["group partners 2 X1 X2 X3", "quorum partners"]
    return parse_policy("\n".join(lines) + "\n")


def client_for(policy: Policy) -> WitnessClient:
    return WitnessClient(endpoints_from_policy(policy), timeout=TIMEOUT)


def publish(
    log: GrowingLog, client: WitnessClient, policy: Policy, grow: int = 3
) -> tuple[Collection, PolicyVerdict, str]:
    log.grow(grow)
    note = log.note()
    started = time.monotonic()
    collection = client.add_checkpoint(note, log.size, log.proof)
    assert time.monotonic() - started < TIMEOUT + 1.0, "a dead witness must not block"
    cosigned = merge_signatures(note, collection.lines)
    return collection, evaluate(cosigned, policy, time.time()), cosigned


def statuses(collection: Collection) -> dict[str, str]:
    return {o.name: o.status for o in collection.outcomes}


def test_quorum_through_witness_failures_and_catch_up(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    entry = f"{log.origin}={log.vkey}"
    ws = [spawn(f"partner{i}.example/witness", [entry]) for i in (1, 2, 3)]
    policy = policy_for(log, ws)
    client = client_for(policy)
    try:
        # Use case 1
        collection, verdict, cosigned = publish(log, client, policy)
        assert statuses(collection) == dict.fromkeys(["X1", "X2", "X3"], "cosigned")
        assert verdict.quorum_met and verdict.cosigned_by == ["X1", "X2", "X3"]
        assert cosigned.count("\n\u2014 ") == 4  # the log's line and three cosignatures
        assert verdict.ignored_lines == 1

        # Use case 2
        ws[2].kill()
        collection, verdict, _ = publish(log, client, policy)
        assert statuses(collection)["X3"] == "unreachable"
        assert verdict.quorum_met and verdict.cosigned_by == ["X1", "X2"]

        # Use case 3
        ws[1].kill()
        collection, verdict, _ = publish(log, client, policy)
        assert statuses(collection) == {"X1": "cosigned", "X2": "unreachable", "X3": "unreachable"}
        assert not verdict.quorum_met and verdict.failure == "witness_quorum"
        assert "1 of 3" in verdict.message

        # Use case 4: X2 back; an anchor restarted since knows no witness's size.
        ws[1].start()
        fresh = client_for(policy)
        try:
            collection, verdict, _ = publish(log, fresh, policy)
        finally:
            fresh.close()
        outcomes = {o.name: o for o in collection.outcomes}
        assert outcomes["X2"].status == "cosigned" and outcomes["X2"].resent == 1
        assert outcomes["X1"].resent == 1 and outcomes["X3"].status == "unreachable"
        assert verdict.quorum_met and verdict.cosigned_by == ["X1", "X2"]

        # The first client's sizes are stale now (the other one moved X1 and X2 on): one
        # 409 each teaches it, and from then on it sends the right old size at once.
        collection, verdict, _ = publish(log, client, policy)
        assert verdict.quorum_met
        resent = {o.name: o.resent for o in collection.outcomes if o.status == "cosigned"}
        assert resent == {"X1": 1, "X2": 1}
        collection, verdict, _ = publish(log, client, policy)
        resent = {o.name: o.resent for o in collection.outcomes if o.status == "cosigned"}
        assert verdict.quorum_met and resent == {"X1": 0, "X2": 0}
    finally:
        client.close()


def test_a_forked_log_is_refused_by_every_witness(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    entry = f"{log.origin}={log.vkey}"
    ws = [spawn(f"partner{i}.example/witness", [entry]) for i in (1, 2, 3)]
    policy = policy_for(log, ws)
    with client_for(policy) as client:
        publish(log, client, policy, grow=8)
        fork = log.fork(at=5)
        fork.grow(3)  # the same size as the honest head, another root
        collection = client.add_checkpoint(fork.note(), fork.size, fork.proof)
        assert statuses(collection) == dict.fromkeys(["X1", "X2", "X3"], "refused")
        assert {o.http_status for o in collection.outcomes} == {422}
        assert collection.lines == ()
        for w in ws:
            out = assay("witness", "evidence", "--state", str(w.home)).stdout
            assert "fork of example.com/custody-log" in out
            assert fork.head().body() in out and log.head().body() in out

        rollback = client.add_checkpoint(log.note(4), 4, log.proof)
        assert statuses(rollback) == dict.fromkeys(["X1", "X2", "X3"], "ahead")


def test_witness_keys_verify_what_the_client_kept(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    w = spawn("partner1.example/witness", [f"{log.origin}={log.vkey}"])
    other = WitnessSigner.generate("partner2.example/witness").verifier()
    log.grow(2)
    # A client pinned to another key than the witness's own keeps nothing it returns.
    with WitnessClient([WitnessEndpoint("X1", w.url, other)], timeout=TIMEOUT) as client:
        collection = client.add_checkpoint(log.note(), log.size, log.proof)
    assert statuses(collection) == {"X1": "invalid_response"}
    assert collection.lines == ()
