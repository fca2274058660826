//! The bundle verifier's plain-spelling paths, natively: a block header's hash
//! (`anchoring/header.py: plain_json_block_hash`), a block's accumulator proof
//! (`anchoring/accumulator.py: root_from_inclusion_proof` after `hex32_list`) and an event's
//! Merkle path (`anchoring/merkle.py: _plain_path_root`). The Python functions are the
//! reference. Each function here answers only for input those accept as it stands (exact
//! `dict`/`list`/`str`/`int` types as `json.loads` makes them, lowercase hex, integers in
//! range) and then answers what they answer; for anything else it answers `None`, and the
//! caller runs the Python path, which gives the verdict and every refusal's message.
//! tests/anchoring/test_verifyplain.py binds the two on valid and mutated input.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::sha;

fn exact_u64(value: &Bound<'_, PyAny>) -> Option<u64> {
    if !value.is_exact_instance_of::<PyInt>() {
        return None;
    }
    value.extract::<u64>().ok()
}

/// A level's node count from the one below it, `ceil(count / 2)` (no overflow at
/// `u64::MAX`, where `(count + 1) >> 1` would wrap to 0).
fn half_up(count: u64) -> u64 {
    count / 2 + (count & 1)
}

fn exact_text<'a>(value: &'a Bound<'_, PyAny>) -> Option<std::borrow::Cow<'a, str>> {
    if !value.is_exact_instance_of::<PyString>() {
        return None;
    }
    value
        .cast::<PyString>()
        .ok()?
        .to_str()
        .ok()
        .map(std::borrow::Cow::Borrowed)
}

/// 64 lowercase hex digits, decoded.
fn hex32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

fn hex32_value(value: &Bound<'_, PyAny>) -> Option<[u8; 32]> {
    hex32(&exact_text(value)?)
}

fn exact_bytes32(value: &Bound<'_, PyAny>) -> Option<[u8; 32]> {
    if !value.is_exact_instance_of::<PyBytes>() {
        return None;
    }
    value.cast::<PyBytes>().ok()?.as_bytes().try_into().ok()
}

/// `_plain_path_root(leaf, index, leaf_count, path, hasher)` for a prefix hasher with
/// `node_prefix`: the root the path leads to, or None (the Python function decides).
#[pyfunction]
pub fn plain_path_root<'py>(
    py: Python<'py>,
    leaf: &Bound<'py, PyAny>,
    index: &Bound<'py, PyAny>,
    leaf_count: &Bound<'py, PyAny>,
    path: &Bound<'py, PyAny>,
    node_prefix: &[u8],
) -> Option<Bound<'py, PyBytes>> {
    let mut node = exact_bytes32(leaf)?;
    let (mut index, mut count) = (exact_u64(index)?, exact_u64(leaf_count)?);
    if index >= count || !path.is_exact_instance_of::<PyList>() {
        return None;
    }
    let (left, right) = (PyString::new(py, "left"), PyString::new(py, "right"));
    for entry in path.cast::<PyList>().ok()?.iter() {
        while count > 1 && index == count - 1 && count & 1 == 1 {
            index >>= 1;
            count = half_up(count);
        }
        if count <= 1 || !entry.is_exact_instance_of::<PyDict>() {
            return None;
        }
        let entry = entry.cast::<PyDict>().ok()?;
        let on_left = index & 1 == 1;
        if entry.len() != 1 {
            return None;
        }
        let value = entry
            .get_item(if on_left { &left } else { &right })
            .ok()??;
        let sibling = hex32_value(&value)?;
        node = if on_left {
            sha::joined(&[node_prefix, &sibling, &node])
        } else {
            sha::joined(&[node_prefix, &node, &sibling])
        };
        index >>= 1;
        count = half_up(count);
    }
    while count > 1 {
        if !(index == count - 1 && count & 1 == 1) {
            return None;
        }
        index >>= 1;
        count = half_up(count);
    }
    Some(PyBytes::new(py, &node))
}

/// `root_from_inclusion_proof(acc_leaf(block_hash), index, size, hex32_list(proof))` (RFC
/// 9162 §2.1.3.2) when every hash is plain hex and the proof's length fits; else None.
#[pyfunction]
pub fn plain_acc_root<'py>(
    py: Python<'py>,
    block_hash: &Bound<'py, PyAny>,
    index: &Bound<'py, PyAny>,
    size: &Bound<'py, PyAny>,
    proof: &Bound<'py, PyAny>,
    leaf_prefix: &[u8],
    node_prefix: &[u8],
) -> Option<Bound<'py, PyBytes>> {
    if !block_hash.is_exact_instance_of::<PyBytes>() {
        return None;
    }
    let block_hash = block_hash.cast::<PyBytes>().ok()?.as_bytes();
    let (index, size) = (exact_u64(index)?, exact_u64(size)?);
    if index >= size || !proof.is_exact_instance_of::<PyList>() {
        return None;
    }
    let mut node = sha::joined(&[leaf_prefix, block_hash]);
    let (mut fn_, mut sn) = (index, size - 1);
    for sibling in proof.cast::<PyList>().ok()?.iter() {
        let sibling = hex32_value(&sibling)?;
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            node = sha::joined(&[node_prefix, &sibling, &node]);
            while fn_ != 0 && fn_ & 1 == 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            node = sha::joined(&[node_prefix, &node, &sibling]);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then(|| PyBytes::new(py, &node))
}

/// A JSON block header read as `plain_json_block_hash` reads it. The layout (magic lines,
/// field names in order, version numbers, the genesis hashes, the largest integer) comes
/// from anchoring/header.py.
#[pyclass(frozen)]
pub struct HeaderReader {
    magic: String,
    map_magic: String,
    names: Vec<Py<PyString>>,
    map_names: Vec<Py<PyString>>,
    version: u64,
    map_version: u64,
    genesis_prev: [u8; 32],
    empty_root: [u8; 32],
    /// The largest integer a header may hold (`header.MAX_INT`).
    max_int: u64,
}

#[pymethods]
impl HeaderReader {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        magic: String,
        map_magic: String,
        names: Vec<String>,
        map_names: Vec<String>,
        version: u64,
        map_version: u64,
        genesis_prev: &[u8],
        empty_root: &[u8],
        max_int: u64,
    ) -> PyResult<Self> {
        let expected = [
            "version",
            "height",
            "prev_hash",
            "merkle_root",
            "first_notification",
            "last_notification",
            "leaf_count",
            "sealed_at",
            "acc_root",
            "acc_size",
        ];
        let tail = ["map_root", "map_size"];
        if names != expected || map_names[..] != [&expected[..], &tail[..]].concat()[..] {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "the header's fields are not those this reader knows",
            ));
        }
        let interned =
            |list: &[String]| list.iter().map(|n| PyString::new(py, n).unbind()).collect();
        let digest = |raw: &[u8]| -> PyResult<[u8; 32]> {
            raw.try_into()
                .map_err(|_| pyo3::exceptions::PyValueError::new_err("32-byte hashes expected"))
        };
        Ok(Self {
            magic,
            map_magic,
            names: interned(&names),
            map_names: interned(&map_names),
            version,
            map_version,
            genesis_prev: digest(genesis_prev)?,
            empty_root: digest(empty_root)?,
            max_int,
        })
    }

    /// `(height, leaf_count, merkle_root, acc_root, acc_size, block_hash, version, map_root
    /// or None, sealed_at)` of a header `plain_json_block_hash` accepts, else None.
    fn read<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>) -> Option<Bound<'py, PyTuple>> {
        if !data.is_exact_instance_of::<PyDict>() {
            return None;
        }
        let data = data.cast::<PyDict>().ok()?;
        let mapped = data.len() == self.map_names.len();
        let (names, magic, version) = if mapped {
            (&self.map_names, &self.map_magic, self.map_version)
        } else if data.len() == self.names.len() {
            (&self.names, &self.magic, self.version)
        } else {
            return None;
        };
        let mut values = Vec::with_capacity(names.len());
        for name in names {
            values.push(data.get_item(name.bind(py)).ok()??);
        }
        let int = |at: usize| exact_u64(&values[at]).filter(|v| *v <= self.max_int);
        let (height, first, last) = (int(1)?, int(4)?, int(5)?);
        let (leaf_count, acc_size) = (int(6)?, int(9)?);
        if int(0)? != version || leaf_count < 1 || first > last || acc_size != height {
            return None;
        }
        let sealed_text = exact_text(&values[7])?;
        let sealed_at: &str = &sealed_text;
        if !valid_sealed_at(sealed_at) {
            return None;
        }
        let prev_hash = hex32_value(&values[2])?;
        let merkle_root = hex32_value(&values[3])?;
        let acc_root = hex32_value(&values[8])?;
        if height == 0 && (prev_hash != self.genesis_prev || acc_root != self.empty_root) {
            return None;
        }
        let map_root = if mapped {
            let map_root = hex32(&exact_text(&values[10])?)?;
            if int(11)? < 1 {
                return None;
            }
            Some(PyBytes::new(py, &map_root).into_any())
        } else {
            None
        };
        // The canonical bytes: the magic line, then `name=value` for each field in order
        // (every value is now a checked int or ASCII text, spelled as Python's str spells it).
        let mut text = format!("{magic}\n");
        for (name, value) in names.iter().zip(&values) {
            let spelled = match exact_u64(value) {
                Some(number) => number.to_string(),
                None => exact_text(value)?.into_owned(),
            };
            text.push_str(&format!("{}={spelled}\n", name.bind(py).to_str().ok()?));
        }
        let block_hash = sha::short(text.as_bytes());
        let items: Vec<Bound<'py, PyAny>> = vec![
            values[1].clone(),
            values[6].clone(),
            PyBytes::new(py, &merkle_root).into_any(),
            PyBytes::new(py, &acc_root).into_any(),
            values[9].clone(),
            PyBytes::new(py, &block_hash).into_any(),
            values[0].clone(),
            map_root.unwrap_or_else(|| py.None().into_bound(py)),
            values[7].clone(),
        ];
        PyTuple::new(py, items).ok()
    }
}

/// `_valid_sealed_at`: `YYYY-MM-DDTHH:MM:SS.ffffffZ` in ASCII digits, a date and time
/// `datetime.fromisoformat` accepts (year 1 on, real month day, hour < 24, second < 60).
fn valid_sealed_at(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 27 {
        return false;
    }
    let layout = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    if !b.iter().zip(layout).all(|(c, l)| match l {
        b'd' => c.is_ascii_digit(),
        _ => c == l,
    }) {
        return false;
    }
    let num = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, c| n * 10 + u32::from(c - b'0'))
    };
    let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1
        && (1..=days).contains(&day)
        && num(11, 13) < 24
        && num(14, 16) < 60
        && num(17, 19) < 60
}
