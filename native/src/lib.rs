//! Native core of Assay's head map, construction `assay-headmap-v1`
//! (docs/proof-bundle.md §10.2). `anchoring/headmap.py` is the reference: this core keeps
//! the same nodes, answers the same lookups and proofs and hands back the same rows, in a
//! compact layout (a node is a 64-bit id, a 32-byte hash and an entry index).

use hashbrown::HashTable;
use pyo3::exceptions::{PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyMapping, PyTuple, PyType};
use pyo3::{ffi, intern};

mod avrobody;
mod avrocursor;
mod bands;
mod ed25519;
mod ed25519_batch;
mod hugepages;
mod itemchain;
mod kafkarecords;
mod recordsdigest;
mod sealbatch;
mod sha;
mod signedstate;
mod stagecsv;
mod statejson;
mod strictjson;
mod verify_pool;
mod verifybody;
mod verifyplain;

type Key = [u8; 32];
type Val = [u8; 56];
type Hash = [u8; 32];
type Path = [u8; 34];

const EMPTY: Hash = [0; 32];
const NONE: u32 = u32::MAX;
const DEPTH: usize = 256;
const META: u16 = 511;

/// A node of the tree: its hash, its children (NONE: an empty subtree) and the index of
/// the entry placed here (NONE: an interior node; HOLE: not yet read, in from_rows).
#[derive(Clone, Copy)]
struct Node {
    hash: Hash,
    child: [u32; 2],
    leaf: u32,
}

const HOLE: u32 = u32::MAX - 1;
/// Below this many keys, `rebuild` first loads their paths with `warm`.
const WARM_KEYS: usize = 64;

/// Start loading the cache line of `value` (a hint: no effect on memory or results; none
/// at all off x86-64).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a reference is a valid address; prefetching reads nothing into the program.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
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
    sha::joined(&[&[0x02u8], key, value])
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha::joined(&[&[0x03u8], left, right])
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

/// What an update changed, to save as rows or undo.
#[derive(Default)]
struct Pending {
    nodes_before: usize,
    entries_before: usize,
    height_before: i64,
    root_before: u32,
    node_undo: Vec<(u32, Node)>,
    entry_undo: Vec<(u32, Val)>,
    /// (depth, a key on the node's path, its hash, its entry or NONE) of every node the
    /// update wrote, as it left them: the rows are made from these, without reading the
    /// nodes again (by then mostly out of the caches).
    touched: Vec<(usize, Key, Hash, u32)>,
    /// Whether `touched` is kept: `apply` (no rows wanted) skips recording and sorting them.
    keep_rows: bool,
}

/// The head row's place in a RowSet's `rows` (its value is the set's `meta`).
const HEAD_ROW: u32 = u32::MAX - 1;

/// Rows copied out of the map: each a path, a hash, and what it holds: NONE (an interior
/// node), HEAD_ROW, or the index of its entry (key and value) in `entries`.
#[derive(Default)]
struct RowSet {
    rows: Vec<(Path, Hash, u32)>,
    entries: Vec<(Key, Val)>,
    meta: [u8; 16],
}

impl RowSet {
    fn fields<'py>(&self, py: Python<'py>, row: &(Path, Hash, u32)) -> [Bound<'py, PyAny>; 4] {
        let (path, hash, slot) = row;
        let path = PyBytes::new(py, path).into_any();
        let hash = PyBytes::new(py, hash).into_any();
        let none = || py.None().into_bound(py);
        match *slot {
            NONE => [path, hash, none(), none()],
            HEAD_ROW => [path, hash, none(), PyBytes::new(py, &self.meta).into_any()],
            entry => {
                let (key, value) = &self.entries[entry as usize];
                [
                    path,
                    hash,
                    PyBytes::new(py, key).into_any(),
                    PyBytes::new(py, value).into_any(),
                ]
            }
        }
    }

    fn list<'py>(&self, py: Python<'py>, cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for row in &self.rows {
            out.append(make_row(py, cls, self.fields(py, row))?)?;
        }
        Ok(out)
    }
}

/// The rows an update hands back, kept as plain bytes: Python objects are made only when
/// the rows are read (saving them), not while the map is updated.
#[pyclass(module = "assay_headmap", frozen)]
struct Rows {
    set: RowSet,
}

#[pymethods]
impl Rows {
    fn __len__(&self) -> usize {
        self.set.rows.len()
    }

    /// Every row as an object of `row_cls` (a MapRow), in order.
    fn materialize<'py>(
        &self,
        py: Python<'py>,
        row_cls: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.set.list(py, &row_class(py, row_cls)?)
    }

    /// Every row as the tuple `(path, height, hash, leaf_key, value)` a store inserts.
    fn params<'py>(&self, py: Python<'py>, height: i64) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let height = height.into_pyobject(py)?.into_any();
        for row in &self.set.rows {
            let [path, hash, key, value] = self.set.fields(py, row);
            out.append(PyTuple::new(py, [path, height.clone(), hash, key, value])?)?;
        }
        Ok(out)
    }
}

/// A path as five big-endian words: compared as words, in the order of its bytes, far
/// faster than a byte-wise comparison of 34 bytes.
fn order_key(path: &Path) -> [u64; 5] {
    let mut wide = [0u8; 40];
    wide[6..].copy_from_slice(path);
    let mut out = [0u64; 5];
    for (word, bytes) in out.iter_mut().zip(wide.chunks_exact(8)) {
        *word = u64::from_be_bytes(bytes.try_into().unwrap());
    }
    out
}

#[pyclass(module = "assay_headmap")]
struct Core {
    nodes: Vec<Node>,
    root: u32,
    entries: Entries,
    #[pyo3(get, set)]
    height: i64,
    pending: Option<Pending>,
}

impl Core {
    /// The map after `changes`, undoable until `commit`; with `keep_rows`, what `update`
    /// makes its rows from.
    fn change<'py>(
        &mut self,
        changes: &Bound<'py, PyMapping>,
        height: i64,
        keep_rows: bool,
    ) -> PyResult<()> {
        let mut batch: Vec<(Key, Val)> = Vec::with_capacity(changes.len()?);
        if let Ok(dict) = changes.cast::<PyDict>() {
            // A dict (what the sealer passes) is read in place, without a list of pairs.
            for (k, e) in dict.iter() {
                batch.push((bytes_of::<32>(&k, "a key")?, value_of(&e)?));
            }
        } else {
            for item in changes.items()?.iter() {
                let (k, e): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
                batch.push((bytes_of::<32>(&k, "a key")?, value_of(&e)?));
            }
        }
        self.change_batch(batch, height, keep_rows);
        Ok(())
    }

    /// `change` of a batch already read: distinct keys (a key twice would be undone wrong).
    fn change_batch(&mut self, batch: Vec<(Key, Val)>, height: i64, keep_rows: bool) {
        let mut p = Pending {
            nodes_before: self.nodes.len(),
            entries_before: self.entries.keys.len(),
            height_before: self.height,
            root_before: self.root,
            keep_rows,
            ..Default::default()
        };
        let mut keys: Vec<(Key, u32)> = Vec::with_capacity(batch.len());
        for (key, value) in batch {
            let entry = match self.entries.find(&key) {
                Some(i) => {
                    if (i as usize) < p.entries_before {
                        p.entry_undo.push((i, self.entries.vals[i as usize]));
                    }
                    self.entries.vals[i as usize] = value;
                    i
                }
                None => self.entries.push(key, value),
            };
            keys.push((key, entry));
        }
        self.pending = Some(p);
        // A mapping holds each key once; equal keys would share one entry all the same.
        keys.sort_unstable_by_key(|k| k.0);
        keys.dedup_by(|a, b| a.0 == b.0);
        if !keys.is_empty() {
            self.root = self.rebuild(0, self.root, &keys, false).0;
        }
        self.height = height;
    }

    fn hash_of(&self, index: u32) -> Hash {
        if index == NONE {
            EMPTY
        } else {
            self.nodes[index as usize].hash
        }
    }

    fn root_hash(&self) -> Hash {
        self.hash_of(self.root)
    }

    fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    /// The node at `depth` on the path of `key`, if there is one.
    fn find(&self, depth: usize, key: &Key) -> Option<Node> {
        let mut index = self.root;
        for d in 0..depth {
            if index == NONE || self.nodes[index as usize].leaf != NONE {
                return None; // nothing lies below an empty subtree or a leaf
            }
            index = self.nodes[index as usize].child[bit(key, d) as usize];
        }
        (index != NONE).then(|| self.nodes[index as usize])
    }

    /// Start loading a node's cache line: a block's paths run through a map far larger
    /// than the caches, so the walk waits on memory, not on hashing.
    #[inline(always)]
    fn prefetch(&self, index: u32) {
        if index != NONE {
            if let Some(node) = self.nodes.get(index as usize) {
                prefetch(node);
            }
        }
    }

    /// Load, ahead of `rebuild`, every node it will read under `here` (at `depth`) for
    /// `keys`: their paths, the siblings along them and the entries met at their ends.
    /// The walk goes level by level across all the keys, so the loads of one level are
    /// independent of each other and overlap, where `rebuild` (one path after the other,
    /// each node found through its parent) would wait for each in turn. It changes nothing.
    fn warm(&self, depth: usize, here: u32, keys: &[(Key, u32)]) {
        let mut frontier: Vec<u32> = vec![here; keys.len()];
        for (_, entry) in keys {
            if let Some(value) = self.entries.vals.get(*entry as usize) {
                prefetch(value);
            }
        }
        for d in depth..DEPTH {
            let mut more = false;
            for (at, (key, _)) in frontier.iter_mut().zip(keys) {
                let Some(node) = self.nodes.get(*at as usize) else {
                    continue; // NONE: this path has ended
                };
                if node.leaf != NONE {
                    if let Some(resident) = self.entries.keys.get(node.leaf as usize) {
                        prefetch(resident);
                    }
                    *at = NONE;
                    continue;
                }
                let side = bit(key, d) as usize;
                self.prefetch(node.child[1 - side]);
                self.prefetch(node.child[side]);
                *at = node.child[side];
                more = true;
            }
            if !more {
                break;
            }
        }
    }

    /// Rebuild the subtree at `depth` (node `here`, NONE if empty) on the path of `keys`
    /// (sorted, distinct, non-empty; each with the index of its entry). Every key of the
    /// update that lies under this node is among `keys`; `warmed`: an ancestor has loaded
    /// their paths (`warm`). Mirrors HeadMap._update step by step.
    fn rebuild(
        &mut self,
        depth: usize,
        here: u32,
        keys: &[(Key, u32)],
        warmed: bool,
    ) -> (u32, Hash) {
        if !warmed && keys.len() <= WARM_KEYS {
            self.warm(depth, here, keys);
        }
        let warmed = warmed || keys.len() <= WARM_KEYS;
        let placed = if here == NONE {
            NONE
        } else {
            let node = self.nodes[here as usize];
            // Both children are read below (one to descend, one for its hash): load them
            // together instead of one after the other.
            self.prefetch(node.child[0]);
            self.prefetch(node.child[1]);
            // Each node is visited once per update and always rewritten: save it first.
            let p = self.pending.as_mut().expect("an update is pending");
            p.node_undo.push((here, node));
            node.leaf
        };
        let merged: Vec<(Key, u32)>;
        let mut keys = keys;
        if placed != NONE || here == NONE {
            if placed != NONE {
                // The resident key, if the update changes it, lies under this node too; at
                // the end of a path that is mostly the one key there, known by its entry
                // (without reading the resident key: one cache miss less).
                let changed = keys.len() <= 4 && keys.iter().any(|k| k.1 == placed);
                if !changed {
                    let resident = self.entries.keys[placed as usize];
                    if let Err(at) = keys.binary_search_by(|k| k.0.cmp(&resident)) {
                        let mut all = Vec::with_capacity(keys.len() + 1);
                        all.extend_from_slice(&keys[..at]);
                        all.push((resident, placed));
                        all.extend_from_slice(&keys[at..]);
                        merged = all;
                        keys = &merged;
                    }
                }
            }
            if keys.len() == 1 {
                let (key, entry) = keys[0];
                let digest = leaf_hash(&key, &self.entries.vals[entry as usize]);
                let node = Node {
                    hash: digest,
                    child: [NONE, NONE],
                    leaf: entry,
                };
                let index = if here == NONE {
                    self.push(node)
                } else {
                    self.nodes[here as usize] = node;
                    here
                };
                let p = self.pending.as_mut().unwrap();
                if p.keep_rows {
                    p.touched.push((depth, key, digest, entry));
                }
                return (index, digest);
            }
        }
        let index = if here == NONE {
            self.push(Node {
                hash: EMPTY,
                child: [NONE, NONE],
                leaf: NONE,
            })
        } else {
            self.nodes[here as usize].leaf = NONE;
            here
        };
        let split = keys.partition_point(|k| !bit(&k.0, depth));
        let [mut left, mut right] = self.nodes[index as usize].child;
        let left_hash = if split > 0 {
            let (l, h) = self.rebuild(depth + 1, left, &keys[..split], warmed);
            left = l;
            h
        } else {
            self.hash_of(left)
        };
        let right_hash = if split < keys.len() {
            let (r, h) = self.rebuild(depth + 1, right, &keys[split..], warmed);
            right = r;
            h
        } else {
            self.hash_of(right)
        };
        let digest = node_hash(&left_hash, &right_hash);
        let node = &mut self.nodes[index as usize];
        node.child = [left, right];
        node.hash = digest;
        let p = self.pending.as_mut().unwrap();
        if p.keep_rows {
            p.touched.push((depth, keys[0].0, digest, NONE));
        }
        (index, digest)
    }

    fn meta(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..].copy_from_slice(&(self.entries.keys.len() as u64).to_be_bytes());
        out
    }

    /// The rows of `unsorted` nodes (path, hash, entry or NONE, and the entry's key if at
    /// hand: reading
    /// it from the entries would be one more cache miss per leaf) in path order, with the
    /// head row last (`head_last`, as update() hands them back) or among them by its path
    /// (as rows() does).
    fn rows_of(&self, unsorted: Vec<(Path, Hash, u32, Option<Key>)>, head_last: bool) -> RowSet {
        let mut order: Vec<([u64; 5], u32)> = unsorted
            .iter()
            .enumerate()
            .map(|(i, row)| (order_key(&row.0), i as u32))
            .collect();
        order.sort_unstable();
        let head = order_key(&meta_path());
        let at = if head_last {
            order.len()
        } else {
            order.partition_point(|o| o.0 < head)
        };
        let mut set = RowSet {
            rows: Vec::with_capacity(order.len() + 1),
            entries: Vec::new(),
            meta: self.meta(),
        };
        let head_row = (meta_path(), self.root_hash(), HEAD_ROW);
        for (n, (_, i)) in order.iter().enumerate() {
            if n == at {
                set.rows.push(head_row);
            }
            let (path, hash, leaf, key) = &unsorted[*i as usize];
            let slot = if *leaf == NONE {
                NONE
            } else {
                let e = *leaf as usize;
                let key = key.unwrap_or_else(|| self.entries.keys[e]);
                set.entries.push((key, self.entries.vals[e]));
                (set.entries.len() - 1) as u32
            };
            set.rows.push((*path, *hash, slot));
        }
        if at == order.len() {
            set.rows.push(head_row);
        }
        set
    }
}

/// A MapRow (a frozen dataclass) made as `object.__new__` and `object.__setattr__` make it,
/// without running its generated `__init__`: a block's rows are most of an update's cost.
fn make_row<'py>(
    py: Python<'py>,
    cls: &Bound<'py, PyType>,
    fields: [Bound<'py, PyAny>; 4],
) -> PyResult<Bound<'py, PyAny>> {
    let names = [
        intern!(py, "path"),
        intern!(py, "hash"),
        intern!(py, "leaf_key"),
        intern!(py, "value"),
    ];
    // SAFETY: PyType_GenericAlloc is what object.__new__ calls for a class without its own
    // __new__ (checked once in `row_class`); the result is a new reference or NULL.
    let obj = unsafe {
        let raw = ffi::PyType_GenericAlloc(cls.as_ptr().cast::<ffi::PyTypeObject>(), 0);
        if raw.is_null() {
            return Err(PyErr::fetch(py));
        }
        Bound::from_owned_ptr(py, raw)
    };
    for (name, value) in names.iter().zip(fields.iter()) {
        // SAFETY: all three are live objects; the generic setter bypasses the frozen
        // dataclass's __setattr__ exactly as its own __init__ does.
        if unsafe { ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) } < 0
        {
            return Err(PyErr::fetch(py));
        }
    }
    Ok(obj)
}

/// `row_cls` if rows can be made without its __init__: a class whose __new__ is object's.
fn row_class<'py>(py: Python<'py>, row_cls: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyType>> {
    let cls = row_cls
        .cast::<PyType>()
        .map_err(|_| PyValueError::new_err("the row class must be a class"))?
        .clone();
    let object_new = py.get_type::<PyAny>().getattr(intern!(py, "__new__"))?;
    if !cls.getattr(intern!(py, "__new__"))?.is(&object_new) {
        return Err(PyValueError::new_err(
            "the row class must not define __new__",
        ));
    }
    Ok(cls)
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
    if entry.is_instance_of::<PyBytes>() {
        // Already encoded (as stored): a chain rebuilding its map skips the MapEntry objects.
        return bytes_of::<56>(entry, "an encoded entry");
    }
    let mut out = [0u8; 56];
    let py = entry.py();
    let field = |name| entry.getattr(name);
    out[..8].copy_from_slice(
        &field(intern!(py, "version"))?
            .extract::<u64>()?
            .to_be_bytes(),
    );
    out[8..40].copy_from_slice(&bytes_of::<32>(
        &field(intern!(py, "leaf"))?,
        "an entry's leaf",
    )?);
    out[40..48].copy_from_slice(
        &field(intern!(py, "height"))?
            .extract::<u64>()?
            .to_be_bytes(),
    );
    let index = field(intern!(py, "leaf_index"))?.extract::<u64>()?;
    out[48..].copy_from_slice(&index.to_be_bytes());
    Ok(out)
}

#[pymethods]
impl Core {
    #[new]
    fn new() -> Self {
        Core {
            nodes: Vec::new(),
            root: NONE,
            entries: Entries::default(),
            height: -1,
            pending: None,
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

    /// Apply `changes` (key -> MapEntry, or its 56 encoded bytes); the rows to save.
    fn update<'py>(&mut self, changes: &Bound<'py, PyMapping>, height: i64) -> PyResult<Rows> {
        self.change(changes, height, true)?;
        let p = self.pending.as_ref().unwrap();
        let touched = p
            .touched
            .iter()
            .map(|(d, k, h, e)| (path_of(*d, k), *h, *e, Some(*k)))
            .collect();
        Ok(Rows {
            set: self.rows_of(touched, true),
        })
    }

    /// `update` for a caller that stores no node rows (the sealer, a rebuild, the audit):
    /// the same map, root and rollback, without recording or sorting the rows.
    fn apply<'py>(&mut self, changes: &Bound<'py, PyMapping>, height: i64) -> PyResult<()> {
        self.change(changes, height, false)
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
        for (i, node) in p.node_undo.iter().rev() {
            self.nodes[*i as usize] = *node;
        }
        self.nodes.truncate(p.nodes_before);
        self.root = p.root_before;
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
        Ok(self.find(depth, &key).map(|node| {
            let hash = PyBytes::new(py, &node.hash);
            if node.leaf == NONE {
                (hash, None, None)
            } else {
                let i = node.leaf as usize;
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
        let mut index = self.root;
        let mut depth = 0;
        loop {
            if index == NONE {
                siblings.reverse();
                return Ok((None, siblings, None, None));
            }
            let here = self.nodes[index as usize];
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
            let side = bit(&key, depth) as usize;
            let sibling = here.child[1 - side];
            siblings.push((sibling != NONE).then(|| PyBytes::new(py, &self.hash_of(sibling))));
            index = here.child[side];
            depth += 1;
        }
    }

    /// Every node as a row, sorted by path, with the head row among them.
    fn rows<'py>(
        &self,
        py: Python<'py>,
        row_cls: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut all: Vec<(Path, Hash, u32, Option<Key>)> = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(u32, usize, Key)> = Vec::new();
        if self.root != NONE {
            stack.push((self.root, 0, EMPTY));
        }
        while let Some((index, depth, key)) = stack.pop() {
            let node = &self.nodes[index as usize];
            all.push((path_of(depth, &key), node.hash, node.leaf, None));
            if node.leaf != NONE {
                continue;
            }
            for (side, &child) in node.child.iter().enumerate() {
                if child != NONE {
                    stack.push((child, depth + 1, with_bit(&key, depth, side == 1)));
                }
            }
        }
        self.rows_of(all, false).list(py, &row_class(py, row_cls)?)
    }

    /// The map as saved: every node row and the head row (objects with path, hash,
    /// leaf_key, value), applied in order like HeadMap.from_rows.
    #[staticmethod]
    fn from_rows(rows: &Bound<'_, PyAny>) -> PyResult<Core> {
        let mut m = Core::new();
        for row in rows.try_iter()? {
            let row = row?;
            let path = bytes_of::<34>(&row.getattr("path")?, "a row's path")?;
            if path == meta_path() {
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
            let blank = Node {
                hash: EMPTY,
                child: [NONE, NONE],
                leaf: HOLE,
            };
            if m.root == NONE {
                m.root = m.push(blank);
            }
            let mut index = m.root;
            for d in 0..depth {
                let side = bit(&key, d) as usize;
                let mut next = m.nodes[index as usize].child[side];
                if next == NONE {
                    next = m.push(blank);
                    m.nodes[index as usize].child[side] = next;
                }
                index = next;
            }
            let mut leaf = m.nodes[index as usize].leaf;
            if leaf == HOLE {
                leaf = NONE;
            }
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
            let node = &mut m.nodes[index as usize];
            node.hash = hash;
            node.leaf = leaf;
        }
        if m.nodes.iter().any(|n| n.leaf == HOLE) {
            return Err(PyValueError::new_err(
                "the rows lack a node above one of them",
            ));
        }
        m.nodes.shrink_to_fit();
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
    m.add_class::<ed25519::Ed25519Key>()?;
    m.add_class::<ed25519_batch::Ed25519Batch>()?;
    m.add_function(wrap_pyfunction!(verify_pool::ed25519_threads, m)?)?;
    m.add_function(wrap_pyfunction!(strictjson::strict_json, m)?)?;
    m.add_function(wrap_pyfunction!(stagecsv::staged_csv, m)?)?;
    sealbatch::register(m)?;
    m.add_class::<Rows>()?;
    m.add_function(wrap_pyfunction!(bands::band_rows, m)?)?;
    m.add_function(wrap_pyfunction!(bands::entries, m)?)?;
    m.add_class::<avrobody::BodyReader>()?;
    m.add_class::<avrobody::MessageReader>()?;
    m.add_class::<statejson::StateSpeller>()?;
    m.add_class::<signedstate::SignedStateReader>()?;
    m.add_class::<recordsdigest::RecordsHasher>()?;
    m.add_class::<verifyplain::HeaderReader>()?;
    m.add_class::<verifybody::SummaryReader>()?;
    m.add_function(wrap_pyfunction!(verifybody::plain_envelope_fields, m)?)?;
    m.add_function(wrap_pyfunction!(verifyplain::plain_path_root, m)?)?;
    m.add_function(wrap_pyfunction!(verifyplain::plain_acc_root, m)?)?;
    m.add_class::<itemchain::ItemChain>()?;
    m.add_function(wrap_pyfunction!(kafkarecords::kafka_records, m)?)?;
    Ok(())
}
