"""SIGKILL a witness mid-request 20 times while a log keeps sending growing checkpoints.

After every kill the state on disk is read directly: its size never goes backwards, and
it is never below the largest size for which a cosignature reached the client (the
witness persists before it answers). After every restart the witness cosigns again.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from witness.client import WitnessClient, WitnessEndpoint
from witness.cosignature import WitnessVerifier

from .processes import WitnessProcess
from .testlog import GrowingLog

pytestmark = pytest.mark.slow

KILLS = 20


def stored_size(home: Path, origin: str) -> int:
    db = sqlite3.connect(home / "witness.sqlite")
    try:
        row = db.execute("SELECT size FROM logs WHERE origin = ?", (origin,)).fetchone()
    finally:
        db.close()
    return 0 if row is None else int(row[0])


class Sender(threading.Thread):
    """Grows the log and sends every new checkpoint, without pause, until stopped."""

    def __init__(self, log: GrowingLog, client: WitnessClient) -> None:
        super().__init__(daemon=True)
        self.log, self.client = log, client
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.max_cosigned = 0
        self.cosigned = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.log.grow(random.randint(1, 3))
                result = self.client.add_checkpoint(self.log.note(), self.log.size, self.log.proof)
                for outcome in result.outcomes:
                    if outcome.status == "cosigned":
                        with self.lock:
                            self.max_cosigned = max(self.max_cosigned, self.log.size)
                            self.cosigned += 1
                    elif outcome.status not in ("unreachable", "timeout"):
                        raise AssertionError(f"unexpected outcome {outcome}")
                    if outcome.status != "cosigned":
                        time.sleep(0.01)  # the witness is down: do not spin
        except BaseException as e:
            self.error = e

    def cosignatures(self) -> int:
        with self.lock:
            return self.cosigned

    def wait_for_cosignatures(self, count: int, deadline: float) -> None:
        while self.cosignatures() < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the witness stopped cosigning"
            time.sleep(0.005)


def test_state_never_goes_backwards_across_sigkills(
    log: GrowingLog, spawn: Callable[..., WitnessProcess]
) -> None:
    w = spawn("witness.example/w1", [f"{log.origin}={log.vkey}"])
    verifier = WitnessVerifier.from_text(w.vkey)
    client = WitnessClient([WitnessEndpoint("w1", w.url, verifier)], timeout=2.0)
    sender = Sender(log, client)
    sender.start()
    rng = random.Random(16)
    sizes: list[int] = []
    try:
        for _ in range(KILLS):
            sender.wait_for_cosignatures(sender.cosignatures() + 3, time.monotonic() + 30)
            time.sleep(rng.uniform(0, 0.02))  # land anywhere inside a request
            w.kill()
            with sender.lock:
                acknowledged = sender.max_cosigned
            size = stored_size(w.home, log.origin)
            assert size >= acknowledged, f"cosigned {acknowledged} but only {size} on disk"
            assert not sizes or size >= sizes[-1], f"state went back from {sizes[-1]} to {size}"
            sizes.append(size)
            w.start()
        sender.wait_for_cosignatures(sender.cosignatures() + 3, time.monotonic() + 30)
    finally:
        sender.stop.set()
        sender.join(timeout=10)
        client.close()
    assert sender.error is None, sender.error
    assert len(sizes) == KILLS and sizes[-1] > sizes[0]
    assert stored_size(w.home, log.origin) >= sender.max_cosigned
