"""The native reading of fetched records (streams/kafka_records.py) against kafka-python's:
the same ConsumerRecords, the same fetch state after every take, the same errors."""

from __future__ import annotations

import importlib.metadata
import logging
import random
import struct
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.record.util import calc_crc32c

import streams.kafka_records
from streams.ingest import Ingest
from streams.kafka_records import (
    KAFKA_PYTHON_VERSION,
    NATIVE_MAX_RECORDS,
    NativePartitionRecords,
    _read_v2,
    read_natively,
)
from streams.topics import custody_topics, ensure_topics
from tests.support import make_world

TP = TopicPartition("t", 3)
NONE, GZIP, ZSTD = 0, 1, 4
MAGIC_AT = struct.calcsize(">qii")  # after a batch's base offset, length and leader epoch


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


@pytest.fixture
def native_reads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What each native reading of a batch answered (None: declined), as it is made."""
    answers: list[Any] = []
    read = streams.kafka_records._read_v2

    def recorded(*args: Any) -> Any:
        answers.append(read(*args))
        return answers[-1]

    monkeypatch.setattr(streams.kafka_records, "_read_v2", recorded)
    return answers


def test_fetches_read_alike(native_reads: list[Any]) -> None:
    rng = random.Random(19)
    assert sum(_alike(_fetch(rng), rng) for _ in range(150)) > 5_000
    # Every v2 batch here is valid and not a control batch: each was read natively.
    assert len(native_reads) > 300
    assert None not in native_reads
    assert sum(len(records) for records, _ in native_reads) > 5_000


def test_a_valid_batch_is_read_natively() -> None:
    rng = random.Random(3)
    for codec in (NONE, GZIP, ZSTD):
        data = _batch(rng, 77, 2, codec)
        batch = MemoryRecords(data).next_batch()
        read = _read_v2(TP, batch, batch.leader_epoch)
        assert read is not None
        reference = Fetcher.PartitionRecords(0, TP, MemoryRecords(data)).take()
        assert read[0] == reference
        assert read[1] == [r.size_in_bytes for r in MemoryRecords(data).next_batch()]


def _empty_records(count: int) -> bytes:
    builder = DefaultRecordBatchBuilder(2, ZSTD, False, -1, -1, -1, 10**9)
    for offset in range(count):
        builder.append(offset, 1_700_000_000_000, None, b"", [])
    return bytes(builder.build())


def test_a_batch_of_more_records_than_the_cap_is_read_by_kafka_python() -> None:
    """The native call makes all of a batch's records at once: past the cap, kafka-python
    (one record as it is taken) reads them, alike."""
    rng = random.Random(11)
    at_cap, above = _empty_records(NATIVE_MAX_RECORDS), _empty_records(NATIVE_MAX_RECORDS + 1)
    read = _read_v2(TP, MemoryRecords(at_cap).next_batch(), -1)
    assert read is not None and len(read[0]) == NATIVE_MAX_RECORDS
    assert _read_v2(TP, MemoryRecords(above).next_batch(), -1) is None
    assert _alike(at_cap, rng) == NATIVE_MAX_RECORDS
    assert _alike(above, rng) > 0


def test_corrupted_and_truncated_fetches_read_alike() -> None:
    """Bit flips anywhere, header too, in plain and compressed batches (CRCs unchecked, so
    they reach the record reader; and checked) and cuts."""
    rng = random.Random(1919)
    header, crc_at = DefaultRecordBatch.HEADER_STRUCT.size, DefaultRecordBatch.CRC_OFFSET
    checked = read = 0
    for _ in range(80):
        batch = _batch(rng, rng.randrange(2**20), 2, rng.choice((NONE, NONE, GZIP, ZSTD)))
        for _ in range(12):
            data = bytearray(batch)
            # Mostly where the CRC covers (its own bytes and from the attributes on).
            spots = [
                rng.randrange(0 if rng.random() < 0.2 else crc_at, len(data))
                for _ in range(rng.choice((1, 1, 3)))
            ]
            for at in spots:
                data[at] ^= 1 << rng.randrange(8)
            read += _alike(bytes(data), rng, crcs=False)
            if min(spots) >= crc_at:
                # Checked, the CRC refuses every such flip (an odd number), worded alike.
                assert _alike(bytes(data), rng, crcs=True) == 0
                checked += 1
        _alike(batch[: rng.randrange(header, len(batch))], rng, crcs=False)
        _alike(batch, rng, crcs=True)
    assert checked > 700
    assert read > 1_000  # many flips leave records to read before (or without) an error


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


def test_a_magic_above_2_is_read_by_kafka_python() -> None:
    """The CRC does not cover the magic byte: kafka-python reads a magic of 3 as v2, its
    records as control records if the control bit is set (a 3-byte key: an error)."""
    rng = random.Random(8)
    builder = MemoryRecordsBuilder(2, NONE, batch_size=10**6)
    builder.append(1_700_000_000_000, b"abc", b'{"event": 1}', [])
    builder.close()
    plain = bytes(builder.buffer())
    for data in (plain, _with_attributes(plain, DefaultRecordBatch.CONTROL_MASK)):
        three = bytearray(data)
        three[MAGIC_AT] = 3
        for crcs in (False, True):
            _alike(bytes(three), rng, crcs)
    three = bytearray(_with_attributes(plain, DefaultRecordBatch.CONTROL_MASK))
    three[MAGIC_AT] = 3
    outcome = _outcome(NativePartitionRecords, bytes(three), 0, [None], True)
    assert outcome[0][0] is struct.error  # kafka-python's error, not a plain record


def test_native_reading_is_bound_to_the_pinned_kafka_python(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """NativePartitionRecords copies kafka-python's fetcher: on an upgrade, compare
    streams/kafka_records.py with the new fetcher, then move KAFKA_PYTHON_VERSION and
    pyproject.toml's pin together."""
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["dependencies"] if d.startswith("kafka-python")]
    assert pins == [f"kafka-python=={KAFKA_PYTHON_VERSION}"]
    assert importlib.metadata.version("kafka-python") == KAFKA_PYTHON_VERSION
    consumer = _unconnected_consumer()
    try:
        monkeypatch.setattr(streams.kafka_records, "KAFKA_PYTHON_VERSION", "3.0.11")
        with caplog.at_level(logging.WARNING, logger="streams.kafka_records"):
            assert not read_natively(consumer)
        assert "its own record reader kept" in caplog.text
        assert consumer._fetcher.PartitionRecords is Fetcher.PartitionRecords
    finally:
        consumer.close()


def _unconnected_consumer() -> KafkaConsumer:
    """A consumer that never reaches a broker (given its API version, it asks none)."""
    return KafkaConsumer(bootstrap_servers="127.0.0.1:1", api_version=(2, 6))


def test_only_a_plain_fetcher_reads_natively() -> None:
    consumer = _unconnected_consumer()
    try:
        assert read_natively(consumer)
        assert consumer._fetcher.PartitionRecords is NativePartitionRecords
        assert not read_natively(consumer)  # installed already: nothing more to do
        assert Fetcher.PartitionRecords is not NativePartitionRecords  # kafka-python's kept
    finally:
        consumer.close()


@pytest.mark.kafka
def test_the_ingest_reads_what_the_broker_sends_as_kafka_python_does(
    kafka_bootstrap: str, tmp_path: Path, native_reads: list[Any]
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
    # The native consumer's records were read natively (none declined).
    assert None not in native_reads
    native = {(r.partition, r.offset) for records, _ in native_reads for r in records}
    assert native >= {(r.partition, r.offset) for r in got[1]}
