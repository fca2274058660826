//! The audit's reading of a device-signed item record's stored state, natively: the
//! slicing half of `anchoring/audit_read.py`'s `fast_signed_record` (its timestamp text, its
//! envelope's base64 decoded, the envelope opened as `anchoring.fastread.plain_envelope`
//! opens it, the count of transcoded values) in one pass over the bytes.
//!
//! The layout it looks for (the state's head, the envelope member, its tail, the marker of
//! a transcoded value, the envelope's single-object header) comes from Python, so the format
//! keeps its home there. It only ever hands over pieces, never a verdict: the Python caller
//! still spells the whole state again from them and compares it with the stored bytes. It
//! answers `None` for anything it is not sure of (base64 other than the canonical spelling,
//! an envelope `plain_envelope` would not read, another count of transcoded values), and the
//! Python path decides (tests/anchoring/test_audit_read_native.py binds the two).

use crate::avrocursor::plain_envelope;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

/// Splits a signed item record's state into the pieces the audit's fast path spells again.
#[pyclass(frozen, module = "assay_headmap")]
pub struct SignedStateReader {
    head: Vec<u8>,
    envelope_member: Vec<u8>,
    tail: Vec<u8>,
    marker: Vec<u8>,
    transcoded: usize,
    envelope_header: Vec<u8>,
}

#[pymethods]
impl SignedStateReader {
    /// `head`: how the state begins, up to the timestamp's text; `envelope_member`: the
    /// envelope member up to its base64; `tail`: how the state ends after it; `marker`:
    /// the key of a transcoded value and `transcoded` how many the state holds;
    /// `envelope_header`: the single-object header of the plain envelope.
    #[new]
    fn new(
        head: Vec<u8>,
        envelope_member: Vec<u8>,
        tail: Vec<u8>,
        marker: Vec<u8>,
        transcoded: usize,
        envelope_header: Vec<u8>,
    ) -> PyResult<Self> {
        if head.is_empty() || envelope_member.is_empty() || marker.is_empty() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "the state's head, envelope member and marker must not be empty",
            ));
        }
        Ok(SignedStateReader {
            head,
            envelope_member,
            tail,
            marker,
            transcoded,
            envelope_header,
        })
    }

    /// `(timestamp text, envelope, party id, device id, body, signature)`, or None.
    fn __call__<'py>(&self, state: &Bound<'py, PyBytes>) -> Option<Bound<'py, PyTuple>> {
        let py = state.py();
        let (timestamp, envelope) = self.split(state.as_bytes())?;
        let (party_id, device_id, body, signature) =
            plain_envelope(&envelope, &self.envelope_header)?;
        let items: [Bound<'py, PyAny>; 6] = [
            PyString::new(py, timestamp).into_any(),
            PyBytes::new(py, &envelope).into_any(),
            PyString::new(py, party_id).into_any(),
            PyString::new(py, device_id).into_any(),
            PyBytes::new(py, body).into_any(),
            PyBytes::new(py, signature).into_any(),
        ];
        PyTuple::new(py, items).ok()
    }
}

impl SignedStateReader {
    /// The timestamp's text and the envelope's bytes, where the application writes them.
    fn split<'a>(&self, state: &'a [u8]) -> Option<(&'a str, Vec<u8>)> {
        if !state.starts_with(&self.head) || !state.ends_with(&self.tail) {
            return None;
        }
        let at = rfind(state, &self.envelope_member)?;
        if count(state, &self.marker) != self.transcoded {
            return None;
        }
        let from = self.head.len();
        let quote = state[from..].iter().position(|&b| b == b'"')? + from;
        let timestamp = std::str::from_utf8(&state[from..quote]).ok()?;
        let start = at + self.envelope_member.len();
        let end = state.len() - self.tail.len();
        if start > end {
            return None;
        }
        Some((timestamp, canonical_base64(&state[start..end])?))
    }
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(haystack, needle)
}

/// Non-overlapping occurrences, as Python's `bytes.count`.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let finder = memchr::memmem::Finder::new(needle);
    let (mut found, mut at) = (0, 0);
    while let Some(i) = finder.find(&haystack[at..]) {
        found += 1;
        at += i + needle.len();
    }
    found
}

/// Each byte's value as a base64 digit (`INVALID`: none).
const INVALID: u8 = 0xFF;
const DIGITS: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn sextet(c: u8) -> Option<u32> {
    match DIGITS[c as usize] {
        INVALID => None,
        d => Some(u32::from(d)),
    }
}

/// Standard base64 as `base64.b64encode` writes it (padded, no other character, unused
/// bits zero): what `base64.b64decode` reads to the same bytes. Anything else: None.
fn canonical_base64(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (q, quad) in text.chunks_exact(4).enumerate() {
        let pad = if q + 1 == quads {
            quad.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut word = 0u32;
        for &c in &quad[..4 - pad] {
            word = (word << 6) | sextet(c)?;
        }
        word <<= 6 * pad as u32;
        let bytes = word.to_be_bytes();
        if pad > 0 && (word & (0xFF_FFFF >> (8 * (3 - pad) as u32))) != 0 {
            return None;
        }
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}
