//! The records of one Kafka record batch (message format v2, decompressed), read natively:
//! the fast path of `streams/kafka_records.py`. kafka-python reads them in Python
//! (`DefaultRecordBatch._read_msg`, then one `ConsumerRecord` each in its fetcher), about
//! 5 µs a record; this reads them all in one call and makes the same `ConsumerRecord`s.
//!
//! It answers the records, or `None` for anything it does not read exactly as kafka-python
//! does without an error (a varint longer than 9 bytes, a length past the end, a record
//! whose size disagrees with its contents, bytes left after the last record, a negative
//! header count or header key length, a header key that is not UTF-8, a timestamp or
//! offset past i64): kafka-python's own reader then reads the batch, with its own records
//! or errors. tests/streams/test_kafka_records.py binds the two.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// kafka-python's `decode_varint` (zigzag), for varints of at most 9 bytes.
    fn varint(&mut self) -> Option<i64> {
        let mut raw: u64 = 0;
        for i in 0..9 {
            let byte = *self.buf.get(self.pos)?;
            self.pos += 1;
            raw |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        None
    }

    /// `length` bytes from here, or None past the end.
    fn take(&mut self, length: i64) -> Option<&'a [u8]> {
        let length = usize::try_from(length).ok()?;
        let end = self.pos.checked_add(length)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// Nullable bytes: a negative length is None (kafka-python's reading).
    fn nullable<'py>(&mut self, py: Python<'py>) -> Option<(Bound<'py, PyAny>, i64)> {
        let length = self.varint()?;
        if length < 0 {
            return Some((py.None().into_bound(py), -1));
        }
        let bytes = self.take(length)?;
        Some((PyBytes::new(py, bytes).into_any(), length))
    }
}

/// The `count` records of a decompressed v2 batch body `buffer`, as `ConsumerRecord`s made
/// by `make` from `(topic, partition, leader_epoch, offset, timestamp, timestamp_type, key,
/// value, headers, None, key size, value size, header size)`, with each record's size in
/// bytes; or None (kafka-python reads the batch). `append_time`: the batch's max timestamp
/// if its timestamps are the log's append time (then every record has it).
#[pyfunction]
#[pyo3(signature = (buffer, count, base_offset, first_timestamp, append_time, make, prefix, timestamp_type))]
#[allow(clippy::too_many_arguments)]
pub fn kafka_records<'py>(
    py: Python<'py>,
    buffer: &Bound<'py, PyBytes>,
    count: usize,
    base_offset: i64,
    first_timestamp: i64,
    append_time: Option<i64>,
    make: &Bound<'py, PyAny>,
    prefix: Prefix<'py>,
    timestamp_type: i64,
) -> PyResult<Option<(Bound<'py, PyList>, Bound<'py, PyList>)>> {
    let mut cursor = Cursor {
        buf: buffer.as_bytes(),
        pos: 0,
    };
    let records = PyList::empty(py);
    let sizes = PyList::empty(py);
    let batch = Batch {
        base_offset,
        first_timestamp,
        append_time,
        timestamp_type,
    };
    for _ in 0..count {
        let Some((args, size)) = read_record(py, &mut cursor, &batch, &prefix)? else {
            return Ok(None);
        };
        records.append(make.call1(args)?)?;
        sizes.append(size)?;
    }
    if cursor.pos != cursor.buf.len() {
        return Ok(None);
    }
    Ok(Some((records, sizes)))
}

/// What every record of a batch takes from it.
struct Batch {
    base_offset: i64,
    first_timestamp: i64,
    append_time: Option<i64>,
    timestamp_type: i64,
}

/// The three fields every record of a batch begins with: topic, partition, leader epoch.
type Prefix<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// One record, as `DefaultRecordBatch._read_msg` reads it: the `ConsumerRecord`'s fields
/// and its size (Ok(None): not read here).
fn read_record<'py>(
    py: Python<'py>,
    cursor: &mut Cursor<'_>,
    batch: &Batch,
    prefix: &Prefix<'py>,
) -> PyResult<Option<(Bound<'py, PyTuple>, i64)>> {
    let Some(size) = cursor.varint() else {
        return Ok(None);
    };
    let start = cursor.pos;
    // Attributes (unused), timestamp delta, offset delta.
    let (Some(_), Some(delta), Some(offset_delta)) =
        (cursor.varint(), cursor.varint(), cursor.varint())
    else {
        return Ok(None);
    };
    let (Some(timestamp), Some(offset)) = (
        batch
            .append_time
            .or(batch.first_timestamp.checked_add(delta)),
        batch.base_offset.checked_add(offset_delta),
    ) else {
        return Ok(None);
    };
    let Some((key, key_size)) = cursor.nullable(py) else {
        return Ok(None);
    };
    let Some((value, value_size)) = cursor.nullable(py) else {
        return Ok(None);
    };
    let Some(header_count) = cursor.varint() else {
        return Ok(None);
    };
    if header_count < 0 {
        return Ok(None);
    }
    let headers = PyList::empty(py);
    let mut header_size: i64 = 0;
    for _ in 0..header_count {
        let Some(name_length) = cursor.varint() else {
            return Ok(None);
        };
        let Some(name) = cursor.take(name_length) else {
            return Ok(None);
        };
        let Ok(name) = std::str::from_utf8(name) else {
            return Ok(None);
        };
        let Some((header, length)) = cursor.nullable(py) else {
            return Ok(None);
        };
        header_size += name_length + length.max(0);
        headers.append(PyTuple::new(
            py,
            [PyString::new(py, name).into_any(), header],
        )?)?;
    }
    if i64::try_from(cursor.pos - start).ok() != Some(size) {
        return Ok(None);
    }
    let header_size = if header_count == 0 { -1 } else { header_size };
    let (topic, partition, epoch) = prefix;
    let args = PyTuple::new(
        py,
        [
            topic.clone(),
            partition.clone(),
            epoch.clone(),
            offset.into_pyobject(py)?.into_any(),
            timestamp.into_pyobject(py)?.into_any(),
            batch.timestamp_type.into_pyobject(py)?.into_any(),
            key,
            value,
            headers.into_any(),
            py.None().into_bound(py),
            key_size.into_pyobject(py)?.into_any(),
            value_size.into_pyobject(py)?.into_any(),
            header_size.into_pyobject(py)?.into_any(),
        ],
    )?;
    Ok(Some((args, size)))
}
