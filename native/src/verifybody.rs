//! The verifier's one-pass readers of a signed envelope and of its body's summary
//! (`anchoring/fastread.py: plain_envelope, plain_summary` are the reference), natively.
//! Like them they answer only for the plain spelling writers emit, and `None` for anything
//! else (then the Python readers, and after them the careful ones, decide). The body
//! layouts (each field's name and kind) are fastread's plans, made from the schema
//! registry and handed over once. tests/anchoring/test_verifybody.py binds the readings.

use std::collections::{HashMap, HashSet};

use crate::avrocursor::{civil_from_days, plain_envelope, Cursor};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple};

/// `plain_envelope(message)`'s four fields `(party_id, device_id, body, signature)` when
/// `message` starts with `header` (the newest envelope schema's) and is read plainly.
#[pyfunction]
pub fn plain_envelope_fields<'py>(
    py: Python<'py>,
    message: &Bound<'py, PyAny>,
    header: &[u8],
) -> Option<Bound<'py, PyTuple>> {
    let message = exact_bytes(message)?;
    let (party, device, body, signature) = plain_envelope(message, header)?;
    let items: [Bound<'py, PyAny>; 4] = [
        PyString::new(py, party).into_any(),
        PyString::new(py, device).into_any(),
        PyBytes::new(py, body).into_any(),
        PyBytes::new(py, signature).into_any(),
    ];
    PyTuple::new(py, items).ok()
}

/// The bytes of an exact `bytes` object; None for anything else (a `bytearray`, a
/// subclass): the Python reader decides.
fn exact_bytes<'a>(value: &'a Bound<'_, PyAny>) -> Option<&'a [u8]> {
    if !value.is_exact_instance_of::<PyBytes>() {
        return None;
    }
    Some(value.cast::<PyBytes>().ok()?.as_bytes())
}

/// The kinds of field fastread's plans name (its `_STRING` … `_STRING_ARRAY`).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Timestamp,
    OptionalText,
    TextMap,
    OptionalDouble,
    TextArray,
}

/// A plan as handed over: `[(name, kind name)]` and the names shown as `{}` when absent.
type GivenPlan = (Vec<(String, String)>, Vec<String>);

struct Plan {
    fields: Vec<(Py<PyString>, Kind)>,
    /// Fields the newest version adds that the summary shows as `{}` when absent.
    empty_maps: Vec<Py<PyString>>,
}

/// `plain_summary` over fastread's plans.
#[pyclass(frozen)]
pub struct SummaryReader {
    plans: HashMap<Vec<u8>, Plan>,
    header_len: usize,
    sorted_maps: Vec<String>,
    shown_time: String,
    /// Microseconds from the Unix epoch to the first and the last instant Python's
    /// `datetime` holds (fastread's `_EPOCH + timedelta` overflows beyond them).
    micros: (i64, i64),
}

/// A map or array in one block and its end block (the first count already read).
fn strings<'a>(body: &mut Cursor<'a>, count: i64, pairs: bool) -> Option<Vec<(&'a str, &'a str)>> {
    let count = usize::try_from(count).ok()?;
    let mut out = Vec::with_capacity(count.min(64));
    let mut keys = HashSet::with_capacity(if pairs { count.min(64) } else { 0 });
    if count > 0 {
        for _ in 0..count {
            let first = body.text()?;
            if pairs && !keys.insert(first) {
                return None;
            }
            out.push((first, if pairs { body.text()? } else { "" }));
        }
        if body.long()? != 0 {
            return None;
        }
    }
    Some(out)
}

#[pymethods]
impl SummaryReader {
    /// `plans`: single-object header → (`[(name, kind name)]`, names shown as `{}` when
    /// a body lacks them); kind names are fastread's (`"string"`, `"timestamp"`, …).
    #[new]
    fn new(
        py: Python<'_>,
        plans: HashMap<Vec<u8>, GivenPlan>,
        header_len: usize,
        sorted_maps: Vec<String>,
        shown_time: String,
        micros: (i64, i64),
    ) -> PyResult<Self> {
        let mut out = HashMap::new();
        for (header, (fields, empty_maps)) in plans {
            let mut read = Vec::new();
            for (name, kind) in fields {
                let kind = match kind.as_str() {
                    "string" => Kind::Text,
                    "timestamp" => Kind::Timestamp,
                    "optional_string" => Kind::OptionalText,
                    "string_map" => Kind::TextMap,
                    "optional_double" => Kind::OptionalDouble,
                    "string_array" => Kind::TextArray,
                    other => return Err(PyValueError::new_err(format!("no kind {other}"))),
                };
                read.push((PyString::new(py, &name).unbind(), kind));
            }
            let empty_maps = empty_maps
                .iter()
                .map(|n| PyString::new(py, n).unbind())
                .collect();
            out.insert(
                header,
                Plan {
                    fields: read,
                    empty_maps,
                },
            );
        }
        Ok(Self {
            plans: out,
            header_len,
            sorted_maps,
            shown_time,
            micros,
        })
    }

    /// `plain_summary(message)`: `(summary, numbers)` or None.
    fn read<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyTuple>> {
        let message = exact_bytes(message)?;
        let plan = self.plans.get(message.get(..self.header_len)?)?;
        let out = PyDict::new(py);
        let mut numbers = false;
        let mut body = Cursor::new(message, self.header_len);
        for (name, kind) in &plan.fields {
            let name = name.bind(py);
            let mut kind = *kind;
            if matches!(kind, Kind::OptionalText | Kind::OptionalDouble) {
                match body.byte()? {
                    0 => continue,
                    2 => {}
                    _ => return None,
                }
                if kind == Kind::OptionalDouble {
                    out.set_item(name, PyFloat::new(py, body.double()?)).ok()?;
                    numbers = true;
                    continue;
                }
                kind = Kind::Text;
            }
            match kind {
                Kind::Text => out.set_item(name, body.text()?).ok()?,
                Kind::Timestamp => {
                    if name.to_str().ok()? != self.shown_time {
                        return None; // a datetime value: left to the Python reader
                    }
                    out.set_item(name, rfc3339_utc(body.long()?, self.micros)?)
                        .ok()?;
                }
                Kind::TextMap => {
                    let count = body.long()?;
                    let mut pairs = strings(&mut body, count, true)?;
                    let sorted = self
                        .sorted_maps
                        .iter()
                        .any(|m| name.to_str().is_ok_and(|n| n == m));
                    if sorted && pairs.is_empty() {
                        continue;
                    }
                    if sorted {
                        pairs.sort_unstable(); // keys are distinct: by key, as sorted() does
                    }
                    let map = PyDict::new(py);
                    for (key, value) in pairs {
                        map.set_item(key, value).ok()?;
                    }
                    out.set_item(name, map).ok()?;
                }
                Kind::TextArray => {
                    let count = body.long()?;
                    let items = strings(&mut body, count, false)?;
                    if !items.is_empty() {
                        let list = PyList::new(py, items.iter().map(|(item, _)| *item)).ok()?;
                        out.set_item(name, list).ok()?;
                    }
                }
                Kind::OptionalText | Kind::OptionalDouble => return None,
            }
        }
        if !body.at_end() {
            return None;
        }
        for name in &plan.empty_maps {
            out.set_item(name.bind(py), PyDict::new(py)).ok()?;
        }
        let numbers = pyo3::types::PyBool::new(py, numbers).to_owned().into_any();
        PyTuple::new(py, [out.into_any(), numbers]).ok()
    }
}

/// `(_EPOCH + timedelta(microseconds=micros)).isoformat()` (UTC): the fraction only when
/// not zero; None outside `(first, last)` (years 1-9999, handed over by fastread).
fn rfc3339_utc(micros: i64, (first, last): (i64, i64)) -> Option<String> {
    if !(first..=last).contains(&micros) {
        return None;
    }
    let (days, rest) = (
        micros.div_euclid(86_400_000_000),
        micros.rem_euclid(86_400_000_000),
    );
    let (year, month, day) = civil_from_days(days);
    let seconds = rest / 1_000_000;
    let fraction = rest % 1_000_000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if fraction != 0 {
        text.push_str(&format!(".{fraction:06}"));
    }
    text.push_str("+00:00");
    Some(text)
}
