//! Decoding a Python event into the core's plan, keeping the caller's own record objects.

use lanepool::event::BatchPlan;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::errors;
use crate::group_key::decode_with_group_key;
use crate::json::PyJson;
use crate::options::PyBatchOptions;

/// Decodes `event` (raising `EventError`) with the lanes `options` ask for, returning the
/// plan and the caller's own record objects (`records[i] is event["Records"][i]`).
pub fn decode<'py>(
    event: &Bound<'py, PyAny>,
    options: &PyBatchOptions,
) -> PyResult<(BatchPlan, Vec<Py<PyAny>>)> {
    let py = event.py();
    let view = PyJson(event.clone());
    let plan = match options.group_key(py) {
        None => BatchPlan::decode(view, options.lane_ordering())
            .map_err(|e| errors::event_error(py, &e))?,
        Some(key) => decode_with_group_key(view, key)?,
    };
    let mut records = Vec::with_capacity(plan.len());
    if !plan.is_empty() {
        let list = event.get_item("Records")?;
        if let Ok(list) = list.cast::<PyList>() {
            records.extend(list.iter().map(Bound::unbind));
        } else if let Ok(tuple) = list.cast::<PyTuple>() {
            records.extend(tuple.iter().map(Bound::unbind));
        }
    }
    debug_assert_eq!(records.len(), plan.len());
    Ok((plan, records))
}
