//! A block's sealing work, one call per block each: its leaves (`anchoring/leaves.py`'s
//! `leaf_chain`), the levels of its Merkle tree (`anchoring/merkle.py`'s `pack_tree`) and
//! its leaves entered in the head map (`anchoring/headmap_native.py`). The byte layouts'
//! constants (record prefix, kind bytes, node prefix, key tag) come from the Python modules
//! that define them; the pure-Python constructions stay the reference the tests bind these to.

use std::collections::HashMap;

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyMapping, PyString, PyTuple};

use crate::itemchain::leaf_hash;
use crate::{bytes_of, sha, value_of, Core, Hash, Key, Val};

const ZERO: Hash = [0; 32];

/// The leaves of `sources` (LeafSource-like: item_id, version, kind, payload) in order:
/// `SHA-256(prefix ‖ u32be(len item) ‖ item ‖ u64be(version) ‖ prev ‖ kinds[kind] ‖
/// u32be(len payload) ‖ payload)`, `prev` zeros for version 1, else the leaf of the item's
/// previous version built here, else `prev_leaf(item_id, version)`.
#[pyfunction]
fn leaf_chain<'py>(
    py: Python<'py>,
    sources: &Bound<'py, PyAny>,
    prev_leaf: &Bound<'py, PyAny>,
    prefix: &[u8],
    kinds: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut last: HashMap<Vec<u8>, (u64, Hash)> = HashMap::new();
    for source in sources.try_iter()? {
        let source = source?;
        let item_obj = source.getattr(intern!(py, "item_id"))?;
        let item_str = item_obj.cast::<PyString>()?;
        let item = item_str.to_str()?.as_bytes();
        let version: u64 = source.getattr(intern!(py, "version"))?.extract()?;
        let prev = if version == 1 {
            ZERO
        } else {
            match last.get(item) {
                Some((v, leaf)) if v.checked_add(1) == Some(version) => *leaf,
                _ => {
                    let answer = prev_leaf.call1((item_str, version))?;
                    bytes_of::<32>(&answer, "prev_leaf")
                        .map_err(|_| PyValueError::new_err("prev_leaf must be a 32-byte hash"))?
                }
            }
        };
        let kind = source.getattr(intern!(py, "kind"))?;
        let kind_byte = kinds
            .get_item(&kind)?
            .ok_or_else(|| PyKeyError::new_err(kind.unbind()))?;
        let kind_byte = bytes_of::<1>(&kind_byte, "a kind's byte")?;
        let payload_obj = source.getattr(intern!(py, "payload"))?;
        let payload = payload_obj.cast::<PyBytes>()?.as_bytes();
        u32_len(item.len(), "an item id")?;
        u32_len(payload.len(), "a payload")?;
        let leaf = leaf_hash(prefix, item, version, &prev, kind_byte[0], payload)
            .ok_or_else(|| PyValueError::new_err("a length does not fit its field"))?;
        out.append(PyBytes::new(py, &leaf))?;
        last.insert(item.to_vec(), (version, leaf));
    }
    Ok(out)
}

fn u32_len(len: usize, what: &str) -> PyResult<[u8; 4]> {
    u32::try_from(len)
        .map(u32::to_be_bytes)
        .map_err(|_| PyValueError::new_err(format!("{what} is longer than 2**32 - 1 bytes")))
}

/// Every level of the tree over `leaves` (concatenated 32-byte digests, at least one),
/// leaves first: each level pairs nodes left to right as `SHA-256(node_prefix ‖ left ‖
/// right)`, an odd last node promoted unchanged; the root is the last 32 bytes.
#[pyfunction]
fn pack_levels<'py>(
    py: Python<'py>,
    leaves: &[u8],
    node_prefix: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    if leaves.is_empty() || !leaves.len().is_multiple_of(32) {
        return Err(PyValueError::new_err(
            "the leaves must be one or more 32-byte digests",
        ));
    }
    let mut out = Vec::with_capacity(leaves.len() * 2 + 32);
    out.extend_from_slice(leaves);
    let (mut start, mut count) = (0, leaves.len() / 32);
    while count > 1 {
        for pair in 0..count / 2 {
            let at = start + pair * 64;
            let node = sha::joined(&[node_prefix, &out[at..at + 64]]);
            out.extend_from_slice(&node);
        }
        if count % 2 == 1 {
            let at = start + (count - 1) * 32;
            out.extend_from_within(at..at + 32);
        }
        start += count * 32;
        count = count.div_ceil(2);
    }
    Ok(PyBytes::new(py, &out))
}

/// Enter a block's leaves in the map at `height`: the entry of `sources[i]` (item_id,
/// version: attributes, or a pair) is `(version, leaves[i], height, i)` under the key
/// `SHA-256(tag ‖ item_id)`, an item's last leaf in the block winning; `others` (key ->
/// entry or its encoding) are entered too, a block's leaf winning over one of them. Undone
/// by the core's `rollback`.
/// Returns every changed entry as `(key, encoded value)`, in key order.
#[pyfunction]
fn enter_leaves<'py>(
    py: Python<'py>,
    core: &Bound<'py, Core>,
    sources: &Bound<'py, PyAny>,
    leaves: &Bound<'py, PyAny>,
    height: i64,
    tag: &[u8],
    others: &Bound<'py, PyMapping>,
) -> PyResult<Bound<'py, PyList>> {
    let block = u64::try_from(height)
        .map_err(|_| PyValueError::new_err("a block height is not negative"))?
        .to_be_bytes();
    let mut batch: Vec<(Key, Val)> = Vec::with_capacity(others.len()? + 1024);
    let mut at: HashMap<Key, usize> = HashMap::with_capacity(batch.capacity());
    let mut put = |key: Key, value: Val| match at.get(&key) {
        Some(&i) => batch[i].1 = value,
        None => {
            at.insert(key, batch.len());
            batch.push((key, value));
        }
    };
    for item in others.items()?.iter() {
        let (k, e): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
        put(bytes_of::<32>(&k, "a key")?, value_of(&e)?);
    }
    let mut leaf_iter = leaves.try_iter()?;
    for (index, source) in sources.try_iter()?.enumerate() {
        let source = source?;
        let leaf = leaf_iter
            .next()
            .ok_or_else(|| PyValueError::new_err("fewer leaves than sources"))??;
        let (item_obj, version_obj) = match source.cast::<PyTuple>() {
            Ok(pair) => (pair.get_item(0)?, pair.get_item(1)?), // the audit's (item, version)
            Err(_) => (
                source.getattr(intern!(py, "item_id"))?,
                source.getattr(intern!(py, "version"))?,
            ),
        };
        let item = item_obj.cast::<PyString>()?.to_str()?.as_bytes();
        let version: u64 = version_obj.extract()?;
        let mut value = [0u8; 56];
        value[..8].copy_from_slice(&version.to_be_bytes());
        value[8..40].copy_from_slice(&bytes_of::<32>(&leaf, "a leaf")?);
        value[40..48].copy_from_slice(&block);
        value[48..].copy_from_slice(&(index as u64).to_be_bytes());
        put(sha::joined(&[tag, item]), value);
    }
    if leaf_iter.next().is_some() {
        return Err(PyValueError::new_err("more leaves than sources"));
    }
    core.borrow_mut().change_batch(batch.clone(), height, false);
    batch.sort_unstable_by_key(|e| e.0);
    let out = PyList::empty(py);
    for (key, value) in &batch {
        let pair = PyTuple::new(py, [PyBytes::new(py, key), PyBytes::new(py, value)])?;
        out.append(pair)?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(leaf_chain, m)?)?;
    m.add_function(wrap_pyfunction!(pack_levels, m)?)?;
    m.add_function(wrap_pyfunction!(enter_leaves, m)?)?;
    Ok(())
}
