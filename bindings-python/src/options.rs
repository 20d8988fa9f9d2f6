//! `BatchOptions`: the keyword options of a batch call, checked once and held for the core.

use std::time::Duration;

use lanepool::batch::{BatchOptions, DEFAULT_DEADLINE_MARGIN};
use lanepool::event::LaneOrdering;
use lanepool::lanes::Backoff;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString, PyType};
use pyo3::PyTraverseError;

use crate::errors::{describe, wrong_type};

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
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
        PyValueError::new_err(format!(
            "{name} must be a finite number of milliseconds, got {ms}"
        ))
    })
}

fn lane_ordering(ordering: &str) -> PyResult<(LaneOrdering, &'static str)> {
    match ordering {
        "auto" => Ok((LaneOrdering::Auto, "auto")),
        "unordered" => Ok((LaneOrdering::Unordered, "unordered")),
        "key" => Ok((LaneOrdering::Key, "key")),
        other => Err(PyValueError::new_err(format!(
            "ordering must be \"auto\", \"unordered\" or \"key\", got {other:?}"
        ))),
    }
}

// Each argument read with an error naming it (`retries must be an int, got str '4'`), rather
// than PyO3's `'str' object cannot be interpreted as an integer`.

/// An int argument (not a bool; anything with `__index__`); out of i64's range: `ValueError`.
pub fn int_arg(name: &str, value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if value.is_instance_of::<PyBool>() {
        return Err(wrong_type(name, "an int", value));
    }
    value.extract::<i64>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(value.py()) {
            PyValueError::new_err(format!("{name} is out of range, got {}", describe(value)))
        } else {
            wrong_type(name, "an int", value)
        }
    })
}

/// A number of milliseconds (int or float, not a bool), checked by [`millis`] afterwards.
fn ms_arg(name: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if value.is_instance_of::<PyBool>() {
        return Err(wrong_type(name, "a number of milliseconds", value));
    }
    value
        .extract::<f64>()
        .map_err(|_| wrong_type(name, "a number of milliseconds", value))
}

/// An optional option (None: unset) that must be an int: kept as given, judged by the core.
fn optional_int_arg<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok((!value.is_none()).then(|| value.clone()))
}

/// `attempt_timeout_ms`: None, or a number of milliseconds.
fn optional_ms_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if value.is_none() {
        return Ok(None);
    }
    ms_arg("attempt_timeout_ms", value).map(Some)
}

/// `max_per_second`: None, or a number (its rule is the core's: finite and above zero).
fn optional_rate_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if value.is_none() {
        return Ok(None);
    }
    if !is_number(value)? {
        return Err(wrong_type("max_per_second", "a number", value));
    }
    value.extract::<f64>().map(Some)
}

fn bool_arg(name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value
        .extract::<bool>()
        .map_err(|_| wrong_type(name, "a bool", value))
}

fn retries_arg(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    int_arg("retries", value)
}

fn deadline_margin_arg(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    ms_arg("deadline_margin_ms", value)
}

fn retry_backoff_arg(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    ms_arg("retry_backoff_ms", value)
}

fn raise_on_full_arg(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    bool_arg("raise_on_full_batch_failure", value)
}

fn log_summary_arg(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    bool_arg("log_summary", value)
}

fn cancel_at_deadline_arg(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    bool_arg("cancel_at_deadline", value)
}

fn ordering_arg(value: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(lane_ordering(s.to_str()?)?.1),
        Err(_) => Err(wrong_type(
            "ordering",
            "\"auto\", \"unordered\" or \"key\"",
            value,
        )),
    }
}

fn group_key_arg(value: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
    if value.is_none() {
        Ok(None)
    } else if value.is_callable() {
        Ok(Some(value.clone().unbind()))
    } else {
        Err(wrong_type("group_key", "callable or None", value))
    }
}

static REAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Whether `value` is a number of milliseconds: an int or float (or any `numbers.Real`), not
/// a bool. A `MagicMock` is not (it would convert to 1.0).
fn is_number(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if value.is_instance_of::<PyBool>() {
        return Ok(false);
    }
    if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        return Ok(true);
    }
    let real = REAL.import(value.py(), "numbers", "Real")?;
    value.is_instance(real)
}

/// The remaining time of a Lambda context, by the core's context rule
/// (`lanepool::batch::remaining_time`): `None` (and a plain `dict` / mapping, the `{}` tests
/// and local runs pass for a context) is no deadline; an object without
/// `get_remaining_time_in_millis` or a method that returns no number (a bool, a mock, NaN)
/// raises, naming it; a negative time is already up; a time too large for a deadline is none.
fn remaining_time(context: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    use lanepool::batch::{ContextError, ContextReading, ContextValue};
    const METHOD: &str = "get_remaining_time_in_millis";
    let is_mapping = || context.is_instance_of::<PyDict>() || context.cast::<PyMapping>().is_ok();
    let rule = |reading| {
        lanepool::batch::remaining_time(reading).map_err(|e| match e {
            ContextError::NotANumber { nan: true, .. } => PyValueError::new_err(e.to_string()),
            e => PyTypeError::new_err(e.to_string()),
        })
    };
    if context.is_none() || context.is_instance_of::<PyDict>() {
        return rule(ContextReading::Absent);
    }
    let method = match context.getattr(METHOD) {
        Ok(method) => method,
        Err(_) if is_mapping() => return rule(ContextReading::Absent),
        Err(_) => {
            let shown = describe(context);
            return rule(ContextReading::MissingMethod {
                method: METHOD,
                absent: "None",
                context: &shown,
            });
        }
    };
    let value = method.call0()?;
    let shown;
    let value = match is_number(&value)? {
        true => match value.extract::<f64>() {
            Ok(ms) => ContextValue::Number(ms),
            Err(_) => {
                shown = describe(&value);
                ContextValue::Other(&shown)
            }
        },
        false => {
            shown = describe(&value);
            ContextValue::Other(&shown)
        }
    };
    rule(ContextReading::Returned {
        method: METHOD,
        value,
    })
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

    /// Checks the options for a call whose handler can be stopped (`cancellable`: an `async
    /// def` one) or not: the attempt timeout needs one that can (the core's rule).
    pub fn check_for(&self, cancellable: bool) -> PyResult<()> {
        self.core
            .check_for(cancellable)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The core's options for a list of jobs starting now: as [`Self::for_batch`], without the
    /// all-failed rule (a jobs report says what failed) or the summary log line.
    pub fn for_jobs(&self, py: Python<'_>) -> PyResult<BatchOptions> {
        Ok(self
            .for_batch(py)?
            .raise_on_full_batch_failure(false)
            .log_summary(false))
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
                        retry_backoff_ms=default_retry_backoff_ms(), cancel_at_deadline=true,
                        concurrency=None, attempt_timeout_ms=None, max_per_second=None))]
    fn new(
        py: Python<'_>,
        context: Option<Py<PyAny>>,
        #[pyo3(from_py_with = ordering_arg)] ordering: &'static str,
        #[pyo3(from_py_with = group_key_arg)] group_key: Option<Py<PyAny>>,
        #[pyo3(from_py_with = retries_arg)] retries: i64,
        #[pyo3(from_py_with = deadline_margin_arg)] deadline_margin_ms: f64,
        #[pyo3(from_py_with = raise_on_full_arg)] raise_on_full_batch_failure: bool,
        #[pyo3(from_py_with = log_summary_arg)] log_summary: bool,
        #[pyo3(from_py_with = retry_backoff_arg)] retry_backoff_ms: f64,
        #[pyo3(from_py_with = cancel_at_deadline_arg)] cancel_at_deadline: bool,
        #[pyo3(from_py_with = optional_int_arg)] concurrency: Option<Bound<'_, PyAny>>,
        #[pyo3(from_py_with = optional_ms_arg)] attempt_timeout_ms: Option<f64>,
        #[pyo3(from_py_with = optional_rate_arg)] max_per_second: Option<f64>,
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
        let core = match concurrency {
            None => core,
            Some(value) => {
                let n = int_arg("concurrency", &value)?;
                let n = lanepool::batch::check_concurrency(i128::from(n))
                    .map_err(|e| PyValueError::new_err(e.to_string()))?;
                core.concurrency(n)
            }
        };
        let core = match attempt_timeout_ms {
            None => core,
            Some(ms) => core.attempt_timeout(millis("attempt_timeout_ms", ms)?),
        };
        let core = match max_per_second {
            None => core,
            Some(rate) => core.max_per_second(rate),
        };
        // The rate and the timeout by the core's rules (whether the handler can be stopped is
        // checked when a call starts: `check_for`).
        core.check_for(true)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyBatchOptions {
            core,
            context: context.filter(|c| !c.is_none(py)),
            group_key,
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

    /// `"auto"`, `"unordered"` or `"key"`.
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

    /// Most handlers in flight at once, or None (the pool's workers).
    #[getter]
    fn concurrency(&self) -> Option<usize> {
        self.core.concurrency
    }

    /// The per-attempt timeout in milliseconds, or None.
    #[getter]
    fn attempt_timeout_ms(&self) -> Option<f64> {
        self.core.attempt_timeout.map(|t| t.as_secs_f64() * 1e3)
    }

    /// The start rate (attempts per second), or None.
    #[getter]
    fn max_per_second(&self) -> Option<f64> {
        self.core.max_per_second.map(|r| r.0)
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
