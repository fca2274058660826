"""A thin kafka-python producer wrapper: created on first use, flushed and closed on exit."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams.connection import Cluster, as_connection

#: acks=all + idempotence: a broker retry never writes a message twice or out of order.
#: Batching and compression were chosen by measurement (bench/bench_producer.py compares
#: the alternatives in one run): a short linger with large batches was fastest; longer
#: lingers added latency for nothing. zstd (the ``zstandard`` package) replaced gzip,
#: which kafka-python runs at level 9: on the bench's envelopes, ~105 per batch, zstd
#: compresses for 0.53 µs of CPU per event against gzip's 2.98 and decompresses (in every
#: ingest worker) for 0.16 against 0.47, at a better ratio (2.57 against 2.41); lz4 and
#: snappy are cheaper still but send ~16 % more bytes than zstd
#: (bench/results/producer-2026-12-05.md). Consumers decode every codec, so what earlier
#: versions published with gzip still ingests.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "compression_type": "zstd",
    # After a broker restart, reconnect within a second (the Java client's default);
    # kafka-python backs off up to 30 s, so the producer idled that long after an outage.
    "reconnect_backoff_max_ms": 1000,
}


class DeliveryError(RuntimeError):
    """Messages the broker did not acknowledge; raised by ``flush`` so none fail silently."""

    def __init__(self, message: str, errors: list[BaseException]) -> None:
        super().__init__(message)
        self.errors = errors

    @property
    def retriable(self) -> bool:
        """Whether sending again may succeed (the broker was unreachable, not refusing)."""
        return all(getattr(e, "retriable", False) for e in self.errors)


class Producer:
    def __init__(self, cluster: Cluster, **overrides: Any) -> None:
        self.connection = as_connection(cluster)
        self.bootstrap = self.connection.bootstrap
        self.config = {**PRODUCER_DEFAULTS, **overrides}
        self._producer: KafkaProducer | None = None
        self._failures: list[BaseException] = []
        #: Messages the broker acknowledged (read by the metrics).
        self.delivered = 0

    @property
    def client(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(**self.connection.client_config(), **self.config)
        return self._producer

    def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        future = self.client.send(topic, value=value, key=key, headers=headers or [])
        future.add_errback(self._failures.append)
        future.add_callback(self._count_delivered)
        return future

    def _count_delivered(self, _metadata: Any) -> None:
        self.delivered += 1

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait for every message sent so far; raise if any was not acknowledged."""
        if self._producer is not None:
            self._producer.flush(timeout=timeout)
        if self._failures:
            failures, self._failures = self._failures, []
            raise DeliveryError(
                f"{len(failures)} message(s) were not delivered to {self.bootstrap}: "
                f"{failures[0]!r}",
                failures,
            )

    def close(self, timeout: float = 30.0) -> None:
        """Flush for at most ``timeout`` seconds, then close, even if the broker is away.

        Raises :class:`DeliveryError` (or kafka-python's timeout) for what was not
        acknowledged; the client is closed either way.
        """
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                producer.flush(timeout=timeout)
                self.flush(timeout=0)
            finally:
                shut(producer)

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def shut(producer: KafkaProducer, timeout: float = 1.0) -> None:
    """Close a kafka-python producer within about ``timeout`` seconds, whatever the broker.

    ``KafkaProducer.close`` flushes first and, while records are pending and the broker is
    away, raises and leaves its I/O thread running, so ``__del__`` raises again at exit.
    Force-closing the I/O thread fails the pending records; the caller still holds them
    (an outbox entry, an uncommitted batch) and sends them again later.
    """
    try:
        producer.close(timeout=timeout)
        return
    except KafkaError:
        pass
    # kafka-python has no public way to abandon pending records.
    producer._sender.force_close()
    try:
        producer.close(timeout=timeout)
    except KafkaError:
        producer._closed = True  # give up: never let __del__ try again
