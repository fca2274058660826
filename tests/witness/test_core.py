"""The witness's compare-and-swap: racing requests can never roll its state back, whether
they share one process or come through two processes' connections to one state file."""

from __future__ import annotations

import threading
from pathlib import Path

from witness.core import Witness
from witness.cosignature import WitnessSigner
from witness.protocol import AddCheckpoint
from witness.state import StateStore

from .testlog import GrowingLog

ROUNDS = 40


def test_racing_requests_never_roll_back(tmp_path: Path) -> None:
    """The spec's race: A (size N) and B (size N+K) both checked against the same old size."""
    log = GrowingLog()
    signer = WitnessSigner.generate("witness.example/w1")
    logs = {log.origin: [log.signer.verifier()]}
    # Two stores on one file: two connections, as two processes would have.
    witnesses = [Witness(signer, logs, StateStore(tmp_path)) for _ in range(2)]
    held = 0
    for _ in range(ROUNDS):
        log.grow(3)
        small = log.size
        log.grow(4)
        large = log.size
        requests = [
            AddCheckpoint(held, tuple(log.proof(held, size)) if held else (), log.note(size))
            for size in (small, large)
        ]
        statuses: list[int] = [0, 0]
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=_send, args=(witnesses[i], requests[i], barrier, statuses, i))
            for i in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200, 409], statuses  # exactly one wins the old size
        state = witnesses[0].store.get(log.origin)
        assert state is not None
        winner = (small, large)[statuses.index(200)]
        assert state.size == winner >= held
        held = state.size
    for w in witnesses:
        w.store.close()


def _send(
    witness: Witness,
    request: AddCheckpoint,
    barrier: threading.Barrier,
    statuses: list[int],
    i: int,
) -> None:
    barrier.wait()
    statuses[i] = witness.add_checkpoint(request.encode()).status


def test_evidence_is_kept_once_however_often_it_is_shown(tmp_path: Path) -> None:
    log = GrowingLog()
    store = StateStore(tmp_path)
    w = Witness(WitnessSigner.generate("w.example"), {log.origin: [log.signer.verifier()]}, store)
    log.grow(5)
    assert w.add_checkpoint(AddCheckpoint(0, (), log.note()).encode()).status == 200
    fork = log.fork(at=2)
    fork.grow(3)
    for _ in range(3):
        assert w.add_checkpoint(AddCheckpoint(5, (), fork.note()).encode()).status == 422
    assert [e.kind for e in store.evidence()] == ["fork"]
    bigger = log.fork(at=5)
    bigger.grow(2)
    log.grow(2)
    wrong = (bytes(32),) * len(log.proof(5, 7))
    assert w.add_checkpoint(AddCheckpoint(5, wrong, bigger.note()).encode()).status == 422
    assert [e.kind for e in store.evidence()] == ["fork", "unproven"]
    store.close()


def test_a_batch_is_decided_in_order_under_one_commit(tmp_path: Path) -> None:
    log = GrowingLog()
    store = StateStore(tmp_path)
    w = Witness(WitnessSigner.generate("w.example"), {log.origin: [log.signer.verifier()]}, store)
    log.grow(5)
    first = AddCheckpoint(0, (), log.note()).encode()
    log.grow(3)
    second = AddCheckpoint(5, tuple(log.proof(5, 8)), log.note()).encode()
    stale = AddCheckpoint(5, tuple(log.proof(5, 8)), log.note()).encode()  # 5 is gone by now
    fork = log.fork(at=6)
    fork.grow(2)
    forked = AddCheckpoint(8, (), fork.note()).encode()
    replies = w.add_checkpoints([first, b"garbage", second, stale, forked])
    assert [r.status for r in replies] == [200, 400, 200, 409, 422]
    assert replies[3].body == b"8\n"
    state = store.get(log.origin)
    assert state is not None and state.size == 8
    assert [e.kind for e in store.evidence()] == ["fork"]
    store.close()
