//! The audit's per-item leaf chain (`anchoring/audit_leaves.py`): each item's last leaf
//! and version, kept here, and the next leaf of an item built from it in one call.
//!
//! `leaf` builds only what it reads exactly as the Python construction does (an exact
//! `str` item id without lone surrogates, an exact `int` version one above the item's
//! last, a kind named in `kinds`, an exact `bytes` payload, lengths that fit their
//! fields); for anything else it changes nothing and answers None, and the caller takes
//! the Python path (`anchoring.leaves.event_leaf`, the reference), reading and writing the
//! same state through `last` and `set`, keyed by the item id's UTF-8 (surrogatepass).

use std::collections::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyString};
use sha2::{Digest, Sha256};

use crate::{bytes_of, Hash};

/// A leaf and its version, as the walk keeps them: 32 bytes of leaf, 8 of version (BE).
type Last = [u8; 40];

/// `SHA-256(prefix ‖ u32be(len item) ‖ item ‖ u64be(version) ‖ prev ‖ kind ‖
/// u32be(len payload) ‖ payload)`: an event's leaf (`anchoring/leaves.py`), None when a
/// length does not fit its field.
pub fn leaf_hash(
    prefix: &[u8],
    item: &[u8],
    version: u64,
    prev: &Hash,
    kind: u8,
    payload: &[u8],
) -> Option<Hash> {
    let item_len = u32::try_from(item.len()).ok()?;
    let payload_len = u32::try_from(payload.len()).ok()?;
    let mut h = Sha256::new();
    h.update(prefix);
    h.update(item_len.to_be_bytes());
    h.update(item);
    h.update(version.to_be_bytes());
    h.update(prev);
    h.update([kind]);
    h.update(payload_len.to_be_bytes());
    h.update(payload);
    Some(h.finalize().into())
}

/// Every item's last leaf and version, and the next leaf built from them.
#[pyclass(module = "assay_headmap")]
pub struct ItemChain {
    prefix: Vec<u8>,
    kinds: Vec<(String, u8)>,
    last: HashMap<Vec<u8>, Last>,
}

#[pymethods]
impl ItemChain {
    /// `prefix`: the hashed bytes before the item id's length; `kinds`: each kind's byte.
    #[new]
    fn new(prefix: &[u8], kinds: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut pairs = Vec::new();
        for (kind, byte) in kinds.iter() {
            pairs.push((
                kind.extract::<String>()?,
                bytes_of::<1>(&byte, "a kind's byte")?[0],
            ));
        }
        Ok(ItemChain {
            prefix: prefix.to_vec(),
            kinds: pairs,
            last: HashMap::new(),
        })
    }

    /// The leaf of `item_id`'s event at `version` (chained to the item's last leaf, which
    /// it becomes), or None: declined, nothing changed.
    fn leaf<'py>(
        &mut self,
        py: Python<'py>,
        item_id: &Bound<'py, PyAny>,
        version: &Bound<'py, PyAny>,
        kind: &Bound<'py, PyAny>,
        payload: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyBytes>> {
        let item = item_id.cast_exact::<PyString>().ok()?.to_str().ok()?;
        let version = version.cast_exact::<PyInt>().ok()?.extract::<u64>().ok()?;
        let kind = kind.cast_exact::<PyString>().ok()?.to_str().ok()?;
        let kind = self.kinds.iter().find(|(k, _)| k == kind)?.1;
        let payload = payload.cast_exact::<PyBytes>().ok()?.as_bytes();
        let (prev_version, prev) = match self.last.get(item.as_bytes()) {
            Some(last) => (
                u64::from_be_bytes(last[32..].try_into().ok()?),
                last[..32].try_into().ok()?,
            ),
            None => (0, [0u8; 32]),
        };
        if prev_version.checked_add(1) != Some(version) {
            return None;
        }
        let leaf = leaf_hash(&self.prefix, item.as_bytes(), version, &prev, kind, payload)?;
        let mut last = [0u8; 40];
        last[..32].copy_from_slice(&leaf);
        last[32..].copy_from_slice(&version.to_be_bytes());
        self.last.insert(item.as_bytes().to_vec(), last);
        Some(PyBytes::new(py, &leaf))
    }

    /// The item's last leaf and version (40 bytes), or 32 zero bytes: none yet.
    fn last<'py>(&self, py: Python<'py>, item: &[u8]) -> Bound<'py, PyBytes> {
        match self.last.get(item) {
            Some(last) => PyBytes::new(py, last),
            None => PyBytes::new(py, &[0u8; 32]),
        }
    }

    /// Sets the item's last leaf and version (40 bytes), as the Python path built them.
    fn set(&mut self, item: &[u8], last: &[u8]) -> PyResult<()> {
        let last: Last = last
            .try_into()
            .map_err(|_| PyValueError::new_err("a last leaf is 32 bytes and an 8-byte version"))?;
        self.last.insert(item.to_vec(), last);
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.last.len()
    }
}
