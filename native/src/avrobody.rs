//! `streams/avro_onepass.py`'s reading of a canonically encoded Avro body, natively: the
//! fast path of `streams.avro.SchemaRegistry.decode` for every writer schema the one-pass
//! plan covers (the custody event, its envelope, the owner statement).
//!
//! The plan (each written field's name and type code, each field the reader adds with its
//! default) is `avro_onepass.plan`'s, made from the schema files; the type codes come from
//! `avro_onepass.KIND_CODES`, so the format is stated once, in the schema, and read here.
//! Like the Python reader it answers the record or `None`, never an error: `None` sends the
//! message to the careful path, which gives the record or the refusal and its reason. It
//! answers `None` exactly where the Python reader does (tests/streams/test_avro_native.py
//! binds the two on valid bodies, mutations and truncations of them).

use std::collections::HashMap;

use crate::avrocursor::{civil_from_days, Cursor};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};

/// The type of one written field (its union with null is `Field::optional`).
#[derive(Clone, Copy, PartialEq)]
enum Type {
    Text,
    Bytes,
    Long,
    Timestamp,
    Double,
    TextMap,
    TextArray,
}

struct Field {
    name: Py<PyString>,
    kind: Type,
    optional: bool,
}

/// The value a field the writer lacks takes: a fresh one per record.
#[derive(Clone, Copy)]
enum Fill {
    Null,
    EmptyMap,
    EmptyList,
}

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// The reader of one writer schema (resolved to the newest version of its record):
/// `reader(message, position)` is the record in `message[position:]`, or `None`.
#[pyclass(frozen, module = "assay_headmap")]
pub struct BodyReader {
    fields: Vec<Field>,
    added: Vec<(Py<PyString>, Fill)>,
    /// Each field's name (written, then added) with None.
    template: Py<PyDict>,
    datetime: Py<PyAny>,
    utc: Py<PyAny>,
}

/// Why a body is left to the careful path (which says what is wrong with it).
struct Careful;

type Step<T> = Result<T, Careful>;

impl From<PyErr> for Careful {
    fn from(_: PyErr) -> Self {
        Careful
    }
}

#[pymethods]
impl BodyReader {
    /// `fields`: (name, type code) of each written field, in order; `added`: (name,
    /// default: None, {} or []) of each field the reader adds; `codes`: the type codes by
    /// name (`avro_onepass.KIND_CODES`); `datetime`, `utc`: what timestamps are made of.
    #[new]
    fn new(
        fields: Vec<(Bound<'_, PyString>, i64)>,
        added: Vec<(Bound<'_, PyString>, Bound<'_, PyAny>)>,
        codes: HashMap<String, i64>,
        datetime: Bound<'_, PyAny>,
        utc: Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let code = |name: &str| {
            codes
                .get(name)
                .copied()
                .ok_or_else(|| PyValueError::new_err(format!("no type code for {name}")))
        };
        let simple = [
            (code("string")?, Type::Text),
            (code("bytes")?, Type::Bytes),
            (code("long")?, Type::Long),
            (code("timestamp")?, Type::Timestamp),
            (code("double")?, Type::Double),
        ];
        let optional = code("optional")?;
        let whole = [
            (code("string_map")?, Type::TextMap),
            (code("string_array")?, Type::TextArray),
        ];
        let mut plan = Vec::with_capacity(fields.len());
        for (name, number) in fields {
            let found = whole
                .iter()
                .find(|(c, _)| *c == number)
                .map(|(_, t)| (*t, false))
                .or_else(|| {
                    simple
                        .iter()
                        .find(|(c, _)| *c == number)
                        .map(|(_, t)| (*t, false))
                })
                .or_else(|| {
                    simple
                        .iter()
                        .find(|(c, _)| *c + optional == number)
                        .map(|(_, t)| (*t, true))
                });
            let Some((kind, optional)) = found else {
                return Err(PyValueError::new_err(format!("unknown type code {number}")));
            };
            plan.push(Field {
                name: interned(&name)?,
                kind,
                optional,
            });
        }
        let mut fills = Vec::with_capacity(added.len());
        for (name, default) in added {
            let fill = if default.is_none() {
                Fill::Null
            } else if default.cast::<PyDict>().is_ok_and(|d| d.is_empty()) {
                Fill::EmptyMap
            } else if default.cast::<PyList>().is_ok_and(|l| l.is_empty()) {
                Fill::EmptyList
            } else {
                return Err(PyValueError::new_err(format!(
                    "no literal for the default {default} of {name}"
                )));
            };
            fills.push((interned(&name)?, fill));
        }
        let template = PyDict::new(datetime.py());
        for name in plan
            .iter()
            .map(|f| &f.name)
            .chain(fills.iter().map(|(n, _)| n))
        {
            template.set_item(name, datetime.py().None())?;
        }
        Ok(BodyReader {
            template: template.unbind(),
            fields: plan,
            added: fills,
            datetime: datetime.unbind(),
            utc: utc.unbind(),
        })
    }

    /// The names of the fields a record has, in order: the written ones, then the added.
    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyString>> {
        let written = self.fields.iter().map(|f| f.name.bind(py).clone());
        let added = self.added.iter().map(|(name, _)| name.bind(py).clone());
        written.chain(added).collect()
    }

    /// The record in `message[position:]` if it is canonically encoded and plainly
    /// readable, else `None`: then the careful path decides.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        position: usize,
    ) -> Option<Bound<'py, PyDict>> {
        self.read(py, message, position).ok()
    }
}

impl BodyReader {
    fn read<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        position: usize,
    ) -> Step<Bound<'py, PyDict>> {
        let mut body = Body(Cursor::new(message, position));
        // Every field, None until read: a copy of a full dict is made at its size at once.
        let record = self.template.bind(py).copy()?;
        for field in &self.fields {
            let name = field.name.bind(py);
            if field.optional {
                match body.byte()? {
                    0 => continue, // zig-zag 0: null, as the template has it
                    2 => {}        // zig-zag 1: the other type; nothing else is canonical
                    _ => return Err(Careful),
                }
            }
            let value: Bound<'py, PyAny> = match field.kind {
                Type::Text => PyString::new(py, body.text()?).into_any(),
                Type::Bytes => PyBytes::new(py, body.sized()?).into_any(),
                Type::Long => PyInt::new(py, body.long()?).into_any(),
                Type::Timestamp => self.timestamp(py, body.long()?)?,
                Type::Double => PyFloat::new(py, body.double()?).into_any(),
                Type::TextMap => body.text_map(py)?.into_any(),
                Type::TextArray => body.text_array(py)?.into_any(),
            };
            record.set_item(name, value)?;
        }
        if !body.0.at_end() {
            return Err(Careful);
        }
        for (name, fill) in &self.added {
            let name = name.bind(py);
            match fill {
                Fill::Null => {}
                Fill::EmptyMap => record.set_item(name, PyDict::new(py))?,
                Fill::EmptyList => record.set_item(name, PyList::empty(py))?,
            }
        }
        Ok(record)
    }

    /// `EPOCH + timedelta(microseconds=micros)` (UTC), for a result in years 1-9999.
    fn timestamp<'py>(&self, py: Python<'py>, micros: i64) -> Step<Bound<'py, PyAny>> {
        let days = micros.div_euclid(DAY_MICROS);
        let rest = micros.rem_euclid(DAY_MICROS);
        let (year, month, day) = civil_from_days(days);
        if !(1..=9999).contains(&year) {
            return Err(Careful);
        }
        let seconds = rest / 1_000_000;
        let args = (
            year,
            month,
            day,
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            rest % 1_000_000,
            self.utc.bind(py),
        );
        Ok(self.datetime.bind(py).call1(args)?)
    }
}

/// `name` as Python's interned string of it: the attribute names of an object whose
/// `__dict__` a record becomes are interned, and a lookup by the same object is quickest.
fn interned(name: &Bound<'_, PyString>) -> PyResult<Py<PyString>> {
    Ok(PyString::intern(name.py(), name.to_str()?).unbind())
}

/// The unread rest of a body: the shared cursor's steps, a careful-path answer where it
/// declines.
struct Body<'a>(Cursor<'a>);

impl<'a> Body<'a> {
    fn byte(&mut self) -> Step<u8> {
        self.0.byte().ok_or(Careful)
    }

    fn long(&mut self) -> Step<i64> {
        self.0.long().ok_or(Careful)
    }

    fn sized(&mut self) -> Step<&'a [u8]> {
        self.0.sized().ok_or(Careful)
    }

    fn text(&mut self) -> Step<&'a str> {
        self.0.text().ok_or(Careful)
    }

    fn double(&mut self) -> Step<f64> {
        self.0.double().ok_or(Careful)
    }

    /// The count of a block, then (after the items) its closing `00` if it had any.
    fn count(&mut self) -> Step<i64> {
        let count = self.long()?;
        if count < 0 {
            return Err(Careful); // a block with a byte size
        }
        Ok(count)
    }

    fn close(&mut self, count: i64) -> Step<()> {
        if count != 0 && self.byte()? != 0 {
            return Err(Careful); // a second block
        }
        Ok(())
    }

    fn text_map<'py>(&mut self, py: Python<'py>) -> Step<Bound<'py, PyDict>> {
        let count = self.count()?;
        let map = PyDict::new(py);
        for done in 0..count {
            let key = PyString::new(py, self.text()?);
            map.set_item(key, PyString::new(py, self.text()?))?;
            if map.len() as i64 != done + 1 {
                return Err(Careful); // a repeated map key
            }
        }
        self.close(count)?;
        Ok(map)
    }

    fn text_array<'py>(&mut self, py: Python<'py>) -> Step<Bound<'py, PyList>> {
        let count = self.count()?;
        let items = PyList::empty(py);
        for _ in 0..count {
            items.append(PyString::new(py, self.text()?))?;
        }
        self.close(count)?;
        Ok(items)
    }
}

/// The readers of every writer version of one schema, by fingerprint:
/// `reader(message)` is the record of a single-object message (`magic ‖ fingerprint ‖
/// body`), or `None` (another marker or writer, or a body the careful path decides).
#[pyclass(frozen, module = "assay_headmap")]
pub struct MessageReader {
    magic: Vec<u8>,
    readers: Vec<([u8; 8], Py<BodyReader>)>,
}

#[pymethods]
impl MessageReader {
    #[new]
    fn new(magic: Vec<u8>, readers: HashMap<[u8; 8], Py<BodyReader>>) -> Self {
        MessageReader {
            magic,
            readers: readers.into_iter().collect(),
        }
    }

    fn __call__<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyDict>> {
        let message = message.cast::<PyBytes>().ok()?.as_bytes();
        let header = self.magic.len() + 8;
        if message.len() < header || !message.starts_with(&self.magic) {
            return None;
        }
        let fingerprint = &message[self.magic.len()..header];
        let (_, reader) = self.readers.iter().find(|(f, _)| f == fingerprint)?;
        reader.get().read(py, message, header).ok()
    }
}
