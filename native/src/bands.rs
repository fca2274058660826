//! Band rows of the head map (anchoring/headbands.py is the reference): the subtree under
//! every 4-, 8- and 12-bit key prefix, as the store's current-state tables keep them
//! so a proof at the head reads a few hundred rows instead of rebuilding the map.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::{bit, bytes_of, masked, Core, Hash, Key, NONE};

/// The depths of the bands, shallowest first.
const BANDS: [usize; 3] = [4, 8, 12];

impl Core {
    /// `(hash, entry index)` of the subtree under the first `depth` bits of `key` (the
    /// entry index NONE: two or more entries), or None if it is empty. A single entry
    /// placed above `depth` (the shortcut rule) is this subtree's if it shares the prefix.
    fn subtree(&self, depth: usize, key: &Key) -> Option<(Hash, u32)> {
        let mut index = self.root;
        for d in 0..depth {
            if index == NONE {
                return None;
            }
            let node = &self.nodes[index as usize];
            if node.leaf != NONE {
                let resident = &self.entries.keys[node.leaf as usize];
                let same = masked(depth, resident) == masked(depth, key);
                return same.then_some((node.hash, node.leaf));
            }
            index = node.child[bit(key, d) as usize];
        }
        (index != NONE).then(|| {
            let node = &self.nodes[index as usize];
            (node.hash, node.leaf)
        })
    }
}

fn prefix_of(key: &Key) -> u32 {
    (u32::from(key[0]) << 8) | u32::from(key[1])
}

/// `(band id, hash or None, single entry's key or None, its value or None)` of every band
/// node over `keys` (None: every key of the map), sorted by id; the id is
/// `depth << 16 | prefix`, hash None an empty subtree (a row to delete).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn band_rows<'py>(
    py: Python<'py>,
    core: PyRef<'py, Core>,
    keys: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let mut ids: Vec<u32> = Vec::new();
    let mut push = |prefix: u32| {
        for depth in BANDS {
            ids.push(((depth as u32) << 16) | (prefix >> (16 - depth)));
        }
    };
    match keys {
        Some(keys) => {
            for key in keys.try_iter()? {
                push(prefix_of(&bytes_of::<32>(&key?, "a key")?));
            }
        }
        None => core.entries.keys.iter().for_each(|k| push(prefix_of(k))),
    }
    ids.sort_unstable();
    ids.dedup();
    let out = PyList::empty(py);
    for id in ids {
        let depth = (id >> 16) as usize;
        let mut key: Key = [0; 32];
        let prefix = (id & 0xffff) << (16 - depth);
        key[0] = (prefix >> 8) as u8;
        key[1] = prefix as u8;
        let none = || py.None().into_bound(py);
        let id_obj = id.into_pyobject(py)?.into_any();
        let row = match core.subtree(depth, &key) {
            None => [id_obj, none(), none(), none()],
            Some((hash, leaf)) => {
                let hash = PyBytes::new(py, &hash).into_any();
                if leaf == NONE {
                    [id_obj, hash, none(), none()]
                } else {
                    let i = leaf as usize;
                    [
                        id_obj,
                        hash,
                        PyBytes::new(py, &core.entries.keys[i]).into_any(),
                        PyBytes::new(py, &core.entries.vals[i]).into_any(),
                    ]
                }
            }
        };
        out.append(PyTuple::new(py, row)?)?;
    }
    Ok(out)
}

/// Every entry of the map as `(key, value)`, in key order (the audit's current state).
#[pyfunction]
pub fn entries<'py>(py: Python<'py>, core: PyRef<'py, Core>) -> PyResult<Bound<'py, PyList>> {
    let mut order: Vec<usize> = (0..core.entries.keys.len()).collect();
    order.sort_unstable_by_key(|&i| core.entries.keys[i]);
    let out = PyList::empty(py);
    for i in order {
        let key = PyBytes::new(py, &core.entries.keys[i]).into_any();
        let value = PyBytes::new(py, &core.entries.vals[i]).into_any();
        out.append(PyTuple::new(py, [key, value])?)?;
    }
    Ok(out)
}
