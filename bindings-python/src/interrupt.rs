//! The rule that a `BaseException` which is not an `Exception` (`KeyboardInterrupt`,
//! `SystemExit`, ...) raised by a handler is no record failure but stops the whole call: no
//! record starts after it, running ones finish, then it propagates. Every driver (sync
//! batches, `map`, the asyncio driver's `BatchRun`) keeps it here.

use parking_lot::Mutex;
use pyo3::exceptions::{asyncio::CancelledError, PyException};
use pyo3::prelude::*;

/// The first exception raised by a handler that stops the call.
#[derive(Default)]
pub struct Interrupt(Mutex<Option<PyErr>>);

impl Interrupt {
    /// Keeps `err` if it stops the call (the first one is kept); returns whether it does.
    pub fn catch(&self, py: Python<'_>, err: &PyErr) -> bool {
        if err.is_instance_of::<PyException>(py) {
            return false;
        }
        let mut slot = self.0.lock();
        if slot.is_none() {
            *slot = Some(err.clone_ref(py));
        }
        true
    }

    /// `catch` for an exception object (the asyncio driver's results).
    pub fn catch_value(&self, value: &Bound<'_, PyAny>) -> bool {
        if value.is_instance_of::<PyException>() {
            return false;
        }
        let mut slot = self.0.lock();
        if slot.is_none() {
            *slot = Some(PyErr::from_value(value.clone()));
        }
        true
    }

    /// `catch_value` for the exception a handler cancelled at the deadline ended with: the
    /// `CancelledError` it was sent is expected, anything else that stops the call is kept.
    pub fn catch_cancelled(&self, value: &Bound<'_, PyAny>) -> bool {
        !value.is_instance_of::<CancelledError>() && self.catch_value(value)
    }

    /// The kept exception, if any (it is then raised instead of returning a report).
    pub fn take(&self) -> Option<PyErr> {
        self.0.lock().take()
    }
}
