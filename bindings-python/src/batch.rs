//! Decoding a Python event, the batch options, and the report objects.

use std::time::Duration;

use lanepool::batch::{BatchError, BatchOptions, BatchReport, BatchSummary};
use lanepool::event::{BatchPlan, KeyError, LaneOrdering};
use lanepool::lanes::{Outcome, Reason};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::PyTraverseError;

use crate::errors;
use crate::json::PyJson;

/// The keyword options of `process` / `run_batch`, as Python passed them.
pub struct RawOptions<'py> {
    pub context: Option<Bound<'py, PyAny>>,
    pub ordering: String,
    pub group_key: Option<Bound<'py, PyAny>>,
    pub retries: i64,
    pub deadline_margin_ms: f64,
    pub raise_on_full_batch_failure: bool,
    pub log_summary: bool,
    pub retry_backoff_ms: f64,
}

fn millis(name: &str, ms: f64) -> PyResult<Duration> {
    if ms.is_nan() || ms < 0.0 {
        return Err(PyValueError::new_err(format!(
            "{name} must be a non-negative number of milliseconds, got {ms}"
        )));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// The remaining time of a Lambda context: `None` for `None`, a mapping (`{}`) or an object
/// without `get_remaining_time_in_millis`.
fn remaining_time(context: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(context) = context else {
        return Ok(None);
    };
    if context.is_none() || context.is_instance_of::<PyDict>() {
        return Ok(None);
    }
    let Ok(method) = context.getattr("get_remaining_time_in_millis") else {
        return Err(PyTypeError::new_err(format!(
            "context must have get_remaining_time_in_millis() (a Lambda context) or be None, got {}",
            context.get_type().name()?
        )));
    };
    let ms: f64 = method.call0()?.extract()?;
    Ok(Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0)))
}

/// Options for the core, and the ordering.
pub fn batch_options(raw: &RawOptions<'_>) -> PyResult<BatchOptions> {
    let ordering = match raw.ordering.as_str() {
        "auto" => LaneOrdering::Auto,
        "unordered" => LaneOrdering::Unordered,
        other => {
            return Err(PyValueError::new_err(format!(
                "ordering must be \"auto\" or \"unordered\", got {other:?}"
            )))
        }
    };
    if raw.retries < 0 || raw.retries > i64::from(u32::MAX) {
        return Err(PyValueError::new_err(format!(
            "retries must be a non-negative int, got {}",
            raw.retries
        )));
    }
    let mut options = BatchOptions::new()
        .ordering(ordering)
        .retries(raw.retries as u32)
        .retry_backoff(millis("retry_backoff_ms", raw.retry_backoff_ms)?)
        .deadline_margin(millis("deadline_margin_ms", raw.deadline_margin_ms)?)
        .raise_on_full_batch_failure(raw.raise_on_full_batch_failure)
        .log_summary(raw.log_summary);
    if let Some(remaining) = remaining_time(raw.context.as_ref())? {
        options = options.remaining_time(remaining);
    }
    Ok(options)
}

/// Decodes `event` (raising `EventError`), returning the plan and the caller's own records.
pub fn decode<'py>(
    event: &Bound<'py, PyAny>,
    ordering: LaneOrdering,
    group_key: Option<&Bound<'py, PyAny>>,
) -> PyResult<(BatchPlan, Vec<Py<PyAny>>)> {
    let py = event.py();
    let view = PyJson(event.clone());
    let plan = match group_key.filter(|k| !k.is_none()) {
        None => BatchPlan::decode(view, ordering).map_err(|e| errors::event_error(py, &e))?,
        Some(key) => BatchPlan::decode_with_keys(view, |index, record: &PyJson<'py>| {
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
        })?,
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

struct Row {
    reason: Option<Reason>,
    attempts: u32,
    exception: Option<Py<PyAny>>,
}

/// The full outcome of one batch.
#[pyclass(frozen, module = "lanepool", name = "BatchReport")]
pub struct PyReport {
    identifiers: Vec<String>,
    rows: Vec<Row>,
    summary: BatchSummary,
}

/// One record reported failed.
#[pyclass(frozen, module = "lanepool", name = "Failure")]
pub struct PyFailure {
    /// The record's identifier (SQS messageId, Kinesis or DynamoDB sequence number).
    #[pyo3(get)]
    item_identifier: String,
    /// The record's index in `event["Records"]`.
    #[pyo3(get)]
    index: usize,
    /// Why it is reported: "error", "skipped" or "deadline".
    #[pyo3(get)]
    reason: &'static str,
    /// The exception its handler raised on its last attempt, or None.
    #[pyo3(get)]
    exception: Option<Py<PyAny>>,
    /// Handler calls made for the record (0 when skipped or never started).
    #[pyo3(get)]
    attempts: u32,
}

#[pymethods]
impl PyFailure {
    /// The exception, for the cycle collector (a traceback's frames may hold this failure).
    /// Frozen: nothing to clear; the frames and exceptions of a cycle clear themselves.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.exception)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let exc = match &self.exception {
            Some(e) => short_repr(e.bind(py)),
            None => "None".into(),
        };
        let id = PyString::new(py, &self.item_identifier).repr()?;
        Ok(format!(
            "Failure(item_identifier={id}, index={}, reason='{}', exception={exc}, attempts={})",
            self.index, self.reason, self.attempts
        ))
    }
}

/// Longest exception repr shown in a `Failure`'s repr (a handler may raise a huge message).
const REPR_LIMIT: usize = 200;

/// `repr(value)`, shortened to about `REPR_LIMIT` characters; when `__repr__` itself raises,
/// `<TypeName object (repr failed)>`.
fn short_repr(value: &Bound<'_, PyAny>) -> String {
    let text = match value.repr().and_then(|r| r.to_str().map(str::to_owned)) {
        Ok(text) => text,
        Err(_) => {
            let name = value
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            return format!("<{name} object (repr failed)>");
        }
    };
    match text.char_indices().nth(REPR_LIMIT) {
        Some((cut, _)) => format!("{}...({} chars)", &text[..cut], text.chars().count()),
        None => text,
    }
}

impl PyReport {
    /// Converts a core report, turning each kept error into a Python exception object.
    pub fn from_core<E>(report: BatchReport<E>, mut exc: impl FnMut(E) -> Py<PyAny>) -> Self {
        let (identifiers, outcomes, summary) = report.into_parts();
        let rows = outcomes
            .into_iter()
            .map(|o| {
                let reason = o.reason();
                let attempts = o.attempts();
                let exception = match o {
                    Outcome::Failed { error, .. } => Some(exc(error)),
                    Outcome::Deadline { error, .. } => error.map(&mut exc),
                    _ => None,
                };
                Row {
                    reason,
                    attempts,
                    exception,
                }
            })
            .collect();
        PyReport {
            identifiers,
            rows,
            summary,
        }
    }

    /// The Python result of a batch call: the report, or `BatchFailedError` carrying it.
    pub fn into_result<E>(
        py: Python<'_>,
        result: Result<BatchReport<E>, BatchError<E>>,
        exc: impl FnMut(E) -> Py<PyAny>,
    ) -> PyResult<Py<PyReport>> {
        match result {
            Ok(report) => Py::new(py, PyReport::from_core(report, exc)),
            Err(BatchError::Event(e)) => Err(errors::event_error(py, &e)),
            Err(BatchError::AllFailed(report)) => {
                let records = report.summary().records;
                let report = Py::new(py, PyReport::from_core(*report, exc))?;
                Err(errors::batch_failed(
                    py,
                    format!("every record of the batch failed ({records} records)"),
                    report.into_any(),
                ))
            }
        }
    }
}

#[pymethods]
impl PyReport {
    /// The kept exceptions, for the cycle collector: a handler's exception keeps its
    /// traceback, whose frames may hold this report (the caller's frame, when the calling
    /// thread ran the handler). Frozen: nothing to clear; the frames and exceptions of such
    /// a cycle clear themselves.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for row in &self.rows {
            visit.call(&row.exception)?;
        }
        Ok(())
    }

    /// Lambda's partial batch response: `{"batchItemFailures": [{"itemIdentifier": ...}]}`.
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let items = PyList::empty(py);
        for (id, row) in self.identifiers.iter().zip(&self.rows) {
            if row.reason.is_some() {
                let item = PyDict::new(py);
                item.set_item("itemIdentifier", id)?;
                items.append(item)?;
            }
        }
        let response = PyDict::new(py);
        response.set_item("batchItemFailures", items)?;
        Ok(response)
    }

    /// Identifiers of the records that succeeded, in event order.
    #[getter]
    fn succeeded(&self) -> Vec<&str> {
        self.identifiers
            .iter()
            .zip(&self.rows)
            .filter(|(_, r)| r.reason.is_none())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Every reported record, in event order.
    #[getter]
    fn failures(&self, py: Python<'_>) -> PyResult<Vec<Py<PyFailure>>> {
        self.identifiers
            .iter()
            .zip(&self.rows)
            .enumerate()
            .filter_map(|(index, (id, row))| {
                let reason = row.reason?;
                Some(Py::new(
                    py,
                    PyFailure {
                        item_identifier: id.clone(),
                        index,
                        reason: reason.as_str(),
                        exception: row.exception.as_ref().map(|e| e.clone_ref(py)),
                        attempts: row.attempts,
                    },
                ))
            })
            .collect()
    }

    /// One dict per record, in event order: `itemIdentifier`, `outcome` ("succeeded", "error",
    /// "skipped" or "deadline") and `attempts`.
    #[getter]
    fn outcomes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (id, row) in self.identifiers.iter().zip(&self.rows) {
            let item = PyDict::new(py);
            item.set_item("itemIdentifier", id)?;
            item.set_item("outcome", row.reason.map_or("succeeded", Reason::as_str))?;
            item.set_item("attempts", row.attempts)?;
            list.append(item)?;
        }
        Ok(list)
    }

    /// Summary figures: source, records, succeeded, failed, error, skipped, deadline,
    /// duration_ms, peak_in_flight, lanes, retries.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.summary;
        let d = PyDict::new(py);
        d.set_item("source", s.source.map(|s| s.as_str()))?;
        d.set_item("records", s.records)?;
        d.set_item("succeeded", s.succeeded)?;
        d.set_item("failed", s.failed())?;
        d.set_item("error", s.error)?;
        d.set_item("skipped", s.skipped)?;
        d.set_item("deadline", s.deadline)?;
        d.set_item("duration_ms", s.duration.as_secs_f64() * 1000.0)?;
        d.set_item("peak_in_flight", s.peak_in_flight)?;
        d.set_item("lanes", s.lanes)?;
        d.set_item("retries", s.retries)?;
        Ok(d)
    }

    /// The summary as one JSON log line.
    fn log_line(&self) -> String {
        self.summary.to_log_line()
    }

    fn __len__(&self) -> usize {
        self.identifiers.len()
    }

    fn __repr__(&self) -> String {
        let s = &self.summary;
        format!(
            "BatchReport(records={}, succeeded={}, error={}, skipped={}, deadline={})",
            s.records, s.succeeded, s.error, s.skipped, s.deadline
        )
    }
}
