//! `ledger/transcodings.py`'s spelling of a stored event's state, natively: the fast path
//! of `StateTranscoder.encode` for the states the ingest saves (text, null, UTC datetimes,
//! bytes and everyday custody events as members).
//!
//! What it writes is eventsourcing's `JSONTranscoder` output byte for byte (compact
//! separators, `ensure_ascii=False`, a transcoded value as `{"_type_":…,"_data_":…}`); the
//! heads of the transcodings and the custody event's members with how each is spelt come
//! from Python (`transcodings.CUSTODY_MEMBERS`), so the format keeps its home there. For
//! anything it is not sure of it answers `None` and the Python path decides
//! (tests/ledger/test_transcodings.py binds the two).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyString, PyTuple};

/// How one member of a custody event is spelt (`transcodings.CUSTODY_MEMBERS`' codes).
#[derive(Clone, Copy)]
enum Member {
    /// A string.
    Text,
    /// A string or None.
    OptionalText,
    /// A string (an enumeration's value) if set and not empty, else null.
    Choice,
    /// A UTC datetime, ISO 8601.
    Time,
    /// A finite float or None.
    Number,
    /// A dict of strings to strings, sorted by key.
    TextMap,
}

/// Not spelt here: the Python path decides.
struct Decline;

type Spelt<T> = Result<T, Decline>;

impl From<PyErr> for Decline {
    fn from(_: PyErr) -> Self {
        Decline
    }
}

/// Spells a state (a dict of member names to values) as the ledger's transcoder does.
#[pyclass(frozen, module = "assay_headmap")]
pub struct StateSpeller {
    custody_type: Py<PyAny>,
    datetime_type: Py<PyAny>,
    utc: Py<PyAny>,
    custody_head: String,
    datetime_head: String,
    bytes_head: String,
    members: Vec<(Py<PyString>, String, Member)>,
    /// Members that must all be falsy for the custody event to be an everyday one.
    quiet: Vec<Py<PyString>>,
}

#[pymethods]
impl StateSpeller {
    /// `heads`: (custody event, datetime, bytes) → the `{"_type_":…,"_data_":` of each;
    /// `members`: (name, code) of a custody event's members in their order; `quiet`: the
    /// members that must all be falsy.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        custody_type: Bound<'_, PyAny>,
        datetime_type: Bound<'_, PyAny>,
        utc: Bound<'_, PyAny>,
        heads: (String, String, String),
        members: Vec<(Bound<'_, PyString>, String)>,
        quiet: Vec<Bound<'_, PyString>>,
    ) -> PyResult<Self> {
        let mut plan = Vec::with_capacity(members.len());
        for (name, code) in members {
            let member = match code.as_str() {
                "text" => Member::Text,
                "optional_text" => Member::OptionalText,
                "choice" => Member::Choice,
                "time" => Member::Time,
                "number" => Member::Number,
                "text_map" => Member::TextMap,
                _ => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "no spelling {code:?} for {name}"
                    )))
                }
            };
            let mut spelt = String::new();
            text(&mut spelt, name.to_str()?);
            spelt.push(':');
            plan.push((name.unbind(), spelt, member));
        }
        Ok(StateSpeller {
            custody_type: custody_type.unbind(),
            datetime_type: datetime_type.unbind(),
            utc: utc.unbind(),
            custody_head: heads.0,
            datetime_head: heads.1,
            bytes_head: heads.2,
            members: plan,
            quiet: quiet.into_iter().map(Bound::unbind).collect(),
        })
    }

    /// The JSON (UTF-8) of `state` without the members named in `left_out`, or None.
    fn __call__<'py>(
        &self,
        state: &Bound<'py, PyDict>,
        left_out: &Bound<'py, PyTuple>,
    ) -> Option<Bound<'py, PyBytes>> {
        self.state(state, left_out).ok()
    }
}

impl StateSpeller {
    fn state<'py>(
        &self,
        state: &Bound<'py, PyDict>,
        left_out: &Bound<'py, PyTuple>,
    ) -> Spelt<Bound<'py, PyBytes>> {
        let py = state.py();
        let mut skipped = Vec::with_capacity(left_out.len());
        for name in left_out.iter() {
            skipped.push(
                name.cast_exact::<PyString>()
                    .map_err(|_| Decline)?
                    .to_str()?
                    .to_owned(),
            );
        }
        let mut out = String::with_capacity(1024);
        out.push('{');
        let mut first = true;
        for (name, value) in state.iter() {
            let name = name.cast_exact::<PyString>().map_err(|_| Decline)?;
            let name = name.to_str()?;
            if skipped.iter().any(|n| n == name) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            text(&mut out, name);
            out.push(':');
            self.value(&mut out, &value)?;
        }
        out.push('}');
        Ok(PyBytes::new(py, out.as_bytes()))
    }

    fn value(&self, out: &mut String, value: &Bound<'_, PyAny>) -> Spelt<()> {
        if value.is_none() {
            out.push_str("null");
        } else if let Ok(s) = value.cast_exact::<PyString>() {
            text(out, s.to_str()?);
        } else if let Ok(b) = value.cast_exact::<PyBytes>() {
            out.push_str(&self.bytes_head);
            out.push('"');
            base64(out, b.as_bytes());
            out.push_str("\"}");
        } else {
            let kind = value.get_type();
            if kind.is(self.datetime_type.bind(value.py())) {
                out.push_str(&self.datetime_head);
                out.push('"');
                self.time(out, value)?;
                out.push_str("\"}");
            } else if kind.is(self.custody_type.bind(value.py())) {
                out.push_str(&self.custody_head);
                self.custody(out, value)?;
                out.push('}');
            } else {
                return Err(Decline);
            }
        }
        Ok(())
    }

    /// An everyday custody event as `json.dumps(event.to_primitive())` writes it.
    fn custody(&self, out: &mut String, event: &Bound<'_, PyAny>) -> Spelt<()> {
        let py = event.py();
        let fields = event.getattr(pyo3::intern!(py, "__dict__"))?;
        let fields = fields.cast_exact::<PyDict>().map_err(|_| Decline)?;
        for name in &self.quiet {
            match fields.get_item(name.bind(py))? {
                Some(value) if value.is_truthy()? => return Err(Decline),
                Some(_) => {}
                None => return Err(Decline),
            }
        }
        out.push('{');
        for (i, (name, spelt, member)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(spelt);
            let value = fields.get_item(name.bind(py))?.ok_or(Decline)?;
            self.member(out, &value, *member)?;
        }
        out.push('}');
        Ok(())
    }

    fn member(&self, out: &mut String, value: &Bound<'_, PyAny>, member: Member) -> Spelt<()> {
        match member {
            Member::Text => text(
                out,
                value.cast::<PyString>().map_err(|_| Decline)?.to_str()?,
            ),
            Member::OptionalText | Member::Choice if value.is_none() => out.push_str("null"),
            Member::OptionalText => text(
                out,
                value.cast::<PyString>().map_err(|_| Decline)?.to_str()?,
            ),
            Member::Choice => {
                let s = value.cast::<PyString>().map_err(|_| Decline)?.to_str()?;
                if s.is_empty() {
                    out.push_str("null");
                } else {
                    text(out, s);
                }
            }
            Member::Time => {
                if !value.get_type().is(self.datetime_type.bind(value.py())) {
                    return Err(Decline);
                }
                out.push('"');
                self.time(out, value)?;
                out.push('"');
            }
            Member::Number if value.is_none() => out.push_str("null"),
            Member::Number => {
                let number = value.cast_exact::<PyFloat>().map_err(|_| Decline)?;
                if !number.value().is_finite() {
                    return Err(Decline);
                }
                out.push_str(value.repr()?.to_str()?);
            }
            Member::TextMap => {
                let map = value.cast_exact::<PyDict>().map_err(|_| Decline)?;
                let mut pairs = Vec::with_capacity(map.len());
                for (k, v) in map.iter() {
                    let k = k.cast_exact::<PyString>().map_err(|_| Decline)?;
                    let v = v.cast_exact::<PyString>().map_err(|_| Decline)?;
                    pairs.push((k.to_str()?.to_owned(), v.to_str()?.to_owned()));
                }
                pairs.sort();
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    text(out, k);
                    out.push(':');
                    text(out, v);
                }
                out.push('}');
            }
        }
        Ok(())
    }

    /// `value.isoformat()` of a datetime in UTC (`timezone.utc` itself), else Decline.
    fn time(&self, out: &mut String, value: &Bound<'_, PyAny>) -> Spelt<()> {
        let py = value.py();
        if !value
            .getattr(pyo3::intern!(py, "tzinfo"))?
            .is(self.utc.bind(py))
        {
            return Err(Decline);
        }
        let part =
            |name: &Bound<'_, PyString>| -> Spelt<u32> { Ok(value.getattr(name)?.extract()?) };
        let year = part(pyo3::intern!(py, "year"))?;
        let month = part(pyo3::intern!(py, "month"))?;
        let day = part(pyo3::intern!(py, "day"))?;
        let hour = part(pyo3::intern!(py, "hour"))?;
        let minute = part(pyo3::intern!(py, "minute"))?;
        let second = part(pyo3::intern!(py, "second"))?;
        let micro = part(pyo3::intern!(py, "microsecond"))?;
        use std::fmt::Write;
        write!(
            out,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
        )
        .map_err(|_| Decline)?;
        if micro != 0 {
            write!(out, ".{micro:06}").map_err(|_| Decline)?;
        }
        out.push_str("+00:00");
        Ok(())
    }
}

/// A JSON string as Python's `json.encoder.encode_basestring` writes it (no ASCII escape).
fn text(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (`base64.b64encode`).
fn base64(out: &mut String, data: &[u8]) {
    let mut chunks = data.chunks_exact(3);
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.push(char::from(ALPHABET[(n >> 18 & 63) as usize]));
            out.push(char::from(ALPHABET[(n >> 12 & 63) as usize]));
            out.push_str("==");
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.push(char::from(ALPHABET[(n >> 18 & 63) as usize]));
            out.push(char::from(ALPHABET[(n >> 12 & 63) as usize]));
            out.push(char::from(ALPHABET[(n >> 6 & 63) as usize]));
            out.push('=');
        }
        _ => {}
    }
}
