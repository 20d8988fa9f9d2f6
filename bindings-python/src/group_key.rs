//! Decoding with the caller's `group_key(record) -> str | None` (custom lanes).
//!
//! The one place that calls `group_key`: the core decodes the event and asks this module for
//! each record's lane.

use lanepool::event::{BatchPlan, KeyError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors;
use crate::json::PyJson;

/// Decodes `event` with each record's lane from `key(record)`: a `str`, or None for no lane.
/// A key that returns anything else raises `TypeError` naming the record; an exception the
/// key raised propagates with a note naming the record.
pub fn decode_with_group_key<'py>(
    event: PyJson<'py>,
    key: &Bound<'py, PyAny>,
) -> PyResult<BatchPlan> {
    let py = key.py();
    BatchPlan::decode_with_keys(event, |index, record: &PyJson<'py>| {
        let value = key.call1((record.0.clone(),))?;
        if value.is_none() {
            Ok(None)
        } else if let Ok(s) = value.cast::<PyString>() {
            Ok(Some(s.to_str()?.to_owned()))
        } else {
            Err(PyTypeError::new_err(format!(
                "group_key returned {} for record {index}; expected str or None",
                value.get_type().name()?
            )))
        }
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
