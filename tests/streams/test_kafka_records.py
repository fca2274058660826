"""The native reading of fetched records (streams/kafka_records.py) against kafka-python's:
the same ConsumerRecords, the same fetch state after every take, the same errors."""

from __future__ import annotations

import random
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.record.util import calc_crc32c

from streams.ingest import Ingest
from streams.kafka_records import NativePartitionRecords, read_natively
from streams.topics import custody_topics, ensure_topics
from tests.support import make_world

TP = TopicPartition("t", 3)
NONE, GZIP, ZSTD = 0, 1, 4


def _record(rng: random.Random, big: int = 2_000) -> tuple[bytes | None, bytes | None, list[Any]]:
    def blob(most: int) -> bytes | None:
        return None if rng.random() < 0.15 else rng.randbytes(rng.choice((0, 1, most)))

    headers = [
        ("".join(rng.choice("aé☃\U0001f600-") for _ in range(rng.randrange(4))), blob(9))
        for _ in range(rng.choice((0, 0, 1, 3)))
    ]
    return blob(12), blob(rng.choice((5, 200, big)) if rng.random() > 0.01 else 70_000), headers


def _batch(rng: random.Random, offset: int, magic: int = 2, codec: int = NONE) -> bytes:
    # A v2 batch's base offset is the broker's to set: written below.
    first = 0 if magic == 2 else offset
    builder = MemoryRecordsBuilder(magic, codec, batch_size=10**7, offset=first)
    for _ in range(rng.randrange(1, 40)):
        key, value, headers = _record(rng)
        if magic < 2:
            headers = []
        builder.append(1_700_000_000_000 + rng.randrange(-5, 10**6), key, value, headers)
    builder.close()
    data = bytearray(builder.buffer())
    if magic == 2:
        struct.pack_into(">q", data, 0, offset)
    return bytes(data)


def _with_attributes(batch: bytes, set_bits: int) -> bytes:
    """A v2 batch with attribute bits set (log append time, control) and its CRC redone."""
    data = bytearray(batch)
    at, crc_at = DefaultRecordBatch.ATTRIBUTES_OFFSET, DefaultRecordBatch.CRC_OFFSET
    (attributes,) = struct.unpack_from(">h", data, at)
    struct.pack_into(">h", data, at, attributes | set_bits)
    struct.pack_into(">I", data, crc_at, calc_crc32c(memoryview(data)[at:]))
    return bytes(data)


def _fetch(rng: random.Random) -> bytes:
    """Several batches as one fetch brings them: formats, codecs, timestamp types."""
    parts, offset = [], rng.randrange(0, 2**40)
    for _ in range(rng.randrange(1, 5)):
        kind = rng.random()
        if kind < 0.1:  # an old message format (no zstd there)
            batch = _batch(rng, offset, 1, rng.choice((NONE, GZIP)))
        else:
            batch = _batch(rng, offset, 2, rng.choice((NONE, NONE, GZIP, ZSTD)))
        if 0.1 <= kind < 0.2:
            batch = _with_attributes(batch, DefaultRecordBatch.TIMESTAMP_TYPE_MASK)
        elif 0.2 <= kind < 0.25:
            batch = _with_attributes(batch, DefaultRecordBatch.CONTROL_MASK)
        parts.append(batch)
        offset += 100
    return b"".join(parts)


def _outcome(cls: Any, data: bytes, fetch_offset: int, takes: list[int | None], crcs: bool) -> Any:
    """Everything a fetcher sees of ``data``: each take's records, then the state, or the
    error a take raised (type and message)."""
    records = cls(fetch_offset, TP, MemoryRecords(data), check_crcs=crcs)
    seen: list[Any] = []
    for n in takes:
        try:
            seen.append(records.take(n))
        except Exception as e:
            seen.append((type(e), str(e)))
            break
        seen.append(
            (records.next_fetch_offset, records.records_read, records.bytes_read,
             records.leader_epoch, bool(records))
        )  # fmt: skip
    return seen


def _alike(data: bytes, rng: random.Random, crcs: bool = True) -> int:
    """Both read ``data`` alike; the number of records they read."""
    first = MemoryRecords(data).next_batch()
    start = first.base_offset + rng.choice((0, 0, 3)) if first is not None else 0
    takes = [rng.choice((1, 5, 50, None)) for _ in range(6)]
    reference = _outcome(Fetcher.PartitionRecords, data, start, takes, crcs)
    assert _outcome(NativePartitionRecords, data, start, takes, crcs) == reference
    return sum(len(seen) for seen in reference if isinstance(seen, list))


def test_fetches_read_alike() -> None:
    rng = random.Random(19)
    assert sum(_alike(_fetch(rng), rng) for _ in range(150)) > 5_000


def test_corrupted_and_truncated_fetches_read_alike() -> None:
    """Bit flips anywhere (CRCs unchecked, so they reach the record reader; and checked)
    and cuts."""
    rng = random.Random(1919)
    flipped = read = 0
    for _ in range(80):
        batch = _batch(rng, rng.randrange(2**20), 2, NONE)
        for _ in range(12):
            data = bytearray(batch)
            for _ in range(rng.choice((1, 1, 3))):
                data[rng.randrange(61, len(data))] ^= 1 << rng.randrange(8)
            read += _alike(bytes(data), rng, crcs=False)
            # Checked, the CRC refuses every flip (an odd number of them), worded alike.
            assert _alike(bytes(data), rng, crcs=True) == 0
            flipped += 1
        _alike(batch[: rng.randrange(61, len(batch))], rng, crcs=False)
        _alike(batch, rng, crcs=True)
    assert flipped == 960
    assert read > 2_000  # most flips leave records to read before (or without) an error


def test_a_record_native_reading_declines_is_read_by_kafka_python() -> None:
    """A varint of 10 bytes (read by kafka-python, not natively) and a negative record
    count: the reference reads them."""
    rng = random.Random(5)
    header = DefaultRecordBatch.HEADER_STRUCT.size
    batch = bytearray(_batch(rng, 0, 2, NONE))
    struct.pack_into(">i", batch, header - 4, -1)
    _alike(bytes(batch), rng, crcs=False)
    builder = MemoryRecordsBuilder(2, NONE, batch_size=10**6)
    builder.append(1_700_000_000_000, None, b"value", [])
    builder.close()
    one = bytearray(builder.buffer())
    assert one[header + 1] == 0  # the record's attributes: a varint of one byte
    one[header + 1 : header + 2] = b"\x80" * 9 + b"\x00"  # the same 0 in ten bytes
    one[header] += 18  # the record's length (zigzag): 9 bytes more
    struct.pack_into(">i", one, 8, struct.unpack_from(">i", one, 8)[0] + 9)  # the batch's
    records = Fetcher.PartitionRecords(0, TP, MemoryRecords(bytes(one)), check_crcs=False)
    assert [r.value for r in records.take()] == [b"value"]  # kafka-python reads it
    _alike(bytes(one), rng, crcs=False)


@pytest.mark.kafka
def test_only_a_plain_fetcher_reads_natively(kafka_bootstrap: str) -> None:
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert read_natively(consumer)
        assert consumer._fetcher.PartitionRecords is NativePartitionRecords
        assert not read_natively(consumer)  # installed already: nothing more to do
        assert Fetcher.PartitionRecords is not NativePartitionRecords  # kafka-python's kept
    finally:
        consumer.close()


@pytest.mark.kafka
def test_the_ingest_reads_what_the_broker_sends_as_kafka_python_does(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic = f"test.records.{suffix}"
    ensure_topics(kafka_bootstrap, custody_topics(topic, f"{topic}.r", f"{topic}.c", 2))
    rng = random.Random(7)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type="zstd")
    sent = [_record(rng, big=3_000) for _ in range(600)]
    for key, value, headers in sent:
        if key is None and value is None:
            key = b""  # kafka-python's producer sends no record without both
        # Its producer sends no header without a value (the broker keeps what it is sent).
        headers = [(name, header or b"") for name, header in headers]
        producer.send(topic, key=key, value=value, headers=headers or None)
    producer.flush()
    producer.close()
    ingest = Ingest(make_world(tmp_path).ledger, kafka_bootstrap, topic=topic, group=suffix)
    try:
        assert ingest.consumer._fetcher.PartitionRecords is NativePartitionRecords
    finally:
        ingest.close()
    plain = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    native = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    assert read_natively(native)
    got = []
    for consumer in (plain, native):
        tps = [TopicPartition(topic, p) for p in (0, 1)]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + 30
        while len(records) < len(sent) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500, max_records=97).values():
                records.extend(batch)
        consumer.close()
        got.append(sorted(records, key=lambda r: (r.partition, r.offset)))
    assert len(got[0]) == len(sent)
    assert got[1] == got[0]
