//! `BatchReport` and `Failure`: the core's report of one batch, read from Python.

use lanepool::batch::{BatchError, BatchReport, ItemIdentifier};
use lanepool::event::Source;
use lanepool::lanes::Reason;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3::PyTraverseError;

use crate::errors::{self, short_repr};

/// The full outcome of one batch: the core's report, its errors the handlers' exceptions.
#[pyclass(frozen, module = "lanepool", name = "BatchReport")]
pub struct PyReport {
    report: BatchReport<Py<PyAny>>,
}

/// A record's identifier as Lambda names it: a `str`, or for a Kafka record the dict
/// `{"partition": "<topic>-<partition>", "offset": <int>}` (the core's [`ItemIdentifier`],
/// read from the identifier text the report keeps).
fn identifier<'py>(
    py: Python<'py>,
    text: &str,
    source: Option<Source>,
) -> PyResult<Bound<'py, PyAny>> {
    identifier_of(py, ItemIdentifier::of(text, source))
}

fn identifier_of<'py>(py: Python<'py>, id: ItemIdentifier<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match id {
        ItemIdentifier::Text(text) => PyString::new(py, text).into_any(),
        ItemIdentifier::Kafka { partition, offset } => {
            let id = PyDict::new(py);
            id.set_item("partition", partition)?;
            id.set_item("offset", offset)?;
            id.into_any()
        }
    })
}

/// One record reported failed.
#[pyclass(frozen, module = "lanepool", name = "Failure")]
pub struct PyFailure {
    /// The record's identifier (SQS messageId, Kinesis or DynamoDB sequence number; Kafka:
    /// `{"partition": "<topic>-<partition>", "offset": <int>}`).
    item_identifier: Py<PyAny>,
    /// The record's index in event order (`event["Records"]`, or a Kafka event's `records`
    /// groups one after another).
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
    /// The record's identifier as Lambda names it in the response.
    #[getter]
    fn item_identifier(&self, py: Python<'_>) -> Py<PyAny> {
        self.item_identifier.clone_ref(py)
    }

    /// The exception, for the cycle collector (a traceback's frames may hold this failure).
    /// Frozen: nothing to clear; the frames and exceptions of a cycle clear themselves.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.item_identifier)?;
        visit.call(&self.exception)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let exc = match &self.exception {
            Some(e) => short_repr(e.bind(py)),
            None => "None".into(),
        };
        let id = self.item_identifier.bind(py).repr()?;
        Ok(format!(
            "Failure(item_identifier={id}, index={}, reason='{}', exception={exc}, attempts={})",
            self.index, self.reason, self.attempts
        ))
    }
}

impl PyReport {
    /// The batch's source (it decides how identifiers are written).
    fn source(&self) -> Option<Source> {
        self.report.summary().source
    }

    /// The Python result of a batch call: the report (each kept error turned into a Python
    /// exception object by `exc`), or `BatchFailedError` carrying it with the core's message.
    pub fn into_result<E>(
        py: Python<'_>,
        result: Result<BatchReport<E>, BatchError<E>>,
        exc: impl FnMut(E) -> Py<PyAny>,
    ) -> PyResult<Py<PyReport>> {
        let report = |report: BatchReport<E>| PyReport {
            report: report.map_errors(exc),
        };
        match result {
            Ok(done) => Py::new(py, report(done)),
            Err(BatchError::Event(e)) => Err(errors::event_error(py, &e)),
            Err(BatchError::Options(e)) => {
                Err(pyo3::exceptions::PyValueError::new_err(e.to_string()))
            }
            Err(error @ BatchError::AllFailed(_)) => {
                let message = error.to_string();
                let BatchError::AllFailed(done) = error else {
                    unreachable!("matched above")
                };
                let done = Py::new(py, report(*done))?;
                // The first failed record's exception, in event order.
                let cause = done
                    .get()
                    .report
                    .failures()
                    .into_iter()
                    .find_map(|f| f.error.map(|e| e.clone_ref(py)));
                Err(errors::batch_failed(py, message, done.into_any(), cause))
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
        for outcome in self.report.outcomes() {
            visit.call(outcome.error())?;
        }
        Ok(())
    }

    /// Lambda's partial batch response: `{"batchItemFailures": [{"itemIdentifier": ...}]}`
    /// (Kafka: `{"itemIdentifier": {"partition": "<topic>-<partition>", "offset": <int>}}`).
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let items = PyList::empty(py);
        let response = self.report.response();
        for id in response.item_identifiers() {
            let item = PyDict::new(py);
            item.set_item("itemIdentifier", identifier_of(py, id)?)?;
            items.append(item)?;
        }
        let response = PyDict::new(py);
        response.set_item("batchItemFailures", items)?;
        Ok(response)
    }

    /// Identifiers of the records that succeeded, in event order (as in the response).
    #[getter]
    fn succeeded<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let source = self.source();
        let list = PyList::empty(py);
        for id in self.report.succeeded() {
            list.append(identifier(py, id, source)?)?;
        }
        Ok(list)
    }

    /// Every reported record, in event order.
    #[getter]
    fn failures(&self, py: Python<'_>) -> PyResult<Vec<Py<PyFailure>>> {
        let source = self.source();
        self.report
            .failures()
            .into_iter()
            .map(|f| {
                Py::new(
                    py,
                    PyFailure {
                        item_identifier: identifier(py, f.item_identifier, source)?.unbind(),
                        index: f.index,
                        reason: f.reason.as_str(),
                        exception: f.error.map(|e| e.clone_ref(py)),
                        attempts: f.attempts,
                    },
                )
            })
            .collect()
    }

    /// One dict per record, in event order: `itemIdentifier` (as in the response),
    /// `outcome` ("succeeded", "error", "skipped" or "deadline") and `attempts`.
    #[getter]
    fn outcomes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let report = &self.report;
        let source = self.source();
        for (id, outcome) in report.identifiers().iter().zip(report.outcomes()) {
            let item = PyDict::new(py);
            item.set_item("itemIdentifier", identifier(py, id, source)?)?;
            item.set_item(
                "outcome",
                outcome.reason().map_or("succeeded", Reason::as_str),
            )?;
            item.set_item("attempts", outcome.attempts())?;
            list.append(item)?;
        }
        Ok(list)
    }

    /// Summary figures: source, records, succeeded, failed, error, skipped, deadline,
    /// duration_ms, peak_in_flight, lanes, retries, slot_wait_ms and slot_wait_max_ms (time
    /// records waited for a slot of the pool's `max_in_flight`, added up and the longest), timeout
    /// (records whose last attempt ran past `attempt_timeout_ms`) and rate_wait_ms (time the
    /// start rate `max_per_second` held starts back).
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.report.summary();
        let d = PyDict::new(py);
        d.set_item("source", s.source.map(|s| s.as_str()))?;
        d.set_item("records", s.records)?;
        d.set_item("succeeded", s.succeeded)?;
        d.set_item("failed", s.failed())?;
        d.set_item("error", s.error)?;
        d.set_item("skipped", s.skipped)?;
        d.set_item("deadline", s.deadline)?;
        d.set_item("timeout", s.timeout)?;
        d.set_item("duration_ms", s.duration.as_secs_f64() * 1000.0)?;
        d.set_item("peak_in_flight", s.peak_in_flight)?;
        d.set_item("lanes", s.lanes)?;
        d.set_item("retries", s.retries)?;
        d.set_item("slot_wait_ms", s.slot_wait.as_secs_f64() * 1000.0)?;
        d.set_item("slot_wait_max_ms", s.slot_wait_max.as_secs_f64() * 1000.0)?;
        d.set_item("rate_wait_ms", s.rate_wait.as_secs_f64() * 1000.0)?;
        Ok(d)
    }

    /// The summary as one JSON log line.
    fn log_line(&self) -> String {
        self.report.summary().to_log_line()
    }

    fn __len__(&self) -> usize {
        self.report.identifiers().len()
    }

    fn __repr__(&self) -> String {
        let s = self.report.summary();
        format!(
            "BatchReport(records={}, succeeded={}, error={}, skipped={}, deadline={})",
            s.records, s.succeeded, s.error, s.skipped, s.deadline
        )
    }
}
