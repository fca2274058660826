"""A thin kafka-python producer wrapper: created on first use, flushed and closed on exit."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from kafka import KafkaProducer

from streams.connection import Cluster, as_connection

#: acks=all + idempotence: a broker retry never writes a message twice or out of order.
#: Batching and compression were chosen by measurement (bench/bench_producer.py compares
#: the alternatives in one run): a short linger with large gzip batches was fastest;
#: longer lingers added latency for nothing; lz4/zstd need extra C libraries.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "compression_type": "gzip",
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
        return future

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

    def close(self) -> None:
        if self._producer is not None:
            try:
                self.flush(timeout=30.0)
            finally:
                self._producer.close(timeout=10.0)
                self._producer = None

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
