//! `anchoring/records_digest.py`'s digest of ledger records, hashed natively: each record's
//! id, originator id, version, topic and state laid out as `record_bytes` there lays them
//! out (integers 8-byte signed big-endian, every variable part length-prefixed), read
//! straight from the record's attributes into one SHA-256 kept here.
//!
//! `update` takes only a record whose parts it reads exactly as the Python layout does
//! (an `int` id and version that fit 64 signed bits, `str` originator id and topic without
//! lone surrogates, a `bytes` state); for any other it hashes nothing and answers False,
//! and the caller feeds the reference's bytes (or meets the reference's error) through
//! `update_bytes` (tests/anchoring/test_records_digest.py binds the two).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString};
use sha2::{Digest, Sha256};

/// A running records digest.
#[pyclass(module = "assay_headmap")]
pub struct RecordsHasher {
    hash: Sha256,
}

#[pymethods]
impl RecordsHasher {
    /// Starts the digest with the domain tag.
    #[new]
    fn new(domain: &[u8]) -> Self {
        let mut hash = Sha256::new();
        hash.update(domain);
        RecordsHasher { hash }
    }

    /// Hashes one record's parts, if read exactly here (else nothing, and False).
    fn update(&mut self, record: &Bound<'_, PyAny>) -> bool {
        self.record(record).is_some()
    }

    /// Hashes bytes as they are (the reference's layout of a record `update` declined).
    fn update_bytes(&mut self, data: &[u8]) {
        self.hash.update(data);
    }

    /// The digest so far, in hex.
    fn hexdigest(&self) -> String {
        self.hash
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl RecordsHasher {
    fn record(&mut self, record: &Bound<'_, PyAny>) -> Option<()> {
        let py = record.py();
        let id = exact_i64(&record.getattr(pyo3::intern!(py, "id")).ok()?)?;
        let originator = record.getattr(pyo3::intern!(py, "originator_id")).ok()?;
        let originator = originator.cast_exact::<PyString>().ok()?.to_str().ok()?;
        let version = exact_i64(
            &record
                .getattr(pyo3::intern!(py, "originator_version"))
                .ok()?,
        )?;
        let topic = record.getattr(pyo3::intern!(py, "topic")).ok()?;
        let topic = topic.cast_exact::<PyString>().ok()?.to_str().ok()?;
        let state = record.getattr(pyo3::intern!(py, "state")).ok()?;
        let state = state.cast_exact::<PyBytes>().ok()?.as_bytes();
        let hash = &mut self.hash;
        hash.update(id.to_be_bytes());
        hash.update((originator.len() as u64).to_be_bytes());
        hash.update(originator.as_bytes());
        hash.update(version.to_be_bytes());
        hash.update((topic.len() as u64).to_be_bytes());
        hash.update(topic.as_bytes());
        hash.update((state.len() as u64).to_be_bytes());
        hash.update(state);
        Some(())
    }
}

/// An exact `int` that fits 64 signed bits.
fn exact_i64(value: &Bound<'_, PyAny>) -> Option<i64> {
    value.cast_exact::<PyInt>().ok()?.extract::<i64>().ok()
}
