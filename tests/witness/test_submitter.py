"""The anchor's witnessing thread against real witnesses (served from threads): each
checkpoint goes out once, cosigned by whoever answered in time; a witness that is down
or hung costs one bounded round and is caught up later; nothing it publishes goes back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anchoring.checkpoint import open_checkpoint
from anchoring.checkpoint_file import note_size
from witness.client import WitnessClient, WitnessEndpoint
from witness.cosignature import WitnessVerifier
from witness.note import parse_note
from witness.policy import evaluate, parse_policy
from witness.publishing import read_status, write_status
from witness.submitter import CheckpointWitnessing, LockedProofs

from .inprocess import ThreadWitness, policy_text
from .testlog import GrowingLog


@pytest.fixture
def witnesses(tmp_path: Path, log: GrowingLog) -> Iterator[list[ThreadWitness]]:
    logs = {log.origin: [log.signer.verifier()]}
    started = [
        ThreadWitness(f"w{n}.example/witness", tmp_path / f"w{n}", logs).start() for n in (1, 2, 3)
    ]
    yield started
    for w in started:
        w.stop()


Make = Callable[..., CheckpointWitnessing]


@pytest.fixture
def make(log: GrowingLog, witnesses: list[ThreadWitness]) -> Iterator[Make]:
    made: list[CheckpointWitnessing] = []

    def build(
        publish: Callable[[str], None], *, timeout: float = 5.0, extra: dict[str, str] | None = None
    ) -> CheckpointWitnessing:
        urls = {f"w{n}": w.url for n, w in enumerate(witnesses, 1)} | (extra or {})
        keys = {f"w{n}": w.vkey for n, w in enumerate(witnesses, 1)}
        endpoints = [
            WitnessEndpoint(
                name, url, WitnessVerifier.from_text(keys[name]) if name in keys else None
            )
            for name, url in urls.items()
        ]
        policy = parse_policy(
            policy_text(log.vkey, {name: (keys[name], urls[name]) for name in keys}, 2)
        )
        witnessing = CheckpointWitnessing(
            WitnessClient(endpoints, timeout=timeout), urls, publish, policy=policy
        )
        witnessing.proof = LockedProofs(log.proof)
        made.append(witnessing)
        return witnessing.start()

    yield build
    for witnessing in made:
        witnessing.stop()


def test_each_checkpoint_goes_out_once_cosigned_with_the_log_line_first(
    log: GrowingLog, witnesses: list[ThreadWitness], make: Make
) -> None:
    published: list[str] = []
    witnessing = make(published.append)
    for grow in (3, 2, 7):
        log.grow(grow)
        witnessing.offer(log.note())
        assert witnessing.flush(30)
    assert [note_size(n) for n in published] == [3, 5, 12]
    note = parse_note(published[-1])
    assert note.text == log.head().body()
    assert note.signatures[0].name == log.origin  # the log's line first, then cosignatures
    assert sorted(line.name for line in note.signatures[1:]) == [w.name for w in witnesses]
    # A reader that pins only the platform key opens the cosigned note unchanged.
    assert open_checkpoint(published[-1], log.signer.verifier()).size == 12
    status = witnessing.snapshot()
    assert status.verdict is not None and status.verdict.quorum_met
    assert {n: r.cosigned_size for n, r in status.witnesses.items()} == {
        "w1": 12, "w2": 12, "w3": 12,
    }  # fmt: skip
    assert all(w.cosigned_size(log.origin) == 12 for w in witnesses)


def test_a_witness_that_is_down_is_caught_up_when_it_returns(
    log: GrowingLog, witnesses: list[ThreadWitness], make: Make
) -> None:
    published: list[str] = []
    witnessing = make(published.append)
    log.grow(2)
    witnessing.offer(log.note())
    assert witnessing.flush(30)
    witnesses[2].stop()
    for _ in range(3):  # sealing goes on: each checkpoint goes out with two cosignatures
        log.grow(4)
        witnessing.offer(log.note())
        assert witnessing.flush(30)
        verdict = witnessing.snapshot().verdict
        assert verdict is not None and verdict.cosigned_by == ["w1", "w2"]
    record = witnessing.snapshot().witnesses["w3"]
    assert (record.cosigned_size, record.last_status) == (2, "unreachable")
    assert record.failures == {"unreachable": 3}
    assert witnesses[2].cosigned_size(log.origin) == 2

    witnesses[2].start()  # same state, same port: it still holds size 2
    log.grow(1)
    witnessing.offer(log.note())
    assert witnessing.flush(30)
    assert len(parse_note(published[-1]).signatures) == 4
    assert witnesses[2].cosigned_size(log.origin) == log.size == 15
    assert witnessing.snapshot().witnesses["w3"].cosigned_size == 15


def test_two_witnesses_down_publish_without_quorum_until_one_returns(
    log: GrowingLog, witnesses: list[ThreadWitness], make: Make
) -> None:
    published: list[str] = []
    witnessing = make(published.append)
    witnesses[1].stop()
    witnesses[2].stop()
    log.grow(5)
    witnessing.offer(log.note())
    assert witnessing.flush(30)
    verdict = witnessing.snapshot().verdict
    assert verdict is not None and verdict.failure == "witness_quorum"
    assert note_size(published[-1]) == 5  # published all the same: never held back
    witnesses[1].start()
    log.grow(1)
    witnessing.offer(log.note())
    assert witnessing.flush(30)
    verdict = witnessing.snapshot().verdict
    assert verdict is not None and verdict.quorum_met and verdict.cosigned_by == ["w1", "w2"]


def test_a_hung_witness_costs_one_bounded_round_and_newer_checkpoints_supersede(
    log: GrowingLog, witnesses: list[ThreadWitness], make: Make, silent: str
) -> None:
    published: list[str] = []
    witnessing = make(published.append, timeout=0.5, extra={"hung": silent})
    offered = []
    for _ in range(20):  # faster than rounds end: the ones waiting are superseded
        log.grow(1)
        witnessing.offer(log.note())
        offered.append(log.size)
    assert witnessing.flush(30)
    sizes = [note_size(n) for n in published]
    assert sizes == sorted(set(sizes)) and sizes[-1] == offered[-1]
    status = witnessing.snapshot()
    assert len(sizes) < len(offered) and status.superseded == len(offered) - len(sizes)
    assert status.witnesses["hung"].failures == {"timeout": len(sizes)}
    for note in published:
        verdict = evaluate(note, witnessing.policy, time.time())  # type: ignore[arg-type]
        assert verdict.cosigned_by == ["w1", "w2", "w3"]


def test_a_failing_publication_does_not_end_witnessing(
    log: GrowingLog, witnesses: list[ThreadWitness], make: Make
) -> None:
    published: list[str] = []

    def publish(note: str) -> None:
        if not published and note_size(note) == 1:
            published.append("failed")
            raise OSError("disk full")
        published.append(note)

    witnessing = make(publish)
    log.grow(1)
    witnessing.offer(log.note())
    assert witnessing.flush(30)  # published on the second try
    assert "OSError: disk full" in witnessing.snapshot().last_error
    assert [note_size(n) for n in published[1:]] == [1]
    log.grow(1)
    witnessing.offer(log.note())
    assert witnessing.flush(30)
    assert note_size(published[-1]) == 2


def test_without_a_thread_flush_runs_the_round_itself(
    log: GrowingLog, witnesses: list[ThreadWitness]
) -> None:
    endpoints = [WitnessEndpoint("w1", witnesses[0].url)]
    published: list[str] = []
    witnessing = CheckpointWitnessing(WitnessClient(endpoints), {"w1": ""}, published.append)
    witnessing.proof = LockedProofs(log.proof)
    log.grow(4)
    witnessing.offer(log.note())
    witnessing.offer("not a note")  # refused, logged: nothing published for it
    assert witnessing.flush(0)
    assert len(published) == 1 and len(parse_note(published[0]).signatures) == 2

    failures = ["disk full"]

    def failing_once(note: str) -> None:
        if failures:
            raise OSError(failures.pop())
        published.append(note)

    witnessing.publish = failing_once
    log.grow(1)
    witnessing.offer(log.note())
    assert not witnessing.flush(0.5)  # the retry is due after a second: not within 0.5 s
    assert witnessing.flush(10)
    witnessing.stop()
    assert [note_size(n) for n in published] == [4, 5]


def test_the_status_file_round_trips(
    tmp_path: Path, log: GrowingLog, witnesses: list[ThreadWitness], make: Make
) -> None:
    witnessing = make(lambda note: None)
    log.grow(2)
    witnessing.offer(log.note())
    assert witnessing.flush(30)
    path = tmp_path / "witnesses.json"
    write_status(path, witnessing.snapshot())
    data = read_status(path)
    assert data is not None and data["format"] == "assay-witnessing-v1"
    assert data["checkpoint"]["size"] == 2 and data["checkpoint"]["cosignatures"] == 3
    assert data["quorum"]["met"] is True
    assert data["witnesses"]["w1"]["cosigned_size"] == 2
    path.write_text('{"format": "something else"}')
    assert read_status(path) is None


def test_locked_proofs_compute_each_proof_once(log: GrowingLog) -> None:
    calls: list[tuple[int, int]] = []

    def proof(old: int, new: int) -> list[bytes]:
        calls.append((old, new))
        return log.proof(old, new)

    log.grow(9)
    proofs = LockedProofs(proof)
    assert proofs(3, 9) == tuple(log.proof(3, 9)) == proofs(3, 9)
    assert calls == [(3, 9)]


def test_metrics_count_cosignatures_failures_and_latency(
    log: GrowingLog, witnesses: list[ThreadWitness], make: Make
) -> None:
    from prometheus_client import generate_latest

    from assay.metrics import Metrics

    witnessing = make(lambda note: None)
    metrics = Metrics()
    metrics.watch_witnessing(witnessing)
    witnesses[2].stop()
    for _ in range(2):
        log.grow(1)
        witnessing.offer(log.note())
        assert witnessing.flush(30)
    text = generate_latest(metrics.registry).decode()
    assert 'assay_witness_cosignatures_collected_total{witness="w1"} 2.0' in text
    assert 'assay_witness_cosignatures_collected_total{witness="w3"} 0.0' in text
    assert 'assay_witness_submission_failures_total{status="unreachable",witness="w3"} 2.0' in text
    assert 'assay_witness_cosigned_size{witness="w2"} 2.0' in text
    assert "assay_checkpoint_cosign_seconds_count 2.0" in text
    assert "assay_checkpoint_cosignatures 2.0" in text
    assert "assay_checkpoint_published_size 2.0" in text
    assert "assay_checkpoint_witness_quorum 1.0" in text
    assert "assay_checkpoints_superseded_total 0.0" in text
