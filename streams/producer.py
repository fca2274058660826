"""A thin kafka-python producer wrapper: created on first use, flushed and closed on exit."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from kafka import KafkaProducer

#: acks=all + idempotence: a broker retry never writes a message twice or out of order.
#: linger/batch sizes were tuned with bench/bench_ingest.py (see docs/benchmarks.md).
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "compression_type": "gzip",
}


class Producer:
    def __init__(self, bootstrap: str, **overrides: Any) -> None:
        self.bootstrap = bootstrap
        self.config = {**PRODUCER_DEFAULTS, **overrides}
        self._producer: KafkaProducer | None = None

    @property
    def client(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, **self.config)
        return self._producer

    def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        return self.client.send(topic, value=value, key=key, headers=headers or [])

    def flush(self, timeout: float | None = 30.0) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=timeout)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=30.0)
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
