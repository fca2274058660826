//! The plain case of `anchoring/strictjson.py`'s reading, for its fast path: the Python
//! value of a UTF-8 JSON text when the text is plainly strict, `None` for everything else
//! — not an answer, only "read it the careful way", which then gives the value or the
//! refusal and its reason. So this reading may leave out more than the rules refuse (it
//! does: integral numbers written as floats, integers at or beyond 2**53), never less,
//! and a value it gives is the value the careful reading gives (tests/anchoring).
//!
//! serde_json does the RFC 8259 grammar, UTF-8, escapes (it refuses a lone surrogate),
//! and correctly rounded doubles (`float_roundtrip`); what it cannot tell, this checks:
//! a repeated member name, nesting, the integer range.

use std::fmt;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// `(value,)` of a plainly strict JSON text, or `None`: read it the careful way. The
/// limits are the careful reading's own (anchoring/strictjson.py: MAX_DEPTH,
/// MAX_SAFE_INTEGER), passed in so that they are stated once.
#[pyfunction]
pub fn strict_json<'py>(
    py: Python<'py>,
    data: &[u8],
    max_depth: usize,
    max_safe: u64,
) -> Option<(Bound<'py, PyAny>,)> {
    let mut reader = serde_json::Deserializer::from_slice(data);
    let top = Value {
        py,
        depth: 0,
        max_depth,
        max_safe,
    };
    let value = top.deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    Some((value,))
}

/// A JSON value at `depth` (the number of arrays and objects around it).
#[derive(Clone, Copy)]
struct Value<'py> {
    py: Python<'py>,
    depth: usize,
    /// Arrays and objects nested deeper are the careful reading's (it refuses them).
    max_depth: usize,
    /// Integers beyond ± this are the careful reading's.
    max_safe: u64,
}

type Out<'py> = Bound<'py, PyAny>;

fn leave<E: de::Error, T>(_: T) -> E {
    E::custom("the careful reading answers")
}

impl<'de, 'py> DeserializeSeed<'de> for Value<'py> {
    type Value = Out<'py>;

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<Out<'py>, D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'py> Value<'py> {
    fn inner(&self) -> Result<Value<'py>, ()> {
        if self.depth >= self.max_depth {
            return Err(());
        }
        Ok(Value {
            depth: self.depth + 1,
            ..*self
        })
    }
}

impl<'de, 'py> Visitor<'de> for Value<'py> {
    type Value = Out<'py>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Out<'py>, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Out<'py>, E> {
        Ok(pyo3::types::PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Out<'py>, E> {
        if v > self.max_safe {
            return Err(leave(v));
        }
        v.into_pyobject(self.py).map(Bound::into_any).map_err(leave)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Out<'py>, E> {
        if v.unsigned_abs() > self.max_safe {
            return Err(leave(v));
        }
        v.into_pyobject(self.py).map(Bound::into_any).map_err(leave)
    }

    /// A number with a fraction or an exponent, or an integer beyond 64 bits, or `-0`:
    /// only a double that is not a whole number is surely written as a float.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Out<'py>, E> {
        if !v.is_finite() || v.fract() == 0.0 {
            return Err(leave(v));
        }
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Out<'py>, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Out<'py>, A::Error> {
        let inner = self.inner().map_err(leave)?;
        let list = PyList::empty(self.py);
        while let Some(item) = items.next_element_seed(inner)? {
            list.append(item).map_err(leave)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Out<'py>, A::Error> {
        let inner = self.inner().map_err(leave)?;
        let dict = PyDict::new(self.py);
        let mut count = 0;
        while let Some(name) = members.next_key_seed(Name(self.py))? {
            let value = members.next_value_seed(inner)?;
            dict.set_item(name, value).map_err(leave)?;
            count += 1;
            if dict.len() != count {
                return Err(leave(count)); // a repeated name: the careful reading says which
            }
        }
        Ok(dict.into_any())
    }
}

/// A member name, as a Python string.
struct Name<'py>(Python<'py>);

impl<'de, 'py> DeserializeSeed<'de> for Name<'py> {
    type Value = Bound<'py, PyString>;

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<Self::Value, D::Error> {
        reader.deserialize_str(self)
    }
}

impl<'de, 'py> Visitor<'de> for Name<'py> {
    type Value = Bound<'py, PyString>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v))
    }
}
