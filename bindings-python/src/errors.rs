//! The exception classes (defined in Python, in `lanepool/_errors.py`) and how Rust raises them.

use lanepool::event::EventError;
use pyo3::exceptions::PyTypeError;
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

/// The core's names of the JSON kinds an event field must have, and what Python users call
/// them (the core writes the problem text; only these nouns are the face's).
const PYTHON_NOUNS: [(&str, &str); 3] = [
    (
        "expected an object, got ",
        "expected a dict (or Mapping), got ",
    ),
    (
        "expected an array, got ",
        "expected a list (or tuple), got ",
    ),
    ("expected a string, got ", "expected a str, got "),
];

/// The core's event error text with Python's names for the kinds it expected.
fn in_python_words(message: String) -> String {
    for (core, python) in PYTHON_NOUNS {
        if message.contains(core) {
            return message.replacen(core, python, 1);
        }
    }
    message
}

/// `lanepool.EventError(message, index, field, group)`.
pub fn event_error(py: Python<'_>, e: &EventError) -> PyErr {
    let message = in_python_words(e.to_string());
    match class(py, &EVENT_ERROR, "EventError")
        .and_then(|cls| cls.call1((message, e.index(), e.field(), e.group())))
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

/// Longest repr shown in a message (a value may have a huge one).
const REPR_LIMIT: usize = 200;

/// `repr(value)`, shortened to about `REPR_LIMIT` characters; when `__repr__` itself raises,
/// `<TypeName object (repr failed)>`.
pub fn short_repr(value: &Bound<'_, PyAny>) -> String {
    let text = match value.repr().and_then(|r| r.to_str().map(str::to_owned)) {
        Ok(text) => text,
        Err(_) => return format!("<{} object (repr failed)>", type_name(value)),
    };
    match text.char_indices().nth(REPR_LIMIT) {
        Some((cut, _)) => format!("{}...({} chars)", &text[..cut], text.chars().count()),
        None => text,
    }
}

/// The name of `value`'s type (`?` if it cannot be read).
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// A value as a message shows what was given: its type and repr (`str '4'`), or `None`.
pub fn describe(value: &Bound<'_, PyAny>) -> String {
    if value.is_none() {
        return "None".to_owned();
    }
    format!("{} {}", type_name(value), short_repr(value))
}

/// `TypeError: {what} must be {expected}, got {describe(value)}`.
pub fn wrong_type(what: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{what} must be {expected}, got {}",
        describe(value)
    ))
}

/// Refuses a `value` that is not callable (`{what}`: the parameter's name), before anything
/// runs: `TypeError: handler must be callable, got int 5`.
pub fn expect_callable(what: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if value.is_callable() {
        Ok(())
    } else {
        Err(wrong_type(what, "callable", value))
    }
}

/// `expect_callable(name, value)` for the package's Python code (`lanepool.powertools`): the
/// same check and message as the native entry points'.
#[pyfunction(name = "expect_callable")]
pub fn py_expect_callable(name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    expect_callable(name, value)
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
