//! `BatchOptions`: the keyword options of a batch call, checked once and held for the core.

use std::time::Duration;

use lanepool::batch::{BatchOptions, DEFAULT_DEADLINE_MARGIN};
use lanepool::event::LaneOrdering;
use lanepool::lanes::Backoff;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::PyTraverseError;

/// The core's default deadline margin, in milliseconds (`DEFAULT_DEADLINE_MARGIN_MS`).
pub fn default_deadline_margin_ms() -> f64 {
    DEFAULT_DEADLINE_MARGIN.as_secs_f64() * 1e3
}

/// The core's default retry backoff base, in milliseconds (`DEFAULT_RETRY_BACKOFF_MS`).
pub fn default_retry_backoff_ms() -> f64 {
    Backoff::default().base.as_secs_f64() * 1e3
}

/// The options of one batch call (`lanepool.Pool.run_batch`'s keywords), checked when built.
/// `lanepool` builds one per call from the caller's keywords; the drivers read the core's
/// options from it.
#[pyclass(frozen, module = "lanepool._lanepool", name = "Options")]
pub struct PyBatchOptions {
    /// The core's options, without the deadline (read from `context` when a batch starts).
    core: BatchOptions,
    context: Option<Py<PyAny>>,
    group_key: Option<Py<PyAny>>,
    ordering: &'static str,
    deadline_margin_ms: f64,
    retry_backoff_ms: f64,
}

fn millis(name: &str, ms: f64) -> PyResult<Duration> {
    if ms.is_nan() || ms < 0.0 {
        return Err(PyValueError::new_err(format!(
            "{name} must be a non-negative number of milliseconds, got {ms}"
        )));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

fn lane_ordering(ordering: &str) -> PyResult<(LaneOrdering, &'static str)> {
    match ordering {
        "auto" => Ok((LaneOrdering::Auto, "auto")),
        "unordered" => Ok((LaneOrdering::Unordered, "unordered")),
        other => Err(PyValueError::new_err(format!(
            "ordering must be \"auto\" or \"unordered\", got {other:?}"
        ))),
    }
}

/// The remaining time of a Lambda context: `None` for `None`, a mapping (`{}`) or an object
/// without `get_remaining_time_in_millis`.
fn remaining_time(context: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
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

impl PyBatchOptions {
    /// The core's options for a batch starting now (the deadline read from `context`).
    pub fn for_batch(&self, py: Python<'_>) -> PyResult<BatchOptions> {
        let mut options = self.core.clone();
        if let Some(context) = &self.context {
            if let Some(remaining) = remaining_time(context.bind(py))? {
                options = options.remaining_time(remaining);
            }
        }
        Ok(options)
    }

    /// How records are put into lanes (when there is no `group_key`).
    pub fn lane_ordering(&self) -> LaneOrdering {
        self.core.ordering
    }

    /// The custom-key function, if one was given.
    pub fn group_key<'py>(&self, py: Python<'py>) -> Option<&Bound<'py, PyAny>> {
        self.group_key.as_ref().map(|k| k.bind(py))
    }
}

#[pymethods]
impl PyBatchOptions {
    /// Checks every option (raising `ValueError` naming the one at fault); `context` is read
    /// when a batch starts.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (*, context=None, ordering="auto", group_key=None, retries=0,
                        deadline_margin_ms=default_deadline_margin_ms(),
                        raise_on_full_batch_failure=true, log_summary=false,
                        retry_backoff_ms=default_retry_backoff_ms(), cancel_at_deadline=true))]
    fn new(
        py: Python<'_>,
        context: Option<Py<PyAny>>,
        ordering: &str,
        group_key: Option<Py<PyAny>>,
        retries: i64,
        deadline_margin_ms: f64,
        raise_on_full_batch_failure: bool,
        log_summary: bool,
        retry_backoff_ms: f64,
        cancel_at_deadline: bool,
    ) -> PyResult<Self> {
        let (lanes, ordering) = lane_ordering(ordering)?;
        let retries = u32::try_from(retries).map_err(|_| {
            PyValueError::new_err(format!("retries must be a non-negative int, got {retries}"))
        })?;
        let core = BatchOptions::new()
            .ordering(lanes)
            .retries(retries)
            .retry_backoff(millis("retry_backoff_ms", retry_backoff_ms)?)
            .deadline_margin(millis("deadline_margin_ms", deadline_margin_ms)?)
            .raise_on_full_batch_failure(raise_on_full_batch_failure)
            .log_summary(log_summary)
            .cancel_at_deadline(cancel_at_deadline);
        Ok(PyBatchOptions {
            core,
            context: context.filter(|c| !c.is_none(py)),
            group_key: group_key.filter(|k| !k.is_none(py)),
            ordering,
            deadline_margin_ms,
            retry_backoff_ms,
        })
    }

    /// The same options with another `context` (a processor's options, per invocation).
    #[pyo3(signature = (context))]
    fn with_context(&self, py: Python<'_>, context: Option<Py<PyAny>>) -> Self {
        PyBatchOptions {
            core: self.core.clone(),
            context: context.filter(|c| !c.is_none(py)),
            group_key: self.group_key.as_ref().map(|k| k.clone_ref(py)),
            ordering: self.ordering,
            deadline_margin_ms: self.deadline_margin_ms,
            retry_backoff_ms: self.retry_backoff_ms,
        }
    }

    /// The Lambda context the deadline is read from, or None.
    #[getter]
    fn context(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.context.as_ref().map(|c| c.clone_ref(py))
    }

    /// `"auto"` or `"unordered"`.
    #[getter]
    fn ordering(&self) -> &'static str {
        self.ordering
    }

    /// The custom-key function, or None.
    #[getter(group_key)]
    fn get_group_key(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.group_key.as_ref().map(|k| k.clone_ref(py))
    }

    /// Extra attempts for a failing record.
    #[getter]
    fn retries(&self) -> u32 {
        self.core.retries
    }

    /// Time kept back before the deadline, in milliseconds.
    #[getter]
    fn deadline_margin_ms(&self) -> f64 {
        self.deadline_margin_ms
    }

    /// Whether a batch in which every record failed raises `BatchFailedError`.
    #[getter]
    fn raise_on_full_batch_failure(&self) -> bool {
        self.core.raise_on_full_batch_failure
    }

    /// Whether the summary is printed as one JSON log line.
    #[getter]
    fn log_summary(&self) -> bool {
        self.core.log_summary
    }

    /// The retry backoff's base delay, in milliseconds.
    #[getter]
    fn retry_backoff_ms(&self) -> f64 {
        self.retry_backoff_ms
    }

    /// Whether `async def` handlers still running at the deadline are cancelled.
    #[getter]
    fn cancel_at_deadline(&self) -> bool {
        self.core.cancel_at_deadline
    }

    /// The context and key function, for the cycle collector. Frozen: nothing to clear.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.context)?;
        visit.call(&self.group_key)
    }
}
