//! [`JsonView`] over Python objects: dicts (and any `collections.abc.Mapping`: a
//! `mappingproxy`, Powertools' event data classes), lists/tuples, str, numbers (`int`,
//! `float`), None.

use std::borrow::Cow;

use lanepool::event::{JsonKind, JsonNumber, JsonView};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};

/// A borrowed view of a Python value, read by the core's decoding rules.
pub struct PyJson<'py>(pub Bound<'py, PyAny>);

impl<'py> JsonView for PyJson<'py> {
    fn kind(&self) -> JsonKind {
        let v = &self.0;
        if v.is_none() {
            JsonKind::Null
        } else if v.is_instance_of::<PyDict>() {
            JsonKind::Object
        } else if v.is_instance_of::<PyString>() {
            JsonKind::String
        } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
            JsonKind::Array
        } else if v.is_instance_of::<PyBool>() {
            JsonKind::Bool
        } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
            JsonKind::Number
        } else if v.cast::<PyMapping>().is_ok() {
            // Checked last: `isinstance(v, collections.abc.Mapping)`, only for the values that
            // are none of the above (dicts take the fast path).
            JsonKind::Object
        } else {
            JsonKind::Other
        }
    }

    fn type_name(&self) -> Cow<'static, str> {
        match self.0.get_type().name() {
            Ok(name) => Cow::Owned(name.to_string()),
            Err(_) => Cow::Borrowed(self.kind().name()),
        }
    }

    /// A member of a dict, or of a Mapping (`mapping[key]`; a `KeyError`, or any other
    /// exception its `__getitem__` raises, reads as absent).
    fn member(&self, key: &str) -> Option<Self> {
        if let Ok(dict) = self.0.cast::<PyDict>() {
            return dict.get_item(key).ok().flatten().map(PyJson);
        }
        let mapping = self.0.cast::<PyMapping>().ok()?;
        mapping.get_item(key).ok().map(PyJson)
    }

    fn array_len(&self) -> Option<usize> {
        if let Ok(list) = self.0.cast::<PyList>() {
            Some(list.len())
        } else if let Ok(tuple) = self.0.cast::<PyTuple>() {
            Some(tuple.len())
        } else {
            None
        }
    }

    fn item(&self, index: usize) -> Option<Self> {
        if let Ok(list) = self.0.cast::<PyList>() {
            list.get_item(index).ok().map(PyJson)
        } else if let Ok(tuple) = self.0.cast::<PyTuple>() {
            tuple.get_item(index).ok().map(PyJson)
        } else {
            None
        }
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        let s = self.0.cast::<PyString>().ok()?;
        s.to_str().ok().map(Cow::Borrowed)
    }

    /// An `int` (not a `bool`) as `Int` (`None` beyond `i128`: no Kafka field holds one),
    /// a `float` as `Float`; anything else is not a number.
    fn number(&self) -> Option<JsonNumber> {
        let v = &self.0;
        if v.is_instance_of::<PyBool>() {
            None
        } else if v.is_instance_of::<PyInt>() {
            v.extract::<i128>().ok().map(JsonNumber::Int)
        } else if let Ok(x) = v.cast::<PyFloat>() {
            Some(JsonNumber::Float(x.value()))
        } else {
            None
        }
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        let pairs: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> =
            if let Ok(dict) = self.0.cast::<PyDict>() {
                dict.iter().collect()
            } else {
                // A Mapping's items(); one that cannot list them reads as not an object.
                let items = self.0.cast::<PyMapping>().ok()?.items().ok()?;
                items
                    .iter()
                    .map(|pair| pair.extract())
                    .collect::<PyResult<_>>()
                    .ok()?
            };
        Some(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    let key = match k.cast::<PyString>() {
                        Ok(s) => s.to_string(),
                        Err(_) => k.str().map(|s| s.to_string()).unwrap_or_default(),
                    };
                    (key, PyJson(v))
                })
                .collect(),
        )
    }
}
