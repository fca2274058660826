"""The ingest consumer's records, read natively (native/src/kafkarecords.rs).

kafka-python reads each record of a fetched batch in Python (``DefaultRecordBatch._read_msg``,
then a ``ConsumerRecord`` in its fetcher's ``PartitionRecords._unpack_records``): about 5 µs
a record, a tenth of the whole ingest's CPU per event. :class:`NativePartitionRecords` is
that fetcher's ``PartitionRecords`` with the records of each v2 batch read by one native
call, which makes the same ``ConsumerRecord``s; the batch's checks (CRC, control batches,
the next offset), the skipping of records before the fetch offset and the taking are
kafka-python's. Whatever the native reader declines (an old message format, a batch it
does not read exactly as kafka-python does: then kafka-python may find it corrupt) is read
by kafka-python's own reader, the reference; so is every fetch of a consumer with
deserializers or reading committed transactions only. tests/streams/test_kafka_records.py
binds the two on many batches, valid, corrupted and truncated.

:func:`read_natively` installs it on one consumer (the ingest's), not on kafka-python.
"""

from __future__ import annotations

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
        read = _read_v2(tp, batch, self.leader_epoch) if type(batch) is DefaultRecordBatch else None
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
    batch is left as it was)."""
    count = batch._num_records
    if count < 0:
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
    fetcher: Any = getattr(consumer, "_fetcher", None)
    if type(fetcher) is not Fetcher or fetcher.PartitionRecords is not _Base:
        return False
    fetcher.PartitionRecords = NativePartitionRecords
    return True
