//! [`JsonView`] over Python objects: dicts, lists/tuples, str, numbers, None.

use std::borrow::Cow;

use lanepool::event::{JsonKind, JsonView};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

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

    fn member(&self, key: &str) -> Option<Self> {
        let dict = self.0.cast::<PyDict>().ok()?;
        dict.get_item(key).ok().flatten().map(PyJson)
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

    fn members(&self) -> Option<Vec<(String, Self)>> {
        let dict = self.0.cast::<PyDict>().ok()?;
        Some(
            dict.iter()
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
