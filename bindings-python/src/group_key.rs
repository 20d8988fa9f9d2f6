//! Decoding with the caller's `group_key(record) -> str | int | None` (custom lanes).
//!
//! The one place that calls `group_key`. The core decodes the event, asks this module for
//! each record's key, and judges it by its one key rule (`KeyValue::into_lane_key`): this
//! module only says what Python type the value has.

use std::borrow::Cow;

use lanepool::event::{BatchPlan, KeyError, KeyValue};
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

use crate::errors;
use crate::json::PyJson;

/// What a key function returned, as the core's `KeyValue`, unjudged: `None`, `bool` (before
/// `int`: a `bool` is an `int` in Python, and an invalid key), `str`, `int` (beyond `i128`:
/// its decimal text), `float`, or any other type by its name.
pub fn key_value(value: &Bound<'_, PyAny>) -> PyResult<KeyValue> {
    if value.is_none() {
        Ok(KeyValue::None)
    } else if value.is_instance_of::<PyBool>() {
        Ok(KeyValue::Invalid(Cow::Borrowed("bool")))
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(KeyValue::Str(s.to_str()?.to_owned()))
    } else if value.is_instance_of::<PyInt>() {
        match value.extract::<i128>() {
            Ok(n) => Ok(KeyValue::Int(n)),
            Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => {
                // `str()` of an int subclass may be overridden: the base int's decimal text.
                let text = value
                    .py()
                    .get_type::<PyInt>()
                    .call_method1("__repr__", (value,))?;
                Ok(KeyValue::BigInt(text.extract()?))
            }
            Err(e) => Err(e),
        }
    } else if let Ok(x) = value.cast::<PyFloat>() {
        Ok(KeyValue::Float(x.value()))
    } else {
        Ok(KeyValue::Invalid(Cow::Owned(
            value.get_type().name()?.to_string(),
        )))
    }
}

/// Decodes `event` with each record's lane from `key(record)` by the core's key rule: an
/// invalid key raises `EventError` at the record's index, field `group_key`; an exception
/// the key raised propagates as it is (with a note naming the record). The event is
/// validated first, and no key runs after the first error.
pub fn decode_with_group_key<'py>(
    event: PyJson<'py>,
    key: &Bound<'py, PyAny>,
) -> PyResult<BatchPlan> {
    let py = key.py();
    BatchPlan::decode_with_keys(event, |_, record: &PyJson<'py>| {
        key_value(&key.call1((record.0.clone(),))?)
    })
    .map_err(|e| match e {
        KeyError::Event(e) => errors::event_error(py, &e),
        KeyError::Key { index, error } => {
            let value = error.value(py);
            if value.hasattr("add_note").unwrap_or(false) {
                let note = format!("lanepool: in group_key for record {index}");
                let _ = value.call_method1("add_note", (note,));
            }
            error
        }
    })
}
