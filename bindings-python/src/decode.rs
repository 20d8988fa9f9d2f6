//! Decoding a Python event into the core's plan, keeping the caller's own record objects.

use lanepool::event::BatchPlan;
use pyo3::prelude::*;

use crate::errors;
use crate::group_key::decode_with_group_key;
use crate::json::PyJson;
use crate::options::PyBatchOptions;

/// Decodes `event` (raising `EventError`) with the lanes `options` ask for, returning the
/// plan and the caller's own record objects in event order, as the core lists them
/// (`records[i] is event["Records"][i]`; a Kafka event's `records` groups one after another).
pub fn decode<'py>(
    event: &Bound<'py, PyAny>,
    options: &PyBatchOptions,
) -> PyResult<(BatchPlan, Vec<Py<PyAny>>)> {
    let py = event.py();
    let view = PyJson(event.clone());
    let plan = match options.group_key(py) {
        None => BatchPlan::decode(PyJson(event.clone()), options.lane_ordering())
            .map_err(|e| errors::event_error(py, &e))?,
        Some(key) => decode_with_group_key(PyJson(event.clone()), key)?,
    };
    let records: Vec<Py<PyAny>> = if plan.is_empty() {
        Vec::new()
    } else {
        BatchPlan::records(&view)
            .map_err(|e| errors::event_error(py, &e))?
            .into_iter()
            .map(|r| r.0.unbind())
            .collect()
    };
    if records.len() != plan.len() {
        // A Mapping whose items change between two reads: never hand a handler the wrong record.
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "lanepool: the event changed while it was read ({} records, then {})",
            plan.len(),
            records.len()
        )));
    }
    Ok((plan, records))
}
