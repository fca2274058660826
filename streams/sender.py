"""The outbox's sender: a background thread that drains an outbox to Kafka, in order.

It never blocks or fails its caller: the Kafka client is made in the thread, retried with
back-off while the cluster is away, and an entry leaves the outbox only once the broker
acknowledged it (acks=all, idempotent producer). Per round it hands the oldest pending
entries to the producer in ``seq`` order and waits for them; with one request in flight
and a delivery timeout longer than any outage, a later message of a partition cannot be
stored before an earlier one, so one item's scans keep their order. A crash between the
broker's acknowledgement and the removal sends an entry twice: the ingest stores each
event id once per item.

One sender per outbox file at a time (an flock beside it); another process writing to the
same outbox leaves the sending to the holder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError

from streams.connection import Cluster, KafkaConnection, as_connection
from streams.outbox import Entry, Outbox
from streams.producer import PRODUCER_DEFAULTS, shut

log = logging.getLogger(__name__)

WEEK_MS = 7 * 24 * 3600 * 1000
#: The sender's producer: never give up on a record while the process lives (an expired
#: record could let a later one of the same partition overtake it), one request in flight,
#: and short waits so a stop request is honoured within a few seconds.
SENDER_CONFIG: dict[str, Any] = {
    **PRODUCER_DEFAULTS,
    "max_in_flight_requests_per_connection": 1,
    "delivery_timeout_ms": WEEK_MS,
    "max_block_ms": 2000,
    "bootstrap_timeout_ms": 3000,
    "reconnect_backoff_max_ms": 1000,
}
IDLE_POLL = 0.25


class OutboxSendError(RuntimeError):
    """The sender stopped on an error of the outbox itself (e.g. its disk)."""


class _Backoff:
    def __init__(self, first: float = 0.2, most: float = 5.0) -> None:
        self.first, self.most, self.delay = first, most, first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.most)
        return delay

    def reset(self) -> None:
        self.delay = self.first


class OutboxSender:
    def __init__(
        self,
        outbox: Outbox,
        cluster: Cluster,
        *,
        window: int = 500,
        prepare: Callable[[KafkaConnection], None] | None = None,
        name: str = "outbox",
        **producer_config: Any,
    ) -> None:
        self.outbox = outbox
        self.connection = as_connection(cluster)
        self.window = window
        self.prepare = prepare
        self.name = name
        self.config = {**SENDER_CONFIG, **producer_config}
        #: Entries the broker acknowledged / refused for good, since start.
        self.sent = 0
        self.refused = 0
        self.unreachable_since: float | None = None
        self.error: BaseException | None = None
        self._producer: KafkaProducer | None = None
        self._prepared = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._backoff = _Backoff()
        self._logged_at = 0.0

    # ----- control ---------------------------------------------------------------------

    def start(self) -> OutboxSender:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-sender")
            self._thread.daemon = True
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_sent(self, up_to: int | None = None, timeout: float | None = None) -> int:
        """Wait until every entry up to ``up_to`` (default: all so far) left the outbox, or
        ``timeout`` passed, or the sender stopped; returns the entries still pending."""
        if up_to is None:
            up_to = self.outbox.last_seq()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.outbox.has_pending_up_to(up_to):
            if self.error is not None:
                raise OutboxSendError(f"{self.outbox.path}: {self.error}") from self.error
            if not self.alive or (deadline is not None and time.monotonic() >= deadline):
                return self.outbox.depth()
            self.wake()
            self._stop.wait(0.05)
        return 0

    def stop(self, timeout: float = 10.0) -> int:
        """Stop within about ``timeout`` seconds; returns the entries left to send.

        Entries handed to the producer but not acknowledged stay in the outbox and are sent
        again by the next sender.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        return self.outbox.depth()

    # ----- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._hold_lock():
                    self._stop.wait(1.0)
                    continue
                self._wake.clear()
                entries = self.outbox.pending(self.window)
                if not entries:
                    self._wake.wait(IDLE_POLL)
                    continue
                try:
                    self._send(self._client(), entries)
                except KafkaError as e:
                    self._unreachable(e)
                    self._drop_client()
                    self._stop.wait(self._backoff.next())
        except BaseException as e:
            self.error = e
            log.error("%s: sender stopped: %s: %s", self.outbox.path, type(e).__name__, e)
        finally:
            self._drop_client()
            self._release_lock()

    def _client(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(**self.connection.client_config(), **self.config)
        if self.prepare is not None and not self._prepared:
            try:
                self.prepare(self.connection)
            except KafkaError:
                raise
            except Exception as e:  # e.g. topics without leaders yet: try again later
                raise KafkaError(f"{type(e).__name__}: {e}") from e
            self._prepared = True
        return self._producer

    def _drop_client(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            shut(producer)

    def _send(self, producer: KafkaProducer, entries: list[Entry]) -> None:
        handed: list[tuple[Entry, Any]] = []
        blocked: KafkaError | None = None
        for entry in entries:
            if self._stop.is_set():
                break
            try:
                handed.append((entry, producer.send(entry.topic, value=entry.value, key=entry.key)))
            except MessageSizeTooLargeError as e:
                self._refuse(entry, e)
            except KafkaTimeoutError as e:  # no metadata: the cluster (or topic) is away
                blocked = e
                break
        acked: list[int] = []
        for entry, future in handed:
            error = self._await(future)
            if error is None:
                acked.append(entry.seq)
                if len(acked) >= 100:
                    self._ack(acked)
            elif self._stop.is_set():
                break  # not acknowledged: stays in the outbox
            elif getattr(error, "retriable", False) or not isinstance(error, KafkaError):
                blocked = error if isinstance(error, KafkaError) else KafkaError(str(error))
                break
            else:
                self._refuse(entry, error)
        self._ack(acked)
        if blocked is not None:
            raise blocked
        self._reachable()

    def _await(self, future: Any) -> BaseException | None:
        """The record's error, ``None`` once acknowledged; gives up when asked to stop."""
        began = time.monotonic()
        while not future.is_done:
            if self._stop.is_set():
                stopped: BaseException = KafkaTimeoutError("stopped before acknowledged")
                return stopped
            try:
                future.get(timeout=0.1)
            except KafkaTimeoutError:
                if time.monotonic() - began > 5 and self.unreachable_since is None:
                    self._unreachable(KafkaTimeoutError("no acknowledgement for 5 s"))
            except Exception:
                break
        if future.succeeded():
            return None
        error: BaseException = future.exception
        return error

    def _ack(self, acked: list[int]) -> None:
        if acked:
            self.sent += self.outbox.ack(acked)
            acked.clear()

    def _refuse(self, entry: Entry, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {error}"
        log.error("%s: broker refused entry %d for good: %s", self.outbox.path, entry.seq, reason)
        self.outbox.fail(entry.seq, reason)
        self.refused += 1

    def _unreachable(self, error: BaseException) -> None:
        now = time.monotonic()
        if self.unreachable_since is None:
            self.unreachable_since = self._logged_at = now
            log.warning(
                "%s: Kafka unreachable, keeping %d message(s) to send: %s",
                self.outbox.path,
                self.outbox.depth(),
                error,
            )
        elif now - self._logged_at > 30:
            self._logged_at = now
            log.warning(
                "%s: Kafka still unreachable after %.0f s; %d message(s) waiting",
                self.outbox.path,
                now - self.unreachable_since,
                self.outbox.depth(),
            )

    def _reachable(self) -> None:
        self._backoff.reset()
        if self.unreachable_since is not None:
            log.warning(
                "%s: Kafka reachable again after %.1f s; sending",
                self.outbox.path,
                time.monotonic() - self.unreachable_since,
            )
            self.unreachable_since = None

    # ----- one sender per file -----------------------------------------------------------

    def _hold_lock(self) -> bool:
        if self._lock_fd is not None:
            return True
        path = Path(f"{self.outbox.path}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() - self._logged_at > 30:
                self._logged_at = time.monotonic()
                log.info("%s: another process is sending this outbox; waiting", self.outbox.path)
            return False
        self._lock_fd = fd
        return True

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
