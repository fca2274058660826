"""The anchor's side of witnessing: every checkpoint to the witnesses, beside sealing.

The anchor hands each checkpoint it signs to :meth:`CheckpointWitnessing.offer` and goes
on sealing. A thread of its own sends the newest offered checkpoint to every witness at
once (:class:`witness.client.WitnessClient`, bounded by its timeout), merges the
cosignatures it got into the note (the log's line first) and publishes that one note —
checkpoint file, ``custody.checkpoints``, the timestamp stamper — through ``publish``.

* A witness that is down or slow costs one round at most the client's timeout, on this
  thread only; the checkpoint goes out with the cosignatures it has.
* Checkpoints offered while a round is in flight wait; only the newest is sent and
  published (it commits to every block the others did), so a slow round never builds a
  backlog. ``superseded`` counts the ones skipped.
* The client remembers each witness's size; a witness that missed checkpoints answers
  409 and is caught up with a consistency proof from the size it holds, so nothing is
  lost and no checkpoint needs resending.

The proof source must be thread-safe: the client asks it from one thread per witness.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from witness.client import Collection, ProofFunction, WitnessClient, WitnessOutcome
from witness.errors import NoteError
from witness.note import TreeHead, merge_signatures, parse_note
from witness.policy import Policy, PolicyVerdict, evaluate

log = logging.getLogger(__name__)

#: Called with (seconds from offer to publication, the round's collection) after each round.
RoundObserver = Callable[[float, Collection], None]
#: A checkpoint whose publication failed (disk full, ...) is tried again after this.
RETRY_SECONDS = 1.0


@dataclass
class WitnessRecord:
    """What the anchor knows of one witness, for `assay status`, metrics and the API."""

    url: str
    cosigned_size: int = 0
    cosigned_at: float | None = None  # unix time the anchor got its latest cosignature
    cosignatures: int = 0
    last_status: str = ""
    last_http_status: int | None = None
    last_detail: str = ""
    failures: dict[str, int] = field(default_factory=dict)  # by failure label

    def record(self, outcome: WitnessOutcome, size: int, now: float) -> None:
        self.last_status, self.last_http_status = outcome.status, outcome.http_status
        self.last_detail = outcome.detail
        if outcome.status == "cosigned":
            self.cosigned_size, self.cosigned_at = size, now
            self.cosignatures += 1
        else:
            label = failure_label(outcome)
            self.failures[label] = self.failures.get(label, 0) + 1


def failure_label(outcome: WitnessOutcome) -> str:
    """``timeout``, ``unreachable``, ``refused_422``, ``ahead``, ``invalid_response``, ..."""
    if outcome.status == "refused" and outcome.http_status is not None:
        return f"refused_{outcome.http_status}"
    return outcome.status


@dataclass
class WitnessingStatus:
    """The witnessing thread's record; read under :attr:`CheckpointWitnessing.lock`."""

    witnesses: dict[str, WitnessRecord]
    rounds: int = 0
    superseded: int = 0
    published_size: int = 0
    published_at: float | None = None
    published_cosignatures: int = 0
    #: The policy's verdict on the newest published checkpoint (None without a policy).
    verdict: PolicyVerdict | None = None
    last_error: str = ""


class CheckpointWitnessing:
    def __init__(
        self,
        client: WitnessClient,
        urls: dict[str, str],
        publish: Callable[[str], None],
        *,
        policy: Policy | None = None,
        on_status: Callable[[WitnessingStatus], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.publish = publish
        self.policy = policy
        self.on_status = on_status
        self.clock = clock
        self.proof: ProofFunction | None = None
        self.status = WitnessingStatus({name: WitnessRecord(url) for name, url in urls.items()})
        self.observers: list[RoundObserver] = []
        self.lock = threading.Lock()
        self._wake = threading.Condition()
        self._offered: tuple[int, str, float] | None = None
        self._busy = False
        self._retry_at = 0.0  # after a failed publication, not before this (monotonic)
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ----- the anchor's side -------------------------------------------------------------

    def offer(self, note: str) -> None:
        """Queue a checkpoint the log signed; a newer one replaces one not yet sent."""
        try:
            size = TreeHead.parse(parse_note(note).text).size
        except NoteError as e:
            log.error("witnessing: not a checkpoint note, not published: %s", e)
            return
        with self._wake:
            if self._offered is not None:
                if size < self._offered[0]:
                    return
                with self.lock:
                    self.status.superseded += 1
            self._offered = (size, note, time.monotonic())
            self._wake.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every offered checkpoint is published; False if ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        if self._thread is None or not self._thread.is_alive():
            # Not started (e.g. `assay anchor --once`): the rounds run here and now.
            while self.run_once():
                if self._offered is not None:  # its publication failed: wait to retry
                    if self._retry_at >= deadline:
                        return False
                    time.sleep(max(0.0, self._retry_at - time.monotonic()))
            return True
        with self._wake:
            while self._offered is not None or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(remaining)
        return True

    # ----- one round ---------------------------------------------------------------------

    def run_once(self) -> bool:
        """Send the newest offered checkpoint and publish it cosigned; False if none."""
        with self._wake:
            if self._offered is None or self._busy:
                return False
            size, note, offered_at = self._offered
            self._offered, self._busy = None, True
        try:
            self._round(size, note, offered_at)
        finally:
            with self._wake:
                self._busy = False
                self._wake.notify_all()
        return True

    def _round(self, size: int, note: str, offered_at: float) -> None:
        proof = self.proof
        if proof is None:
            raise RuntimeError("CheckpointWitnessing.proof is not set")
        try:
            collection = self.client.add_checkpoint(note, size, proof)
            cosigned = merge_signatures(note, collection.lines)
        except Exception as e:  # publish the log's note rather than lose the checkpoint
            log.exception("witnessing: round for checkpoint %d failed", size)
            collection, cosigned = Collection((), ()), note
            with self.lock:
                self.status.last_error = f"{type(e).__name__}: {e}"
        now = self.clock()
        with self.lock:
            for outcome in collection.outcomes:
                record = self.status.witnesses.setdefault(outcome.name, WitnessRecord(""))
                record.record(outcome, size, now)
        try:
            self.publish(cosigned)
        except Exception as e:  # tried again in a second, unless a newer one comes first
            log.exception("witnessing: publishing checkpoint %d failed", size)
            with self.lock:
                self.status.last_error = f"publishing checkpoint {size}: {type(e).__name__}: {e}"
            with self._wake:
                if self._offered is None:
                    self._offered = (size, note, offered_at)
                    self._retry_at = time.monotonic() + RETRY_SECONDS
            return
        verdict = evaluate(cosigned, self.policy, now) if self.policy is not None else None
        with self.lock:
            status = self.status
            status.rounds += 1
            status.published_size, status.published_at = size, now
            status.published_cosignatures = len(collection.lines)
            status.verdict = verdict
        for outcome in collection.outcomes:
            if outcome.status != "cosigned":
                log.warning(
                    "witness %s did not cosign checkpoint %d: %s %s",
                    outcome.name, size, failure_label(outcome), outcome.detail,
                )  # fmt: skip
        if verdict is not None and verdict.failure is not None:
            log.warning("checkpoint %d published without quorum: %s", size, verdict.message)
        elapsed = time.monotonic() - offered_at
        for observe in self.observers:
            observe(elapsed, collection)
        if self.on_status is not None:
            self.on_status(self.snapshot())

    def snapshot(self) -> WitnessingStatus:
        """A copy of the status, safe to read while rounds go on."""
        with self.lock:
            s = self.status
            return WitnessingStatus(
                {n: _copy(r) for n, r in s.witnesses.items()},
                s.rounds, s.superseded, s.published_size, s.published_at,
                s.published_cosignatures, s.verdict, s.last_error,
            )  # fmt: skip

    # ----- the thread --------------------------------------------------------------------

    def start(self) -> CheckpointWitnessing:
        self._thread = threading.Thread(target=self._loop, name="witnessing", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the round in flight (bounded by the client's timeout)."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.close()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopping:
                    if self._offered is None:
                        self._wake.wait()
                    elif (wait := self._retry_at - time.monotonic()) > 0:
                        self._wake.wait(wait)
                    else:
                        break
                if self._stopping:
                    return
            try:
                self.run_once()
            except Exception as e:  # a bug: log it, keep witnessing the next checkpoints
                log.exception("witnessing: a round failed")
                with self.lock:
                    self.status.last_error = f"{type(e).__name__}: {e}"


class LockedProofs:
    """A thread-safe proof function over a single-threaded one, remembering recent proofs
    (every witness at the same size asks for the same one)."""

    def __init__(self, proof: Callable[[int, int], Sequence[bytes]], keep: int = 64) -> None:
        self._proof = proof
        self._keep = keep
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, int], tuple[bytes, ...]] = OrderedDict()

    def __call__(self, old: int, new: int) -> tuple[bytes, ...]:
        with self._lock:
            cached = self._cache.get((old, new))
            if cached is None:
                cached = tuple(self._proof(old, new))
                self._cache[(old, new)] = cached
                if len(self._cache) > self._keep:
                    self._cache.popitem(last=False)
            return cached


def _copy(record: WitnessRecord) -> WitnessRecord:
    return WitnessRecord(
        record.url, record.cosigned_size, record.cosigned_at, record.cosignatures,
        record.last_status, record.last_http_status, record.last_detail,
        dict(record.failures),
    )  # fmt: skip
