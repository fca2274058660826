"""The ingest consumer's records, read natively (native/src/kafkarecords.rs).

kafka-python reads each record of a fetched batch in Python (``DefaultRecordBatch._read_msg``,
then a ``ConsumerRecord`` in its fetcher's ``PartitionRecords._unpack_records``): about 5 µs
a record, a tenth of the whole ingest's CPU per event. :class:`NativePartitionRecords` is
that fetcher's ``PartitionRecords`` with the records of each v2 batch read by one native
call, which makes the same ``ConsumerRecord``s. The batch's checks (CRC, control batches,
the next offset) are a copy of the read-uncommitted ``_unpack_records`` of kafka-python
:data:`KAFKA_PYTHON_VERSION`, calling its ``validate_crc``; the skipping of records before
the fetch offset and the taking are kafka-python's own. Whatever the native reader declines (an old
message format, a control batch, more than :data:`NATIVE_MAX_RECORDS` records, a batch it
does not read exactly as kafka-python does: then kafka-python may find it corrupt) is read
by kafka-python's own reader, the reference, which makes each record as it is taken; so is
every fetch of a consumer with deserializers or reading committed transactions only.
tests/streams/test_kafka_records.py binds the two on many batches, valid, corrupted and
truncated.

:func:`read_natively` installs it on one consumer (the ingest's), not on kafka-python, and
only on the kafka-python version the copy was made from (:data:`KAFKA_PYTHON_VERSION`).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterator
from typing import Any

from assay_headmap import kafka_records
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord, Fetcher
from kafka.errors import CorruptRecordError
from kafka.protocol.consumer import IsolationLevel
from kafka.record.default_records import DefaultRecordBatch

log = logging.getLogger(__name__)

#: The kafka-python version whose ``PartitionRecords._unpack_records`` (read uncommitted)
#: :class:`NativePartitionRecords` copies; pyproject.toml pins it. On an upgrade, compare
#: the two and re-run tests/streams/test_kafka_records.py.
KAFKA_PYTHON_VERSION = "3.0.12"

#: The most records of a batch read natively. The native call makes every record of a batch
#: before the first is taken (kafka-python makes each as it is taken), so a batch claiming
#: more is left to kafka-python: a hostile 0.8 MB zstd batch of a million empty records
#: would otherwise cost ~0.3 GB and seconds of CPU at once. The ingest's producers fill
#: batches of 256 KiB (streams/producer.py): ~105 signed custody events of ~2.5 KB. Only
#: records under ~26 bytes fill such a batch past 10,000, so every real batch stays native,
#: and one call makes a few MB at most.
NATIVE_MAX_RECORDS = 10_000

_Base: Any = Fetcher.PartitionRecords  # kafka-python's class (untyped)


class NativePartitionRecords(_Base):  # type: ignore[misc]
    """kafka-python's ``PartitionRecords``, each v2 batch's records read natively."""

    def _unpack_records(
        self, tp: Any, records: Any, key_deserializer: Any, value_deserializer: Any
    ) -> Iterator[ConsumerRecord]:
        if (
            key_deserializer is not None
            or value_deserializer is not None
            or self.isolation_level != IsolationLevel.READ_UNCOMMITTED
        ):
            yield from super()._unpack_records(tp, records, key_deserializer, value_deserializer)
            return
        try:
            batch = records.next_batch()
            last_batch = None
            while batch is not None:
                last_batch = batch
                if self.check_crcs and not batch.validate_crc():
                    raise CorruptRecordError(
                        f"Record batch for partition {self.topic_partition} at offset "
                        f"{batch.base_offset} failed crc check"
                    )
                if batch.magic == 2:
                    self.leader_epoch = batch.leader_epoch
                    if batch.is_control_batch:  # not returned to the consumer
                        self.next_fetch_offset = batch.next_offset
                        batch = records.next_batch()
                        continue
                yield from self._batch_records(tp, batch)
                batch = records.next_batch()
            if last_batch and last_batch.magic == 2:
                # The next fetch starts after the batch, even if compaction removed its
                # last records (as kafka-python does).
                self.next_fetch_offset = last_batch.next_offset
            self.drain()
        except StopIteration:  # kafka-python's guard (its issue 545), kept alike
            log.exception("StopIteration raised unpacking messageset")
            raise RuntimeError("StopIteration raised unpacking messageset") from None

    def _batch_records(self, tp: Any, batch: Any) -> Iterator[ConsumerRecord]:
        # A magic above 2 (kafka-python reads it as v2) or a control bit: kafka-python's.
        native = (
            type(batch) is DefaultRecordBatch and batch.magic == 2 and not batch.is_control_batch
        )
        read = _read_v2(tp, batch, self.leader_epoch) if native else None
        if read is None:
            yield from self._reference_records(tp, batch)
            return
        for record, size in zip(*read, strict=True):
            self.records_read += 1
            self.bytes_read += size
            self.next_fetch_offset = record.offset + 1
            yield record

    def _reference_records(self, tp: Any, batch: Any) -> Iterator[ConsumerRecord]:
        """kafka-python's reading of a batch's records (its ``_unpack_records``, no
        deserializers)."""
        for record in batch:
            if self.check_crcs and not record.validate_crc():
                raise CorruptRecordError(
                    f"Record for partition {self.topic_partition} at offset "
                    f"{record.offset} failed crc check"
                )
            key, value, headers = record.key, record.value, record.headers
            header_size = (
                sum(len(k.encode("utf-8")) + (len(v) if v is not None else 0) for k, v in headers)
                if headers
                else -1
            )
            self.records_read += 1
            self.bytes_read += record.size_in_bytes
            self.next_fetch_offset = record.offset + 1
            yield ConsumerRecord(
                tp.topic, tp.partition, self.leader_epoch, record.offset, record.timestamp,
                record.timestamp_type, key, value, headers, record.checksum,
                len(key) if key is not None else -1, len(value) if value is not None else -1,
                header_size,
            )  # fmt: skip


def _read_v2(tp: Any, batch: Any, leader_epoch: int) -> tuple[list[Any], list[int]] | None:
    """The records of a v2 batch and their sizes, read natively, or None (not read: the
    batch is left as it was; so is one of more than :data:`NATIVE_MAX_RECORDS` records)."""
    count = batch._num_records
    if not 0 <= count <= NATIVE_MAX_RECORDS:
        return None
    iter(batch)  # decompresses its records (kafka-python's step, before any is read)
    append_time = batch.max_timestamp if batch.timestamp_type == batch.LOG_APPEND_TIME else None
    return kafka_records(
        bytes(memoryview(batch._buffer)[batch._pos :]),
        count,
        batch.base_offset,
        batch.first_timestamp,
        append_time,
        ConsumerRecord,
        (tp.topic, tp.partition, leader_epoch),
        batch.timestamp_type,
    )


def read_natively(consumer: KafkaConsumer) -> bool:
    """Have ``consumer``'s fetcher read records with :class:`NativePartitionRecords`
    (False, and kafka-python's reader kept, if the fetcher is not the one it was written
    against)."""
    installed = importlib.metadata.version("kafka-python")
    if installed != KAFKA_PYTHON_VERSION:
        log.warning(
            "kafka-python %s, not %s: its own record reader kept", installed, KAFKA_PYTHON_VERSION
        )
        return False
    fetcher: Any = getattr(consumer, "_fetcher", None)
    if type(fetcher) is not Fetcher or fetcher.PartitionRecords is not _Base:
        return False
    fetcher.PartitionRecords = NativePartitionRecords
    return True
