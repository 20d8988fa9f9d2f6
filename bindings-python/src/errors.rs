//! The exception classes (defined in Python, in `lanepool/_errors.py`) and how Rust raises them.

use lanepool::event::EventError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static EVENT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static BATCH_FAILED: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, "lanepool._errors", name)
}

/// `lanepool.EventError(message, index, field)`.
pub fn event_error(py: Python<'_>, e: &EventError) -> PyErr {
    match class(py, &EVENT_ERROR, "EventError")
        .and_then(|cls| cls.call1((e.to_string(), e.index(), e.field())))
    {
        Ok(value) => PyErr::from_value(value),
        Err(err) => err,
    }
}

/// `lanepool.BatchFailedError(message, report)`, with `cause` (the first failed record's
/// exception) as its `__cause__`. `message` is the core's, shown unchanged.
pub fn batch_failed(
    py: Python<'_>,
    message: String,
    report: Py<PyAny>,
    cause: Option<Py<PyAny>>,
) -> PyErr {
    let made = class(py, &BATCH_FAILED, "BatchFailedError")
        .and_then(|cls| cls.call1((message, report)))
        .and_then(|value| {
            if let Some(cause) = cause {
                value.setattr("__cause__", cause)?; // also sets __suppress_context__
            }
            Ok(value)
        });
    match made {
        Ok(value) => PyErr::from_value(value),
        Err(err) => err,
    }
}

static GROUP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `BaseExceptionGroup(message, exceptions)`: an `ExceptionGroup` when every one is an
/// `Exception` (on 3.10, the `exceptiongroup` backport's classes).
pub fn group(py: Python<'_>, message: String, exceptions: Vec<Py<PyAny>>) -> PyErr {
    let made = GROUP
        .get_or_try_init(py, || {
            py.import("lanepool._errors")?
                .getattr("BaseExceptionGroup")
                .map(Bound::unbind)
        })
        .and_then(|cls| cls.bind(py).call1((message, exceptions)));
    match made {
        Ok(value) => PyErr::from_value(value),
        Err(err) => err,
    }
}
