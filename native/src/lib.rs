//! Native core of Assay's head map, construction `assay-headmap-v1`
//! (docs/proof-bundle.md §10.2). `anchoring/headmap.py` is the reference: this core keeps
//! the same nodes, answers the same lookups and proofs and hands back the same rows, in a
//! compact layout (a node is a 64-bit id, a 32-byte hash and an entry index).

use hashbrown::{HashMap, HashSet, HashTable};
use pyo3::exceptions::{PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyMapping};
use sha2::{Digest, Sha256};

type Key = [u8; 32];
type Val = [u8; 56];
type Hash = [u8; 32];
type Path = [u8; 34];

const EMPTY: Hash = [0; 32];
const NONE: u32 = u32::MAX;
const DEPTH: usize = 256;
/// Nodes at depths 0..=SHALLOW get a 64-bit id; deeper ones (two keys sharing 64 bits of
/// prefix) live in a plain map.
const SHALLOW: usize = 63;
const META: u16 = 511;

#[derive(Clone, Copy)]
struct Slot {
    hash: Hash,
    /// Index of the entry placed here, or NONE for an interior node.
    leaf: u32,
}

struct Rec {
    id: u64,
    slot: Slot,
}

fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn top64(key: &Key) -> u64 {
    u64::from_be_bytes(key[..8].try_into().unwrap())
}

/// The prefix of `depth` bits followed by a marker bit: unique across depths 0..=63.
fn shallow_id(depth: usize, key: &Key) -> u64 {
    let bits = if depth == 0 {
        0
    } else {
        top64(key) >> (64 - depth)
    };
    ((bits << 1) | 1) << (SHALLOW - depth)
}

fn unshallow(id: u64) -> (usize, Key) {
    let depth = SHALLOW - id.trailing_zeros() as usize;
    let bits = if depth == 0 {
        0
    } else {
        (id >> (64 - depth)) << (64 - depth)
    };
    let mut key = EMPTY;
    key[..8].copy_from_slice(&bits.to_be_bytes());
    (depth, key)
}

fn masked(depth: usize, key: &Key) -> Key {
    let mut out = *key;
    for (i, byte) in out.iter_mut().enumerate() {
        let start = i * 8;
        if start >= depth {
            *byte = 0;
        } else if start + 8 > depth {
            *byte &= 0xffu8 << (start + 8 - depth);
        }
    }
    out
}

fn bit(key: &Key, depth: usize) -> bool {
    key[depth / 8] & (0x80 >> (depth % 8)) != 0
}

fn with_bit(key: &Key, depth: usize, on: bool) -> Key {
    let mut out = *key;
    if on {
        out[depth / 8] |= 0x80 >> (depth % 8);
    } else {
        out[depth / 8] &= !(0x80 >> (depth % 8));
    }
    out
}

fn shift_right(v: &Path, n: usize) -> Path {
    let (bytes, bits) = (n / 8, n % 8);
    let mut out = [0u8; 34];
    for i in bytes..34 {
        let hi = v[i - bytes] >> bits;
        let lo = if bits > 0 && i > bytes {
            v[i - bytes - 1] << (8 - bits)
        } else {
            0
        };
        out[i] = hi | lo;
    }
    out
}

fn shift_left(v: &Path, n: usize) -> Path {
    let (bytes, bits) = (n / 8, n % 8);
    let mut out = [0u8; 34];
    for i in 0..34 - bytes {
        let hi = v[i + bytes] << bits;
        let lo = if bits > 0 && i + bytes + 1 < 34 {
            v[i + bytes + 1] >> (8 - bits)
        } else {
            0
        };
        out[i] = hi | lo;
    }
    out
}

/// `((key >> (256 - depth)) << 9) | depth` as 34 big-endian bytes (headmap.path_bytes).
fn path_of(depth: usize, key: &Key) -> Path {
    let mut wide = [0u8; 34];
    wide[2..].copy_from_slice(&masked(depth, key));
    let mut out = if depth <= 247 {
        shift_right(&wide, 247 - depth)
    } else {
        shift_left(&wide, depth - 247)
    };
    out[32] |= (depth >> 8) as u8;
    out[33] |= (depth & 0xff) as u8;
    out
}

/// The node a path names, or None if no node can have it (including the head row's).
fn parse_path(path: &Path) -> Option<(usize, Key)> {
    let depth = (((path[32] & 1) as usize) << 8) | path[33] as usize;
    if depth > DEPTH {
        return None;
    }
    let mut value = *path;
    value[32] &= 0xfe;
    value[33] = 0;
    let wide = if depth <= 247 {
        shift_left(&value, 247 - depth)
    } else {
        shift_right(&value, depth - 247)
    };
    let mut key = EMPTY;
    key.copy_from_slice(&wide[2..]);
    (path_of(depth, &key) == *path).then_some((depth, key))
}

fn meta_path() -> Path {
    let mut path = [0u8; 34];
    path[32] = (META >> 8) as u8;
    path[33] = (META & 0xff) as u8;
    path
}

fn leaf_hash(key: &Key, value: &Val) -> Hash {
    let mut h = Sha256::new();
    h.update([0x02u8]);
    h.update(key);
    h.update(value);
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x03u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

#[derive(Default)]
struct Entries {
    keys: Vec<Key>,
    vals: Vec<Val>,
    index: HashTable<u32>,
}

impl Entries {
    fn find(&self, key: &Key) -> Option<u32> {
        let keys = &self.keys;
        self.index
            .find(mix(top64(key)), |&i| keys[i as usize] == *key)
            .copied()
    }

    fn push(&mut self, key: Key, value: Val) -> u32 {
        let i = self.keys.len() as u32;
        self.keys.push(key);
        self.vals.push(value);
        let keys = &self.keys;
        self.index
            .insert_unique(mix(top64(&key)), i, |&j| mix(top64(&keys[j as usize])));
        i
    }

    fn truncate(&mut self, len: usize) {
        for i in len..self.keys.len() {
            let hash = mix(top64(&self.keys[i]));
            if let Ok(found) = self.index.find_entry(hash, |&j| j as usize == i) {
                found.remove();
            }
        }
        self.keys.truncate(len);
        self.vals.truncate(len);
    }
}

#[derive(Default)]
struct Nodes {
    recs: Vec<Rec>,
    index: HashTable<u32>,
    deep: HashMap<(u16, Key), Slot>,
}

impl Nodes {
    fn get(&self, depth: usize, key: &Key) -> Option<Slot> {
        if depth <= SHALLOW {
            let id = shallow_id(depth, key);
            let recs = &self.recs;
            self.index
                .find(mix(id), |&i| recs[i as usize].id == id)
                .map(|&i| recs[i as usize].slot)
        } else {
            self.deep.get(&(depth as u16, masked(depth, key))).copied()
        }
    }

    fn truncate(&mut self, len: usize) {
        for i in len..self.recs.len() {
            let hash = mix(self.recs[i].id);
            if let Ok(found) = self.index.find_entry(hash, |&j| j as usize == i) {
                found.remove();
            }
        }
        self.recs.truncate(len);
    }
}

/// What an update changed, to save as rows or undo.
#[derive(Default)]
struct Pending {
    recs_before: usize,
    entries_before: usize,
    height_before: i64,
    rec_undo: Vec<(u32, Slot)>,
    rec_touched: HashSet<u32>,
    deep_undo: HashMap<(u16, Key), Option<Slot>>,
    entry_undo: Vec<(u32, Val)>,
}

#[pyclass(module = "assay_headmap")]
#[derive(Default)]
struct Core {
    nodes: Nodes,
    entries: Entries,
    #[pyo3(get, set)]
    height: i64,
    pending: Option<Pending>,
}

impl Core {
    fn set(&mut self, depth: usize, key: &Key, slot: Slot) {
        let pending = self.pending.as_mut();
        if depth <= SHALLOW {
            let id = shallow_id(depth, key);
            let Nodes { recs, index, .. } = &mut self.nodes;
            let found = index.find(mix(id), |&i| recs[i as usize].id == id).copied();
            match found {
                Some(i) => {
                    if let Some(p) = pending {
                        if (i as usize) < p.recs_before && p.rec_touched.insert(i) {
                            p.rec_undo.push((i, recs[i as usize].slot));
                        }
                    }
                    recs[i as usize].slot = slot;
                }
                None => {
                    let i = recs.len() as u32;
                    recs.push(Rec { id, slot });
                    index.insert_unique(mix(id), i, |&j| mix(recs[j as usize].id));
                }
            }
        } else {
            let at = (depth as u16, masked(depth, key));
            let old = self.nodes.deep.insert(at, slot);
            if let Some(p) = pending {
                p.deep_undo.entry(at).or_insert(old);
            }
        }
    }

    fn root_hash(&self) -> Hash {
        self.nodes.get(0, &EMPTY).map_or(EMPTY, |s| s.hash)
    }

    /// Rebuild the subtree at `depth` on the path of `keys` (sorted, distinct, non-empty);
    /// `batch` is every key of the update, sorted. Mirrors HeadMap._update step by step.
    fn rebuild(&mut self, depth: usize, keys: &[Key], batch: &[Key]) -> Hash {
        let here = self.nodes.get(depth, &keys[0]);
        let placed = here.filter(|s| s.leaf != NONE);
        let merged: Vec<Key>;
        let mut keys = keys;
        if placed.is_some() || here.is_none() {
            if let Some(slot) = placed {
                let resident = self.entries.keys[slot.leaf as usize];
                if batch.binary_search(&resident).is_err() {
                    let mut all = keys.to_vec();
                    let at = all.partition_point(|k| *k < resident);
                    all.insert(at, resident);
                    merged = all;
                    keys = &merged;
                }
            }
            if keys.len() == 1 {
                let key = keys[0];
                let index = self
                    .entries
                    .find(&key)
                    .expect("a key of the map has an entry");
                let digest = leaf_hash(&key, &self.entries.vals[index as usize]);
                self.set(
                    depth,
                    &key,
                    Slot {
                        hash: digest,
                        leaf: index,
                    },
                );
                return digest;
            }
            if let Some(slot) = placed {
                self.set(
                    depth,
                    &keys[0],
                    Slot {
                        hash: slot.hash,
                        leaf: NONE,
                    },
                );
            }
        }
        let split = keys.partition_point(|k| !bit(k, depth));
        let first = keys[0];
        let left = if split > 0 {
            self.rebuild(depth + 1, &keys[..split], batch)
        } else {
            let side = with_bit(&first, depth, false);
            self.nodes.get(depth + 1, &side).map_or(EMPTY, |s| s.hash)
        };
        let right = if split < keys.len() {
            self.rebuild(depth + 1, &keys[split..], batch)
        } else {
            let side = with_bit(&first, depth, true);
            self.nodes.get(depth + 1, &side).map_or(EMPTY, |s| s.hash)
        };
        let digest = node_hash(&left, &right);
        self.set(
            depth,
            &first,
            Slot {
                hash: digest,
                leaf: NONE,
            },
        );
        digest
    }

    fn row<'py>(
        &self,
        py: Python<'py>,
        cls: &Bound<'py, PyAny>,
        path: &Path,
        slot: Slot,
    ) -> PyResult<Bound<'py, PyAny>> {
        let path = PyBytes::new(py, path);
        let hash = PyBytes::new(py, &slot.hash);
        if slot.leaf == NONE {
            cls.call1((path, hash, py.None(), py.None()))
        } else {
            let i = slot.leaf as usize;
            let key = PyBytes::new(py, &self.entries.keys[i]);
            let value = PyBytes::new(py, &self.entries.vals[i]);
            cls.call1((path, hash, key, value))
        }
    }

    fn meta(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..].copy_from_slice(&(self.entries.keys.len() as u64).to_be_bytes());
        out
    }

    fn rows_of<'py>(
        &self,
        py: Python<'py>,
        cls: &Bound<'py, PyAny>,
        mut nodes: Vec<(Path, Slot)>,
        head_last: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let head = meta_path();
        // update() appends the head row; rows() sorts it among the nodes by its path.
        let at = if head_last {
            nodes.len()
        } else {
            nodes.partition_point(|n| n.0 < head)
        };
        let out = PyList::empty(py);
        for (i, (path, slot)) in nodes.iter().enumerate() {
            if i == at {
                out.append(self.head_row(py, cls)?)?;
            }
            out.append(self.row(py, cls, path, *slot)?)?;
        }
        if at == nodes.len() {
            out.append(self.head_row(py, cls)?)?;
        }
        Ok(out)
    }
}

fn bytes_of<const N: usize>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<[u8; N]> {
    let raw = obj
        .cast::<PyBytes>()
        .map_err(|_| PyValueError::new_err(format!("{what} must be bytes")))?;
    raw.as_bytes()
        .try_into()
        .map_err(|_| PyValueError::new_err(format!("{what} must be {N} bytes")))
}

fn value_of(entry: &Bound<'_, PyAny>) -> PyResult<Val> {
    let mut out = [0u8; 56];
    out[..8].copy_from_slice(&entry.getattr("version")?.extract::<u64>()?.to_be_bytes());
    out[8..40].copy_from_slice(&bytes_of::<32>(&entry.getattr("leaf")?, "an entry's leaf")?);
    out[40..48].copy_from_slice(&entry.getattr("height")?.extract::<u64>()?.to_be_bytes());
    out[48..].copy_from_slice(&entry.getattr("leaf_index")?.extract::<u64>()?.to_be_bytes());
    Ok(out)
}

#[pymethods]
impl Core {
    #[new]
    fn new() -> Self {
        Core {
            height: -1,
            ..Default::default()
        }
    }

    #[getter]
    fn root<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.root_hash())
    }

    #[getter]
    fn size(&self) -> usize {
        self.entries.keys.len()
    }

    /// The encoded value of `key`, or None.
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let key = bytes_of::<32>(key, "a key")?;
        Ok(self
            .entries
            .find(&key)
            .map(|i| PyBytes::new(py, &self.entries.vals[i as usize])))
    }

    /// Apply `changes` (key -> MapEntry); the rows to save, built with `row_cls`.
    fn update<'py>(
        &mut self,
        py: Python<'py>,
        changes: &Bound<'py, PyMapping>,
        height: i64,
        row_cls: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut batch: Vec<(Key, Val)> = Vec::new();
        for item in changes.items()?.iter() {
            let (k, e): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
            batch.push((bytes_of::<32>(&k, "a key")?, value_of(&e)?));
        }
        self.pending = Some(Pending {
            recs_before: self.nodes.recs.len(),
            entries_before: self.entries.keys.len(),
            height_before: self.height,
            ..Default::default()
        });
        let mut keys: Vec<Key> = Vec::with_capacity(batch.len());
        for (key, value) in batch {
            match self.entries.find(&key) {
                Some(i) => {
                    let p = self.pending.as_mut().unwrap();
                    if (i as usize) < p.entries_before {
                        p.entry_undo.push((i, self.entries.vals[i as usize]));
                    }
                    self.entries.vals[i as usize] = value;
                }
                None => {
                    self.entries.push(key, value);
                }
            }
            keys.push(key);
        }
        keys.sort_unstable();
        keys.dedup();
        if !keys.is_empty() {
            self.rebuild(0, &keys, &keys);
        }
        self.height = height;
        let p = self.pending.as_ref().unwrap();
        let mut touched: Vec<(Path, Slot)> = Vec::new();
        let recs = &self.nodes.recs;
        let fresh = p.recs_before..recs.len();
        for i in p.rec_undo.iter().map(|(i, _)| *i as usize).chain(fresh) {
            let (depth, key) = unshallow(recs[i].id);
            touched.push((path_of(depth, &key), recs[i].slot));
        }
        for (depth, key) in p.deep_undo.keys() {
            touched.push((
                path_of(*depth as usize, key),
                self.nodes.deep[&(*depth, *key)],
            ));
        }
        self.rows_of(py, row_cls, touched, true)
    }

    fn head_row<'py>(
        &self,
        py: Python<'py>,
        row_cls: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        row_cls.call1((
            PyBytes::new(py, &meta_path()),
            PyBytes::new(py, &self.root_hash()),
            py.None(),
            PyBytes::new(py, &self.meta()),
        ))
    }

    fn rollback(&mut self) {
        let Some(p) = self.pending.take() else { return };
        for (i, slot) in &p.rec_undo {
            self.nodes.recs[*i as usize].slot = *slot;
        }
        self.nodes.truncate(p.recs_before);
        for (at, old) in p.deep_undo {
            match old {
                Some(slot) => self.nodes.deep.insert(at, slot),
                None => self.nodes.deep.remove(&at),
            };
        }
        for (i, value) in &p.entry_undo {
            self.entries.vals[*i as usize] = *value;
        }
        self.entries.truncate(p.entries_before);
        self.height = p.height_before;
    }

    fn commit(&mut self) {
        self.pending = None;
    }

    /// `(hash, leaf key or None, value or None)` of the node at `path` (34 bytes), or None.
    #[allow(clippy::type_complexity)]
    fn node<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
    ) -> PyResult<
        Option<(
            Bound<'py, PyBytes>,
            Option<Bound<'py, PyBytes>>,
            Option<Bound<'py, PyBytes>>,
        )>,
    > {
        let path = bytes_of::<34>(path, "a path")?;
        let Some((depth, key)) = parse_path(&path) else {
            return Ok(None);
        };
        Ok(self.nodes.get(depth, &key).map(|slot| {
            let hash = PyBytes::new(py, &slot.hash);
            if slot.leaf == NONE {
                (hash, None, None)
            } else {
                let i = slot.leaf as usize;
                (
                    hash,
                    Some(PyBytes::new(py, &self.entries.keys[i])),
                    Some(PyBytes::new(py, &self.entries.vals[i])),
                )
            }
        }))
    }

    /// `(value or None, siblings root-last, other key or None, other value or None)`.
    #[allow(clippy::type_complexity)]
    fn prove<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<(
        Option<Bound<'py, PyBytes>>,
        Vec<Option<Bound<'py, PyBytes>>>,
        Option<Bound<'py, PyBytes>>,
        Option<Bound<'py, PyBytes>>,
    )> {
        let key = bytes_of::<32>(key, "a key")?;
        let mut siblings: Vec<Option<Bound<'py, PyBytes>>> = Vec::new();
        let mut depth = 0;
        loop {
            let Some(here) = self.nodes.get(depth, &key) else {
                siblings.reverse();
                return Ok((None, siblings, None, None));
            };
            if here.leaf != NONE {
                siblings.reverse();
                let i = here.leaf as usize;
                let value = PyBytes::new(py, &self.entries.vals[i]);
                if self.entries.keys[i] == key {
                    return Ok((Some(value), siblings, None, None));
                }
                let other = PyBytes::new(py, &self.entries.keys[i]);
                return Ok((None, siblings, Some(other), Some(value)));
            }
            if depth == DEPTH {
                return Err(PyLookupError::new_err(
                    "the map's nodes are inconsistent: an interior node at depth 256",
                ));
            }
            let side = with_bit(&key, depth, !bit(&key, depth));
            siblings.push(
                self.nodes
                    .get(depth + 1, &side)
                    .map(|s| PyBytes::new(py, &s.hash)),
            );
            depth += 1;
        }
    }

    /// Every node as a row, sorted by path, then the head row.
    fn rows<'py>(
        &self,
        py: Python<'py>,
        row_cls: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut all: Vec<(Path, Slot)> = Vec::with_capacity(self.nodes.recs.len());
        for rec in &self.nodes.recs {
            let (depth, key) = unshallow(rec.id);
            all.push((path_of(depth, &key), rec.slot));
        }
        for ((depth, key), slot) in &self.nodes.deep {
            all.push((path_of(*depth as usize, key), *slot));
        }
        self.rows_of(py, row_cls, all, false)
    }

    /// The map as saved: every node row and the head row (objects with path, hash,
    /// leaf_key, value), applied in order like HeadMap.from_rows.
    #[staticmethod]
    fn from_rows(rows: &Bound<'_, PyAny>) -> PyResult<Core> {
        let mut m = Core::new();
        for row in rows.try_iter()? {
            let row = row?;
            let path = bytes_of::<34>(&row.getattr("path")?, "a row's path")?;
            if u16::from(path[32]) << 8 | u16::from(path[33]) == META && path[..32] == [0u8; 32] {
                let value = row.getattr("value")?;
                let meta = value
                    .cast::<PyBytes>()
                    .map_err(|_| PyValueError::new_err("the head row has no value"))?;
                let head: [u8; 8] = meta
                    .as_bytes()
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        PyValueError::new_err("the head row's value is not height and size")
                    })?;
                m.height = i64::from_be_bytes(head);
                continue;
            }
            let Some((depth, key)) = parse_path(&path) else {
                return Err(PyValueError::new_err(format!(
                    "not a node's path: {}",
                    hex(&path)
                )));
            };
            let hash = bytes_of::<32>(&row.getattr("hash")?, "a row's hash")?;
            let leaf_key = row.getattr("leaf_key")?;
            let value = row.getattr("value")?;
            let mut leaf = m.nodes.get(depth, &key).map_or(NONE, |s| s.leaf);
            if !leaf_key.is_none() && !value.is_none() {
                let k = bytes_of::<32>(&leaf_key, "a row's leaf key")?;
                let v = bytes_of::<56>(&value, "a row's value")?;
                leaf = match m.entries.find(&k) {
                    Some(i) => {
                        m.entries.vals[i as usize] = v;
                        i
                    }
                    None => m.entries.push(k, v),
                };
            }
            m.set(depth, &key, Slot { hash, leaf });
        }
        m.nodes.recs.shrink_to_fit();
        m.entries.keys.shrink_to_fit();
        m.entries.vals.shrink_to_fit();
        Ok(m)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[pymodule]
fn assay_headmap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    Ok(())
}
