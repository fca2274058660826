//! A page of stored ledger records as CSV lines with typed columns, for
//! `projections/staging.py`'s rebuild path: DuckDB reads flat CSV columns in about half
//! the CPU time it takes to read and convert the same fields from nested JSON lines.
//!
//! The columns are the caller's (paths into the stored JSON, from `ledger/stored.py`'s
//! STATE_FIELDS); this only reads them. It answers only the plain case — every field of
//! the expected JSON type, strings without control characters, no member twice — and
//! `None` otherwise: the caller then stages the page as JSON lines, which DuckDB reads
//! with its own rules. So where it answers, the CSV holds exactly the values the JSON
//! reading gives. A column may be read from several paths (alternatives that a record
//! never holds together): a record that sets one column twice is not plain either.

use std::fmt;

use std::io::Write;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A JSON string (a timestamp too: DuckDB casts the text).
    Text,
    /// A JSON number, written as its shortest round-trip decimal.
    Number,
    /// An array of strings (or nulls), written as JSON text.
    Texts,
    /// An object: `true` when present (its members are further columns).
    Object,
}

#[derive(Default)]
struct Node {
    name: String,
    column: Option<(usize, Kind)>,
    children: Vec<Node>,
}

impl Node {
    fn add(&mut self, path: &[String], column: usize, kind: Kind) {
        match path.split_first() {
            None => self.column = Some((column, kind)),
            Some((first, rest)) => {
                let at = match self.children.iter().position(|c| c.name == *first) {
                    Some(at) => at,
                    None => {
                        self.children.push(Node {
                            name: first.clone(),
                            ..Node::default()
                        });
                        self.children.len() - 1
                    }
                };
                self.children[at].add(rest, column, kind);
            }
        }
    }
}

fn kind_of(name: &str) -> PyResult<Kind> {
    match name {
        "text" => Ok(Kind::Text),
        "number" => Ok(Kind::Number),
        "texts" => Ok(Kind::Texts),
        "object" => Ok(Kind::Object),
        _ => Err(PyValueError::new_err(format!(
            "unknown column kind {name:?}"
        ))),
    }
}

/// One column's value in the current row: `text` (CSV) if `set`, else empty (NULL).
#[derive(Default)]
struct Cell {
    set: bool,
    text: Vec<u8>,
}

impl Cell {
    /// The cell, cleared for a value; None if it already holds one (read twice).
    fn fill(&mut self) -> Option<&mut Vec<u8>> {
        if self.set {
            return None;
        }
        self.set = true;
        self.text.clear();
        Some(&mut self.text)
    }
}

fn plain(text: &str) -> bool {
    !text.bytes().any(|b| b < 0x20)
}

fn quoted(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `n,"topic","originator id",version,<columns>` lines, one per row `(n, topic,
/// originator id, version, state bytes)`; `None` for a page this does not read plainly
/// (see the module's text) or with a line longer than `max_line` bytes.
#[pyfunction]
pub fn staged_csv<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyList>,
    columns: &Bound<'py, PyList>,
    max_line: usize,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let mut root = Node::default();
    let mut width = 0;
    for spec in columns.iter() {
        let (paths, kind): (Vec<Vec<String>>, String) = spec.extract()?;
        let kind = kind_of(&kind)?;
        for path in paths {
            root.add(&path, width, kind);
        }
        width += 1;
    }
    let mut out: Vec<u8> = Vec::with_capacity(rows.len() * 256);
    // Reused from row to row: no allocation per value.
    let mut cells: Vec<Cell> = (0..width).map(|_| Cell::default()).collect();
    for row in rows.iter() {
        let row = row.cast::<PyTuple>()?;
        let n: i64 = row.get_item(0)?.extract()?;
        let topic = row.get_item(1)?;
        let topic = topic.cast::<PyString>()?.to_str()?;
        let originator = row.get_item(2)?;
        let originator = originator.cast::<PyString>()?.to_str()?;
        let version: i64 = row.get_item(3)?.extract()?;
        let state = row.get_item(4)?;
        let state = state.cast::<PyBytes>()?.as_bytes();
        if !plain(topic) || !plain(originator) {
            return Ok(None);
        }
        cells.iter_mut().for_each(|c| c.set = false);
        let mut reader = serde_json::Deserializer::from_slice(state);
        let walk = Object {
            node: &root,
            cells: &mut cells,
        };
        if walk.deserialize(&mut reader).is_err() || reader.end().is_err() {
            return Ok(None);
        }
        let start = out.len();
        write!(out, "{n},").map_err(|_| PyValueError::new_err("out of memory"))?;
        quoted(&mut out, topic);
        out.push(b',');
        quoted(&mut out, originator);
        write!(out, ",{version}").map_err(|_| PyValueError::new_err("out of memory"))?;
        for cell in &cells {
            out.push(b',');
            if cell.set {
                out.extend_from_slice(&cell.text);
            }
        }
        out.push(b'\n');
        if out.len() - start > max_line {
            return Ok(None);
        }
    }
    Ok(Some(PyBytes::new(py, &out)))
}

fn refuse<E: de::Error>() -> E {
    E::custom("not plain: stage this page as JSON")
}

/// An object node: its wanted members into `cells`, the rest skipped.
struct Object<'a> {
    node: &'a Node,
    cells: &'a mut [Cell],
}

impl<'de> DeserializeSeed<'de> for Object<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Object<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        if let Some((column, kind)) = self.node.column {
            if kind != Kind::Object {
                return Err(refuse());
            }
            let text = self.cells[column].fill().ok_or_else(refuse)?;
            text.extend_from_slice(b"true");
        }
        let mut seen = 0u128; // a node has far fewer children (STATE_FIELDS)
        while let Some(wanted) = members.next_key_seed(Member(self.node))? {
            let Some(at) = wanted else {
                members.next_value::<IgnoredAny>()?;
                continue;
            };
            if at >= 128 || seen & (1 << at) != 0 {
                return Err(refuse());
            }
            seen |= 1 << at;
            let child = &self.node.children[at];
            match child.column {
                Some((column, kind)) if kind != Kind::Object => {
                    if !child.children.is_empty() {
                        return Err(refuse());
                    }
                    members.next_value_seed(Leaf {
                        kind,
                        cell: &mut self.cells[column],
                    })?;
                }
                _ => members.next_value_seed(Object {
                    node: child,
                    cells: &mut *self.cells,
                })?,
            }
        }
        Ok(())
    }
}

/// A member name: the index of the child it names, if wanted.
struct Member<'a>(&'a Node);

impl<'de> DeserializeSeed<'de> for Member<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<Self::Value, D::Error> {
        reader.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Member<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.children.iter().position(|c| c.name == v))
    }
}

/// A wanted value, into its cell as CSV text (absent or null: empty, which reads as NULL).
struct Leaf<'a> {
    kind: Kind,
    cell: &'a mut Cell,
}

impl<'de> DeserializeSeed<'de> for Leaf<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'a> Leaf<'a> {
    /// The cell to write a value of `kind` into (refused: another kind, or a second value).
    fn text<E: de::Error>(self, kind: Kind) -> Result<&'a mut Vec<u8>, E> {
        if self.kind != kind {
            return Err(refuse());
        }
        self.cell.fill().ok_or_else(refuse)
    }

    fn number<E: de::Error>(self, value: impl fmt::Debug) -> Result<(), E> {
        let text = self.text(Kind::Number)?;
        write!(text, "{value:?}").map_err(|_| refuse())
    }
}

impl<'de> Visitor<'de> for Leaf<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value of the column's type")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if !plain(v) {
            return Err(refuse());
        }
        quoted(self.text(Kind::Text)?, v);
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.number(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.number(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(refuse());
        }
        self.number(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        if self.kind != Kind::Texts {
            return Err(refuse());
        }
        let mut all: Vec<Option<String>> = Vec::new();
        while let Some(item) = items.next_element::<Option<String>>()? {
            all.push(item);
        }
        let json = serde_json::to_string(&all).map_err(|_| refuse::<A::Error>())?;
        quoted(self.text(Kind::Texts)?, &json);
        Ok(())
    }
}
